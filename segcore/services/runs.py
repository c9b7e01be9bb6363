"""Saved runs under one root folder (the app's `models/`): list, open, delete, safely.

A run folder holds the outputs of `run_pipeline` (metrics.json, reviews_scored.csv, ...,
model/) plus status.json. Folders whose name starts with '.' are work in progress and never
listed. Run ids are checked so that no id can point outside the root."""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import SegscopeError
from ..io.artifacts import META_FILE, load_meta
from ..io.export import read_export_csv

STATUS_FILE = "status.json"
# Held while a run is changed (services.owners.OwnerJobs.edit): a swap half done is never "put back"
# by another session listing the runs at that moment.
EDIT_LOCK = threading.RLock()
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")  # used with fullmatch: "$" would let "id\n" through


def new_run_id(label: str = "run") -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: str
    created: str
    input_file: str
    macro_f1: float | None
    baseline_macro_f1: float | None
    n_reviews: int | None
    k: int | None
    error: str | None
    owner: str | None = None  # who started it (status.json); None: made outside the app (CLI)
    owner_key: str | None = None
    shared: bool = False  # shared with the team by its owner: others may view it (read-only)
    unreadable: str | None = None  # why this segscope cannot use the run (io.artifacts.load_meta's one line)

    @property
    def usable(self) -> bool:
        return self.status == "done" and (self.path / "model" / META_FILE).exists() and not self.unreadable


def format_problem(model_dir: Path) -> str | None:
    """Why the saved run in `model_dir` cannot be used (made by a newer segscope, too old, damaged
    metadata), or None; checked where runs are listed, so the app shows it before anyone opens it."""
    if not (model_dir / META_FILE).exists():
        return None
    try:
        load_meta(model_dir)
    except SegscopeError as exc:
        return str(exc)
    return None


def may_view(run: RunInfo, who) -> bool:
    """Whether `who` (services.owners.Owner) may open, view, download and score with `run`."""
    return who.admin or run.owner_key in (None, who.key) or run.shared


def may_manage(run: RunInfo, who) -> bool:
    """Whether `who` may rename, re-segment, share or delete `run` (runs without an owner: admins)."""
    return who.admin or (run.owner_key is not None and run.owner_key == who.key)


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or ".." in run_id:
            raise SegscopeError(f"{run_id!r} is not a valid run id.")
        path = (self.root / run_id).resolve()
        if path.parent != self.root.resolve():
            raise SegscopeError(f"'{run_id}' is not a valid run id.")
        return path

    def work_path(self, run_id: str) -> Path:
        return self.root / f".{run_id}.partial"

    def info(self, run_id: str) -> RunInfo:
        path = self.path(run_id)
        status = read_status(path)
        if not status:
            raise SegscopeError(f"Run '{run_id}' not found.")
        m = status.get("metrics") or {}
        problem = format_problem(path / "model") if status.get("status") == "done" else None
        return RunInfo(run_id=run_id, path=path, status=status.get("status", "unknown"),
                       created=status.get("created", ""), input_file=status.get("input_file", ""),
                       macro_f1=m.get("test_macro_f1"), baseline_macro_f1=m.get("baseline_macro_f1"),
                       n_reviews=m.get("n_reviews"), k=m.get("k"), error=status.get("error") or problem,
                       owner=status.get("owner"), owner_key=status.get("owner_key"),
                       shared=status.get("shared") is True, unreadable=problem)

    def set_shared(self, run_id: str, shared: bool) -> None:
        path = self.path(run_id)
        status = read_status(path)
        if not status:
            raise SegscopeError(f"Run '{run_id}' not found.")
        write_status(path, {**status, "shared": bool(shared)})

    def recover_swaps(self) -> list[str]:
        """A run whose edit was killed between the two renames of its swap (io.atomic.edited_copy)
        is set aside as `.<run>.old-*`: put it back. Returns the runs put back (none while a run is
        being changed in this process: its swap may be half done on purpose)."""
        if not EDIT_LOCK.acquire(blocking=False):
            return []
        try:
            back = []
            for old in self.root.glob(".*.old-*"):
                name = old.name[1:].rsplit(".old-", 1)[0]
                if _RUN_ID.fullmatch(name) and not (self.root / name).exists():
                    os.replace(old, self.root / name)
                    back.append(name)
            return back
        finally:
            EDIT_LOCK.release()

    def list(self) -> list[RunInfo]:
        self.recover_swaps()
        runs = []
        for child in self.root.iterdir():
            if child.is_dir() and not child.name.startswith(".") and (child / STATUS_FILE).exists():
                try:
                    runs.append(self.info(child.name))
                except (SegscopeError, json.JSONDecodeError):
                    continue
        # a job's quick result and its fine-tuned run share `created`: the fine-tuned one comes first
        return sorted(runs, key=lambda r: (r.created, not r.run_id.endswith("-quick")), reverse=True)

    def delete(self, run_id: str) -> None:
        path = self.path(run_id)
        if path.exists():
            shutil.rmtree(path)

    def clean_partials(self) -> list[str]:
        """Remove work folders left by a killed process (jobs, run edits); returns their names."""
        self.recover_swaps()
        removed = []
        for child in [*self.root.glob(".*.partial"), *self.root.glob(".*.tmp-*"), *self.root.glob(".*.old-*")]:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
        return removed


def read_status(path: Path) -> dict:
    file = Path(path) / STATUS_FILE
    if not file.exists():
        return {}
    return json.loads(file.read_text(encoding="utf-8"))


def write_status(path: Path, status: dict) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (STATUS_FILE + ".tmp")
    tmp.write_text(json.dumps(status, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path / STATUS_FILE)


@dataclass
class RunOutputs:
    """A finished run's files, loaded for display."""

    metrics: dict
    profiles: dict[int, dict]
    strategies: dict[int, list[dict]]
    reviews: pd.DataFrame
    segments: pd.DataFrame
    meta: dict
    fix_first: dict | None = None  # fix_first.json: what to fix first over all reviews


def load_outputs(path: str | Path) -> RunOutputs:
    path = Path(path)
    if not (path / "reviews_scored.csv").exists():
        raise SegscopeError(f"{path.name} has no results (it did not finish).")

    def js(name):
        return json.loads((path / name).read_text(encoding="utf-8"))

    model_dir = path / "model"
    if not (model_dir / META_FILE).exists() and path.parent.name == "scores":  # a scoring: its run's model
        model_dir = path.parent.parent / "model"  # (columns, labels)
    return RunOutputs(
        metrics=js("metrics.json"),
        profiles={int(k): v for k, v in js("segment_profiles.json").items()},
        strategies={int(k): v for k, v in js("strategies.json").items()},
        reviews=read_export_csv(path / "reviews_scored.csv"),
        segments=read_export_csv(path / "segments.csv", dtype={"customer_id": str}),
        meta=load_meta(model_dir) if (model_dir / META_FILE).exists() else {},
        fix_first=js("fix_first.json") if (path / "fix_first.json").exists() else None,
    )
