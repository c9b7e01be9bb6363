"""Domain-adaptive pretraining: masked-language-model training of the encoder on the review texts
(all rows, labelled or not) before fine-tuning.

The shipped encoders are sentence encoders without a trained MLM head, so the head is initialised
(the decoder shares the word embeddings; its transform layer and bias start new) and the report
says so. MLM loss and perplexity are measured on a held-out slice of the texts (not trained on)
with one fixed masking, before and after."""
from __future__ import annotations

import logging
import math
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForMaskedLM, DataCollatorForLanguageModeling, Trainer

from ..config import TrainConfig, device_batches
from ..encoders.models import load_tokenizer, pick_device, resolve_model
from ..encoders.predict import tokenize
from ..progress import Progress
from .callbacks import ProgressCallback
from .args import training_arguments
from .trainer import run_trainer

log = logging.getLogger(__name__)

MASK_PROBABILITY = 0.15


@dataclass
class Adapted:
    path: Path  # encoder + tokenizer folder that fine-tuning starts from
    report: dict


class _Texts(torch.utils.data.Dataset):
    def __init__(self, ids: list[list[int]]):
        self.ids = [i for i in ids if len(i) > 2]  # more than [CLS] [SEP]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": [1] * len(self.ids[i])}


def _fixed_masked_batches(dataset: _Texts, collator, *, batch_size: int, seed: int) -> list[dict]:
    """The held-out texts masked once with a fixed seed, so 'before' and 'after' see the same masks."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return [collator([dataset[j] for j in range(i, min(i + batch_size, len(dataset)))])
                for i in range(0, len(dataset), batch_size)]
    finally:
        torch.random.set_rng_state(state)


@torch.no_grad()
def mlm_loss(model, batches: list[dict], device: torch.device) -> float:
    """Mean cross-entropy over the masked tokens of `batches`."""
    model.eval()
    total, n = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["labels"]
        mask = labels != -100
        if mask.any():
            total += torch.nn.functional.cross_entropy(logits[mask].float(), labels[mask], reduction="sum").item()
            n += int(mask.sum())
    return total / n if n else float("nan")


def _perplexity(loss: float) -> float:
    return float(math.exp(min(loss, 50.0)))


def load_mlm(name: str):
    """A masked-LM model and whether its MLM head had to be initialised."""
    # transformers' own load report lists the missing head tensors at length; the caller logs one line.
    quiet = logging.getLogger("transformers.modeling_utils")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(name, output_loading_info=True)
    finally:
        quiet.setLevel(level)
    missing = [k for k in info.get("missing_keys", []) if k.startswith("cls.") or "lm_head" in k
               or "predictions" in k]
    return model, bool(missing), missing


def save_encoder(mlm, name: str, out_dir: Path) -> None:
    """Save the adapted encoder as the original encoder architecture: the MLM-trained weights, plus
    what masked-LM training has no use for (BERT's pooler) kept from the original, and no MLM head.
    Fine-tuning then loads it exactly as it loads the original, so a comparison differs only in
    the adapted weights."""
    quiet = logging.getLogger("transformers.modeling_utils")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        encoder = AutoModel.from_pretrained(name)
    finally:
        quiet.setLevel(level)
    result = encoder.load_state_dict(mlm.base_model.state_dict(), strict=False)
    if result.unexpected_keys or any(not k.startswith("pooler.") for k in result.missing_keys):
        raise RuntimeError(f"MLM encoder does not match the original: {result}")
    encoder.save_pretrained(out_dir)


def domain_adapt(texts: Sequence[str], *, model: str, epochs: int, out_dir: str | Path, seed: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, max_length: int | None = None,
                 holdout_share: float = 0.1, max_holdout: int = 500, progress: Progress | None = None,
                 max_steps: int = -1, weight_decay: float | None = None, warmup_ratio: float | None = None,
                 precision: str | None = None) -> Adapted:
    """MLM-train the encoder `model` on `texts` for `epochs` epochs and save it with its tokenizer
    to `out_dir` (fine-tuning then starts from there). The optimiser recipe is fine-tuning's
    (training_arguments): fused AdamW, `warmup_ratio`, `weight_decay`, bf16 where `precision` says.
    Options left None take TrainConfig's defaults (`lr`: mlm_lr)."""
    d = TrainConfig()
    seed = d.run_seed if seed is None else seed
    batch_size, max_length = batch_size or device_batches(pick_device())[0], max_length or d.max_length
    lr = d.mlm_lr if lr is None else lr
    weight_decay = d.weight_decay if weight_decay is None else weight_decay
    warmup_ratio = d.warmup_ratio if warmup_ratio is None else warmup_ratio
    precision = precision or d.run_precision
    name = resolve_model(model)
    tokenizer = load_tokenizer(name)
    device = pick_device()
    mlm, initialised, missing = load_mlm(name)
    if initialised:
        log.warning("the encoder has no trained MLM head: initialised a new one (%d tensors) for "
                    "domain-adaptive pretraining", len(missing))
    texts = list(dict.fromkeys(t for t in texts if t and t.strip()))  # distinct texts
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_hold = max(1, min(max_holdout, int(len(texts) * holdout_share)))
    held = [texts[i] for i in order[:n_hold]]
    train = [texts[i] for i in order[n_hold:]]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=MASK_PROBABILITY)
    held_ds = _Texts(tokenize(tokenizer, held, max_length=max_length))
    train_ds = _Texts(tokenize(tokenizer, train, max_length=max_length))
    batches = _fixed_masked_batches(held_ds, collator, batch_size=64, seed=seed)
    mlm.to(device)
    before = mlm_loss(mlm, batches, device)
    log.info("MLM loss on %d held-out reviews before: %.3f (perplexity %.1f)", len(held_ds), before,
             _perplexity(before))
    with tempfile.TemporaryDirectory(prefix="segscope-mlm-") as tmp:
        args = training_arguments(
            out_dir=tmp, device=device, epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr,
            weight_decay=weight_decay, warmup_ratio=warmup_ratio, precision=precision, seed=seed,
            n_train=len(train_ds), progress_bar=False,  # the run's progress bar belongs to fine-tuning
            # The masked-LM loss is a mean over masked tokens; averaging it over the tokens of all
            # processes weights each masked token equally under torchrun.
            average_tokens_across_devices=True,
        )
        callbacks = [ProgressCallback(progress)] if progress is not None else []
        trainer = Trainer(model=mlm, args=args, train_dataset=train_ds, data_collator=collator,
                          processing_class=tokenizer, callbacks=callbacks)
        run_trainer(trainer)
    mlm = trainer.model.to(device)
    after = mlm_loss(mlm, batches, device)
    log.info("MLM loss on held-out reviews after %d epoch(s): %.3f (perplexity %.1f)", epochs, after,
             _perplexity(after))
    out_dir = Path(out_dir)
    save_encoder(mlm, name, out_dir)
    tokenizer.save_pretrained(out_dir)
    report = {
        "epochs": epochs,
        "head_initialised": initialised,
        "note": ("the encoder had no trained MLM head; a new one was initialised" if initialised
                 else "the encoder's own MLM head was used"),
        "n_texts_trained": len(train_ds), "n_texts_held_out": len(held_ds),
        "mask_probability": MASK_PROBABILITY,
        "loss_before": round(before, 4), "loss_after": round(after, 4),
        "perplexity_before": round(_perplexity(before), 3), "perplexity_after": round(_perplexity(after), 3),
    }
    return Adapted(path=out_dir, report=report)
