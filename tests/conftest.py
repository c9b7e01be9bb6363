"""Shared fixtures: real review files shipped in the repo, a tiny random-weight encoder and the
runs fitted once per test session (shared by the xdist workers, see build_once)."""
from __future__ import annotations

import contextlib
import gc
import io
import json
import linecache
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock

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


def shared_path(tmp_path_factory, name: str) -> Path:
    """`name` in the test session's shared folder: the xdist workers' temporary folders lie in
    the session's own, so this one is the same for every worker (a folder of its own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    (base / "shared").mkdir(exist_ok=True)
    return base / "shared" / name


def build_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `name`, made by build(folder) once per test session: the first worker to ask
    builds it (under a file lock) and the other waits for it and reuses it instead of fitting the
    same run again. What is built there is read, never changed: tests copy it before changing it."""
    folder = shared_path(tmp_path_factory, name)
    done = folder.with_name(name + ".done")
    with FileLock(str(folder) + ".lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            assert folder.exists(), f"{name}: nothing built"
            done.touch()
    return folder


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    """400 real reviews from the sample, enough customers and classes to split and train."""
    def build(folder: Path) -> None:
        frame = pd.read_csv(SAMPLE)
        part = pd.concat([frame[frame.Score <= 2].head(110), frame[frame.Score == 3].head(70),
                          frame[frame.Score >= 4].head(220)]).sort_values("Id")
        folder.mkdir()
        part.to_csv(folder / "small_reviews.csv", index=False)

    return build_once(tmp_path_factory, "data", build) / "small_reviews.csv"


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
    return build_once(tmp_path_factory, "tiny-bert", make_tiny_model)


@pytest.fixture(scope="session")
def minilm_embeddings(tmp_path_factory) -> Callable[[list[str]], np.ndarray]:
    """embed(texts): the shipped MiniLM's encoder_embeddings of `texts` (its defaults), each text
    embedded once per test session and kept for every worker, so tests that need the real
    encoder's vectors of the same real reviews do not compute them again. A review's vector is
    its own, alone or in any batch (to 1e-4, tests/test_candidates.py checks it)."""
    from segcore.encoders.embed import encoder_embeddings
    from segcore.encoders.models import default_model_path

    folder = shared_path(tmp_path_factory, "minilm-embeddings")

    def embed(texts: list[str]) -> np.ndarray:
        with FileLock(str(folder) + ".lock"):
            known = json.loads((folder / "texts.json").read_text()) if folder.exists() else []
            vectors = np.load(folder / "vectors.npy") if known else None
            index = {t: i for i, t in enumerate(known)}
            missing = [t for t in dict.fromkeys(texts) if t not in index]
            if missing:
                new = encoder_embeddings(default_model_path(), missing)
                vectors = new if vectors is None else np.concatenate([vectors, new])
                known += missing
                index.update((t, i) for i, t in enumerate(known))
                folder.mkdir(exist_ok=True)
                np.save(folder / "vectors.npy", vectors)
                (folder / "texts.json").write_text(json.dumps(known))
        return vectors[[index[t] for t in texts]]

    return embed


TINY_RUN_ARGS = ("--epochs", "1", "--k", "3", "--max-length", "64")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_csv, tiny_model) -> Path:
    """The model folder of `segscope run` on the small file with the tiny encoder (1 epoch, k=3,
    64 tokens); the run's outputs are in its parent, and what the command printed in tiny-run.log
    beside that (tests/test_cli.py checks them)."""
    def build(out: Path) -> None:
        proc = run_main("run", small_csv, "--out", out, "--model", tiny_model, *TINY_RUN_ARGS)
        out.with_name("tiny-run.log").write_text(f"{proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        assert proc.returncode == 0, proc.stderr[-3000:]

    return build_once(tmp_path_factory, "tiny-run", build) / "model"


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m segcore ARGS` as a new process, as a user runs it. Each costs seconds of imports
    (torch, transformers): use run_main where the process itself is not what is tested."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "segcore", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_main(*args) -> subprocess.CompletedProcess:
    """The same command in this process (segcore.cli.main, as `python -m segcore` calls it), with
    what it prints and logs captured as run_cli captures them: its exit code, stdout, and stderr
    with the `segscope: ` log lines. Saves the new process's imports where they are not the point."""
    from segcore.cli import main

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("segscope: %(message)s"))  # the CLI's own log format
    root = logging.getLogger()
    level = root.level
    # Libraries' own stderr handlers (transformers, torch) write to the stderr of the moment they
    # were made, maybe an earlier test's closed capture: for this command they write to its stderr
    # (transformers also binds that stderr's flush to its handler).
    others = [(h, h.stream, h.__dict__.get("flush")) for lg in (root, *logging.Logger.manager.loggerDict.values())
              for h in getattr(lg, "handlers", ()) if type(h) is logging.StreamHandler]
    for h, _, flush in others:
        h.stream = err  # not setStream: it flushes the old stream, which may be closed
        if flush is not None:
            h.flush = err.flush
    root.addHandler(handler)  # the CLI's logging.basicConfig is then a no-op, as under pytest anyway
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h, stream, flush in others:
            h.stream = stream
            if flush is not None:
                h.flush = flush
    return subprocess.CompletedProcess(["segscope", *map(str, args)], code, out.getvalue(), err.getvalue())


# CPU seconds a module's tests take in the full suite (SEGSCOPE_TEST_TIMES, shared runs already
# built), to order them for the workers. A module left out counts as LANE_SECONDS when it has a
# test of a slow lane (pytest.ini) and as light otherwise; a stale figure only changes the order.
MODULE_SECONDS = {
    "test_ray.py": 185, "test_browser.py": 180, "test_cli.py": 80, "test_compare.py": 70, "test_bad_inputs.py": 70,
    "test_bench.py": 60, "test_workspace_person.py": 45, "test_outputs_atomic.py": 45, "test_multilingual.py": 40,
    "test_app.py": 35, "test_aspects.py": 32, "test_train_options.py": 32, "test_aspects_custom.py": 30,
    "test_ddp.py": 29, "test_run_object.py": 30, "test_explain.py": 28, "test_recipe.py": 25, "test_app_charts.py": 24, "test_candidates.py": 20,
}
LANE_SECONDS = 60
HEAVY_SECONDS = 20
LANES = ("browser", "ray", "torchrun", "multilingual", "real_model")


def order_for_workers(nodeids: list[str], workers: int, seconds: dict[str, float]) -> list[int]:
    """The order (indices into `nodeids`) in which xdist's worksteal scheduler should get the
    tests; `seconds` per module (the part of a node id before '::'). The scheduler hands worker
    i the next len(rest) // (workers - i) tests of this list, in order, and a worker that runs out
    takes the last tests of another's queue. So each worker's share opens with heavy modules
    (longest first, each to the share with the least work so far) and ends with light ones: the
    tests left to share at the end are short, and no worker waits long for another. A module's
    tests stay together and in their order (its module fixtures are built once)."""
    modules: dict[str, list[int]] = {}
    for i, nodeid in enumerate(nodeids):
        modules.setdefault(nodeid.split("::")[0], []).append(i)
    weight = {m: seconds.get(m, 0.0) for m in modules}
    heavy = sorted((m for m in modules if weight[m] >= HEAVY_SECONDS), key=lambda m: -weight[m])
    light = [i for m in modules if weight[m] < HEAVY_SECONDS for i in modules[m]]
    sizes, rest = [], len(nodeids)
    for w in range(workers):  # xdist's first hand-out
        sizes.append(rest // (workers - w))
        rest -= sizes[-1]
    shares: list[list[int]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for m in heavy:
        room = [w for w in range(workers) if len(shares[w]) + len(modules[m]) <= sizes[w]] or range(workers)
        w = min(room, key=load.__getitem__)
        shares[w] += modules[m]
        load[w] += weight[m]
    order = []
    for w in range(workers):
        take = max(0, sizes[w] - len(shares[w]))
        order += shares[w] + light[:take]
        light = light[take:]
    return order + light


def pytest_runtest_setup(item):
    """Playwright's sync API takes inspect.stack() on every call; for a frame whose file does not
    exist (an xdist worker runs its loop as exec'd "<string>" code) inspect.getmodule scans all
    ~5,000 loaded modules: 35 s of the suite's CPU (py-spy). A linecache entry for that name
    answers the lookup at once (set per test: something may clear the cache)."""
    linecache.cache.setdefault("<string>", (0, None, [], "<string>"))


def pytest_collection_finish(session):
    """What collection imported (torch, transformers, streamlit, the tests) lives as long as the
    worker: frozen out of the cyclic GC, so that its full passes (automatic ones, Trainer.train's,
    pytest's at the end) walk only what the tests make; each of them walked ~1M objects (0.3 s)."""
    gc.freeze()


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected: the shares are of what runs
def pytest_collection_modifyitems(config, items):
    """Under xdist, heavy modules first in each worker's share (order_for_workers, made for
    .ci/run's worksteal; another --dist mode only sees another order). Workers collect alike."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers < 2:
        return
    seconds: dict[str, float] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        known = MODULE_SECONDS.get(module.rsplit("/", 1)[-1])
        lane = any(item.get_closest_marker(name) for name in LANES)
        seconds[module] = known if known is not None else max(seconds.get(module, 0.0), LANE_SECONDS * lane)
    items[:] = [items[i] for i in order_for_workers([item.nodeid for item in items], workers, seconds)]


FAILURE_NOTES = pytest.StashKey[list]()


def on_failure(request, describe: Callable[[], tuple[str, str]]) -> None:
    """If the test fails, describe() -> (title, text) becomes a section of its report: what the
    server logged, what the browser showed, gathered while they still run (before teardown)."""
    request.node.stash.setdefault(FAILURE_NOTES, []).append(describe)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        for describe in item.stash.get(FAILURE_NOTES, []):
            try:
                title, text = describe()
            except Exception as exc:  # the report comes first
                title, text = "diagnostics", f"could not be gathered: {exc!r}"
            report.sections.append((title, text))
    return report


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (CLI subprocesses, servers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With SEGSCOPE_TEST_TIMES=FILE, each test's wall and CPU seconds (setup, call and teardown
    together; CPU of the worker and its finished children) are appended there as it ends. CPU
    seconds are what to compare on a shared machine: wall time there depends on the neighbours."""
    path = os.environ.get("SEGSCOPE_TEST_TIMES")
    if not path:
        yield
        return
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{time.perf_counter() - wall:.1f}\t{_cpu_seconds() - cpu:.1f}\t"
                f"{os.environ.get('PYTEST_XDIST_WORKER', '-')}\t{item.nodeid}\n")
