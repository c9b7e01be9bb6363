"""CPU threads (segcore.threads): passive waiting before torch loads, the free cores measured
beside real busy processes, and each job's share of them."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from conftest import ROOT

from segcore import threads
from segcore.bench import cpu_hogs


def _env_in_fresh_process(**env) -> str:
    code = "import segcore, os; print(os.environ.get('OMP_WAIT_POLICY'))"
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "SEGSCOPE_CPU_DEFAULTS")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=60)
    return done.stdout.strip()


def test_segcore_asks_for_passive_waiting_before_torch_loads():
    assert _env_in_fresh_process() == "PASSIVE"
    assert _env_in_fresh_process(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"  # a user's own setting wins
    assert _env_in_fresh_process(SEGSCOPE_CPU_DEFAULTS="1") == "None"  # the benchmark's baseline


def test_shares_of_the_free_cores():
    # two idle cores: a training alone takes both; beside a scoring, one each
    assert threads.share(threads.TRAIN, 2.0, light_jobs=0, training=True, cap=2) == 2
    assert threads.share(threads.TRAIN, 2.0, light_jobs=1, training=True, cap=2) == 1
    assert threads.share(threads.LIGHT, 2.0, light_jobs=1, training=True, cap=2) == 1
    # other processes keep the cores busy: one thread, never none
    assert threads.share(threads.TRAIN, 0.2, light_jobs=0, training=True, cap=2) == 1
    assert threads.share(threads.TRAIN, 1.75, light_jobs=0, training=True, cap=2) == 2  # a little load: still 2
    assert threads.share(threads.TRAIN, 1.5, light_jobs=0, training=True, cap=2) == 1
    assert threads.share(threads.TRAIN, 16.0, light_jobs=0, training=True, cap=4) == 4  # OMP_NUM_THREADS caps


def test_a_job_beside_busy_processes_gets_one_thread_and_its_share_returns():
    import torch

    seen = {}
    before = threads.active_jobs().get(threads.TRAIN, 0)

    def job():
        with cpu_hogs(threads.cpu_count()):  # every core busy with someone else's work
            with threads.cpu_work(threads.TRAIN):
                seen["loaded"] = torch.get_num_threads()
                seen["jobs"] = threads.active_jobs().get(threads.TRAIN, 0)

    worker = threading.Thread(target=job)
    worker.start()
    worker.join(120)
    assert seen["loaded"] == 1 and seen["jobs"] == before + 1
    assert threads.active_jobs().get(threads.TRAIN, 0) == before  # the job ended: registered no more
