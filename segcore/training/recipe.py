"""The fine-tuning recipe's choices that depend on the encoder or the data size (the device's batch
sizes are segcore.config.DEVICE_BATCHES: scoring reads them without torch).

Measured with `python -m segcore bench --only recipes` (docs/benchmarks.md, "Training recipe"): one learning
rate for every encoder left the XLM-R-based multilingual-e5-small at chance on Chinese reviews,
and a fixed number of epochs gave small files a few dozen optimiser steps."""
from __future__ import annotations

import math

# Peak AdamW learning rates. Small 6-layer BERT-style encoders (all-MiniLM-L6-v2) take a large
# step; deeper and XLM-R-based encoders (multilingual-e5-small: 12 layers, 250k-piece vocabulary)
# diverge or stall at it and want the usual BERT-range rate.
LR_SMALL_ENCODER = 8e-5
LR_DEEP_ENCODER = 3e-5
SMALL_ENCODER_LAYERS = 6

def encoder_lr(model_config) -> float:
    """The default learning rate for an encoder, from its transformers config."""
    kind = getattr(model_config, "model_type", "")
    layers = getattr(model_config, "num_hidden_layers", 12)
    if kind == "bert" and layers <= SMALL_ENCODER_LAYERS:
        return LR_SMALL_ENCODER
    return LR_DEEP_ENCODER


def epochs_for(*, n_train: int, batch_size: int, epochs: int, min_steps: int, max_epochs: int) -> int:
    """`epochs`, raised so that training takes at least `min_steps` optimiser steps (at most
    `max_epochs`): 342 reviews at batch 16 are 22 steps an epoch, too few to move a fresh head."""
    per_epoch = max(1, math.ceil(n_train / batch_size))
    needed = math.ceil(min_steps / per_epoch) if min_steps > 0 else 0
    return max(epochs, min(needed, max_epochs))
