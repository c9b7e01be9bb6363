"""When a fact may be stated in a name or a play, and the words for aspects.

A name states an aspect only when at least `NAME_MIN_SHARE` (25 %) of the segment's reviews
mention it, with the segment's polarity (praise for a happy segment, complaints for an unhappy
one) and more often than the other segments' reviews, both as a mention and typed; otherwise
it names none. Among the aspects that hold, the one that sets the segment furthest apart
(largest share above elsewhere) is named."""
from __future__ import annotations

NAME_MIN_SHARE = 0.25
# English words for aspects in names and plays ("unhappy with fit"); 'size' is the portion in
# food reviews and the size of a garment in clothes reviews (profiles.review_aspects splits them).
ASPECT_WORDS = {"size_fit": "fit", "ingredients": "ingredients", "ambience": "the venue"}
ASPECT_WORDS_ZH = {"delivery": "物流", "price": "价格", "quality": "质量", "service": "服务", "packaging": "包装",
                   "fit": "尺码", "size_fit": "尺码", "size": "份量", "taste": "口味", "freshness": "新鲜度",
                   "ingredients": "配料", "the venue": "环境", "ambience": "环境"}


def aspect_word(aspect: str, language: str = "en", kind: str | None = None) -> str:
    """An aspect's word in names and plays ('size_fit' -> 'fit' / '尺码'); 'size' by product kind."""
    if aspect == "size":
        if language == "zh":
            return "尺码" if kind == "apparel" else ("份量" if kind == "consumable" else "大小")
        return "portion size" if kind == "consumable" else "size"
    if language == "zh":
        return ASPECT_WORDS_ZH.get(aspect, aspect)
    return ASPECT_WORDS.get(aspect, aspect)


def holds(row: dict, *, min_share: float = NAME_MIN_SHARE) -> bool:
    """A typed aspect fact may be named: at least `min_share` of the segment's reviews and more
    than elsewhere, typed and as a plain mention."""
    return (row["share"] >= min_share and row["share"] > row["elsewhere"]
            and row.get("mention_share", row["share"]) > row.get("mention_elsewhere", row["elsewhere"]))
