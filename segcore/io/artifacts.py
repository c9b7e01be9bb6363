"""Saved runs: the fine-tuned model folder and the files written next to it."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ..analysis.projection import PROJECTION_FILE  # noqa: F401  (re-exported: model folder file names live here)
from ..analysis.segment import SegmentModel
from ..errors import SegscopeError

META_FILE = "segscope.json"
SEGMENTS_FILE = "segments.json"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_json(data, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8")
    return path


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_model_dir(target: str | Path, *, model, tokenizer, meta: dict, segment_model: SegmentModel,
                   projection, aspect_tagger=None) -> Path:
    """Write into a temporary sibling folder and rename it into place when complete, so a
    killed process never leaves a half-written model where a finished one is expected."""
    from ..analysis.projection import save_projection

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        to_json(segment_model.to_dict(), tmp / SEGMENTS_FILE)
        save_projection(projection, tmp / PROJECTION_FILE)
        if aspect_tagger is not None:
            aspect_tagger.save(tmp / "aspects")
        to_json(meta, tmp / META_FILE)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_meta(model_dir: str | Path) -> dict:
    path = Path(model_dir) / META_FILE
    if not path.exists():
        raise SegscopeError(f"{model_dir} is not a segscope model (no {META_FILE}); "
                            "give the model/ folder of a finished run.")
    return json.loads(path.read_text(encoding="utf-8"))


def load_segment_model(model_dir: str | Path) -> SegmentModel:
    return SegmentModel.from_dict(json.loads((Path(model_dir) / SEGMENTS_FILE).read_text(encoding="utf-8")))
