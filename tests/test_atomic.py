"""Output folders swap in whole: the old outputs survive a failed run; nothing stale is left."""
from __future__ import annotations

import pytest

from segcore.errors import SegscopeError
from segcore.io.atomic import atomic_folder, recover


def test_success_replaces_whole_folder(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as work:
        (work / "metrics.json").write_text("1")
        (work / "campaigns").mkdir()
        for name in ("a", "b", "c"):
            (work / "campaigns" / f"{name}.csv").write_text(name)
    with atomic_folder(out) as work:  # a re-run with fewer segments
        (work / "metrics.json").write_text("2")
        (work / "campaigns").mkdir()
        (work / "campaigns" / "a.csv").write_text("a2")
    assert (out / "metrics.json").read_text() == "2"
    assert sorted(p.name for p in (out / "campaigns").iterdir()) == ["a.csv"]  # no stale lists
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_keeps_old_outputs(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as work:
        (work / "metrics.json").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(out) as work:
            (work / "metrics.json").write_text("new")
            raise RuntimeError("export failed")
    assert (out / "metrics.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "thesis.docx").write_text("precious")
    with pytest.raises(SegscopeError, match="not segscope outputs"):
        with atomic_folder(tmp_path):
            pass
    assert (tmp_path / "thesis.docx").read_text() == "precious"


def test_recover_after_kill_between_renames(tmp_path):
    out = tmp_path / "out"
    aside = tmp_path / ".out.old-1234abcd"  # a kill after the old folder was set aside
    aside.mkdir()
    (aside / "metrics.json").write_text("old")
    (tmp_path / ".out.tmp-99999999").mkdir()  # and the new one never swapped in
    recover(out)
    assert (out / "metrics.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
