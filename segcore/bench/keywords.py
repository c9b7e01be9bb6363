"""Measurement 7, keywords: how much the segments' top-10 keyword lists overlap (mean pairwise
Jaccard), segscope's log-odds ranking against c-TF-IDF (BERTopic's ranking) on the same groups:
k-means (k = 3, 4, 6, 8) on the base encoder's embeddings of real reviews. Lower is better; the
target is at most 0.15 (issue: keywords that tell segments apart)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from ..analysis.keywords import keyword_vectorizer, segment_keywords
from ..encoders.embed import encoder_embeddings
from ..ingest.samples import SAMPLE
from .common import BenchConfig, Result

SHARED_WOMENS = Path(__file__).resolve().parents[3] / "shared" / "data" / "en" / "womens_clothing_ecommerce_reviews.csv"
KS = (3, 4, 6, 8)


def ctfidf_keywords(texts: list[str], groups: np.ndarray, *, top_n: int = 10) -> dict:
    """The reference: c-TF-IDF = tf(term, group) * log(1 + A / f(term)) on the same words."""
    keys = list(dict.fromkeys(groups.tolist()))
    vec = keyword_vectorizer(texts)
    counts = vec.fit_transform(texts)
    per_group = np.vstack([np.asarray(counts[groups == k].sum(axis=0)).ravel() for k in keys])
    tf = per_group / np.maximum(per_group.sum(axis=1, keepdims=True), 1)
    score = tf * np.log(1 + per_group.sum(axis=1).mean() / np.maximum(per_group.sum(axis=0), 1))
    terms = vec.get_feature_names_out()
    return {k: [str(terms[i]) for i in np.argsort(-score[r])[:top_n]] for r, k in enumerate(keys)}


def mean_jaccard(lists: dict) -> float:
    sets = [set(v) for v in lists.values()]
    return float(np.mean([len(a & b) / max(len(a | b), 1) for a, b in itertools.combinations(sets, 2)]))


def _sets(cfg: BenchConfig) -> dict[str, list[str]]:
    sets = {"amazon_food_sample": pd.read_csv(SAMPLE)["Text"].astype(str).str.replace("<br />", " ").tolist()}
    if "womens_clothing_3000" in cfg.keyword_sets and SHARED_WOMENS.exists():
        frame = pd.read_csv(SHARED_WOMENS)["Review Text"].dropna().astype(str)
        sets["womens_clothing_3000"] = frame.sample(3000, random_state=cfg.seed).tolist()
    return sets


def bench_keywords(cfg: BenchConfig, model_path: str) -> Result:
    per_set, ours, ref = {}, [], []
    for name, texts in _sets(cfg).items():
        emb = encoder_embeddings(model_path, texts, max_length=128)
        for k in KS:
            groups = KMeans(k, n_init=10, random_state=cfg.seed).fit_predict(emb)
            new = {g: [w for w, _ in terms] for g, terms in segment_keywords(texts, groups).items()}
            old = ctfidf_keywords(texts, groups)
            ours.append(mean_jaccard(new))
            ref.append(mean_jaccard(old))
            per_set[f"{name}_k{k}"] = {"log_odds": round(ours[-1], 4), "ctfidf": round(ref[-1], 4)}
    value, baseline = float(np.mean(ours)), float(np.mean(ref))
    return Result(name="keywords", value=round(value, 4), baseline=round(baseline, 4), units="mean pairwise Jaccard",
                  target="<= 0.15 (lower is better)", met=value <= 0.15, device="cpu", details=per_set)
