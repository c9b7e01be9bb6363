"""Background jobs, progress readable from any thread: trainings one at a time in a queue, and a
second slot for light jobs beside them.

Two kinds. A training job ("train") trains in a worker thread into `models/.<run_id>.partial/`
and is renamed to `models/<run_id>/` when complete. A failed or cancelled job leaves
`models/<run_id>/` with only status.json (and the log), so the reason stays visible and nothing
half-written looks usable. A scoring job ("score") applies a saved run to a new file into
`models/<run>/scores/<score_id>/`, which appears whole when done (io.atomic) and not at all when
the job fails or is stopped.

Trainings run one at a time: a second person's training waits in the queue ("queued") and starts
when the ones before it end; one person has at most one training running or queued. A scoring
job is light: it runs at once, beside a training (one scoring at a time), and the two share the
cores (segcore.threads: the scoring gets its part, the training the rest)."""
from __future__ import annotations

import logging
import shutil
import json
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import RunConfig
from ..errors import SegscopeError
from ..io.atomic import atomic_folder
from ..run import SegscopeRun
from ..progress import JobCancelled, Progress
from ..threads import LIGHT, TRAIN, cpu_work
from ..training.estimate import PRIOR_MARGIN, Plan, Remaining, remaining
from .changes import CHANGES_FILE, since_quick
from .runs import RunStore, new_run_id, write_status
from .scoring import scoring_config
from .scoring import SCORES_DIR, clean_partial_scorings

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")


@dataclass
class Job:
    run_id: str
    input_name: str
    config: RunConfig
    progress: Progress = field(default_factory=Progress)
    status: str = "queued"
    error: str | None = None
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    finished: float | None = None
    metrics: dict | None = None
    thread: threading.Thread | None = None
    quick_run_id: str | None = None  # the quick result, usable while fine-tuning goes on
    owner: str | None = None  # owner key (services/owners.py): whose job this is
    owner_name: str | None = None  # written into the run's status.json, shown on the Models page
    kind: str = "train"  # "train" or "score"
    model_run: str | None = None  # a scoring job's saved run (run_id is then the scoring's id)
    plan: Plan | None = None  # its figures before the start (training.estimate), for the time left
    input_path: Path | None = None  # a queued training's input, until it starts
    callbacks: list = field(default_factory=list)
    started_at: float | None = None  # when it began to run (a queued job: None)

    @property
    def out_dir(self) -> Path | None:
        """Where a scoring job's results appear, relative to its run's folder (None for a training job)."""
        return None if self.model_run is None else Path(SCORES_DIR) / self.run_id

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def time_left(self, *, now: float | None = None) -> Remaining | None:
        """Seconds this job still needs, as a range (None without a plan): measured while it runs,
        the plan's own figures while it waits."""
        if self.plan is None or not self.active:
            return None
        if self.status == "queued":
            total = self.plan.total_seconds
            return Remaining(total * (1 - PRIOR_MARGIN), total * (1 + PRIOR_MARGIN))
        return remaining(self.progress.snapshot(), self.plan, now=time.time() if now is None else now)


def _log_end(job: Job) -> None:
    """One line in the server's log when a job ends: what a page should now show."""
    took = f" after {job.finished - job.started_at:.0f} s" if job.finished and job.started_at else ""
    log.info("%s %s ended: %s%s%s", "scoring" if job.kind == "score" else "training", job.run_id, job.status, took,
             f" ({job.error})" if job.error else "")


def fraction_done(job: Job, *, now: float | None = None) -> float:
    """The share of a running job's time already spent (against its time left); without a plan,
    the training steps done."""
    left = job.time_left(now=now)
    if job.started_at is None or left is None:
        return job.progress.snapshot().fraction
    spent = (time.time() if now is None else now) - job.started_at
    return min(0.99, spent / max(1e-6, spent + left.mid))


