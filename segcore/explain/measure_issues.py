"""Label issues on real reviews with known flips: `python -m segcore.explain.measure_issues FILE
--text-col COL --rating-col COL [--sizes 1000,3000,8000] [--classes 2|3] [--seeds 0,1,2] [--flip 0.05]`.

For each size and seed: a random sample of FILE, 20 % held out for test, `--flip` of the training
labels moved to another class at random; label issues found on the training part (out-of-fold
TF-IDF + base-encoder embedding models); precision / recall against the flips; and the test
macro-F1 of the quick model (TF-IDF and embedding logistic regression, averaged) trained on the
clean, the noisy and the corrected labels (every suggestion accepted). Prints one JSON line per
size with mean and spread over seeds. Embeddings are cached like `bench --only segments`."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..encoders.embed import cached_embeddings
from ..encoders.models import default_model_path
from ..ingest.columns import ColumnMap
from ..ingest.prepare import prepare_reviews
from ..training.candidates import tfidf_vectorizer
from .label_issues import find_label_issues, flip_labels, out_of_fold_probs, precision_recall


def quick_macro_f1(train_texts, train_y, train_emb, test_texts, test_y, test_emb, *, seed: int) -> float:
    vec, _ = tfidf_vectorizer(train_texts)
    words = make_pipeline(vec, LogisticRegression(C=4, max_iter=3000, class_weight="balanced", random_state=seed))
    emb = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced",
                                                             random_state=seed))
    words.fit(train_texts, train_y)
    emb.fit(train_emb, train_y)
    probs = (words.predict_proba(test_texts) + emb.predict_proba(test_emb)) / 2
    return float(f1_score(test_y, probs.argmax(1), average="macro"))


def measure(texts: list[str], labels: np.ndarray, emb: np.ndarray, *, size: int, seeds, flip: float) -> dict:
    rows = []
    for seed in seeds:
        idx = np.random.default_rng(seed).choice(len(texts), size=min(size, len(texts)), replace=False)
        names = sorted(set(labels[idx]))
        y = np.array([names.index(v) for v in labels[idx]])
        train, test = train_test_split(np.arange(len(idx)), test_size=0.2, random_state=seed, stratify=y)
        tr_texts, te_texts = [texts[idx[i]] for i in train], [texts[idx[i]] for i in test]
        tr_emb, te_emb = emb[idx[train]].astype(np.float64), emb[idx[test]].astype(np.float64)
        noisy, flipped = flip_labels(y[train], share=flip, n_classes=len(names), seed=seed)
        issues = find_label_issues(out_of_fold_probs(tr_texts, noisy, embeddings=tr_emb, seed=seed), noisy, names)
        pr = precision_recall(issues["position"], flipped)
        corrected = noisy.copy()
        corrected[issues["position"].to_numpy()] = [names.index(s) for s in issues["suggested"]]
        f1 = [quick_macro_f1(tr_texts, labs, tr_emb, te_texts, y[test], te_emb, seed=seed)
              for labs in (y[train], noisy, corrected)]
        rows.append([pr["precision"], pr["recall"], pr["found"], len(flipped), *f1])
    r = np.array(rows, dtype=float)
    mean, spread = r.mean(0), r.std(0)
    lost = mean[4] - mean[5]
    return {"reviews": int(min(size, len(texts))), "classes": names, "seeds": list(seeds),
            "flipped": round(float(mean[3]), 1), "found": round(float(mean[2]), 1),
            "precision": round(float(mean[0]), 3), "precision_sd": round(float(spread[0]), 3),
            "recall": round(float(mean[1]), 3), "recall_sd": round(float(spread[1]), 3),
            "macro_f1_clean": round(float(mean[4]), 4), "macro_f1_noisy": round(float(mean[5]), 4),
            "macro_f1_corrected": round(float(mean[6]), 4),
            "recovered_share": round(float((mean[6] - mean[5]) / lost), 2) if lost > 0 else None}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m segcore.explain.measure_issues")
    ap.add_argument("file")
    ap.add_argument("--text-col", required=True)
    ap.add_argument("--rating-col", required=True)
    ap.add_argument("--sizes", default="1000,3000,8000")
    ap.add_argument("--classes", type=int, choices=(2, 3), default=2, help="2: stars 1-2 vs 4-5; 3: with 3 stars")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--flip", type=float, default=0.05)
    args = ap.parse_args(argv)
    frame = pd.read_csv(args.file)
    prepared = prepare_reviews(frame[[args.text_col, args.rating_col]].copy(),
                               ColumnMap(text=args.text_col, rating=args.rating_col))
    texts = prepared.reviews["_text"].tolist()
    labels = prepared.reviews["label"].to_numpy(dtype=object)
    emb = cached_embeddings(default_model_path(), texts)  # all reviews: the same cache as bench segments
    keep = np.array([v in ("negative", "positive") if args.classes == 2 else isinstance(v, str) for v in labels])
    texts, labels, emb = [t for t, k in zip(texts, keep) if k], labels[keep], emb[keep]
    seeds = [int(s) for s in args.seeds.split(",")]
    for size in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(measure(texts, labels, emb, size=size, seeds=seeds, flip=args.flip)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
