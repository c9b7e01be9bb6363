"""CPU threads for segscope's work: as many as the cores other processes leave free, threads that
sleep instead of spinning while they wait, and a fair split between the jobs of one process.

Why (issue 28): beside other CPU-bound processes on a 2-core machine, a fine-tuning step went from
0.4 s to 4-19 s. OpenMP's worker threads busy-wait at every barrier by default, and with two
threads on two shared cores each step waited for a thread the kernel had parked. Measured on the
2-core reference CPU at load 3.5-7: MiniLM embeddings at 10.6 reviews/s with torch's defaults,
24 with one thread, 32 with passive waiting (docs/speed.md).

- `passive_waiting()` runs when segcore is imported (segcore/__init__), before torch loads OpenMP.
- `cpu_work(kind)` marks a thread as doing a job ("train" or "light": scoring, explaining, label
  checks); `adjust()` (called by the training callback and the scoring loop, at most every
  CHECK_SECONDS) sizes that thread's torch threads to its share of the free cores, and
  OpenBLAS's (numpy, scikit-learn) with it. numba's kernels run inside UMAP, which asks for one
  thread (n_jobs=1, for a seeded map).

SEGSCOPE_CPU_DEFAULTS=1 turns all of this off (torch's own defaults: the benchmark's baseline)."""
from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from contextlib import contextmanager

# libgomp (torch's and MKL's OpenMP on Linux) reads these once, when it is loaded.
WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}  # KMP_*: Intel's OpenMP, where used
CHECK_SECONDS = 10.0  # how often a running job looks at the load again
FIRST_SAMPLE_SECONDS = 0.25  # the first look: the machine's load over this long
ROUND_UP = 0.3  # 1.7 free cores count as 2: a little of someone's work is not worth a thread less
LIGHT, TRAIN = "light", "train"


def defaults_only() -> bool:
    return os.environ.get("SEGSCOPE_CPU_DEFAULTS", "") not in ("", "0")


def passive_waiting() -> None:
    """Idle OpenMP threads sleep instead of spinning (a user's own setting wins)."""
    if defaults_only():
        return
    for key, value in WAIT_ENV.items():
        os.environ.setdefault(key, value)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_limit: int | None = None  # limit_threads: the most threads this process was given (a Ray actor's CPUs)


def limit_threads(n: int) -> None:
    """This process may use at most `n` threads (e.g. a Ray actor given n CPUs)."""
    global _limit
    _limit = max(1, int(n))
    import torch

    torch.set_num_threads(_limit)


def thread_cap() -> int:
    """The most threads a job uses: the cores this process may run on, or fewer where OMP_NUM_THREADS
    or `limit_threads` says so."""
    cap = min(cpu_count(), _limit or cpu_count())
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        cap = min(cap, int(given))
    return max(1, cap)


def _machine_busy() -> float | None:
    """Seconds of CPU time the whole machine has spent busy (all cores, /proc/stat), None where unknown."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal: everything but idle and iowait is busy
    ticks = [int(x) for x in fields[1:9]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """Cores other processes kept busy between two readings: the machine's busy time less this
    process's own CPU time (all its threads), per second of wall time."""

    def __init__(self):
        self._last = self._sample()

    @staticmethod
    def _sample():
        return _machine_busy(), _own_cpu(), time.monotonic()

    def others(self) -> float | None:
        """Busy cores of other processes since the last reading (None where /proc/stat is missing
        or no time has passed); starts the next interval."""
        now = self._sample()
        (busy0, own0, t0), (busy1, own1, t1) = self._last, now
        self._last = now
        if busy0 is None or busy1 is None or t1 - t0 < 0.05:
            return None
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / (t1 - t0))


def free_cores(others: float | None, *, cores: int | None = None) -> float:
    cores = cores or cpu_count()
    return float(cores) if others is None else max(0.0, cores - others)


def share(kind: str, free: float, *, light_jobs: int, training: bool, cap: int | None = None) -> int:
    """Threads for one job of `kind` when `free` cores are left by other processes and this process
    runs `light_jobs` light jobs and (`training`) a training. A light job gets its equal part, at
    least one thread; a training the rest, at least one."""
    cap = cap or thread_cap()
    usable = max(1, min(cap, math.floor(free + ROUND_UP)))
    jobs = light_jobs + (1 if training else 0)
    light = max(1, usable // max(1, jobs))
    if kind == LIGHT:
        return min(cap, light)
    return max(1, min(cap, usable - light * light_jobs))


_lock = threading.Lock()
_active: Counter = Counter()  # kind -> jobs of this process that run now
_local = threading.local()  # this thread's kind, meter and next check


@contextmanager
def cpu_work(kind: str = TRAIN):
    """This thread does a job of `kind` until the block ends: its torch threads follow its share
    of the free cores (`adjust`), and the other jobs of the process make room for it."""
    with _lock:
        _active[kind] += 1
    previous = getattr(_local, "kind", None)
    _local.kind, _local.meter, _local.next_check = kind, None, 0.0
    try:
        adjust(force=True)
        yield
    finally:
        with _lock:
            _active[kind] -= 1
        _local.kind = previous


def active_jobs() -> dict[str, int]:
    with _lock:
        return {k: v for k, v in _active.items() if v > 0}


def adjust(*, force: bool = False) -> int | None:
    """Size this thread's torch threads to its share of the free cores, at most every
    CHECK_SECONDS (always with `force`); returns the thread count set, or None when not looked at."""
    if defaults_only():
        return None
    now = time.monotonic()
    if not force and now < getattr(_local, "next_check", 0.0):
        return None
    _local.next_check = now + CHECK_SECONDS
    meter = getattr(_local, "meter", None)
    if meter is None:  # the first look: a short sample of the machine's load
        meter = _local.meter = CpuMeter()
        time.sleep(FIRST_SAMPLE_SECONDS)
    jobs = active_jobs()
    kind = getattr(_local, "kind", None)
    light = jobs.get(LIGHT, 0)
    if kind is None:  # work outside a job (a page explaining a review): light while a job runs
        kind = LIGHT if jobs else TRAIN
        light += kind == LIGHT
    n = share(kind, free_cores(meter.others()), light_jobs=light, training=bool(jobs.get(TRAIN)))
    import torch  # heavy: only once a job needs it

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)  # this thread's OpenMP team (and MKL's)
    _limit_openblas(n)
    return n


def _limit_openblas(n: int) -> None:
    """numpy's / scipy's OpenBLAS (scikit-learn's regressions, PCA, UMAP's linear algebra): its
    threads spin a while before they sleep, so they too get no more than the free cores. The
    setting is process-wide: the last job to look at the load sets it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # scikit-learn brings it; without it OpenBLAS keeps its own count
        return
    ThreadpoolController().select(internal_api="openblas").limit(limits=n)


def configure_process() -> None:
    """Once per process, before any parallel work: one inter-op thread (segscope's CPU work is
    intra-op: a second pool would only compete for the same cores)."""
    if defaults_only():
        return
    import torch

    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # parallel work has already started: torch keeps its pool
        pass
