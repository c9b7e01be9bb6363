"""Random-weight BERT encoders with the shipped tokenizer, saved like a model folder: a
2-layer "tiny" one for tests and a bert-base-sized one for the GPU training benchmark. Speed
and memory do not depend on the weights, and no download is needed."""
from __future__ import annotations

from pathlib import Path

ENCODER_SIZES = {  # random-weight encoders: speed and memory do not depend on the weights
    "bert-base": dict(),  # BertConfig's defaults: 12 layers x 768
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=256),
}


def encoder_folder(path: Path, size: str = "bert-base") -> Path:
    """A random-weight BERT encoder of `size` with the shipped tokenizer, saved to `path`."""
    import torch
    from transformers import BertConfig, BertModel

    from .models import default_model_path, load_tokenizer

    tokenizer = load_tokenizer(default_model_path())
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, **ENCODER_SIZES[size])).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
