"""A run killed at any stage leaves the old outputs intact (or none); bad templates and an --out
that holds what the command reads are refused before any work."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_main
from segcore.cli import main


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def _kill_when(args, pattern: str, *, written: str | None = None) -> str:
    """Run the CLI, SIGKILL it once a stderr line contains `pattern` (and, with `written`, once that
    file exists inside the run's hidden temporary folder: a kill while it writes the outputs, before
    the swap, whatever the machine's speed); its stderr so far."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "segcore", *map(str, args)], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    out = Path(args[args.index("--out") + 1])
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if pattern in line:
                while written and proc.poll() is None and not any(out.parent.glob(f".{out.name}.tmp-*/{written}")):
                    time.sleep(0.001)
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
    return "".join(seen)


def test_killed_runs_leave_the_old_run(tmp_path, small_csv, tiny_model, tiny_run):
    out = tmp_path / "out"
    shutil.copytree(tiny_run.parent, out)
    before = _snapshot(out)
    old_metrics = (out / "metrics.json").read_text()
    args = ["run", small_csv, "--out", out, "--model", tiny_model, "--epochs", "1", "--k", "2", "--max-length", "64"]
    # While training, while exporting outputs, and while the model folder is being written.
    for pattern, written in (("stage train ...", None), ("stage export ...", None),
                             ("stage export ...", ".model.tmp-*/config.json")):
        _kill_when(args, pattern, written=written)
        assert _snapshot(out) == before, pattern
        assert (out / "metrics.json").read_text() == old_metrics
    # The old run still scores: its files agree with each other. (In this process: only the
    # killed runs need processes of their own.)
    assert run_main("score", small_csv, "--model", out / "model", "--out", tmp_path / "scored").returncode == 0
    # A run that completes replaces the folder whole: at most 2 segments, no campaign list left from 3.
    done = run_main(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    k = json.loads((out / "metrics.json").read_text())["k"]
    names = json.loads((out / "segment_profiles.json").read_text())
    assert k <= 2 and len(list((out / "campaigns").glob("*.csv"))) == len(names) == k
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # leftovers cleaned


def test_bad_templates_refused_before_training(tmp_path, small_csv, tiny_model, capsys):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "01_loop.md.j2").write_text("{% for i in range(100000) %}{% for j in range(100000) %}x"
                                          "{% endfor %}{% endfor %}", encoding="utf-8")
    started = time.perf_counter()
    code = main(["run", str(small_csv), "--out", str(tmp_path / "out"), "--model", str(tiny_model),
                 "--templates", str(folder)])
    assert code == 2 and time.perf_counter() - started < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "01_loop" in err[0], err
    assert not (tmp_path / "out").exists()


def test_out_holding_the_model_or_input_is_refused(tmp_path, small_csv, tiny_run, capsys):
    run_folder = tmp_path / "run"
    shutil.copytree(tiny_run.parent, run_folder)
    before = _snapshot(run_folder)
    assert main(["score", str(small_csv), "--model", str(run_folder / "model"), "--out", str(run_folder)]) == 2
    assert "holds" in capsys.readouterr().err
    assert _snapshot(run_folder) == before


@pytest.mark.parametrize("target", ["file", "other files"])
def test_out_that_is_not_an_output_folder_is_refused(tmp_path, small_csv, tiny_run, capsys, target):
    out = tmp_path / "out"
    if target == "file":
        out.write_text("notes")
    else:
        out.mkdir()
        (out / "thesis.docx").write_text("precious")
    assert main(["score", str(small_csv), "--model", str(tiny_run), "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert (out.read_text() if target == "file" else (out / "thesis.docx").read_text()) in ("notes", "precious")
