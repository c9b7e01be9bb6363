"""Small text helpers shared by the keyword and baseline stages."""
from __future__ import annotations

import re
from collections.abc import Iterable

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def cjk_share(texts: Iterable[str], *, sample: int = 500) -> float:
    """Share of characters that are CJK ideographs, over a sample of texts."""
    chars = cjk = 0
    for i, t in enumerate(texts):
        if i >= sample:
            break
        chars += len(t)
        cjk += len(_CJK.findall(t))
    return cjk / chars if chars else 0.0


def is_chinese(texts: Iterable[str]) -> bool:
    return cjk_share(texts) > 0.2
