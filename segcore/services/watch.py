"""Scheduled re-scoring: score the files of a folder that are not yet scored, keep a history,
compare the newest scoring with the one before (the first with the run's own data).

DIR layout: `history.jsonl` (one line per scored file: file, sha256, folder, time, reviews,
alerts, top alert), `scores/<file stem>-<hash>/` (the usual `segcore score` outputs, with their
own compare.json against the run's data), and `compare.json` + `movers.csv` of the newest
scoring against the previous one. A file counts as scored when its name and content hash are in
the history, so an edited file is scored again; each scoring folder appears whole or not at all.

The folder is a drop box others write into, so it is read defensively: only regular files inside it
(a link, even to a file, is skipped: it could point anywhere on the machine), no file whose name
holds control or other odd characters (a new line would split the history and the log), and a file
that cannot be read or scored (vanished, half written, not a table) is skipped with one line while
the others are scored; it is tried again on the next pass."""
from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from ..compare.compare import top_alert, write_comparison
from ..compare.frame import load_scoring
from ..compare.options import CompareConfig
from ..engines.stream import score_file
from ..errors import SegscopeError
from ..files import sha256_file
from ..ingest.load import SUPPORTED
from ..io.artifacts import load_meta
from ..io.atomic import atomic_folder
from ..io.export import safe_filename

HISTORY_FILE = "history.jsonl"


def read_history(out_dir: str | Path) -> list[dict]:
    path = Path(out_dir) / HISTORY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def shown(name: str) -> str:
    """A file name as one printable line (escaped when it holds odd characters)."""
    return name if name.isprintable() else ascii(name)


def _odd(name: str) -> bool:
    return any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in name)


def pending_files(folder: str | Path, history: list[dict], *,
                  skip: Callable[[str], None] | None = None) -> list[tuple[Path, str]]:
    """(file, sha256) of the review files in `folder` (by name) whose name and content are not in
    `history`; `skip(line)` hears of each file left out and why (links, odd names, unreadable)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SegscopeError(f"{folder} is not a folder; give the folder new review files arrive in.")
    inside = folder.resolve()
    done = {(h["file"], h["sha256"]) for h in history}
    pending = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in SUPPORTED:
            continue
        why = None
        if _odd(path.name):
            why = "its name holds control or other odd characters; rename it"
        elif path.is_symlink() or path.resolve().parent != inside:
            why = f"it is a link; only files inside {folder} are read"
        elif not path.is_file():
            why = "it is not a regular file"
        else:
            try:
                digest = sha256_file(path)
            except OSError as exc:  # vanished or unreadable since the folder was listed
                why = f"it cannot be read ({exc.strerror or type(exc).__name__})"
        if why is not None:
            if skip is not None:
                skip(f"skipped {shown(path.name)}: {why}")
            continue
        if (path.name, digest) not in done:
            pending.append((path, digest))
    return pending


def watch(folder: str | Path, model_dir: str | Path, out_dir: str | Path, *, config=None,
          compare_config: CompareConfig | None = None, chunk_rows: int | None = None,
          echo: Callable[[str], None] = print) -> list[dict]:
    """Score every pending file of `folder` with the saved run `model_dir` into `out_dir`, in name
    order; returns the history entries added. `echo` gets one line `scored FILE` per file."""
    out_dir = Path(out_dir)
    model_dir = Path(model_dir)
    if out_dir.resolve() in [Path(folder).resolve(), *Path(folder).resolve().parents]:
        raise SegscopeError(f"--out {out_dir} holds the folder it watches; choose another output folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = load_meta(model_dir)
    history = read_history(out_dir)
    added = []
    for path, digest in pending_files(folder, history, skip=echo):
        target = out_dir / "scores" / f"{safe_filename(path.stem, fallback='reviews')}-{digest[:8]}"
        try:
            if path.is_symlink() or sha256_file(path) != digest:  # swapped or still being written since listed
                raise SegscopeError("it changed while being read; it is scored on the next pass")
            with atomic_folder(target) as work:
                result = score_file(path, model_dir, work, config, chunk_rows=chunk_rows)
        except (SegscopeError, OSError) as exc:  # one bad file never stops the others
            reason = exc if isinstance(exc, SegscopeError) else f"it cannot be read ({exc.strerror or exc})"
            echo(f"skipped {shown(path.name)}: {' '.join(str(reason).split())}")
            continue
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
        echo(f"scored {shown(str(path))}")
    return added
