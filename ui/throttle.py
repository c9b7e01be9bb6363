"""Backoff on wrong passwords: after a few free tries, each key (a session, a client address) waits
twice as long as before, up to a cap. Plain Python, so it is tested without a server."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable


class LoginThrottle:
    def __init__(self, *, free: int = 3, base_s: float = 2.0, cap_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.base_s, self.cap_s, self.clock = free, base_s, cap_s, clock
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()  # sessions run in their own threads

    def wait_s(self, keys: Iterable[str]) -> float:
        """Seconds before any of `keys` may try again (0 when it may now)."""
        now = self.clock()
        with self._lock:
            return max([self._until.get(k, now) - now for k in keys] + [0.0])

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                n = self._failures[key] = self._failures.get(key, 0) + 1
                if n > self.free:
                    self._until[key] = now + min(self.base_s * 2 ** (n - self.free - 1), self.cap_s)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
                self._until.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._until.clear()
