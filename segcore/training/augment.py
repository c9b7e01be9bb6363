"""Light, seeded text augmentation for the training split only: random word deletion and swap.

Validation and test texts are never augmented (they measure the model on reviews as written)."""
from __future__ import annotations

import random
import re
from collections.abc import Sequence

from ..text.textutil import is_chinese

_WORD = re.compile(r"\S+")


def _tokens(text: str) -> tuple[list[str], str]:
    """Words and the joiner to rebuild the text; Chinese text (no spaces) works per character."""
    if is_chinese([text]):
        return list(text), ""
    return _WORD.findall(text), " "


def augment_text(text: str, rng: random.Random, *, p_delete: float = 0.1, n_swaps: int = 1) -> str:
    """Delete each word with probability `p_delete` (at least one word stays), then swap
    `n_swaps` random pairs of words."""
    words, joiner = _tokens(text)
    if len(words) < 2:
        return text
    kept = [w for w in words if rng.random() >= p_delete] or [rng.choice(words)]
    for _ in range(n_swaps):
        if len(kept) < 2:
            break
        i, j = rng.sample(range(len(kept)), 2)
        kept[i], kept[j] = kept[j], kept[i]
    return joiner.join(kept)


def augment_train(texts: Sequence[str], labels: Sequence, *, seed: int, p_delete: float = 0.1,
                  n_swaps: int = 1) -> tuple[list[str], list, dict]:
    """The training texts plus one augmented copy of each (same label), and a short report.

    Seeded: the same texts and seed give the same copies."""
    rng = random.Random(seed)
    copies = [augment_text(t, rng, p_delete=p_delete, n_swaps=n_swaps) for t in texts]
    changed = sum(c != t for c, t in zip(copies, texts))
    report = {"method": f"one copy per training review: random deletion (p={p_delete}) and {n_swaps} random swap(s)",
              "n_train_original": len(texts), "n_train_augmented": len(texts) + len(copies),
              "n_copies_changed": changed}
    return [*texts, *copies], [*labels, *labels], report
