"""From a raw table to clean reviews with the standard columns every later stage uses.

Standard columns: row_id, customer_id, _text, rating, label, date, amount, product."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SegscopeError
from .clean import clean_reviews, clean_text
from .columns import ColumnMap
from .content import parse_amount, parse_dates
from .labels import labels_from_column, labels_from_rating, ordered_labels, parse_rating, sentiment_names
from .pii import is_free_text, mask_series

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    columns: ColumnMap
    original: pd.DataFrame  # kept rows, original columns, plus row_id
    reviews: pd.DataFrame  # same rows, standard columns
    dropped: pd.DataFrame  # dropped rows with row_id and reason
    labels: list[str]  # class names, in output order (may be empty when nothing is labelled)
    label_source: str  # "label column", "rating" or "none"
    notes: list[str]


def partial_labels_note(n_unlabelled: int, n_reviews: int, source: str) -> str:
    what = "label" if source == "label column" else "readable rating"
    return (f"partial labels: {n_unlabelled} of {n_reviews} reviews have no {what}; training, validation and "
            f"test use only the {n_reviews - n_unlabelled} labelled reviews, and the unlabelled ones get "
            "predicted labels (pred_label)")


def sample_rows(frame: pd.DataFrame, max_rows: int | None, *, seed: int) -> pd.DataFrame:
    """A seeded random sample of at most max_rows rows, in file order."""
    if not max_rows or len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed).sort_index()


def masking_keep(columns: ColumnMap) -> set:
    """Columns masking never touches: every mapped role except the review text and title (ids feed
    campaigns; dates, amounts, ratings, labels and products are data, not free text)."""
    return {"row_id", "reason", *(c for role, c in columns.used().items() if role not in ("text", "title"))}


def mask_text_columns(frame: pd.DataFrame, keep: set, *, text_col: str | None = None,
                      title_col: str | None = None) -> pd.DataFrame:
    """Personal data masked in free text only: `_text`, the review column `text_col`, its title
    `title_col`, and other columns not in `keep` whose values read as prose (titles, comments);
    never dates or codes."""
    out = frame.copy()
    for col in out.columns:
        if col in keep or not (out[col].dtype == object or pd.api.types.is_string_dtype(out[col])):
            continue
        if col in ("_text", text_col, title_col) or is_free_text(out[col]):
            out[col] = mask_series(out[col])
    return out


def prepare_reviews(frame: pd.DataFrame, columns: ColumnMap, *, require_labels: bool = True,
                    row_offset: int = 0, row_ids=None, mask_pii: bool = False,
                    training: bool | None = None) -> Prepared:
    """`mask_pii` replaces e-mails, phone, card and ID numbers and IBANs in the text the model sees
    and in the exported free-text columns (`mask_text_columns`); the customer id, date, amount,
    product, rating and label columns are kept as they are.

    `training` (default: `require_labels`) adds a note when some reviews have no label: those
    are left out of training and get predicted labels."""
    notes: list[str] = [f"column detected from its values, {line}" for line in columns.detected(by_content=True)
                        if not line.startswith("text:")]
    kept, dropped = clean_reviews(frame, columns.text, id_col=columns.id, row_offset=row_offset, row_ids=row_ids,
                                  title_col=columns.title)
    if columns.title:  # counted over the rows read, so streamed chunks add up to the one-piece figure
        titled = int(frame[columns.title].map(clean_text).ne("").sum())
        notes.append(f"review titles from '{columns.title}' joined before the text ('title. text') in "
                     f"{titled} of {len(frame)} rows")
    if mask_pii:
        keep = masking_keep(columns)
        before = kept["_text"]
        kept = mask_text_columns(kept, keep, text_col=columns.text, title_col=columns.title)
        dropped = mask_text_columns(dropped, keep, text_col=columns.text, title_col=columns.title)
        changed = int((kept["_text"] != before).sum())
        if changed:
            notes.append(f"masked personal data (e-mail, phone, card or ID numbers, IBANs) in {changed} reviews")
    if dropped.shape[0]:
        for reason, n in dropped["reason"].value_counts().items():
            notes.append(f"dropped {n} rows: {reason}")
    if kept.empty:
        raise SegscopeError(f"No reviews left after cleaning (column '{columns.text}' is empty or all "
                            "duplicates); check the text column.")
    reviews = pd.DataFrame({"row_id": kept["row_id"].to_numpy(), "_text": kept["_text"].to_numpy()})
    if columns.id:
        ids = kept[columns.id].astype("object")
        missing = ids.isna() | (ids.astype(str).str.strip() == "")
        ids = ids.astype(str).str.strip()
        ids[missing] = "row-" + kept.loc[missing, "row_id"].astype(str)
        if missing.any():
            notes.append(f"{int(missing.sum())} reviews have no customer id; each counts as its own customer")
    else:
        ids = "row-" + kept["row_id"].astype(str)
        notes.append("no customer id column: each review counts as its own customer")
    reviews["customer_id"] = ids.to_numpy()
    reviews["rating"] = parse_rating(kept[columns.rating]).to_numpy() if columns.rating else np.nan
    if columns.rating:
        bad = kept[columns.rating].notna().to_numpy() & np.isnan(reviews["rating"].to_numpy())
        if bad.any():
            notes.append(f"{int(bad.sum())} ratings could not be read as 1-5 stars; those reviews are not used for training")
    if columns.date:
        reviews["date"] = parse_dates(kept[columns.date]).to_numpy()
    if columns.amount:
        reviews["amount"] = parse_amount(kept[columns.amount]).to_numpy()
    if columns.product:
        reviews["product"] = kept[columns.product].astype(str).to_numpy()
    if columns.label:
        labels, note = sentiment_names(labels_from_column(kept[columns.label]))
        source = "label column"
        if note:
            notes.append(note)
    elif columns.rating:
        labels = labels_from_rating(reviews["rating"])
        source = "rating"
    else:
        labels = pd.Series(pd.NA, index=reviews.index, dtype="object")
        source = "none"
    reviews["label"] = labels.to_numpy()
    if require_labels and source == "none":
        raise SegscopeError("No rating or label column found, so there is nothing to learn from; "
                            "add a star-rating column or pass --rating-col / --label-col.")
    class_names = ordered_labels(reviews["label"])
    n_unlabelled = int(reviews["label"].isna().sum())
    if (require_labels if training is None else training) and source != "none" and 0 < n_unlabelled < len(reviews):
        notes.append(partial_labels_note(n_unlabelled, len(reviews), source))
    return Prepared(columns=columns, original=kept.drop(columns=["_text"]), reviews=reviews,
                    dropped=dropped, labels=class_names, label_source=source, notes=notes)
