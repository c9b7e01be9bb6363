"""Batch inference: class probabilities and mean-pooled embeddings, tied to input order."""
from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from .models import pick_device, use_bf16


TRUNCATIONS = ("head", "head_tail")
HEAD_SHARE = 0.25  # head + tail: the first quarter of the budget, then the end (Sun et al. 2019)


def tokenize(tokenizer, texts: Sequence[str], *, max_length: int, truncation: str = "head") -> list[list[int]]:
    """Token ids per text, at most `max_length`. 'head' keeps the start; 'head_tail' keeps the
    first HEAD_SHARE of the budget and the rest from the end (special tokens stay at both ends)."""
    if truncation == "head":
        return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    if truncation != "head_tail":
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
    head = max(1, int(max_length * HEAD_SHARE))
    tail = max_length - head
    ids = tokenizer(list(texts), truncation=False)["input_ids"]
    return [x if len(x) <= max_length else x[:head] + x[-tail:] for x in ids]


def _pad(batch_ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in batch_ids)
    ids = torch.full((len(batch_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for row, seq in enumerate(batch_ids):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def quantized(model):
    """An int8 dynamically quantised copy (nn.Linear weights) for faster CPU inference; the
    caller reports how far its predictions move (see segcore.bench)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's migration notice
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8, inplace=True)


@torch.inference_mode()
def predict(model, tokenizer, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128,
            device: str | torch.device | None = None, progress=None, quantize: bool = False,
            precision: str = "auto", truncation: str = "head") -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [n, classes], embeddings [n, hidden]); row i belongs to texts[i].

    Batches are formed from length-sorted texts to cut padding; results are written back by
    each text's own index, so the output order never depends on the batching order.
    `quantize` scores with an int8 copy of the model on the CPU (faster, slightly different);
    `precision` "auto" is bf16 on a GPU and fp32 on a CPU; "bf16" on a CPU with AMX is ~2.4x
    faster with probabilities within ~1e-4 of fp32 (see models.use_bf16 and segcore.bench)."""
    device = torch.device("cpu") if quantize else pick_device(str(device) if device else None)
    if quantize:
        model = quantized(model)
    model.to(device).eval()
    ids = tokenize(tokenizer, texts, max_length=max_length, truncation=truncation)
    n = len(ids)
    n_classes = model.config.num_labels
    probs = np.zeros((n, n_classes), dtype=np.float32)
    embs = np.zeros((n, model.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(x) for x in ids], kind="stable")
    pad_id = tokenizer.pad_token_id or 0
    bf16 = not quantize and use_bf16(device, precision, cpu_auto=False)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        input_ids, mask = _pad([ids[i] for i in index], pad_id)
        input_ids, mask = input_ids.to(device), mask.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        probs[index] = torch.softmax(out.logits.float(), dim=-1).cpu().numpy()
        hidden = out.hidden_states[-1].float()
        m = mask.unsqueeze(-1).to(hidden.dtype)
        embs[index] = ((hidden * m).sum(1) / m.sum(1).clamp(min=1)).cpu().numpy()
        if progress is not None:
            progress(min(n, start + batch_size), n)
    return probs, embs
