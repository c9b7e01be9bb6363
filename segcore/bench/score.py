"""Measurement 2, scoring: reviews/s of `predict` against the seed's loop (pad to 128, fp32,
batches of 16 in file order) on the same model and texts, with how far each CPU option
(int8, bf16) moves the predictions."""
from __future__ import annotations

import numpy as np
import torch

from ..encoders.models import cpu_has_fast_bf16, load_classifier, load_tokenizer
from ..ingest.samples import real_reviews, star_labels
from .common import BenchConfig, Result, device_label, timed


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
    from ..encoders.predict import predict

    dev = torch.device(cfg.device)
    if texts is None:
        data = real_reviews(cfg.score_rows, seed=cfg.seed + 1)
        texts, labels = data["Text"].tolist(), star_labels(data["Score"])
    tokenizer = load_tokenizer(model_dir)
    model = load_classifier(model_dir)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    predict(model, tokenizer, texts[:32], batch_size=batch_size, device=cfg.device)  # warm-up
    (p_naive, e_naive), t_naive = timed(lambda: naive_predict(model, tokenizer, texts, device=cfg.device), dev)
    (p_ours, e_ours), t_ours = timed(lambda: predict(model, tokenizer, texts, batch_size=batch_size,
                                                      max_length=128, device=cfg.device), dev)
    n = len(texts)
    pred_naive, pred_ours = p_naive.argmax(1), p_ours.argmax(1)
    details = {"n": n, "batch_size": batch_size, "naive_batch_size": 16, "model": model_dir,
               "label_agreement_with_naive": float((pred_naive == pred_ours).mean()),
               "max_abs_prob_diff": float(np.abs(p_naive - p_ours).max()),
               "max_abs_embedding_diff": float(np.abs(e_naive - e_ours).max())}
    known = labels is not None and set(labels) <= set(names)
    if known:
        y = np.array([names.index(v) for v in labels])
        details["accuracy"] = round(float((pred_ours == y).mean()), 4)
    value, base = n / t_ours, n / t_naive
    options = {}
    if dev.type == "cpu":  # CPU options, each reported with how far it moves predictions
        variants = {"int8": dict(quantize=True)}
        if cpu_has_fast_bf16():
            variants["bf16"] = dict(precision="bf16")
        for name, kw in variants.items():
            predict(model, tokenizer, texts[:32], batch_size=batch_size, **kw)  # warm-up
            (p_v, _), t_v = timed(lambda: predict(model, tokenizer, texts, batch_size=batch_size, max_length=128,
                                                   device=cfg.device, **kw), dev)
            options[name] = {"reviews_per_s": round(n / t_v, 2), "ratio_vs_naive": round(t_naive / t_v, 3),
                             "label_agreement_with_fp32": float((p_v.argmax(1) == pred_ours).mean()),
                             "max_abs_prob_diff": float(np.abs(p_v - p_ours).max())}
            if known:
                options[name]["accuracy"] = round(float((p_v.argmax(1) == y).mean()), 4)
                options[name]["accuracy_change"] = round(options[name]["accuracy"] - details["accuracy"], 4)
        details["options"] = options
    if dev.type == "cuda":
        target, met = ">= 10,000 reviews/s", value >= 10_000
    else:
        # Met by the default path or by an option that keeps >= 98 % of labels (the options are
        # one flag away: --precision bf16, or int8 via the Python API).
        ok = [value / base] + [o["ratio_vs_naive"] for o in options.values() if o["label_agreement_with_fp32"] >= 0.98]
        target, met = ">= 2x the naive loop (default or an option keeping >= 98 % of labels)", max(ok) >= 2
    return Result("score", round(value, 2), round(base, 2), "reviews/s", target, met, device_label(dev), details)
