"""The fine-tuning recipe's choices that depend on the encoder, the device or the data size.

Measured with `python -m segcore bench --only recipes` (docs/benchmarks.md, "Training recipe"): one learning
rate for every encoder left the XLM-R-based multilingual-e5-small at chance on Chinese reviews,
and a fixed number of epochs gave small files a few dozen optimiser steps."""
from __future__ import annotations

import math

import torch

# Peak AdamW learning rates. Small 6-layer BERT-style encoders (all-MiniLM-L6-v2) take a large
# step; deeper and XLM-R-based encoders (multilingual-e5-small: 12 layers, 250k-piece vocabulary)
# diverge or stall at it and want the usual BERT-range rate.
LR_SMALL_ENCODER = 8e-5
LR_DEEP_ENCODER = 3e-5
SMALL_ENCODER_LAYERS = 6

# Per device: training batch, validation batch, scoring batch. A CPU is fastest with small
# batches (measured: docs/benchmarks.md, "Speed and memory"); a GPU is launch-bound at 16 and fills better with more.
DEVICE_BATCHES = {"cpu": (16, 64, 64), "cuda": (32, 256, 512)}


def encoder_lr(model_config) -> float:
    """The default learning rate for an encoder, from its transformers config."""
    kind = getattr(model_config, "model_type", "")
    layers = getattr(model_config, "num_hidden_layers", 12)
    if kind == "bert" and layers <= SMALL_ENCODER_LAYERS:
        return LR_SMALL_ENCODER
    return LR_DEEP_ENCODER


def device_batches(device: torch.device | str) -> tuple[int, int, int]:
    """(training, validation, scoring) batch sizes for `device`."""
    kind = torch.device(device).type
    return DEVICE_BATCHES.get(kind, DEVICE_BATCHES["cpu"])


def epochs_for(*, n_train: int, batch_size: int, epochs: int, min_steps: int, max_epochs: int) -> int:
    """`epochs`, raised so that training takes at least `min_steps` optimiser steps (at most
    `max_epochs`): 342 reviews at batch 16 are 22 steps an epoch, too few to move a fresh head."""
    per_epoch = max(1, math.ceil(n_train / batch_size))
    needed = math.ceil(min_steps / per_epoch) if min_steps > 0 else 0
    return max(epochs, min(needed, max_epochs))
