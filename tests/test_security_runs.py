"""A team on one server (issue 27): each person's runs, scorings, datasets and label decisions stay
theirs; changes to a run are its owner's (or an admin's) and are swapped in whole. segcore's
services on the tiny-model run and real review files; the pages are in test_workspace_person and
test_browser_team."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import DATA, ROOT

from segcore.services.edit import rename_run_segments, resegment_run
from segcore.errors import SegscopeError
from segcore.services.jobs import JobRegistry
from segcore.services.owners import Owner, OwnerJobs
from segcore.services.runs import RunStore, write_status
from segcore.services.workspace import Workspace, fingerprint
from segcore.strategy.suggest import load_templates

ALICE, BOB, DAVE = Owner.user("alice"), Owner.user("bob"), Owner.sso("dave@example.com").as_admin()
RUN = "20260101-000000-bob"


def _place(store: RunStore, tiny_run, run_id: str = RUN, who: Owner | None = BOB, **status) -> str:
    """The tiny-model run copied in as `who`'s finished run (None: made with the CLI)."""
    shutil.copytree(tiny_run.parent, store.root / run_id)
    write_status(store.root / run_id, {"status": "done", "created": "2026-01-01T00:00:00", "input_file": "b.csv",
                                       "owner": who and who.name, "owner_key": who and who.key, **status})
    return run_id


@pytest.fixture
def server(tmp_path, tiny_run):
    registry = JobRegistry(RunStore(tmp_path / "models"))
    _place(registry.store, tiny_run)
    return registry


def _wait(job, timeout=300):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.2)
    assert job.status == "done", (job.status, job.error)


