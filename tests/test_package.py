"""The package: pyproject.toml, the `segscope` command with every verb, the wheel's contents and
`segscope app` serving the checkout's app."""
from __future__ import annotations

import email.parser
import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

import segcore
from segcore.cli import app_command, main
from segcore.errors import SegscopeError

VERBS = ("run", "score", "watch", "explain", "bench", "app")
TEST_TOOLS = ("pytest", "pytest-xdist", "filelock", "playwright", "import-linter")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()


def test_pyproject_declares_the_command_the_version_and_the_extras():
    project = PYPROJECT["project"]
    module, _, attr = project["scripts"]["segscope"].partition(":")
    assert getattr(importlib.import_module(module), attr) is main
    # The version is defined once, in segcore/__init__.py; pyproject.toml reads it.
    assert "version" in project["dynamic"] and "version" not in project
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "segcore.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", segcore.__version__)
    runtime = {_name(r): r for r in project["dependencies"]}
    assert runtime["torch"] == "torch==2.13.0"  # an open range pulls a multi-GB CUDA build
    assert "ray" not in runtime and not set(TEST_TOOLS) & set(runtime)
    extras = project["optional-dependencies"]
    assert extras["ray"] == ["ray[data,client]==2.60.0"]
    assert set(TEST_TOOLS) <= {_name(r) for r in extras["dev"]}
    # requirements.txt installs the checkout (no second list of versions), the test tools not at all.
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip()[:1] not in ("", "#")]
    assert lines == ["-e .[ray]"]
    assert '".[ray,dev]"' in (ROOT / ".ci" / "run").read_text()


def test_help_lists_every_verb_and_the_version(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/segscope"])  # as the console script starts it
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and out.startswith("usage: segscope")
    listed = re.search(r"\{([a-z,]+)\}", out).group(1).split(",")
    assert listed == list(VERBS)
    for verb in VERBS:
        assert re.search(rf"^\s+{verb}\s+\S", out, re.M), verb  # each with its one-line help
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"segscope {segcore.__version__}"
    # A stray argument is still refused in one line; only `app` passes arguments on (to Streamlit).
    assert main(["watch", "inbox", "--model", "m", "--out", "o", "--server.port", "1"]) == 2
    assert "unrecognized arguments: --server.port 1" in capsys.readouterr().err


def test_app_refuses_an_install_without_the_app(tmp_path):
    assert app_command(["--server.port", "8502"]) == [sys.executable, "-m", "streamlit", "run",
                                                      str(ROOT.resolve() / "app.py"), "--server.port", "8502"]
    with pytest.raises(SegscopeError, match="needs the source checkout.*pip install -e"):
        app_command([], root=tmp_path)


def test_wheel_holds_the_package_its_data_and_the_command(tmp_path):
    """Built offline from a copy of the checkout (no build folder left in the tree)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "segcore", src / "segcore", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("segscope-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"segscope-{segcore.__version__}.dist-info"
        meta = email.parser.Parser().parsestr(z.read(f"{info}/METADATA").decode())
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    shipped = {p.relative_to(src).as_posix() for p in (src / "segcore").rglob("*") if p.is_file()}
    assert {"segcore/data/sample_reviews.csv", "segcore/data/stopwords_zh.txt",
            "segcore/strategy/templates/zh/01_complaint_recovery.md.j2"} <= shipped
    assert shipped <= names, sorted(shipped - names)  # every module and data file of segcore
    assert {n.split("/")[0] for n in names} == {"segcore", info}  # no tests, pages or ui in it
    assert meta["Name"] == "segscope" and meta["Version"] == segcore.__version__
    assert "torch==2.13.0" in meta.get_all("Requires-Dist")
    assert {"ray", "dev"} <= set(meta.get_all("Provides-Extra"))
    assert re.search(r"^segscope = segcore\.cli:main$", entry_points, re.M)


def test_segscope_app_serves_the_checkouts_app(tmp_path):
    """From another folder: the command becomes `streamlit run app.py` in the checkout (so its
    .streamlit/ settings apply), with a relative models folder kept relative to where it was given."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "SEGSCOPE_MODELS_DIR": "runs"}
    env.pop("SEGSCOPE_PASSWORD", None)
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "segcore", "app", "--server.port", str(port),
                                 "--server.address", "127.0.0.1"], cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                assert proc.poll() is None, log_path.read_text()[-2000:]
                time.sleep(0.5)
        else:
            pytest.fail("segscope app did not start: " + log_path.read_text()[-2000:])
        # exec: the process is Streamlit itself (stops and exits as Streamlit), in the checkout.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
        assert cmdline[1:5] == ["-m", "streamlit", "run", str(ROOT.resolve() / "app.py")]
        assert Path(f"/proc/{proc.pid}/cwd").resolve() == ROOT.resolve()
        environ = dict(v.split("=", 1) for v in Path(f"/proc/{proc.pid}/environ").read_bytes().decode().split("\0")
                       if "=" in v)
        assert environ["SEGSCOPE_MODELS_DIR"] == str(tmp_path.resolve() / "runs")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Traceback" not in log_path.read_text()


def test_the_apps_settings_keep_jobs_running_while_pages_poll():
    """Streamlit's full gc.collect() after every script run held the GIL each second a job's
    progress fragment reran: 80 reviews scored beside a fine-tune took 101 s in the app instead of
    1.4 s (tests/test_browser_jobs.py). The checkout's settings turn it off, and Streamlit knows
    the option by that name."""
    from streamlit import config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["runner"]["postScriptGC"] is False
    assert config.get_option("runner.postScriptGC") in (True, False)  # a real option of this Streamlit
