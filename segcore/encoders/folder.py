"""Checks on an encoder folder before transformers loads it (no torch here: cheap to import).

A model folder comes from anywhere (a copied run, a colleague's --model): its config.json decides
how much memory transformers allocates before any weight is read, a pickled pytorch_model.bin runs
code when loaded, and a damaged tokenizer.json fails deep inside the tokenizers library. Each gives
one clear line here instead."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import SegscopeError

# Bounds on a model configuration, far above any encoder segscope uses (MiniLM: 6 layers, 384 wide;
# e5-small: 12 x 384): a config that asks for 100,000 layers took 140 s, then a MemoryError.
CONFIG_LIMITS = {"num_hidden_layers": 96, "hidden_size": 16_384, "intermediate_size": 65_536,
                 "num_attention_heads": 256, "vocab_size": 1_000_000, "max_position_embeddings": 65_536}
_LAYER = re.compile(r"\.layers?\.(\d+)\.")


def _damaged(path: Path, what: str) -> SegscopeError:
    return SegscopeError(f"{path} {what}; the model folder is damaged - copy it again or re-run training.")


def _weight_shapes(folder: Path) -> dict[str, list[int]]:
    """{tensor name: shape} from the safetensors headers, nothing loaded."""
    from safetensors import SafetensorError, safe_open

    shapes = {}
    for path in sorted(folder.glob("*.safetensors")):
        if path.name == "projection.safetensors":  # segscope's map projection, not the encoder
            continue
        try:
            with safe_open(str(path), framework="numpy") as f:
                for key in f.keys():
                    shapes[key] = list(f.get_slice(key).get_shape())
        except (SafetensorError, OSError, ValueError) as exc:
            raise _damaged(path, f"is damaged or truncated ({' '.join(str(exc).split())[:120]})") from None
    return shapes


def check_encoder_folder(folder: str | Path) -> dict:
    """The encoder's config.json, after checking that the folder can be loaded safely and as it
    says: a JSON object of bounded sizes that match the weights (layers, width, vocabulary), weights
    in safetensors only (a pytorch_model.bin is a pickle, which runs code when loaded), a
    tokenizer.json that loads. Raises one SegscopeError line naming the first problem."""
    folder = Path(folder)
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SegscopeError(f"{folder} has no config.json; give a folder saved by transformers or segscope.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _damaged(config_file, f"is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise _damaged(config_file, "is not a model configuration (a JSON object with a model_type)")
    for key, limit in CONFIG_LIMITS.items():
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit):
            raise _damaged(config_file, f"sets {key} = {str(value)[:20]} (at most {limit:,})")
    pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
    if pickled:
        raise SegscopeError(f"{folder / pickled[0]} is a pickle, which can run code when it is loaded; segscope "
                            "reads model weights from .safetensors files only - re-run training, or convert "
                            "the weights where you trust them (save_pretrained(safe_serialization=True)).")
    shapes = _weight_shapes(folder)
    if not shapes:
        raise SegscopeError(f"{folder} has no model weights (model.safetensors); re-run training or copy "
                            "the whole folder.")
    embedding = next((v for k, v in shapes.items() if k.endswith("word_embeddings.weight")), None)
    layers = {int(m.group(1)) for k in shapes if (m := _LAYER.search(k))}
    found = {"vocab_size": embedding[0] if embedding else None, "hidden_size": embedding[1] if embedding else None,
             "num_hidden_layers": len(layers) if layers else None}
    for key, actual in found.items():
        if actual is not None and config.get(key) is not None and config[key] != actual:
            raise _damaged(config_file, f"says {key} = {config[key]:,} but the weights have {actual:,}")
    tokenizer = folder / "tokenizer.json"
    if tokenizer.exists():
        from tokenizers import Tokenizer

        try:
            Tokenizer.from_file(str(tokenizer))
        except Exception as exc:  # the Rust library raises its own exception type for a bad file
            raise _damaged(tokenizer, f"cannot be read ({' '.join(str(exc).split())[:100]})") from None
    return config
