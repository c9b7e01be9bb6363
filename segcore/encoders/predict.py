"""Batch inference: class probabilities and mean-pooled embeddings, tied to input order."""
from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from ..threads import adjust
from .models import pick_device, use_bf16


TRUNCATIONS = ("head", "head_tail")
HEAD_SHARE = 0.25  # head + tail: the first quarter of the budget, then the end (Sun et al. 2019)


def tokenize(tokenizer, texts: Sequence[str], *, max_length: int, truncation: str = "head") -> list[list[int]]:
    """Token ids per text, at most `max_length`. 'head' keeps the start; 'head_tail' keeps the
    first HEAD_SHARE of the budget and the rest from the end (special tokens stay at both ends)."""
    return tokenize_with_offsets(tokenizer, texts, max_length=max_length, truncation=truncation, offsets=False)[0]


def tokenize_with_offsets(tokenizer, texts: Sequence[str], *, max_length: int, truncation: str = "head",
                          offsets: bool = True) -> tuple[list[list[int]], list[list[tuple[int, int]]] | None]:
    """`tokenize`'s ids and, with `offsets`, each kept token's character span in its text
    (special tokens: (0, 0)), cut alike: what the model reads of each review, for explanations."""
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
    extra = {"return_offsets_mapping": True} if offsets else {}
    if truncation == "head":
        enc = tokenizer(list(texts), truncation=True, max_length=max_length, **extra)
        return enc["input_ids"], enc["offset_mapping"] if offsets else None
    head = max(1, int(max_length * HEAD_SHARE))
    tail = max_length - head
    enc = tokenizer(list(texts), truncation=False, **extra)

    def cut(x: list) -> list:
        return x if len(x) <= max_length else x[:head] + x[-tail:]

    return [cut(x) for x in enc["input_ids"]], [cut(list(o)) for o in enc["offset_mapping"]] if offsets else None


# Batches are shaped so that a review's result never depends on the reviews batched with it: each
# batch holds reviews of one length bucket (padded to the bucket's width) and a multiple of ROW_BLOCK
# rows (filler rows make up the rest). On the AMX CPU, bf16 results then match bit for bit
# whichever rows were scored together (a file in one piece or in chunks); with free-form batches
# they moved by up to 3e-3 (fp32: 5e-7). Padding to the bucket costs under 8 tokens a review.
LENGTH_BUCKET = 16
ROW_BLOCK = 16


def length_batches(lengths: Sequence[int], batch_size: int, max_length: int) -> list[tuple[int, np.ndarray]]:
    """(width, row indices) of every batch: rows grouped by length bucket, in input order within one."""
    lengths = np.asarray(lengths, dtype=int)
    widths = np.minimum(-(-np.maximum(lengths, 1) // LENGTH_BUCKET) * LENGTH_BUCKET, max(max_length, int(lengths.max(initial=1))))
    rows = -(-max(1, batch_size) // ROW_BLOCK) * ROW_BLOCK
    out = []
    for width in np.unique(widths):
        index = np.flatnonzero(widths == width)
        out += [(int(width), index[i : i + rows]) for i in range(0, len(index), rows)]
    return out


def pad_batch(batch_ids: list[list[int]], pad_id: int, *, width: int | None = None,
         rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask, `width` columns (default: the longest) and `rows` rows (filler rows
    hold one pad token)."""
    width = width or max(len(x) for x in batch_ids)
    rows = max(rows or 0, len(batch_ids))
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for row, seq in enumerate(batch_ids):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    mask[len(batch_ids) :, 0] = 1  # filler rows: one token, so their softmax is defined
    return ids, mask


def quantized(model):
    """An int8 dynamically quantised copy (nn.Linear weights) for faster CPU inference; the
    caller reports how far its predictions move (see segcore.bench)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's migration notice
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8, inplace=True)


def bf16_copy(model):
    """A copy of `model` with weights and activations in bf16, for CPU inference. On the AMX CPU it
    reads reviews 1.2-1.4x as fast as fp32 weights under autocast (which keeps the residual stream
    in fp32), with the quick model's labels the same as fp32 on 99.4-99.9 % of reviews of six
    English and Chinese sets (docs/speed.md). A copy, so the caller's model stays as it was."""
    return copy.deepcopy(model).to(torch.bfloat16)


@torch.inference_mode()
def predict(model, tokenizer, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128,
            device: str | torch.device | None = None, progress=None, quantize: bool = False,
            precision: str = "auto", truncation: str = "head") -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [n, classes], embeddings [n, hidden]); row i belongs to texts[i].

    Batches hold reviews of similar length (less padding; see LENGTH_BUCKET), and each review's
    result is the same whichever reviews share its batch, so scoring a file in one piece or in
    chunks gives the same figures. `precision` "auto" is bf16 on a GPU and on a CPU with native
    bf16 (AMX: a bf16 copy of the model, ~3.5x faster than fp32, labels the same on >= 99 % of
    reviews, docs/speed.md; a GPU runs the model under bf16 autocast);
    `quantize` scores with an int8 copy of the model on the CPU. The thread count follows the free
    cores (segcore.threads) while it runs."""
    device = torch.device("cpu") if quantize else pick_device(str(device) if device else None)
    if quantize:
        model = quantized(model)
    model.to(device).eval()
    ids = tokenize(tokenizer, texts, max_length=max_length, truncation=truncation)
    n = len(ids)
    n_classes = model.config.num_labels
    probs = np.zeros((n, n_classes), dtype=np.float32)
    embs = np.zeros((n, model.config.hidden_size), dtype=np.float32)
    pad_id = tokenizer.pad_token_id or 0
    bf16 = not quantize and use_bf16(device, precision, cpu_auto=True)
    if bf16 and device.type == "cpu":
        model, bf16 = bf16_copy(model), False  # bf16 throughout: no autocast needed
    done = 0
    for width, index in length_batches([len(x) for x in ids], batch_size, max_length) if n else []:
        if device.type == "cpu":
            adjust()  # the load may have changed: this thread's share of the free cores
        rows = -(-len(index) // ROW_BLOCK) * ROW_BLOCK
        input_ids, mask = pad_batch([ids[i] for i in index], pad_id, width=width, rows=rows)
        input_ids, mask = input_ids.to(device), mask.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        k = len(index)
        probs[index] = torch.softmax(out.logits[:k].float(), dim=-1).cpu().numpy()
        hidden = out.hidden_states[-1][:k].float()
        m = mask[:k].unsqueeze(-1).to(hidden.dtype)
        embs[index] = ((hidden * m).sum(1) / m.sum(1).clamp(min=1)).cpu().numpy()
        done += k
        if progress is not None:
            progress(done, n)
    return probs, embs
