"""Thread-safe job progress, fed by `training.callbacks.ProgressCallback` during training.

A worker thread trains; a UI or CLI reads `snapshot()` from any thread. `request_stop()` makes
training stop cleanly at the next step."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


class JobCancelled(Exception):
    """Raised in the worker when a stop was requested; the run is not saved as usable."""


@dataclass
class ProgressState:
    stage: str = "waiting"
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    started: float = field(default_factory=time.time)
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    val_metrics: list[dict] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    phase: str = ""  # an app job's part: "quick" (its quick result), "fine_tune" (the full run)
    stages: list[tuple[str, float]] = field(default_factory=list)  # (stage, when it began), in order
    step_times: list[float] = field(default_factory=list)  # when each training step ended (this phase)
    phases: list[tuple[str, float]] = field(default_factory=list)  # (phase, when it began)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.step or not self.total_steps:
            return None
        elapsed = time.time() - self.started
        return elapsed / self.step * max(0, self.total_steps - self.step)


class Progress:
    """Shared between the training thread and readers; every access holds the lock."""

    def __init__(self, *, max_log: int = 500):
        self._lock = threading.Lock()
        self._state = ProgressState()
        self._stop = threading.Event()
        self._max_log = max_log

    def update(self, **changes) -> None:
        with self._lock:
            now = time.time()
            if "stage" in changes and changes["stage"] != self._state.stage:
                self._state.stages.append((changes["stage"], now))
            if "phase" in changes and changes["phase"] != self._state.phase:
                self._state.phases.append((changes["phase"], now))
                self._state.step_times = []  # a new phase trains its own model
            for key, value in changes.items():
                setattr(self._state, key, value)

    def add_step(self, step: int, at: float | None = None) -> None:
        """A training step ended (its time feeds the live estimate, training.estimate)."""
        with self._lock:
            self._state.step = step
            self._state.step_times.append(time.time() if at is None else at)

    def add_log(self, line: str) -> None:
        with self._lock:
            self._state.log.append(line)
            del self._state.log[: -self._max_log]

    def add_loss(self, step: int, loss: float) -> None:
        with self._lock:
            self._state.train_loss.append((step, loss))

    def add_eval(self, metrics: dict) -> None:
        with self._lock:
            self._state.val_metrics.append(dict(metrics))

    def snapshot(self) -> ProgressState:
        with self._lock:
            s = self._state
            return ProgressState(stage=s.stage, step=s.step, total_steps=s.total_steps, epoch=s.epoch,
                                 started=s.started, train_loss=list(s.train_loss),
                                 val_metrics=[dict(m) for m in s.val_metrics], log=list(s.log), phase=s.phase,
                                 stages=list(s.stages), step_times=list(s.step_times), phases=list(s.phases))

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()
