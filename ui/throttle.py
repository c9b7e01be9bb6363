"""Backoff on wrong passwords that slows guessing without letting one person lock out the rest.

Each try counts against three keys: the browser (its device token), the account (the name typed,
when one is), and the client address. Past its free tries a key waits twice as long as before,
up to a cap. A browser that has signed in before is *trusted*: only its own key can hold it back,
so someone guessing behind the same reverse proxy, or typing a colleague's name, does not lock
that colleague out. A new browser also waits on the account and the address, which have more free
tries (typos of many colleagues) but catch a guesser who opens a fresh browser for every try.
Plain Python, so it is tested without a server."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, *, free: int = 3, account_free: int = 6, address_free: int = 20, base_s: float = 2.0,
                 cap_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.free, self.account_free, self.address_free = free, account_free, address_free
        self.base_s, self.cap_s, self.clock = base_s, cap_s, clock
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._trusted: set[str] = set()  # devices that gave the right password
        self._lock = threading.Lock()  # sessions run in their own threads

    @staticmethod
    def _keys(device: str, address: str, account: str | None) -> dict[str, str]:
        keys = {"device": f"device:{device}", "address": f"address:{address}"}
        if account:
            keys["account"] = f"account:{' '.join(account.split()).casefold()}"
        return keys

    def trusted(self, device: str) -> bool:
        with self._lock:
            return device in self._trusted

    def wait_s(self, *, device: str, address: str, account: str | None = None) -> float:
        """Seconds before this try may be checked (0 when it may now)."""
        now = self.clock()
        keys = self._keys(device, address, account)
        with self._lock:
            holding = [keys["device"]] if device in self._trusted else list(keys.values())
            return max([self._until.get(k, now) - now for k in holding] + [0.0])

    def failed(self, *, device: str, address: str, account: str | None = None) -> None:
        now = self.clock()
        free = {"device": self.free, "account": self.account_free, "address": self.address_free}
        with self._lock:
            for kind, key in self._keys(device, address, account).items():
                n = self._failures[key] = self._failures.get(key, 0) + 1
                if n > free[kind]:
                    self._until[key] = now + min(self.base_s * 2 ** (n - free[kind] - 1), self.cap_s)

    def succeeded(self, *, device: str, address: str, account: str | None = None) -> None:
        """The right password: this device and account start afresh and the device is trusted.
        The address keeps its count: one right password must not reset a guesser next door."""
        keys = self._keys(device, address, account)
        with self._lock:
            self._trusted.add(device)
            for kind in ("device", "account"):
                if kind in keys:
                    self._failures.pop(keys[kind], None)
                    self._until.pop(keys[kind], None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._until.clear()
            self._trusted.clear()
