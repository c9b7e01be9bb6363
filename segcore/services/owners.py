"""Who a workspace, a job or a run belongs to: a signed-in user or one browser.

An owner's key names its folder (models/.data/<key>/) and marks its jobs and runs. The key is a
hash of the identity, so no e-mail address, name or browser token ever becomes a path; the name
is what the Models page shows (a browser token is a credential: never shown, only its hash)."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")  # used with fullmatch


def new_token() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 random bits


def valid_token(token) -> bool:
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def _key(kind: str, ident: str) -> str:
    return hashlib.sha256(f"{kind}:{ident}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Owner:
    key: str  # 32 hex digits: folder name and the mark on jobs and runs
    name: str  # shown next to runs

    @classmethod
    def user(cls, ident: str) -> Owner:
        """A signed-in user, by e-mail (or name): the same workspace from any browser."""
        ident = " ".join(str(ident).split()).lower()
        if not ident:
            raise ValueError("a user owner needs a name or e-mail")
        return cls(key=_key("user", ident), name=ident)

    @classmethod
    def browser(cls, token: str) -> Owner:
        """One browser, by the random token it keeps (cookie)."""
        if not valid_token(token):
            raise ValueError("not a workspace token")
        key = _key("browser", token)
        return cls(key=key, name=f"browser {key[:6]}")


class OwnerJobs:
    """One owner's view of the shared JobRegistry: lists and stops only their jobs, starts jobs in
    their name. The registry stays one per server (one training at a time on the machine)."""

    def __init__(self, registry, owner: Owner):
        self.registry, self.owner = registry, owner

    @property
    def store(self):
        return self.registry.store

    def jobs(self) -> list:
        return [j for j in self.registry.jobs() if j.owner == self.owner.key]

    def latest(self, kind: str | None = "train"):
        own = [j for j in self.jobs() if kind is None or j.kind == kind]
        return own[-1] if own else None

    def find(self, job_id: str):
        return next((j for j in self.jobs() if j.run_id == job_id), None)

    def active(self):
        return next((j for j in self.jobs() if j.active), None)

    def start(self, input_path, config, **kwargs):
        return self.registry.start(input_path, config, owner=self.owner.key, owner_name=self.owner.name, **kwargs)

    def start_score(self, model_run: str, input_path, **kwargs):
        return self.registry.start_score(model_run, input_path, owner=self.owner.key, owner_name=self.owner.name,
                                         **kwargs)

    def stop(self, run_id: str) -> bool:
        if not any(j.run_id == run_id for j in self.jobs()):
            return False  # someone else's job: not theirs to stop
        return self.registry.stop(run_id)
