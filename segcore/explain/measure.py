"""Faithfulness of explanations on real reviews: `python -m segcore.explain.measure RUN/model FILE [N]`.

Explains N reviews of FILE (default 300) with the run's model and prints, for k = 1, 3, 5, the mean
drop of the explained label's probability after deleting the top-k attributed words vs k random
words (segcore.explain.deletion_check)."""
from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    from ..ingest.clean import clean_text
    from ..ingest.columns import detect_columns
    from ..ingest.load import read_table
    from .attribution import Explainer, deletion_check, explain

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
