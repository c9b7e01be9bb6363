"""Pick which column holds what, from header names (EN / ZH) and, where no header is known,
from the values (dates, amounts, products: `content.py`). Each choice keeps its reason."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, fields

import pandas as pd

from ..errors import SegscopeError
from .content import judge_amount, judge_date, judge_product, parse_amount, parse_dates
from .labels import parse_rating

log = logging.getLogger(__name__)

ROLES = ("text", "title", "id", "rating", "label", "date", "amount", "product")
HEADER_NAME = "header name"  # the reason of a role found from its header
# Roles also found from the values when no header name matches, in this order.
CONTENT_ROLES = ("date", "amount", "product")

# Header names per role, best first; compared after lower-casing and removing spaces, _ and -.
NAMES: dict[str, tuple[str, ...]] = {
    "text": ("reviewtext", "reviewbody", "review", "text", "comment", "comments", "content",
             "body", "feedback", "reviewcontent", "message", "评论内容", "评价内容", "评论", "评价",
             "内容", "留言", "summary", "title"),
    # A review's title / summary: joined before the text (title + ". " + text) when both exist.
    "title": ("title", "summary", "reviewtitle", "reviewsummary", "headline", "subject", "标题", "评论标题",
              "评价标题", "摘要"),
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
    """Which input column plays which role; None when absent. `why` holds the reason for each
    detected role (not saved: the roles are what runs and scoring repeat)."""

    text: str | None = None
    title: str | None = None
    id: str | None = None
    rating: str | None = None
    label: str | None = None
    date: str | None = None
    amount: str | None = None
    product: str | None = None
    why: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, str | None]:
        return {role: getattr(self, role) for role in ROLES}

    def used(self) -> dict[str, str]:
        return {k: v for k, v in self.as_dict().items() if v}

    def detected(self, *, by_content: bool = False) -> list[str]:
        """One line per detected role and why, e.g. "date: 'Posted' (98 % of values parse as dates)";
        with `by_content`, only the roles found from the values (not from a known header)."""
        return [f"{role}: '{getattr(self, role)}' ({self.why[role]})" for role in ROLES
                if getattr(self, role) and role in self.why
                and not (by_content and self.why[role].startswith(HEADER_NAME))]


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", str(name).lower())


def _fits(role: str, series: pd.Series) -> bool:
    """Content check so that e.g. a 'Time' column of free text is not taken as a date."""
    if role in ("text", "title"):  # a named text column may be blank: cleaning then says so
        return not pd.api.types.is_numeric_dtype(series)
    s = series.dropna()
    if s.empty:
        return False
    s = s.head(500)
    if role == "rating":
        return parse_rating(s).notna().mean() >= 0.5
    if role == "amount":
        return parse_amount(s).notna().mean() >= 0.8
    if role == "date":
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
    why: dict[str, str] = {}
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
                why[role] = HEADER_NAME
                break
    if not chosen["text"]:  # no header matched: the longest free-text column
        candidates = [c for c in cols if c not in taken and _fits("text", frame[c])
                      and frame[c].notna().any()]
        if candidates:
            lengths = {c: frame[c].dropna().astype(str).str.len().mean() for c in candidates}
            best = max(lengths, key=lengths.get)
            if lengths[best] >= 20:
                chosen["text"] = best
                taken.add(best)
                why["text"] = f"longest free text, {lengths[best]:.0f} characters on average"
    if not chosen["text"]:
        raise SegscopeError("No review text column found; name it e.g. 'review' or 'text', "
                            "or pass --text-col.")
    if chosen["title"]:
        why["title"] = why.get("title", HEADER_NAME) + "; joined before the review text"
    for role in CONTENT_ROLES:
        if chosen[role] or role in given:
            continue
        found = _by_content(role, frame, [c for c in cols if c not in taken])
        if found:
            chosen[role], why[role] = found
            taken.add(found[0])
    mapping = ColumnMap(**chosen, why=why)
    for role, col in mapping.used().items():
        log.info("column for %s: %r (%s)", role, col, why.get(role, "given"))
    return mapping


def resolve_columns(frame: pd.DataFrame, config, *, preferred: dict | None = None) -> ColumnMap:
    """Column roles: the user's (a RunConfig's `columns`), then a saved run's (where the file has
    them), then detected. A role given as "" is none (not detected). A saved run's title is repeated, never added: a
    run trained without titles (or saved before titles were joined) scores the text alone, as
    it learnt it."""
    given = {k: v for k, v in config.columns.items() if v}
    # "" is a role the user set to none on the Data page: not detected again behind their back.
    given.update({k: None for k, v in config.columns.items() if v == ""})
    for role, col in (preferred or {}).items():
        if role not in given and col and col in frame.columns:
            given[role] = col
    if preferred is not None and "title" not in given:
        given["title"] = None
    return detect_columns(frame, **given)


def _by_content(role: str, frame: pd.DataFrame, free: list) -> tuple[str, str] | None:
    """The best free column for a role judged by its values, and why; None when none fits.
    Products rank written names before codes, then by distinct values (the finer category);
    the other candidates are named so the user knows what else is on offer."""
    if role == "product":
        fits = []
        for c in free:
            ok, reason, distinct = judge_product(c, frame[c])
            if ok:
                fits.append((not pd.api.types.is_numeric_dtype(frame[c]), distinct, c, reason))
        if not fits:
            return None
        fits.sort(key=lambda f: (f[0], f[1]), reverse=True)
        best, others = fits[0], [f"'{f[2]}'" for f in fits[1:4]]
        also = f"; also possible: {', '.join(others)}" if others else ""
        return best[2], f"{best[3]}{also}"
    judge = judge_date if role == "date" else judge_amount
    for c in free:
        ok, reason = judge(c, frame[c])
        if ok:
            return c, reason
    return None


def column_map_from_dict(data: dict) -> ColumnMap:
    names = {f.name for f in fields(ColumnMap)}
    return ColumnMap(**{k: v for k, v in data.items() if k in names})
