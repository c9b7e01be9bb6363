"""Parameter-efficient fine-tuning: LoRA adapters on the attention projections (peft).

Only the adapters and the classifier head train. Before saving, the adapters are merged into
the base weights, so a saved run is a plain transformers model that loads back for scoring."""
from __future__ import annotations

import torch

# Attention projections of BERT-style encoders (BERT, MiniLM, RoBERTa, ...).
TARGET_MODULES = ["query", "value"]


def count_params(model: torch.nn.Module) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_params": int(trainable), "total_params": int(total),
            "trainable_share": round(trainable / total, 5) if total else 0.0}


def add_lora(model: torch.nn.Module, *, r: int = 8, alpha: int = 16, dropout: float = 0.1):
    """The model wrapped with LoRA adapters (classifier head kept trainable) and a report of
    trainable / total parameters."""
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=TARGET_MODULES, modules_to_save=["classifier"])
    full = count_params(model)["trainable_params"]
    wrapped = get_peft_model(model, config)
    report = {"r": r, "alpha": alpha, "target_modules": TARGET_MODULES, **count_params(wrapped),
              "trainable_params_full_fine_tune": full}
    return wrapped, report


def merged(model: torch.nn.Module) -> torch.nn.Module:
    """A plain model with the adapters merged into the base weights (no-op without peft)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
