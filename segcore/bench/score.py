"""Measurement 2, scoring: reviews/s of `predict` (the default path: bf16 on a CPU with AMX) against
the seed's loop (pad to 128, fp32, batches of 16 in file order) on the same model and texts, with
the fp32 path and int8 beside it and how far each moves the predictions."""
from __future__ import annotations

import numpy as np
import torch

from ..encoders.models import load_classifier, load_tokenizer, use_bf16
from ..encoders.predict import predict
from ..ingest.samples import real_reviews, star_labels
from .common import BenchConfig, Result, device_label, timed

SCORE_GOAL = 4.0  # issue 28: the quick pass's fast path serves scoring too
LABELS_KEPT = 0.99


@torch.no_grad()
def naive_predict(model, tokenizer, texts: list[str], *, device: str, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The seed's scoring loop: pad to 128, fp32, batches of 16 in file order."""
    dev = torch.device(device)
    model.to(dev).eval()
    probs, embs = [], []
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i : i + batch], padding="max_length", max_length=128, truncation=True,
                        return_tensors="pt").to(dev)
        out = model(**enc, output_hidden_states=True)
        probs.append(torch.softmax(out.logits.float(), -1).cpu().numpy())
        m = enc["attention_mask"].unsqueeze(-1).float()
        embs.append(((out.hidden_states[-1].float() * m).sum(1) / m.sum(1)).cpu().numpy())
    return np.vstack(probs), np.vstack(embs)



def bench_score(cfg: BenchConfig, model_dir: str, *, texts: list[str] | None = None,
                labels: list[str] | None = None, batch_size: int = 64) -> Result:
    """`predict` as runs and scoring call it (precision "auto": bf16 on a GPU and on a CPU with
    native bf16) against the naive loop, with the fp32 path (the same predictions as the naive
    loop: only padding and batching differ) and int8 reported beside it."""
    dev = torch.device(cfg.device)
    if texts is None:
        data = real_reviews(cfg.score_rows, seed=cfg.seed + 1)
        texts, labels = data["Text"].tolist(), star_labels(data["Score"])
    tokenizer = load_tokenizer(model_dir)
    model = load_classifier(model_dir)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]

    def run(**kw):
        predict(model, tokenizer, texts[:32], batch_size=batch_size, device=cfg.device, **kw)  # warm-up
        return timed(lambda: predict(model, tokenizer, texts, batch_size=batch_size, max_length=128,
                                     device=cfg.device, **kw), dev)

    (p_naive, e_naive), t_naive = timed(lambda: naive_predict(model, tokenizer, texts, device=cfg.device), dev)
    (p_fp32, e_fp32), t_fp32 = run(precision="fp32")
    (p_ours, _), t_ours = run()  # the default path
    n = len(texts)
    pred_naive, pred_fp32, pred_ours = p_naive.argmax(1), p_fp32.argmax(1), p_ours.argmax(1)
    details = {"n": n, "batch_size": batch_size, "naive_batch_size": 16, "model": model_dir,
               "precision": "bf16" if use_bf16(dev, "auto", cpu_auto=True) else "fp32",
               "label_agreement_with_fp32": float((pred_ours == pred_fp32).mean()),
               "max_abs_prob_diff_vs_fp32": float(np.abs(p_ours - p_fp32).max()),
               "fp32": {"reviews_per_s": round(n / t_fp32, 2), "ratio_vs_naive": round(t_naive / t_fp32, 3),
                        "label_agreement_with_naive": float((pred_naive == pred_fp32).mean()),
                        "max_abs_prob_diff": float(np.abs(p_naive - p_fp32).max()),
                        "max_abs_embedding_diff": float(np.abs(e_naive - e_fp32).max())}}
    known = labels is not None and set(labels) <= set(names)
    if known:
        y = np.array([names.index(v) for v in labels])
        details["accuracy"] = round(float((pred_ours == y).mean()), 4)
        details["accuracy_fp32"] = round(float((pred_fp32 == y).mean()), 4)
    value, base = n / t_ours, n / t_naive
    if dev.type == "cpu":  # int8 (the Python API's quantize=True), with how far it moves predictions
        (p_v, _), t_v = run(quantize=True)
        details["int8"] = {"reviews_per_s": round(n / t_v, 2), "ratio_vs_naive": round(t_naive / t_v, 3),
                           "label_agreement_with_fp32": float((p_v.argmax(1) == pred_fp32).mean())}
        if known:
            details["int8"]["accuracy"] = round(float((p_v.argmax(1) == y).mean()), 4)
    if dev.type == "cuda":
        target, met = ">= 10,000 reviews/s", value >= 10_000
    else:
        target = f">= {SCORE_GOAL:g}x the naive loop, >= {LABELS_KEPT:.0%} labels as fp32"
        met = value / base >= SCORE_GOAL and details["label_agreement_with_fp32"] >= LABELS_KEPT
    return Result("score", round(value, 2), round(base, 2), "reviews/s", target, met, device_label(dev), details)
