"""Background jobs: one at a time per process, progress readable from any thread.

Two kinds. A training job ("train") trains in a worker thread into `models/.<run_id>.partial/`
and is renamed to `models/<run_id>/` when complete. A failed or cancelled job leaves
`models/<run_id>/` with only status.json (and the log), so the reason stays visible and nothing
half-written looks usable. A scoring job ("score") applies a saved run to a new file into
`models/<run>/scores/<score_id>/`, which appears whole when done (io.atomic) and not at all when
the job fails or is stopped."""
from __future__ import annotations

import logging
import shutil
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import RunConfig
from ..errors import SegscopeError
from ..io.atomic import atomic_folder
from ..pipeline import run_pipeline, score_file
from ..progress import JobCancelled, Progress
from .runs import RunStore, new_run_id, write_status
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

    @property
    def out_dir(self) -> Path | None:
        """Where a scoring job's results appear, relative to its run's folder (None for a training job)."""
        return None if self.model_run is None else Path(SCORES_DIR) / self.run_id

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobRegistry:
    """Holds the jobs of this server process; `start` refuses a second concurrent job."""

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

    def start(self, input_path: str | Path, config: RunConfig, *, label: str = "run",
              input_name: str | None = None, callbacks=(), owner: str | None = None,
              owner_name: str | None = None) -> Job:
        input_path = Path(input_path)
        with self._lock:
            self._refuse_second()
            run_id = new_run_id(label)
            while self.store.path(run_id).exists() or any(j.run_id == run_id for j in self._jobs):
                run_id += "-2"
            job = Job(run_id=run_id, input_name=input_name or input_path.name, config=config,
                      owner=owner, owner_name=owner_name)
            self._jobs.append(job)
        job.thread = threading.Thread(target=self._work, args=(job, input_path, list(callbacks)),
                                      name=f"segscope-job-{run_id}", daemon=True)
        job.thread.start()
        return job

    def _refuse_second(self) -> None:  # the caller holds the lock
        running = next((j for j in self._jobs if j.active), None)
        if running is not None:
            what = "A scoring job" if running.kind == "score" else "A training job"
            raise SegscopeError(f"{what} is already running ({running.run_id}); "
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
            self._refuse_second()
            score_id = new_run_id(Path(name).stem)
            while (run_path / SCORES_DIR / score_id).exists() or self.store.work_path(score_id).exists():
                score_id += "-2"
            job = Job(run_id=score_id, input_name=name, config=config or RunConfig(), kind="score",
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
        job.thread = threading.Thread(target=self._score, args=(job, copy), name=f"segscope-score-{score_id}",
                                      daemon=True)
        job.thread.start()
        return job

    def stop(self, run_id: str) -> bool:
        for job in self.jobs():
            if job.run_id == run_id and job.active:
                job.progress.request_stop()
                job.progress.add_log("stop requested: stopping at the next step")
                return True
        return False

    def _status(self, job: Job) -> dict:
        return {"run_id": job.run_id, "status": job.status, "created": job.created,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S") if job.finished else None,
                "input_file": job.input_name, "error": job.error, "metrics": job.metrics,
                "config": job.config.as_dict(), "owner": job.owner_name, "owner_key": job.owner}

    def _work(self, job: Job, input_path: Path, callbacks: list) -> None:
        work = self.store.work_path(job.run_id)
        final = self.store.path(job.run_id)
        job.status = "running"
        try:
            work.mkdir(parents=True)
            shutil.copyfile(input_path, work / f"input{input_path.suffix.lower()}")
            write_status(work, self._status(job))
            if job.config.quick_first and not job.config.quick:
                self._quick(job, work / f"input{input_path.suffix.lower()}")
            result = run_pipeline(work / f"input{input_path.suffix.lower()}", work, job.config,
                                  progress=job.progress, callbacks=callbacks)
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

    def _quick(self, job: Job, input_file: Path) -> None:
        """The quick result (no fine-tuning) as a run of its own, `<run_id>-quick`: segments, map and
        exports in minutes; the fine-tuned run replaces it on the pages when it is done."""
        quick_id = f"{job.run_id}-quick"
        work, final = self.store.work_path(quick_id), self.store.path(quick_id)
        config = replace(job.config, quick=True)
        job.progress.add_log("quick result: the base encoder's head, no fine-tuning yet")
        try:
            work.mkdir(parents=True)
            result = run_pipeline(input_file, work, config, progress=job.progress)
        except SegscopeError as exc:  # the full run may still work (e.g. it has more to learn from)
            shutil.rmtree(work, ignore_errors=True)
            job.progress.add_log(f"quick result skipped: {exc}")
            return
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

    def _score(self, job: Job, input_file: Path) -> None:
        run_path = self.store.path(job.model_run)
        job.status = "running"
        status, error = "failed", "interrupted"
        try:
            with atomic_folder(run_path / job.out_dir) as tmp:  # whole when done, gone when not
                result = score_file(input_file, run_path / "model", tmp, job.config, progress=job.progress)
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
