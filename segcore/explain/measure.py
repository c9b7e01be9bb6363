"""Faithfulness of explanations on real reviews: `python -m segcore.explain.measure RUN/model FILE [N]`.

Explains N reviews of FILE (default 300) with the run's model and prints, for k = 1, 3, 5, the mean
drop of the explained label's probability after deleting the top-k attributed words vs k random
words (segcore.explain.deletion_check)."""
from __future__ import annotations

import json
import sys
import time

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from ..ingest.clean import clean_text
from ..ingest.columns import detect_columns
from ..ingest.load import read_table
from .attribution import Explainer, deletion_check, explain
from .label_next import label_next, quick_probs


def main(argv: list[str]) -> int:
    model_dir, path = argv[0], argv[1]
    n = int(argv[2]) if len(argv) > 2 else 300
    frame = read_table(path)
    column = detect_columns(frame).text
    texts = [t for t in (clean_text(v) for v in frame[column]) if t][:n]
    explainer = Explainer.load(model_dir)
    start = time.perf_counter()
    explanations = explain(explainer, texts)
    seconds = time.perf_counter() - start
    report = {"model": explainer.source, "n_reviews": len(texts), "explain_seconds": round(seconds, 1),
              "seconds_per_review": round(seconds / len(texts), 3),
              "truncated": sum(e.truncated for e in explanations),
              "deletion": [deletion_check(explainer, explanations, k=k, seed=0) for k in (1, 3, 5)]}
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


def label_next_rounds(texts, y, embeddings, *, seed: int, start: float = 0.10, step: float = 0.05, rounds: int = 3,
                      test_share: float = 0.3, strategy: str = "segscope") -> list[float]:
    """Test macro-F1 after each round of revealing `step` of the pool's labels, chosen by
    `strategy` ("segscope": label_next; "random"), starting from `start` labelled at random."""
    y = np.asarray(y)
    idx = np.arange(len(y))
    pool, test = train_test_split(idx, test_size=test_share, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    known = set(rng.choice(pool, size=int(start * len(pool)), replace=False).tolist())
    per_round = int(step * len(pool))
    scores = []
    for r in range(rounds + 1):
        lab = np.array(sorted(known))
        classes = np.unique(y[lab])
        probs = quick_probs(texts, y, lab, embeddings=embeddings, seed=seed)
        scores.append(round(float(f1_score(y[test], classes[probs[test].argmax(1)], average="macro")), 4))
        if r == rounds:
            break
        if strategy == "random":
            new = rng.choice([i for i in pool if i not in known], size=per_round, replace=False)
        else:
            sub = pool  # only the pool is offered for labelling; test labels stay hidden
            labels = [y[i] if i in known else None for i in sub]
            new = sub[label_next([texts[i] for i in sub], labels, batch=per_round,
                                 embeddings=None if embeddings is None else embeddings[sub], seed=seed)]
        known.update(int(i) for i in new)
    return scores
