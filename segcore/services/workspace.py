"""One person's workspace: their current dataset (the uploaded file on disk plus its column
mapping) and the run they picked, so a page reload or a server restart does not lose them.

The app keeps one workspace per owner under models/.data/<owner key>/ (services/owners.py)."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SegscopeError
from ..files import sha256_file
from ..io.export import safe_filename

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "sample_reviews.csv"


@dataclass
class Dataset:
    path: Path
    name: str
    sheet: str | None = None
    columns: dict[str, str | None] = field(default_factory=dict)
    is_sample: bool = False
    rows: int | None = None  # known once the Data page has read the file


@functools.lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def fingerprint(dataset: Dataset) -> str:
    """What a dataset's reviews are: its file's content (and sheet). Label decisions carry the
    fingerprint of the dataset they were made on and are applied to that dataset only."""
    stat = Path(dataset.path).stat()
    digest = _file_digest(str(dataset.path), stat.st_size, stat.st_mtime_ns)
    return hashlib.sha256(f"{digest}:{dataset.sheet or ''}".encode()).hexdigest()[:32]


def _extension(name: str) -> str:
    """The file's extension as the readers know it ('.csv'), or '' when there is none or it is odd
    (a '/' or other characters after the last dot must never become part of a path)."""
    suffix = Path(name.replace("\\", "/").rsplit("/", 1)[-1]).suffix.lower()
    return suffix if 1 < len(suffix) <= 9 and suffix[1:].isalnum() else ""


class Workspace:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._pointer = self.root / "current.json"
        self._selection = self.root / "selection.json"

    def save_upload(self, data: bytes, name: str, *, check=None) -> Dataset:
        """Store an upload as the current dataset. `check(data, name)` runs first (e.g. reading the
        table): when it raises, nothing is stored and the current dataset stays as it was. The file
        is written in full before the previous upload goes: a name that cannot be stored (e.g. a
        '/' after its last dot) never costs the previous upload."""
        if check is not None:
            check(data, name)
        ext = _extension(name)
        stem = name[: -len(ext)] if ext else name
        target = self.root / f"upload-{safe_filename(stem, fallback='upload')}{ext}"
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in self.root.glob("upload-*"):
            if old != target:
                old.unlink(missing_ok=True)
        dataset = Dataset(path=target, name=name)
        self._save(dataset)
        return dataset

    def use_sample(self) -> Dataset:
        dataset = Dataset(path=SAMPLE_PATH, name="sample_reviews.csv (Amazon Fine Food, CC0)", is_sample=True)
        self._save(dataset)
        return dataset

    def update(self, dataset: Dataset) -> None:
        self._save(dataset)

    def current(self) -> Dataset | None:
        if not self._pointer.exists():
            return None
        data = json.loads(self._pointer.read_text(encoding="utf-8"))
        path = Path(data["path"])
        if not path.exists():
            return None
        return Dataset(path=path, name=data["name"], sheet=data.get("sheet"), columns=data.get("columns", {}),
                       is_sample=data.get("is_sample", False), rows=data.get("rows"))

    def save_corrected(self, frame, dataset: Dataset, *, label_col: str, corrections: list[dict],
                       reviewed: str) -> Dataset:
        """Store `frame` (the dataset with reviewed labels) as the current dataset, training on
        `label_col`; corrections.json keeps what was changed and the original dataset to go back to.
        `reviewed`: the fingerprint of the dataset the decisions were made on; refused unless it is
        `dataset`, and `dataset` is still this workspace's current one."""
        current = self.current()
        if reviewed != fingerprint(dataset) or current is None or fingerprint(current) != reviewed:
            raise SegscopeError("These label decisions were made on another dataset than the current one "
                                f"({dataset.name}); nothing was saved. Find the label issues again on it.")
        log_path = self.root / "corrections.json"
        log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.exists() else {}
        if not log or Path(log.get("corrected", "")) != dataset.path:  # a new dataset: start a new log
            log = {"original": self._as_dict(dataset), "corrections": []}
        target = self.root / f"corrected-{safe_filename(Path(log['original']['path']).stem, fallback='data')}.csv"
        frame.to_csv(target, index=False, encoding="utf-8")
        log["corrected"] = str(target)
        log["corrections"] += corrections  # rows are numbered as in the file reviewed at the time
        log_path.write_text(json.dumps(log, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        name = log["original"]["name"]
        corrected = Dataset(path=target, name=f"{name} (labels reviewed: {len(log['corrections'])})",
                            columns={**dataset.columns, "label": label_col}, rows=len(frame))
        self._save(corrected)
        return corrected

    def corrections(self) -> dict:
        """{"original": dataset dict, "corrected": path, "corrections": [...]} for the current
        dataset, or {} when its labels were not reviewed (e.g. a file uploaded since)."""
        path = self.root / "corrections.json"
        current = self.current()
        log = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return log if log and current is not None and Path(log.get("corrected", "")) == current.path else {}

    def undo_corrections(self) -> Dataset | None:
        """Back to the dataset as it was before any label was reviewed."""
        log = self.corrections()
        if not log:
            return self.current()
        original = Dataset(**{**log["original"], "path": Path(log["original"]["path"])})
        self._save(original)
        (self.root / "corrections.json").unlink(missing_ok=True)
        return original

    def selected_run(self) -> str | None:
        """The run id picked last in this workspace (it may since have been deleted)."""
        if not self._selection.exists():
            return None
        return json.loads(self._selection.read_text(encoding="utf-8")).get("run_id")

    def select_run(self, run_id: str | None) -> None:
        if run_id != self.selected_run():  # pages ask on every rerun: write only a change
            self._selection.write_text(json.dumps({"run_id": run_id}), encoding="utf-8")

    def clear(self) -> None:
        self._pointer.unlink(missing_ok=True)

    @staticmethod
    def _as_dict(dataset: Dataset) -> dict:
        return {"path": str(dataset.path), "name": dataset.name, "sheet": dataset.sheet, "columns": dataset.columns,
                "is_sample": dataset.is_sample, "rows": dataset.rows}

    def _save(self, dataset: Dataset) -> None:
        self._pointer.write_text(json.dumps(self._as_dict(dataset), ensure_ascii=False), encoding="utf-8")

