"""Who a workspace, a job or a run belongs to: a signed-in user or one browser; and what one
person may see and do on a server others use too (`OwnerJobs`).

An owner's key names its folder (models/.data/<key>/) and marks its jobs and runs. The key is a
hash of the identity, so no e-mail address, name or browser token ever becomes a path; the name
is what the Models page shows (a browser token is a credential: never shown, only its hash).
A name typed at the password login and the same e-mail signed in through the identity provider
(OIDC) are different owners: a typed name proves nothing, so it never opens an SSO workspace.

Runs belong to their owner. Another person sees a run only when its owner shares it with the team
(read-only: open, view, download, score a file of their own with it); only the owner or an admin
(named in the secrets) renames, re-segments, shares or deletes it. Runs made outside the app (the
CLI) have no owner: everyone may view them, only an admin may change them. A scoring is its
maker's alone, whoever's run scored it."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import SegscopeError
from .runs import EDIT_LOCK, RunInfo, may_manage, may_view
from .scoring import own_scorings, scoring_info

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
    admin: bool = False  # named in the secrets: manages every run and the team's templates

    @classmethod
    def user(cls, ident: str) -> Owner:
        """A name given with the shared password: the same workspace from any browser."""
        ident = " ".join(str(ident).split()).lower()
        if not ident:
            raise ValueError("a user owner needs a name or e-mail")
        return cls(key=_key("user", ident), name=ident)

    @classmethod
    def sso(cls, email: str) -> Owner:
        """A verified e-mail from the identity provider (OIDC); never the workspace of a typed name."""
        email = " ".join(str(email).split()).lower()
        if not email:
            raise ValueError("an SSO owner needs an e-mail")
        return cls(key=_key("sso", email), name=email)

    def as_admin(self, admin: bool = True) -> Owner:
        return replace(self, admin=admin)

    @classmethod
    def browser(cls, token: str) -> Owner:
        """One browser, by the random token it keeps (cookie)."""
        if not valid_token(token):
            raise ValueError("not a workspace token")
        key = _key("browser", token)
        return cls(key=key, name=f"browser {key[:6]}")


_EDITS = EDIT_LOCK  # one change of a run at a time in this process (two tabs, two people)
_EDITING: set[str] = set()  # runs being rewritten now: no scoring starts into them meanwhile


class OwnerJobs:
    """One person's view of the server: their jobs in the shared JobRegistry, the runs they may
    see, and the changes they may make (each checked here, whatever the page shows). The registry
    stays one per server (one training at a time on the machine)."""

    def __init__(self, registry, owner: Owner):
        self.registry, self.owner = registry, owner

    @property
    def store(self):
        return self.registry.store

    # --- jobs ---------------------------------------------------------------------------

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
        self.run(model_run)  # a run they may not see is no run to them
        if model_run in _EDITING:
            raise SegscopeError(f"Run '{model_run}' is being changed right now; start the scoring again in a moment.")
        return self.registry.start_score(model_run, input_path, owner=self.owner.key, owner_name=self.owner.name,
                                         **kwargs)

    def stop(self, run_id: str) -> bool:
        if not any(j.run_id == run_id for j in self.jobs()):
            return False  # someone else's job: not theirs to stop
        return self.registry.stop(run_id)

    # --- runs ---------------------------------------------------------------------------

    def runs(self) -> list[RunInfo]:
        """The runs this person may see, newest first."""
        return [r for r in self.store.list() if may_view(r, self.owner)]

    def run(self, run_id: str) -> RunInfo:
        """One run they may see; another person's unshared run is 'not found', as if it did not exist."""
        info = self.store.info(run_id)
        if not may_view(info, self.owner):
            raise SegscopeError(f"Run '{run_id}' not found.")
        return info

    def may_manage(self, run: RunInfo) -> bool:
        return may_manage(run, self.owner)

    def _manageable(self, run_id: str, what: str) -> RunInfo:
        info = self.run(run_id)
        if not may_manage(info, self.owner):
            whose = f"{info.owner}'s" if info.owner else "made outside the app (the command line), so it is an admin's"
            raise SegscopeError(f"Run '{run_id}' is {whose} to {what}; you may open it, view it and download "
                                "its files.")
        busy = self.registry.active()
        if busy is not None and run_id in (busy.run_id, busy.model_run):
            raise SegscopeError(f"A job is using run '{run_id}' right now; {what} it when the job is done.")
        return info

    def delete(self, run_id: str) -> None:
        with _EDITS:
            self._manageable(run_id, "delete")
            self.store.delete(run_id)

    def share(self, run_id: str, shared: bool) -> None:
        """Share the run with the team (read-only), or stop sharing it."""
        with _EDITS:
            self._manageable(run_id, "share")
            self.store.set_shared(run_id, shared)

    def edit(self, run_id: str, change, *, what: str):
        """Apply `change(run_path)` (services.edit's rename / re-segment, which swap the run in
        whole) to a run this person may manage."""
        with _EDITS:
            info = self._manageable(run_id, what)
            _EDITING.add(run_id)
            try:
                return change(info.path)
            finally:
                _EDITING.discard(run_id)

    # --- scorings -----------------------------------------------------------------------

    def scorings(self, run: RunInfo) -> list[Path]:
        """This person's finished scorings of a run they may see, newest first."""
        return own_scorings(run.path, self.owner.key) if may_view(run, self.owner) else []

    def scoring(self, key) -> RunInfo | None:
        """A scoring of theirs as a RunInfo for the result pages (None: no such scoring of theirs)."""
        parts = key.split("/") if isinstance(key, str) else []
        try:
            self.run(parts[0])
        except (SegscopeError, IndexError):
            return None
        return scoring_info(self.store, key, owner_key=self.owner.key)
