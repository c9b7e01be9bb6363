"""Output folders that appear whole or not at all.

A run is written into a hidden sibling folder and swapped in when complete, so a failed or killed
run leaves the previous outputs untouched (or no outputs), never a mix of old and new files, and
never old campaign lists beside new ones."""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import SegscopeError

# Files that mark a folder as a segscope output folder (safe to replace whole).
RUN_MARKERS = ("metrics.json", "model/segscope.json", "reviews_scored.csv")


def _hidden(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{uuid.uuid4().hex[:8]}"


def recover(target: Path) -> None:
    """Undo what a kill between the two renames of a swap left: the old folder set aside, none in place;
    and remove temporary folders of killed runs."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*"))
    if olds and not target.exists():
        os.replace(olds.pop(), target)
    for leftover in [*olds, *target.parent.glob(f".{target.name}.tmp-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that holds anything but segscope outputs (e.g. `--out .`)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise SegscopeError(f"{target} is a file; give a folder for the outputs.")
    if target.is_dir() and any(target.iterdir()) and not any((target / m).exists() for m in RUN_MARKERS):
        raise SegscopeError(f"{target} already holds files that are not segscope outputs; "
                            "give a new or empty folder (its contents would be replaced).")


@contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to write into; on success it replaces `target` whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    check_replaceable(target)
    tmp = _hidden(target, "tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _hidden(target, "old")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def edited_copy(target: str | Path, *, link: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a copy of the folder `target` to change; on success it replaces `target` whole (a
    killed edit leaves the old folder, or after `recover` the old one, never a mix). Files for
    which `link(relative path)` is true are hard links to the originals (large files the edit
    never writes, e.g. model weights): the edit must replace files, never write into those."""
    target = Path(target)
    recover(target)
    if not target.is_dir():
        raise SegscopeError(f"{target} not found; it may have been deleted.")
    tmp = _hidden(target, "tmp")

    def copy(src: str, dst: str) -> str:
        if link is not None and link(Path(src).relative_to(target)):
            try:
                os.link(src, dst)
                return dst
            except OSError:  # another file system, or no hard links here: a real copy
                pass
        return shutil.copy2(src, dst)

    try:
        shutil.copytree(target, tmp, copy_function=copy, symlinks=True,
                        ignore=shutil.ignore_patterns(".*.tmp-*", ".*.old-*"))
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _hidden(target, "old")
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