class JobRegistry:
    """Holds the jobs of this server process: trainings one at a time (the others queued, at most
    one per owner), light jobs (scoring) beside them, one at a time."""

    def __init__(self, store: RunStore):
        self.store = store
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        store.clean_partials()  # left by a process that was killed mid-run
        clean_partial_scorings(store.root)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def latest(self, kind: str | None = "train") -> Job | None:
        """The newest job of `kind` (None: of any kind)."""
        with self._lock:
            return next((j for j in reversed(self._jobs) if kind is None or j.kind == kind), None)

    def find(self, job_id: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.run_id == job_id), None)

    def active(self) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.active), None)

    def queue(self) -> list[Job]:
        """The trainings that run or wait, in the order they run (the running one first)."""
        with self._lock:
            return self._queue()

    def _queue(self) -> list[Job]:  # the caller holds the lock
        trainings = [j for j in self._jobs if j.kind == "train" and j.active]
        return sorted(trainings, key=lambda j: j.status != "running")  # stable: queued in start order

    def wait_before_start(self, *, now: float | None = None) -> tuple[int, Remaining | None]:
        """What a training started now would wait for: (trainings ahead of it, seconds until they
        are done as a range; None when one of them has no plan)."""
        ahead = self.queue()
        if not ahead:
            return 0, Remaining(0.0, 0.0)
        parts = [j.time_left(now=now) for j in ahead]
        if any(p is None for p in parts):
            return len(ahead), None
        return len(ahead), Remaining(sum(p.low for p in parts), sum(p.high for p in parts))

    def start(self, input_path: str | Path, config: RunConfig, *, label: str = "run",
              input_name: str | None = None, callbacks=(), owner: str | None = None,
              owner_name: str | None = None, plan: Plan | None = None) -> Job:
        """Start a training now, or queue it behind the trainings that run or wait. Refused while
        the same owner has a training running or queued."""
        input_path = Path(input_path)
        with self._lock:
            self._refuse_second(owner)
            run_id = new_run_id(label)
            while self.store.path(run_id).exists() or any(j.run_id == run_id for j in self._jobs):
                run_id += "-2"
            job = Job(run_id=run_id, input_name=input_name or input_path.name, config=config,
                      owner=owner, owner_name=owner_name, plan=plan, callbacks=list(callbacks))
            self._jobs.append(job)
        work = self.store.work_path(run_id)
        try:  # the input's copy: a queued job must not lose its file while it waits
            work.mkdir(parents=True)
            job.input_path = work / f"input{input_path.suffix.lower()}"
            shutil.copyfile(input_path, job.input_path)
        except OSError as exc:  # a job that never starts would hold the queue
            shutil.rmtree(work, ignore_errors=True)
            job.status, job.error, job.finished = "failed", f"could not read {job.input_name}: {exc.strerror or exc}", \
                time.time()
            raise SegscopeError(f"Could not read {job.input_name} ({exc.strerror or exc}); upload it again.") from exc
        with self._lock:
            ahead = [j for j in self._queue() if j is not job]
            if not any(j.status == "running" for j in ahead) and all(j.input_path is not None for j in ahead):
                self._launch(job)
            else:
                job.progress.add_log(f"queued: {len(ahead)} training(s) before this one")
        return job

    def _launch(self, job: Job) -> None:  # the caller holds the lock
        job.status, job.started_at = "running", time.time()
        job.thread = threading.Thread(target=self._work, args=(job, job.input_path, job.callbacks),
                                      name=f"segscope-job-{job.run_id}", daemon=True)
        job.thread.start()

    def _next(self) -> None:
        """A training ended: the first queued one (whose input is copied) starts."""
        with self._lock:
            waiting = [j for j in self._jobs if j.kind == "train" and j.status == "queued" and j.input_path]
            if waiting and not any(j.kind == "train" and j.status == "running" for j in self._jobs):
                self._launch(waiting[0])

    def _refuse_second(self, owner: str | None) -> None:  # the caller holds the lock
        running = next((j for j in self._jobs if j.kind == "train" and j.active and j.owner == owner), None)
        if running is not None:
            raise SegscopeError(f"A training job is already running ({running.run_id}); "
                                "wait for it to finish or stop it first.")

    def _refuse_second_light(self) -> None:  # the caller holds the lock
        running = next((j for j in self._jobs if j.kind == "score" and j.active), None)
        if running is not None:
            raise SegscopeError(f"A scoring job is already running ({running.run_id}); "
                                "wait for it to finish or stop it first.")

    def start_score(self, model_run: str, input_path: str | Path, *, input_name: str | None = None,
                    config: RunConfig | None = None, owner: str | None = None,
                    owner_name: str | None = None) -> Job:
        """Score `input_path` with the saved run `model_run` in a worker thread; the results appear
        in `<run>/scores/<job.run_id>/` when done. The file is copied first, so the caller may delete it."""
        input_path = Path(input_path)
        name = input_name or input_path.name
        run_path = self.store.path(model_run)
        if not self.store.info(model_run).usable:
            raise SegscopeError(f"Run '{model_run}' has no usable model; pick a finished run.")
        with self._lock:
            self._refuse_second_light()  # a training may run meanwhile: scoring is the light slot
            score_id = new_run_id(Path(name).stem)
            while (run_path / SCORES_DIR / score_id).exists() or self.store.work_path(score_id).exists():
                score_id += "-2"
            # by default the run's own seed, PII masking, precision and language, as `segscope watch`
            config = config or scoring_config(run_path / "model")
            job = Job(run_id=score_id, input_name=name, config=config, kind="score",
                      model_run=model_run, owner=owner, owner_name=owner_name)
            work = self.store.work_path(score_id)  # the input's copy; removed with the job, or at the next start
            work.mkdir(parents=True)
            self._jobs.append(job)
        copy = work / f"input{input_path.suffix.lower()}"
        try:
            shutil.copyfile(input_path, copy)
        except OSError as exc:  # a queued job that never starts would block every later job
            shutil.rmtree(work, ignore_errors=True)
            self._end_score(job, "failed", f"could not read {name}: {exc.strerror or exc}")
            raise SegscopeError(f"Could not read {name} ({exc.strerror or exc}); upload it again.") from exc
        job.started_at = time.time()
        job.thread = threading.Thread(target=self._score, args=(job, copy), name=f"segscope-score-{score_id}",
                                      daemon=True)
        job.thread.start()
        return job

    def stop(self, run_id: str) -> bool:
        with self._lock:
            job = next((j for j in self._jobs if j.run_id == run_id and j.active), None)
            if job is not None and job.status == "queued" and job.kind == "train":  # never started: leaves the queue
                job.status, job.error, job.finished = "cancelled", "stopped by the user", time.time()
                shutil.rmtree(self.store.work_path(job.run_id), ignore_errors=True)
                job.progress.add_log("cancelled: stopped by the user before it started")
                job.progress.update(stage="cancelled")
                return True
        if job is None:
            return False
        job.progress.request_stop()
        job.progress.add_log("stop requested: stopping at the next step")
        return True

    def _status(self, job: Job) -> dict:
        return {"run_id": job.run_id, "status": job.status, "created": job.created,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S") if job.finished else None,
                "input_file": job.input_name, "error": job.error, "metrics": job.metrics,
                "config": job.config.as_dict(), "owner": job.owner_name, "owner_key": job.owner}

    def _work(self, job: Job, input_path: Path, callbacks: list) -> None:
        log.info("training %s of %s started", job.run_id, job.input_name)
        try:
            with cpu_work(TRAIN):  # its threads follow the free cores, less a light job's share
                self._train(job, input_path, callbacks)
        finally:
            _log_end(job)
            self._next()

    def _train(self, job: Job, input_path: Path, callbacks: list) -> None:
        work = self.store.work_path(job.run_id)
        final = self.store.path(job.run_id)
        job.status = "running"
        try:
            work.mkdir(parents=True, exist_ok=True)  # start() copied the input there
            write_status(work, self._status(job))
            quick = None
            if job.config.quick_first and not job.config.quick:
                job.progress.update(phase="quick")
                quick = self._quick(job, input_path)
            job.progress.update(phase="quick" if job.config.quick else "fine_tune")
            result = SegscopeRun.fit(input_path, job.config, out_dir=work, progress=job.progress,
                                     callbacks=callbacks).result
            if quick is not None:  # what fine-tuning changed against the quick result (Train page)
                (work / CHANGES_FILE).write_text(json.dumps(since_quick(quick, result, quick_run=job.quick_run_id),
                                                            indent=1), encoding="utf-8")
            m = result.metrics
            job.metrics = {"test_macro_f1": m["test"]["macro_f1"], "baseline_macro_f1": m["baseline"]["macro_f1"],
                           "selected": m["selected"],
                           "n_reviews": m["n_reviews"], "k": m["k"], "seconds": m["seconds"], "device": m["device"]}
            job.finished = time.time()
            write_status(work, {**self._status(job), "status": "done"})
            work.replace(final)  # complete: appears in models/ in one step
            job.status = "done"  # only now: whoever waits on the job finds the run in models/
        except JobCancelled:
            self._end(job, "cancelled", "stopped by the user", work, final)
        except SegscopeError as exc:
            self._end(job, "failed", str(exc), work, final)
        except Exception as exc:  # any crash ends the job, never the server
            log.error("job %s failed:\n%s", job.run_id, traceback.format_exc())
            message = " ".join(str(exc).split())[:400] or type(exc).__name__
            self._end(job, "failed", f"{type(exc).__name__}: {message}", work, final)
        finally:
            job.progress.update(stage=job.status)

    def _quick(self, job: Job, input_file: Path):
        """The quick result (no fine-tuning) as a run of its own, `<run_id>-quick`: segments, map and
        exports in minutes; the fine-tuned run replaces it on the pages when it is done."""
        quick_id = f"{job.run_id}-quick"
        work, final = self.store.work_path(quick_id), self.store.path(quick_id)
        config = replace(job.config, quick=True)
        job.progress.add_log("quick result: the base encoder's head, no fine-tuning yet")
        try:
            work.mkdir(parents=True)
            result = SegscopeRun.fit(input_file, config, out_dir=work, progress=job.progress).result
        except SegscopeError as exc:  # the full run may still work (e.g. it has more to learn from)
            shutil.rmtree(work, ignore_errors=True)
            job.progress.add_log(f"quick result skipped: {exc}")
            return None
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        m = result.metrics
        metrics = {"test_macro_f1": m["test"]["macro_f1"], "baseline_macro_f1": m["baseline"]["macro_f1"],
                   "selected": m["selected"], "n_reviews": m["n_reviews"], "k": m["k"], "seconds": m["seconds"],
                   "device": m["device"], "quick": True}
        write_status(work, {**self._status(job), "run_id": quick_id, "status": "done", "metrics": metrics,
                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        work.replace(final)
        job.quick_run_id = quick_id
        job.progress.add_log(f"quick result ready ({m['seconds']:.0f} s): {quick_id}; fine-tuning now")
        return result

    def _score(self, job: Job, input_file: Path) -> None:
        log.info("scoring %s of %s with %s started", job.run_id, job.input_name, job.model_run)
        try:
            with cpu_work(LIGHT):  # beside a training: its share of the cores
                self._score_work(job, input_file)
        finally:
            _log_end(job)

    def _score_work(self, job: Job, input_file: Path) -> None:
        run_path = self.store.path(job.model_run)
        job.status = "running"
        status, error = "failed", "interrupted"
        try:
            with atomic_folder(run_path / job.out_dir) as tmp:  # whole when done, gone when not
                result = SegscopeRun.load(run_path, job.config).score(input_file, tmp, progress=job.progress)
                m = result.metrics
                job.metrics = {"n_reviews": m["n_reviews"], "k": len(result.analysis.profiles),
                               "seconds": m["seconds"]}
                job.finished = time.time()
                write_status(tmp, {**self._status(job), "status": "done", "kind": "score",
                                   "model_run": job.model_run})
            status, error = "done", None
        except JobCancelled:
            status, error = "cancelled", "stopped by the user"
        except SegscopeError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # any crash ends the job, never the server
            log.error("scoring job %s failed:\n%s", job.run_id, traceback.format_exc())
            message = " ".join(str(exc).split())[:400] or type(exc).__name__
            status, error = "failed", f"{type(exc).__name__}: {message}"
        finally:
            # the input's copy goes before the status changes: whoever waits on the job finds it gone
            shutil.rmtree(input_file.parent, ignore_errors=True)
            if status == "done":
                job.status = "done"  # only now: whoever waits on the job finds the folder in place
            else:
                self._end_score(job, status, error)
            job.progress.update(stage=job.status)

    def _end_score(self, job: Job, status: str, error: str) -> None:
        """Nothing of a failed or stopped scoring is on disk (atomic_folder removed it); the job says why."""
        job.status, job.error, job.finished = status, error, time.time()
        job.progress.add_log(f"{status}: {error}")

    def _end(self, job: Job, status: str, error: str, work: Path, final: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)  # before the status changes, as in _score
        job.error, job.finished = error, time.time()
        write_status(final, {**self._status(job), "status": status})
        job.status = status
        job.progress.add_log(f"{status}: {error}")
