"""Saved runs: the fine-tuned model folder and the files written next to it."""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis.projection import PROJECTION_FILE  # noqa: F401  (re-exported: model folder file names live here)
from ..analysis.segment import SegmentModel
from ..encoders.folder import check_encoder_folder
from ..config import DEFAULT_SEED
from ..errors import SegscopeError
from ..files import sha256_file  # noqa: F401 (re-exported: the pipeline imports it from here)

META_FILE = "segscope.json"
SEGMENTS_FILE = "segments.json"
HEAD_FILE = "head.json"  # which candidate scores reviews (training.candidates)

# The run format (`segscope_version` in META_FILE), raised when what a run folder holds changes:
#   (none) before the field: no head.json before the safety net, no truncation (head), no
#          segment / map encoder (the saved one), no output_language (the reviews' language);
#   1      the field written, the rest as before (the same gaps, found by looking);
#   2      every one of those written out: head, truncation, segment_encoder, map_encoder,
#          output_language, run_config.seed, made_by.
# A run of an older format is brought up to date in memory here (`load_meta`), nowhere else.
FORMAT_VERSION = 2
MADE_BY = f"segscope {__version__}"


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
                   projection, aspect_tagger=None, head=None) -> Path:
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
        if head is not None:  # the selected candidate (training.candidates.ScoringHead)
            to_json(head.to_dict(), tmp / HEAD_FILE)
        to_json(meta, tmp / META_FILE)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_meta(model_dir: str | Path) -> dict:
    """The run's metadata in the current format (older formats brought up to date in memory);
    one-line SegscopeError for a folder that is no run, a run too old to bring up to date or one
    made by a newer segscope."""
    path = Path(model_dir) / META_FILE
    if not path.exists():
        raise SegscopeError(f"{model_dir} is not a segscope model (no {META_FILE}); "
                            "give the model/ folder of a finished run.")
    return up_to_date(_read_json(path), Path(model_dir))


def up_to_date(meta, folder: Path) -> dict:
    """`meta` of the run in `folder` in format FORMAT_VERSION (see there), or a one-line refusal."""
    if not isinstance(meta, dict):
        raise SegscopeError(f"{folder / META_FILE} is damaged (not a JSON object); re-run training.")
    version = meta.get("segscope_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SegscopeError(f"{folder / META_FILE} has an unreadable segscope_version {version!r}; the saved run "
                            "is damaged - re-run training.")
    if version > FORMAT_VERSION:
        raise SegscopeError(f"{folder.parent.name or folder.name} was made by "
                            f"{meta.get('made_by') or 'a newer segscope'} (run format {version}; this is "
                            f"{MADE_BY}, which reads up to {FORMAT_VERSION}); upgrade segscope to use it.")
    if version == FORMAT_VERSION:
        return meta
    missing = [what for what, ok in (("labels", meta.get("labels")),
                                     ("train_config", isinstance(meta.get("train_config"), dict))) if not ok]
    if missing:
        raise SegscopeError(f"{folder.parent.name or folder.name} was saved by an older segscope without "
                            f"{' or '.join(missing)}; re-run training on its review file to use it.")
    meta = {**meta, "segscope_version": FORMAT_VERSION, "made_by": meta.get("made_by")}
    meta["train_config"] = {"truncation": "head", **meta["train_config"]}
    meta.setdefault("output_language", meta.get("language") or "en")
    meta.setdefault("segment_encoder", {"chosen": None, "path": None, "saved": True})
    meta.setdefault("map_encoder", "saved")  # the saved model's embeddings were mapped
    meta["run_config"] = {"seed": DEFAULT_SEED, **(meta.get("run_config") or {})}
    meta.setdefault("head", HEAD_FILE if (folder / HEAD_FILE).exists() else None)  # none: the fine-tuned model
    return meta


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SegscopeError(f"{path} is not valid JSON ({exc}); the saved run is damaged - "
                            "copy it again or re-run training.") from None


def load_segment_model(model_dir: str | Path) -> SegmentModel:
    path = Path(model_dir) / SEGMENTS_FILE
    if not path.exists():
        raise SegscopeError(f"{model_dir} has no {SEGMENTS_FILE}; give the model/ folder of a finished run.")
    try:
        return SegmentModel.from_dict(_read_json(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise SegscopeError(f"{path} is damaged ({type(exc).__name__}: {exc}); re-run training.") from None


def check_model_dir(model_dir: str | Path) -> dict:
    """The run's metadata, after checking that the folder holds a complete, consistent saved
    run; raises SegscopeError with one line naming the first problem found, so that a damaged
    folder fails before any scoring starts."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise SegscopeError(f"Model folder not found: {folder}; give the model/ folder of a finished run.")
    meta = load_meta(folder)
    if not meta.get("labels"):
        raise SegscopeError(f"{folder / META_FILE} has no 'labels'; the saved run is damaged - re-run training.")
    try:
        int(meta["train_config"]["max_length"])
    except (KeyError, TypeError, ValueError):
        raise SegscopeError(f"{folder / META_FILE} has no train_config.max_length; re-run training.") from None
    segments = load_segment_model(folder)
    names = meta.get("segment_names") or {}
    if names and sorted(int(s) for s in names) != list(range(segments.k)):
        raise SegscopeError(f"{folder.name}: {SEGMENTS_FILE} has {segments.k} segments but {META_FILE} names "
                            f"{len(names)}; the files come from different runs - re-run training.")
    if list(segments.label_cols) != [f"p_{lab}" for lab in meta["labels"]]:
        raise SegscopeError(f"{folder.name}: {SEGMENTS_FILE} does not match the run's labels; re-run training.")
    if not (folder / PROJECTION_FILE).is_file():
        raise SegscopeError(f"{folder} has no {PROJECTION_FILE} (the map projection); re-run training.")
    _check_weights(folder)
    check_encoder_folder(folder)  # config, weights and tokenizer agree, nothing pickled
    load_head(folder, meta)
    return meta


def load_head(model_dir: str | Path, meta: dict | None = None):
    """The run's selected model (head.json; `meta["head"]` None: a run saved before the safety
    net, which scores with the fine-tuned model)."""
    from ..training.candidates import ScoringHead

    meta = load_meta(model_dir) if meta is None else meta
    if meta.get("head") is None:
        return ScoringHead()
    path = Path(model_dir) / HEAD_FILE
    if not path.exists():
        raise SegscopeError(f"{model_dir} has no {HEAD_FILE} (which model scores); copy the whole model/ folder "
                            "again or re-run training.")
    data = _read_json(path)
    if not isinstance(data, dict):
        raise SegscopeError(f"{path} is damaged (not a JSON object); re-run training.")
    try:
        return ScoringHead.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SegscopeError(f"{path} is damaged ({' '.join(str(exc).split())[:120]}); re-run training.") from None


def _check_weights(folder: Path) -> None:
    """The model weights exist and are complete (a truncated copy fails here, not mid-run)."""
    from safetensors import SafetensorError, safe_open

    files = sorted(p for p in folder.glob("*.safetensors") if p.name != PROJECTION_FILE)
    if not files and not list(folder.glob("*.bin")):  # a .bin is refused by name in check_encoder_folder
        raise SegscopeError(f"{folder} has no model weights (model.safetensors); re-run training or copy "
                            "the whole model/ folder.")
    for path in files:
        try:
            with safe_open(str(path), framework="numpy") as f:
                f.keys()
        except (SafetensorError, OSError, ValueError) as exc:
            raise SegscopeError(f"{path} is damaged or truncated ({' '.join(str(exc).split())[:120]}); "
                                "copy the model/ folder again or re-run training.") from None
