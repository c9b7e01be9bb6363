"""The one recipe of `TrainingArguments` that fine-tuning, domain-adaptive MLM and the aspect tagger
share; what differs between them is an argument, and each caller says why it passes what it does."""
from __future__ import annotations

import math

import torch
from transformers import TrainingArguments

from ..encoders.models import use_bf16


def training_arguments(*, out_dir: str, device: torch.device, epochs: int, batch_size: int, lr: float,
                       weight_decay: float, warmup_ratio: float, precision: str, seed: int, n_train: int,
                       max_steps: int = -1, logs_per_epoch: int = 5, select_best: str | None = None,
                       eval_batch_size: int = 64, progress_bar: bool = False,
                       average_tokens_across_devices: bool = False) -> TrainingArguments:
    """AdamW (fused: one kernel per step instead of one per tensor) with linear warm-up and decay,
    seeded data order grouped by length (less padding), bf16 mixed precision where `precision`
    says so (use_bf16: 'auto' is bf16 on a GPU and on a CPU with native bf16), TF32 matmuls on a
    GPU, no checkpoints unless `select_best`.

    `n_train`: training examples, for `logs_per_epoch`. `select_best`: an eval metric (higher is
    better): evaluate every epoch, keep the best epoch's weights and restore them at the end.
    `average_tokens_across_devices`: False where the loss is already a per-batch mean, since the
    Trainer would otherwise rescale it by the number of processes under torchrun (DDP already
    averages gradients)."""
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    evaluate = dict(eval_strategy="no", save_strategy="no")
    if select_best:
        evaluate = dict(eval_strategy="epoch", save_strategy="best", save_only_model=True,
                        load_best_model_at_end=True, metric_for_best_model=select_best, greater_is_better=True,
                        per_device_eval_batch_size=eval_batch_size)
    return TrainingArguments(
        output_dir=str(out_dir),
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        weight_decay=weight_decay,
        # transformers 5 has no warmup_ratio: a float in [0, 1) is a share of the total steps,
        # resolved by the Trainer against the real step count (max_steps, processes included).
        warmup_steps=float(warmup_ratio) if warmup_ratio < 1 else int(warmup_ratio),
        optim="adamw_torch_fused",
        lr_scheduler_type="linear",
        **evaluate,
        logging_steps=max(1, steps_per_epoch // logs_per_epoch),
        report_to="none",
        seed=seed,
        data_seed=seed,
        bf16=use_bf16(device, precision, cpu_auto=True),
        tf32=True if device.type == "cuda" else None,  # fp32 matmuls on tensor cores
        average_tokens_across_devices=average_tokens_across_devices,
        ddp_find_unused_parameters=False,
        train_sampling_strategy="group_by_length",  # less padding; training order only
        dataloader_num_workers=0,
        disable_tqdm=not progress_bar,
        use_cpu=device.type == "cpu",
    )
