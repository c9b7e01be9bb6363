"""Background jobs and the run store, with real training on a tiny model."""
import json
import logging
import time

import pytest
from transformers import TrainerCallback

from segcore.config import RunConfig, TrainConfig
from segcore.errors import SegscopeError
from segcore.services.jobs import JobRegistry
from segcore.services.runs import RunStore, load_outputs


def _wait(job, timeout=300):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.2)
    assert not job.active, f"job still {job.status}"


def _config(tiny_model, epochs=1):
    return RunConfig(train=TrainConfig(model=str(tiny_model), epochs=epochs, max_length=48, progress_bar=False), k=3,
                     quick_first=False)


class Slow(TrainerCallback):
    """Each training step takes `seconds` longer: the test acts while the job still runs."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_step_end(self, args, state, control, **kw):
        time.sleep(self.seconds)


def test_job_done_refuses_second_and_lists_run(tmp_path, small_csv, tiny_model):
    store = RunStore(tmp_path / "models")
    reg = JobRegistry(store)
    job = reg.start(small_csv, _config(tiny_model), label="first")
    with pytest.raises(SegscopeError, match="already running"):
        reg.start(small_csv, _config(tiny_model))
    _wait(job)
    assert job.status == "done", job.error
    runs = store.list()
    assert [r.run_id for r in runs] == [job.run_id] and runs[0].usable
    assert runs[0].macro_f1 == job.metrics["test_macro_f1"]
    out = load_outputs(runs[0].path)
    assert len(out.reviews) == out.metrics["n_reviews"] and out.profiles and out.meta["labels"]
    assert not list((tmp_path / "models").glob(".*"))  # no work folder left
    snap = job.progress.snapshot()
    assert snap.stage == "done" and snap.step == snap.total_steps > 0 and snap.val_metrics


def test_failure_in_training_is_recorded_and_next_job_runs(tmp_path, small_csv, tiny_model):
    class OutOfMemory(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            raise RuntimeError("CUDA out of memory (simulated)")

    store = RunStore(tmp_path / "models")
    reg = JobRegistry(store)
    job = reg.start(small_csv, _config(tiny_model), callbacks=[OutOfMemory()])
    _wait(job)
    assert job.status == "failed" and "out of memory" in job.error
    status = json.loads((store.path(job.run_id) / "status.json").read_text())
    assert status["status"] == "failed" and "out of memory" in status["error"]
    assert not store.info(job.run_id).usable and not (store.path(job.run_id) / "model").exists()
    again = reg.start(small_csv, _config(tiny_model))  # the registry still works
    _wait(again)
    assert again.status == "done"


def test_stop_cancels_and_keeps_earlier_runs(tmp_path, small_csv, tiny_model, caplog):
    caplog.set_level(logging.INFO, logger="segcore.services.jobs")  # the server log's job lines
    store = RunStore(tmp_path / "models")
    reg = JobRegistry(store)

    job = reg.start(small_csv, _config(tiny_model, epochs=5), callbacks=[Slow(0.3)])
    while job.progress.snapshot().step < 2:
        time.sleep(0.1)
    assert reg.stop(job.run_id)
    _wait(job)
    snap = job.progress.snapshot()
    assert job.status == "cancelled" and snap.step < snap.total_steps
    assert store.info(job.run_id).status == "cancelled" and not store.info(job.run_id).usable
    job.thread.join(30)  # its end is logged as the thread leaves
    assert f"training {job.run_id} of small_reviews.csv started" in caplog.messages
    assert any(m.startswith(f"training {job.run_id} ended: cancelled after ") and m.endswith("(stopped by the user)")
               for m in caplog.messages), caplog.messages


def test_run_ids_cannot_leave_the_store(tmp_path):
    store = RunStore(tmp_path / "models")
    for bad in ("../etc", "..", "a/b", "/abs", ".hidden", "", "x" * 200):
        with pytest.raises(SegscopeError, match="not a valid run id"):
            store.path(bad)
    (tmp_path / "models" / ".old.partial").mkdir()
    JobRegistry(store)  # a restart removes partial folders of killed runs
    assert not (tmp_path / "models" / ".old.partial").exists()


def test_two_sessions_starting_at_once_get_one_job(tmp_path, small_csv, tiny_model):
    import threading

    reg = JobRegistry(RunStore(tmp_path / "models"))
    barrier = threading.Barrier(2)
    outcomes = []

    def start():
        barrier.wait()
        try:
            outcomes.append(reg.start(small_csv, _config(tiny_model)))
        except SegscopeError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    jobs = [o for o in outcomes if not isinstance(o, str)]
    refusals = [o for o in outcomes if isinstance(o, str)]
    assert len(jobs) == 1 and len(refusals) == 1 and "already running" in refusals[0]
    _wait(jobs[0])
    assert jobs[0].status == "done"


def _plan(rows=400):
    from segcore.training.estimate import Plan, estimate, rates_for

    return Plan.from_estimate(rows, estimate(rows, rates_for("cpu", [])), quick_first=False)


def test_a_second_persons_training_waits_in_the_queue_and_runs_after(tmp_path, small_csv, tiny_model):
    store = RunStore(tmp_path / "models")
    reg = JobRegistry(store)

    assert reg.wait_before_start()[0] == 0
    alice = reg.start(small_csv, _config(tiny_model, epochs=2), label="alice", owner="a", owner_name="alice",
                      callbacks=[Slow(0.2)], plan=_plan())
    # before pressing Start, a second person sees one training ahead and when theirs would start
    ahead, wait = reg.wait_before_start()
    assert ahead == 1 and wait is not None and 0 < wait.low <= wait.high
    bob = reg.start(small_csv, _config(tiny_model), label="bob", owner="b", owner_name="bob", plan=_plan())
    assert alice.status == "running" and bob.status == "queued" and reg.queue() == [alice, bob]
    assert reg.wait_before_start()[0] == 2 and bob.time_left().low > 0
    with pytest.raises(SegscopeError, match="already running"):  # one training per person at a time
        reg.start(small_csv, _config(tiny_model), owner="b")
    carol = reg.start(small_csv, _config(tiny_model), label="carol", owner="c", plan=_plan())
    assert reg.stop(carol.run_id) and carol.status == "cancelled"  # leaves the queue, never ran
    assert not store.work_path(carol.run_id).exists() and not store.path(carol.run_id).exists()
    _wait(alice)
    _wait(bob)
    assert alice.status == bob.status == "done", (alice.error, bob.error)
    assert bob.started_at >= alice.finished  # one training at a time, in the order they came
    assert {r.run_id for r in store.list() if r.usable} == {alice.run_id, bob.run_id}
    assert reg.queue() == [] and reg.wait_before_start()[0] == 0
