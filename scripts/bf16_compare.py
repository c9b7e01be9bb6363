"""The quick pass's reading of reviews on an AMX CPU: fp32, bf16 autocast (fp32 weights, the path
before 2026-12-07) and a bf16 copy of the model (segscope's path now), on one review file: reviews/s,
and the quick model (the frozen encoder's logistic-regression head, fitted on the run's own
train split) refitted on each: labels the same as fp32's, test macro-F1 (docs/speed.md).

    python3 scripts/bf16_compare.py FILE [--model default|multilingual] [--rows N]

e.g. `python3 scripts/bf16_compare.py ../shared/data/en/amazon_fine_food_1k.csv`; one JSON line."""
import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import f1_score

from segcore.bench.quick import head_labels, quick_split
from segcore.encoders.models import load_classifier, load_tokenizer, resolve_model
from segcore.encoders.predict import predict


class Autocast(torch.nn.Module):
    """The model under bf16 autocast (predict then runs it with precision fp32)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def forward(self, **kw):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(**kw)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--model", default="default")
    p.add_argument("--rows", type=int, default=None, help="a seeded sample of this many rows")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    split = quick_split(args.file, seed=args.seed, max_rows=args.rows)
    texts, test = split.texts, split.test_idx
    path = resolve_model(args.model)
    tok, model = load_tokenizer(path), load_classifier(path, ["_", "__"])
    predict(model, tok, texts[:64])  # warm-up
    variants = {"fp32": (model, "fp32"), "autocast": (Autocast(model), "fp32"), "bf16_copy": (model, "auto")}
    out, ref = {"file": args.file, "model": args.model, "reviews": len(texts)}, None
    for name, (m, precision) in variants.items():
        start = time.perf_counter()
        _, emb = predict(m, tok, texts, precision=precision)
        seconds = time.perf_counter() - start
        pred = head_labels(emb, split, seed=args.seed)
        row = {"reviews_per_s": round(len(texts) / seconds, 1),
               "test_macro_f1": round(float(f1_score(split.y[test], pred[test], average="macro")), 4)}
        if ref is None:
            ref = (pred, emb)
        else:
            cos = (emb * ref[1]).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(ref[1], axis=1)
            row.update(labels_as_fp32=round(float((pred == ref[0]).mean()), 4), min_cosine_to_fp32=round(float(cos.min()), 5))
        out[name] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
