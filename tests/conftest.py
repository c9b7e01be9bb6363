"""Shared fixtures: real review files shipped in the repo and a tiny random-weight encoder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "segcore" / "data" / "sample_reviews.csv"
DATA = ROOT / "tests" / "data"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # xdist workers share the cores: each (and what it starts: CLI, servers) gets its part of them.
    # Two workers with two OpenMP threads each on two cores spend their time waiting on each other.
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    """400 real reviews from the sample, enough customers and classes to split and train."""
    frame = pd.read_csv(SAMPLE)
    part = pd.concat([frame[frame.Score <= 2].head(110), frame[frame.Score == 3].head(70),
                      frame[frame.Score >= 4].head(220)]).sort_values("Id")
    path = tmp_path_factory.mktemp("data") / "small_reviews.csv"
    part.to_csv(path, index=False)
    return path


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """The app's models/ folder for one test, with no password set."""
    path = tmp_path / "models"
    monkeypatch.setenv("SEGSCOPE_MODELS_DIR", str(path))
    monkeypatch.delenv("SEGSCOPE_PASSWORD", raising=False)
    return path


BROWSER_TOKEN = "tests-one-browser-token-0001"


def app_test(timeout: int = 120):
    """The app in AppTest (not run yet) as one browser: AppTest sends no cookies, so the browser's
    workspace token is seeded; each new app_test() is then a new session of that browser (a reload)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["ws_token"] = BROWSER_TOKEN
    return at


def app_ok(at):
    """The AppTest run showed no exception box (returns it, for chaining)."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait_done(at, timeout=300):
    """Rerun the app until the Train page's job line says done, failed or cancelled."""
    import time

    end = time.time() + timeout
    while time.time() < end:
        at.run()
        text = " ".join(m.value for m in at.markdown)
        if "— done" in text or "— failed" in text or "— cancelled" in text:
            return app_ok(at)
        time.sleep(1)
    raise AssertionError("training did not finish")


def browser_workspace(models_dir: Path) -> Path:
    """That browser's workspace folder under the app's models/."""
    from segcore.services.owners import Owner

    return Path(models_dir) / ".data" / Owner.browser(BROWSER_TOKEN).key


def make_tiny_model(path: Path) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the real MiniLM tokenizer."""
    from segcore.encoders.tiny import encoder_folder

    return encoder_folder(path, "tiny")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_csv, tiny_model) -> Path:
    """The model folder of a quick run (tiny encoder, 1 epoch, k=3) on the small file."""
    from segcore.config import RunConfig, TrainConfig
    from segcore.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("tiny-run")
    config = RunConfig(k=3, train=TrainConfig(model=str(tiny_model), epochs=1, max_length=64, progress_bar=False))
    run_pipeline(small_csv, out, config)
    return out / "model"


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "segcore", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def pytest_runtest_logreport(report):
    """With SEGSCOPE_TEST_TIMES=FILE, each test's phases and seconds are appended there as they end
    (to find the slow ones while a long run is still going)."""
    path = os.environ.get("SEGSCOPE_TEST_TIMES")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{report.duration:.1f}\t{report.when}\t{report.outcome}\t{report.nodeid}\n")
