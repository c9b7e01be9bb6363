"""Measurement 1, training: samples/s of `fine_tune` against the seed's recipe (pad to 128,
fp32, batch 16, a plain PyTorch AdamW loop), on the same real reviews."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..config import TrainConfig
from ..encoders.models import load_classifier, load_tokenizer
from ..ingest.samples import real_reviews, star_labels
from .common import LABELS, BenchConfig, Result, dense_params, device_label, mfu, rounded, sync


def seed_train_rate(model_name: str, texts: list[str], labels: list[str], *, steps: int, device: str,
                    lr: float = 8e-5, warmup: int = 1) -> dict:
    """The seed's recipe: pad to 128, fp32, batch 16, plain AdamW loop. Samples/s over `steps`
    steps after `warmup` untimed ones."""
    dev = torch.device(device)
    tokenizer = load_tokenizer(model_name)
    model = load_classifier(model_name, LABELS).to(dev).train()
    index = {lab: i for i, lab in enumerate(LABELS)}
    enc = tokenizer(texts, padding="max_length", max_length=128, truncation=True, return_tensors="pt")
    y = torch.tensor([index[v] for v in labels])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    batch = 16
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            sync(dev)
            start = time.perf_counter()
        sl = slice(step * batch, (step + 1) * batch)
        out = model(input_ids=enc["input_ids"][sl].to(dev), attention_mask=enc["attention_mask"][sl].to(dev),
                    labels=y[sl].to(dev))
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    sync(dev)
    seconds = time.perf_counter() - start
    samples = steps * batch
    tokens = samples * 128
    return {"samples_per_s": samples / seconds, "seconds": seconds, "samples": samples, "batch": batch,
            "tokens_per_sample": 128.0, "flops_per_s": 6 * dense_params(model) * tokens / seconds}


def segscope_train_rate(model_name: str, texts: list[str], labels: list[str], *, steps: int, batch: int,
                        device: str, warmup: int = 1) -> dict:
    """segscope's training step as `segcore run` runs it (`fine_tune`: Trainer, dynamic padding,
    length grouping, bf16 + fused AdamW + TF32 on GPU), timed by a callback between the first
    timed step and the last one (model loading and the epoch-end evaluation are not timed)."""
    from transformers import TrainerCallback

    from ..training.train import fine_tune

    dev = torch.device(device)
    marks: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == warmup:
                sync(dev)
                marks["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == warmup + steps:
                sync(dev)
                marks["end"] = time.perf_counter()

    n = (warmup + steps) * batch
    val = max(16, batch)
    tuned = fine_tune(texts[:n], labels[:n], texts[n : n + val], labels[n : n + val], labels=LABELS,
                      config=TrainConfig(model=model_name, epochs=1, batch_size=batch, max_steps=warmup + steps,
                                         progress_bar=False, seed=0),
                      callbacks=[Clock()])
    seconds = marks["end"] - marks["start"]
    tokenizer = load_tokenizer(model_name)
    lengths = np.array([len(x) for x in tokenizer(texts[:n], truncation=True, max_length=128)["input_ids"]])
    samples = steps * batch
    tokens = lengths.mean() * samples  # real tokens: padding is not useful work
    return {"samples_per_s": samples / seconds, "seconds": seconds, "samples": samples, "batch": batch,
            "tokens_per_sample": round(float(lengths.mean()), 1), "device_name": tuned.device,
            "flops_per_s": 6 * dense_params(tuned.model) * tokens / seconds}


def bench_train(cfg: BenchConfig, model_name: str) -> Result:
    dev = torch.device(cfg.device)
    need = (1 + cfg.train_steps) * max(cfg.train_batch, 16) + max(16, cfg.train_batch)
    data = real_reviews(need, seed=cfg.seed)
    texts, labels = data["Text"].tolist(), star_labels(data["Score"])
    seed = seed_train_rate(model_name, texts, labels, steps=cfg.train_steps, device=cfg.device)
    ours = segscope_train_rate(model_name, texts, labels, steps=cfg.train_steps, batch=cfg.train_batch,
                               device=cfg.device)
    cuda = dev.type == "cuda"
    target = 10.0 if cuda else 2.0
    ratio = ours["samples_per_s"] / seed["samples_per_s"]
    details = {"model": model_name, "steps": cfg.train_steps,
               "segscope": rounded(ours), "seed_recipe": rounded(seed),
               "mfu": mfu(ours["flops_per_s"], dev), "mfu_seed_recipe": mfu(seed["flops_per_s"], dev)}
    return Result("train", round(ours["samples_per_s"], 2), round(seed["samples_per_s"], 2), "samples/s",
                  f">= {target:g}x the seed recipe", ratio >= target, device_label(dev), details)