def test_another_persons_run_is_invisible_until_shared_and_then_read_only(server, tiny_run):
    alice, bob, admin = (OwnerJobs(server, who) for who in (ALICE, BOB, DAVE))
    path = server.store.path(RUN)
    assert [r.run_id for r in bob.runs()] == [RUN] and alice.runs() == []
    with pytest.raises(SegscopeError, match=f"Run '{RUN}' not found"):  # as if it did not exist
        alice.run(RUN)
    with pytest.raises(SegscopeError, match="not found"):
        alice.delete(RUN)
    with pytest.raises(SegscopeError, match="not found"):
        alice.share(RUN, True)

    bob.share(RUN, True)
    assert [(r.run_id, r.owner, r.shared) for r in alice.runs()] == [(RUN, "bob", True)]
    before = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    names = {0: "Renamed by alice"}
    for attempt, what in ((lambda: alice.delete(RUN), "delete"), (lambda: alice.share(RUN, False), "share"),
                          (lambda: alice.edit(RUN, lambda p: rename_run_segments(p, names, templates=load_templates()),
                                              what="rename"), "rename"),
                          (lambda: alice.edit(RUN, lambda p: resegment_run(p, k=2, templates=load_templates()),
                                              what="re-segment"), "re-segment")):
        with pytest.raises(SegscopeError, match=f"is bob's to {what}; you may open it, view it and download"):
            attempt()
    assert {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert alice.may_manage(alice.run(RUN)) is False and bob.may_manage(bob.run(RUN)) is True

    # a run made with the command line: everyone sees it, only an admin changes it
    cli = _place(server.store, tiny_run, "20260102-000000-cli", who=None)
    assert cli in [r.run_id for r in alice.runs()] and not alice.may_manage(alice.run(cli))
    with pytest.raises(SegscopeError, match="made outside the app"):
        bob.delete(cli)
    admin.delete(cli)  # the admin named in the secrets
    admin.share(RUN, False)  # and may change anyone's run
    assert alice.runs() == [] and not (server.store.root / cli).exists()


def test_scorings_are_their_makers_alone(server, tmp_path):
    """Issue 27: bob's scoring showed on alice's Models page and its CSV downloaded his rows."""
    alice, bob = OwnerJobs(server, ALICE), OwnerJobs(server, BOB)
    part = pd.read_csv(DATA / "womens_clothing_600.csv").head(60)
    later = tmp_path / "bob_later.csv"
    part.to_csv(later, index=False)
    with pytest.raises(SegscopeError, match="not found"):  # alice cannot score with bob's private run
        alice.start_score(RUN, later)
    job = bob.start_score(RUN, later)
    _wait(job)
    bob.share(RUN, True)
    run = bob.run(RUN)
    key = f"{RUN}/scores/{job.run_id}"
    assert [f.name for f in bob.scorings(run)] == [job.run_id] and bob.scoring(key).input_file == "bob_later.csv"
    assert alice.scorings(alice.run(RUN)) == [] and alice.scoring(key) is None
    own = alice.start_score(RUN, later)  # a shared run scores alice's own file: hers alone
    _wait(own)
    assert [f.name for f in alice.scorings(run)] == [own.run_id]
    assert [f.name for f in bob.scorings(run)] == [job.run_id]


_KILL_AT = """
import os, signal, sys
from pathlib import Path
from segcore.services.edit import rename_run_segments
from segcore.strategy.suggest import load_templates

run, when = Path(sys.argv[1]), sys.argv[2]
calls = []

def kill(frame, event, arg):  # SIGKILL at a real point of the edit: no cleanup runs
    if when == "writing" and event == "call" and frame.f_code.co_name == "to_json" and \\
            str(frame.f_locals.get("path", "")).endswith("segscope.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    if when == "swapping" and event == "c_call" and getattr(arg, "__name__", "") == "replace" and \\
            getattr(arg, "__module__", "") == "posix":
        calls.append(1)
        if len(calls) == 2:  # the run is set aside; its new copy is not in place yet
            os.kill(os.getpid(), signal.SIGKILL)

sys.setprofile(kill)
rename_run_segments(run, {0: "Killed midway"}, templates=load_templates())
"""


def _names(run) -> tuple[dict, dict]:
    profiles = json.loads((run / "segment_profiles.json").read_text())
    meta = json.loads((run / "model" / "segscope.json").read_text())
    return {k: p["name"] for k, p in profiles.items()}, meta["segment_names"]


@pytest.mark.parametrize("when", ["writing", "swapping"])
def test_a_killed_rename_leaves_the_run_whole(tmp_path, tiny_run, when):
    """Issue 27: a SIGKILL during Save names left segment_profiles.json with the new names and
    model/segscope.json + campaigns/ with the old ones (and `score` accepted it)."""
    from segcore.engines.core import load_run

    store = RunStore(tmp_path / "models")
    run = store.root / _place(store, tiny_run)
    before = _names(run)
    assert before[0] == before[1]
    done = subprocess.run([sys.executable, "-c", _KILL_AT, str(run), when], cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert done.returncode == -9, done.stderr[-2000:]
    assert [r.run_id for r in store.list()] == [RUN]  # a swap cut in the middle is put back
    assert _names(run) == before  # the old run, whole
    store.clean_partials()  # as the next server start does
    assert sorted(p.name for p in store.root.iterdir()) == [RUN]
    load_run(run / "model", model=False)  # what `score` checks first
    analysis = rename_run_segments(run, {0: "After the kill"}, templates=load_templates())  # and it edits again
    assert _names(run)[0]["0"] == _names(run)[1]["0"] == analysis.profiles[0]["name"] == "After the kill"


def test_rename_then_resegment_leaves_no_stale_campaign_files(tmp_path, tiny_run):
    """Issue 27: after rename + k=2, campaigns/ held five CSVs, one for a segment that no longer existed."""
    store = RunStore(tmp_path / "models")
    run = store.root / _place(store, tiny_run)
    rename_run_segments(run, {0: "Renamed first"}, templates=load_templates())
    analysis = resegment_run(run, k=2, templates=load_templates())
    files = sorted(p.name for p in (run / "campaigns").iterdir())
    from segcore.io.export import safe_filename

    assert files == sorted(f"{s:02d}_{safe_filename(p['name'])}.csv" for s, p in analysis.profiles.items()) and \
        len(files) == 2
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no copy left behind
    assert (run / "model" / "model.safetensors").stat().st_nlink == 1  # the old copy's links are gone


def test_label_decisions_apply_to_their_own_dataset_only(tmp_path):
    """Issue 27: labels reviewed on one file were saved onto the sample ("labels reviewed: 46")."""
    ws = Workspace(tmp_path / "ws")
    evil = ws.save_upload((DATA / "womens_clothing_600.csv").read_bytes(), "evil300.csv")
    reviewed = fingerprint(evil)
    frame = pd.read_csv(evil.path)
    sample = ws.use_sample()  # Data -> Use the sample
    assert fingerprint(sample) != reviewed
    with pytest.raises(SegscopeError, match="made on another dataset"):
        ws.save_corrected(frame, sample, label_col="Rating", corrections=[{"row": 1}], reviewed=reviewed)
    with pytest.raises(SegscopeError, match="made on another dataset"):  # nor onto evil300 once it is not current
        ws.save_corrected(frame, evil, label_col="Rating", corrections=[{"row": 1}], reviewed=reviewed)
    assert ws.current().name == sample.name and not (ws.root / "corrections.json").exists()
    again = ws.save_upload((DATA / "womens_clothing_600.csv").read_bytes(), "evil300.csv")
    saved = ws.save_corrected(frame, again, label_col="Rating", corrections=[{"row": 1}], reviewed=reviewed)
    assert saved.name == "evil300.csv (labels reviewed: 1)"


def test_a_crafted_upload_name_keeps_the_previous_upload(tmp_path):
    """Issue 27: a name with '/' after the last dot deleted the previous upload before failing."""
    ws = Workspace(tmp_path / "ws")
    ws.save_upload((DATA / "asap_zh_100.csv").read_bytes(), "first.csv")
    for name in ("x.ab/c", "evil.csv/../../../etc", "a.\n/b", "..", "a." + "b" * 300):
        stored = ws.save_upload((DATA / "womens_clothing_600.csv").read_bytes(), name)
        assert stored.path.parent == ws.root and stored.path.read_bytes()[:20] == (
            DATA / "womens_clothing_600.csv").read_bytes()[:20]
        assert [p.name for p in ws.root.glob("upload-*")] == [stored.path.name]
    refused = Workspace(tmp_path / "ws2")
    kept = refused.save_upload((DATA / "asap_zh_100.csv").read_bytes(), "kept.csv")

    def check(data, name):
        raise SegscopeError("refused")

    with pytest.raises(SegscopeError):
        refused.save_upload(b"x", "y.ab/c", check=check)
    assert refused.current().path == kept.path and kept.path.exists()


def test_labels_page_drops_decisions_made_on_another_dataset(models_dir):
    """Issue 27, as a person clicks it: Labels on a file, then Data -> Use the sample, then Labels:
    the file's label issues are gone (nothing to save onto the sample)."""
    from conftest import app_test

    at = app_test().run()
    path = DATA / "womens_clothing_600.csv"
    at.file_uploader[0].set_value(("evil300.csv", path.read_bytes(), "text/csv"))
    at.run()
    at.switch_page("pages/labels.py").run()
    at.checkbox(key="issues_emb").uncheck()
    at.button(key="issues_find").click()
    at.run()
    assert not at.exception and any(b.key == "issues_save" for b in at.button)  # issues found on evil300
    at.switch_page("pages/data.py").run()
    next(b for b in at.button if b.label == "Use the sample reviews").click()
    at.run()
    at.switch_page("pages/labels.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any(b.key == "issues_save" for b in at.button)  # evil300's decisions are not offered here
    assert "labels reviewed" not in " ".join(t.value for t in at.sidebar.text)
