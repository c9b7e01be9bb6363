"""Pick which column holds what, from header names (EN / ZH) and contents."""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, fields

import pandas as pd

from ..errors import SegscopeError

log = logging.getLogger(__name__)

ROLES = ("text", "id", "rating", "label", "date", "amount", "product")

# Header names per role, best first; compared after lower-casing and removing spaces, _ and -.
NAMES: dict[str, tuple[str, ...]] = {
    "text": ("reviewtext", "reviewbody", "review", "text", "comment", "comments", "content",
             "body", "feedback", "reviewcontent", "message", "评论内容", "评价内容", "评论", "评价",
             "内容", "留言", "summary", "title"),
    "id": ("customerid", "userid", "clientid", "buyerid", "memberid", "customer", "user",
           "client", "buyer", "member", "reviewerid", "客户id", "用户id", "会员id", "客户", "用户",
           "会员", "买家"),
    "rating": ("rating", "stars", "star", "score", "reviewrating", "starrating", "评分", "星级",
               "打分", "分数", "评星"),
    "label": ("label", "sentiment", "class", "category", "标签", "情感", "类别"),
    "date": ("date", "reviewdate", "orderdate", "time", "timestamp", "datetime", "created",
             "createdat", "reviewtime", "purchasedate", "日期", "时间", "下单时间", "评论时间"),
    "amount": ("amount", "ordervalue", "ordertotal", "total", "spend", "revenue", "price",
               "value", "sales", "金额", "消费金额", "订单金额", "价格", "实付"),
    "product": ("productid", "product", "productname", "item", "itemid", "sku", "asin",
                "商品", "商品id", "产品", "商品名称"),
}


@dataclass
class ColumnMap:
    """Which input column plays which role; None when absent."""

    text: str | None = None
    id: str | None = None
    rating: str | None = None
    label: str | None = None
    date: str | None = None
    amount: str | None = None
    product: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def used(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", str(name).lower())


def _fits(role: str, series: pd.Series) -> bool:
    """Content check so that e.g. a 'Time' column of free text is not taken as a date."""
    if role == "text":  # a named text column may be blank: cleaning then says so
        return not pd.api.types.is_numeric_dtype(series)
    s = series.dropna()
    if s.empty:
        return False
    s = s.head(500)
    if role == "rating":
        from .labels import parse_rating
        return parse_rating(s).notna().mean() >= 0.5
    if role == "amount":
        return pd.to_numeric(s, errors="coerce").notna().mean() >= 0.8
    if role == "date":
        from ..analysis.behaviour import parse_dates
        return parse_dates(s).notna().mean() >= 0.8
    return True


def detect_columns(frame: pd.DataFrame, **given: str | None) -> ColumnMap:
    """Fill the roles not given (None) from names, then contents; log each choice."""
    cols = list(frame.columns)
    for role, col in given.items():
        if role not in ROLES:
            raise TypeError(f"unknown column role {role!r}")
        if col is not None and col not in cols:
            raise SegscopeError(f"Column '{col}' (given for {role}) is not in the file; "
                                f"columns are: {', '.join(cols)}.")
    chosen = {r: given.get(r) for r in ROLES}
    taken = {c for c in chosen.values() if c}
    normed = {c: _norm(c) for c in cols}
    for role in ROLES:
        if chosen[role] or role in given:  # explicitly given (or explicitly None: skip)
            continue
        for wanted in NAMES[role]:
            hits = [c for c in cols if c not in taken and normed[c] == wanted]
            hits = [c for c in hits if _fits(role, frame[c])]
            if hits:
                chosen[role] = hits[0]
                taken.add(hits[0])
                break
    if not chosen["text"]:  # no header matched: the longest free-text column
        candidates = [c for c in cols if c not in taken and _fits("text", frame[c])
                      and frame[c].notna().any()]
        if candidates:
            lengths = {c: frame[c].dropna().astype(str).str.len().mean() for c in candidates}
            best = max(lengths, key=lengths.get)
            if lengths[best] >= 20:
                chosen["text"] = best
    if not chosen["text"]:
        raise SegscopeError("No review text column found; name it e.g. 'review' or 'text', "
                            "or pass --text-col.")
    mapping = ColumnMap(**chosen)
    for role, col in mapping.used().items():
        how = "given" if given.get(role) else "detected"
        log.info("column for %s: %r (%s)", role, col, how)
    return mapping


def column_map_from_dict(data: dict) -> ColumnMap:
    names = {f.name for f in fields(ColumnMap)}
    return ColumnMap(**{k: v for k, v in data.items() if k in names})
