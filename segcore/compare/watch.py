"""Scheduled re-scoring: score the files of a folder that are not yet scored, keep a history,
compare the newest scoring with the one before (the first with the run's own data).

DIR layout: `history.jsonl` (one line per scored file: file, sha256, folder, time, reviews,
alerts, top alert), `scores/<file stem>-<hash>/` (the usual `segcore score` outputs, with their
own compare.json against the run's data), and `compare.json` + `movers.csv` of the newest
scoring against the previous one. A file counts as scored when its name and content hash are in
the history, so an edited file is scored again; each scoring folder appears whole or not at all."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import SegscopeError
from ..ingest.load import SUPPORTED
from ..io.artifacts import load_meta, sha256_file
from ..io.atomic import atomic_folder
from .compare import top_alert, write_comparison
from .frame import load_scoring
from .options import CompareConfig

HISTORY_FILE = "history.jsonl"


def read_history(out_dir: str | Path) -> list[dict]:
    path = Path(out_dir) / HISTORY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pending_files(folder: str | Path, history: list[dict]) -> list[Path]:
    """The review files in `folder` (by name) whose name and content are not in `history`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SegscopeError(f"{folder} is not a folder; give the folder new review files arrive in.")
    done = {(h["file"], h["sha256"]) for h in history}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED
                   and not p.name.startswith("."))
    return [p for p in files if (p.name, sha256_file(p)) not in done]


def watch(folder: str | Path, model_dir: str | Path, out_dir: str | Path, *, config=None,
          compare_config: CompareConfig | None = None, chunk_rows: int | None = None,
          echo: Callable[[str], None] = print) -> list[dict]:
    """Score every pending file of `folder` with the saved run `model_dir` into `out_dir`, in name
    order; returns the history entries added. `echo` gets one line `scored FILE` per file."""
    from ..pipeline import score_file

    out_dir = Path(out_dir)
    model_dir = Path(model_dir)
    if out_dir.resolve() in [Path(folder).resolve(), *Path(folder).resolve().parents]:
        raise SegscopeError(f"--out {out_dir} holds the folder it watches; choose another output folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = load_meta(model_dir)
    history = read_history(out_dir)
    added = []
    for path in pending_files(folder, history):
        digest = sha256_file(path)
        target = out_dir / "scores" / f"{path.stem}-{digest[:8]}"
        with atomic_folder(target) as work:
            result = score_file(path, model_dir, work, config, chunk_rows=chunk_rows)
        previous = history[-1] if history else None
        if previous is not None:  # the newest scoring against the one before it
            before = load_scoring(out_dir / previous["folder"], meta=meta, name=previous["file"])
            after = load_scoring(target, meta=meta, name=path.name)
            compared = write_comparison(out_dir, before, after, config=compare_config)
        else:  # the first: its own comparison with the run's data
            compared = json.loads((target / "compare.json").read_text("utf-8")) if (target / "compare.json").exists() \
                else None
            if compared is not None:
                (out_dir / "compare.json").write_text(json.dumps(compared, indent=2, ensure_ascii=False), "utf-8")
        entry = {"file": path.name, "sha256": digest, "folder": str(target.relative_to(out_dir)),
                 "scored_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "n_reviews": result.metrics["n_reviews"],
                 "compared_with": previous["file"] if previous else "the run's own data",
                 "n_alerts": len(compared["alerts"]) if compared else None,
                 "top_alert": top_alert(compared) if compared else None}
        with open(out_dir / HISTORY_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        history.append(entry)
        added.append(entry)
        echo(f"scored {path}")
    return added
