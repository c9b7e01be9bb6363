"""Scoring a new file as a background job: the job kind in segcore (no Streamlit) and the Models
page through AppTest (progress, Stop, reload, summary), on real review files and a tiny run."""
from __future__ import annotations

import json
import logging
import shutil
import time

import pandas as pd
import pytest
from conftest import DATA, ROOT, SAMPLE, app_test
from streamlit.testing.v1 import AppTest

from segcore.errors import SegscopeError
from segcore.services.jobs import JobRegistry
from segcore.services.runs import RunStore, load_outputs, write_status
from segcore.services.scoring import SCORES_DIR, scoring_folders, scoring_info, scoring_summary

APP = str(ROOT / "app.py")
RUN_ID = "20260101-000000-tiny"
OTHER_DOMAIN = DATA / "asap_zh_300.csv"  # Chinese restaurant reviews; the run learnt English food reviews


def install_run(tiny_run, root) -> RunStore:
    """The tiny run's folder as a finished run of the store at `root`."""
    shutil.copytree(tiny_run.parent, root / RUN_ID)
    write_status(root / RUN_ID, {"run_id": RUN_ID, "status": "done", "created": "2026-01-01T00:00:00",
                                 "input_file": "small_reviews.csv", "metrics": {"n_reviews": 400, "k": 3}})
    return RunStore(root)


def _wait(job, timeout=300):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.1)
    assert not job.active, f"job still {job.status}"


def _leftovers(root):
    """Hidden work folders anywhere under the store (partial inputs, io.atomic temporaries)."""
    return [p for p in root.rglob(".*") if p.is_dir()]


def test_score_job_writes_the_scoring_whole_with_its_summary(tmp_path, tiny_run, small_csv):
    store = install_run(tiny_run, tmp_path / "models")
    reg = JobRegistry(store)
    job = reg.start_score(RUN_ID, OTHER_DOMAIN)
    assert job.kind == "score" and reg.latest("score") is job and reg.latest() is None  # latest() is training's
    with pytest.raises(SegscopeError, match="scoring job is already running"):
        reg.start_score(RUN_ID, small_csv)
    _wait(job)
    assert job.status == "done", job.error
    folder = store.path(RUN_ID) / job.out_dir
    assert scoring_folders(store.path(RUN_ID)) == [folder]
    snap = job.progress.snapshot()
    assert snap.stage == "done" and snap.step == snap.total_steps > 0  # every review counted
    assert not _leftovers(tmp_path / "models")

    metrics = json.loads((folder / "metrics.json").read_text())
    scored = pd.read_csv(folder / "reviews_scored.csv")
    s = scoring_summary(folder)
    assert s["input_file"] == OTHER_DOMAIN.name and s["model_run"] == RUN_ID
    assert s["n_reviews"] == metrics["n_reviews"] == len(scored) == job.metrics["n_reviews"]
    assert s["agreement"] == metrics["agreement_with_file_labels"] and 0 <= s["agreement"]["accuracy"] <= 1
    counts = scored.drop_duplicates("customer_id")["segment_id"].value_counts()
    assert {r["segment_id"]: r["customers"] for r in s["segments"]} == counts.to_dict()
    assert sum(r["share"] for r in s["segments"]) == pytest.approx(1.0)
    drift = json.loads((folder / "compare.json").read_text())["drift"]
    assert s["drift"] == drift and s["unlike_training"] == drift["retrain"] is True
    assert f"{drift['share_beyond'] * 100:.0f} %" in s["warning"]

    # the run's own training file looks like the training data: no warning
    same = reg.start_score(RUN_ID, small_csv)
    _wait(same)
    t = scoring_summary(store.path(RUN_ID) / same.out_dir)
    assert same.status == "done" and not t["unlike_training"] and t["warning"] is None
    assert t["drift"]["share_beyond"] < t["drift"]["alert"]

    # the result pages read a scoring through its key; its meta is the run's (columns, labels)
    info = scoring_info(store, f"{RUN_ID}/{SCORES_DIR}/{job.run_id}")
    assert info.path == folder and info.n_reviews == s["n_reviews"]
    out = load_outputs(info.path)
    assert len(out.reviews) == s["n_reviews"] and out.meta["labels"] == metrics["labels"]
    for bad in (f"{RUN_ID}/{SCORES_DIR}/..", f"../{RUN_ID}/{SCORES_DIR}/{job.run_id}", f"{RUN_ID}/model/x", RUN_ID, None):
        assert scoring_info(store, bad) is None


def test_stopped_score_job_keeps_nothing_and_the_next_one_runs(tmp_path, tiny_run, caplog):
    caplog.set_level(logging.INFO, logger="segcore.services.jobs")  # the server log's job lines
    store = install_run(tiny_run, tmp_path / "models")
    reg = JobRegistry(store)
    job = reg.start_score(RUN_ID, SAMPLE)
    assert reg.stop(job.run_id)
    _wait(job)
    assert job.status == "cancelled" and job.error == "stopped by the user"
    assert scoring_folders(store.path(RUN_ID)) == [] and not _leftovers(tmp_path / "models")
    assert [r.run_id for r in store.list()] == [RUN_ID]  # a scoring is no run
    with pytest.raises(SegscopeError, match="not a valid run id"):
        reg.start_score("../elsewhere", OTHER_DOMAIN)
    again = reg.start_score(RUN_ID, OTHER_DOMAIN)
    _wait(again)
    assert again.status == "done" and len(scoring_folders(store.path(RUN_ID))) == 1
    again.thread.join(30)  # its end is logged as the thread leaves
    assert f"scoring {job.run_id} of sample_reviews.csv with {RUN_ID} started" in caplog.messages
    assert any(m.startswith(f"scoring {job.run_id} ended: cancelled after ") and m.endswith("(stopped by the user)")
               for m in caplog.messages), caplog.messages
    assert any(m.startswith(f"scoring {again.run_id} ended: done after ") for m in caplog.messages)


def test_killed_scoring_leftovers_are_removed_at_start(tmp_path, tiny_run):
    store = install_run(tiny_run, tmp_path / "models")
    left = store.path(RUN_ID) / SCORES_DIR / ".20260101-000000-x.tmp-1234abcd"
    left.mkdir(parents=True)
    (left / "reviews_scored.csv").write_text("half")
    reg = JobRegistry(store)
    assert not left.exists()
    # an input that cannot be read fails at once and blocks no later job
    with pytest.raises(SegscopeError, match="Could not read gone.csv"):
        reg.start_score(RUN_ID, tmp_path / "gone.csv")
    assert reg.active() is None and reg.latest("score").status == "failed" and not _leftovers(tmp_path / "models")


# --- the Models page ---------------------------------------------------------------------------

def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _until(at: AppTest, words: str, timeout=300) -> AppTest:
    end = time.time() + timeout
    while time.time() < end:
        _ok(at.run())
        if words in _text(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"never showed {words!r}: {_text(at)[:500]}")


def _score(at: AppTest, path) -> AppTest:
    at.file_uploader(key="score_upload").set_value((path.name, path.read_bytes(), "text/csv"))
    _ok(at.run())
    next(b for b in at.button if b.label == "Score").click()
    return _ok(at.run())


def test_models_page_scoring_job_progress_stop_reload_and_summary(models_dir, tiny_run):
    store = install_run(tiny_run, models_dir)
    at = _ok(app_test().run())
    at.switch_page("pages/models.py").run()
    _ok(at)

    # 1,999 reviews: running for a while, so Stop lands mid-way
    _score(at, SAMPLE)
    assert "— running" in _text(at) or "— queued" in _text(at)
    bars = at.get("progress")
    assert bars and any(w in bars[0].proto.text for w in ("Starting", "Loading", "Reading"))
    next(b for b in at.button if b.label == "Stop scoring").click()
    _ok(at.run())
    _until(at, "— cancelled")
    assert any("nothing of it was saved" in w.value for w in at.warning)
    scores = store.path(RUN_ID) / SCORES_DIR
    assert not (scores.exists() and any(scores.iterdir()))  # nothing half-written, not even hidden

    _score(at, OTHER_DOMAIN)
    _until(at, "— done")

    # a reload: a new session on the same server finds the finished job and its summary
    at = _ok(app_test().run())
    at.switch_page("pages/models.py").run()
    _ok(at)
    assert f"Scoring {OTHER_DOMAIN.name.replace('_', chr(92) + '_').replace('.', chr(92) + '.')}" in _text(at)
    assert "— done" in _text(at)
    folder = scoring_folders(store.path(RUN_ID))[0]
    metrics = json.loads((folder / "metrics.json").read_text())
    agreement = metrics["agreement_with_file_labels"]
    shown = next(m for m in at.metric if m.label == "Agrees with the file's ratings")
    assert shown.value == f"{agreement['accuracy']:.0%}"
    assert any(f"macro-F1 {agreement['macro_f1']:.3f}" in c.value for c in at.caption)
    assert next(m for m in at.metric if m.label == "Reviews scored").value == f"{metrics['n_reviews']:,}"
    assert any("look unlike the ones the model was trained on" in w.value for w in at.warning)
    table = at.dataframe[-1].value
    assert table["customers"].sum() == pd.read_csv(folder / "segments.csv").shape[0]
    downloads = {b.label for b in at.get("download_button")}
    assert {"Scored reviews (CSV)", "Campaign lists (XLSX)"} <= downloads

    # open the scoring in the result pages
    next(b for b in at.button if b.label == "Open in Map").click()
    _ok(at.run())
    assert at.title[0].value == "Map"
    at.switch_page("pages/segments.py").run()
    _ok(at)
    key = f"{RUN_ID}/{SCORES_DIR}/{folder.name}"
    assert any(key in c.value and f"{metrics['n_reviews']:,} reviews" in c.value for c in at.caption)


def test_a_scoring_finishes_while_a_training_runs(tmp_path, tiny_run, small_csv, tiny_model):
    from transformers import TrainerCallback

    from segcore.config import RunConfig, TrainConfig
    from segcore.threads import LIGHT, TRAIN, active_jobs

    store = install_run(tiny_run, tmp_path / "models")
    reg = JobRegistry(store)
    shares = []

    class Slow(TrainerCallback):  # a long fine-tune: it is still running when the scoring ends
        def on_step_end(self, args, state, control, **kw):
            shares.append(active_jobs())
            time.sleep(0.3)

    config = RunConfig(k=3, quick_first=False,
                       train=TrainConfig(model=str(tiny_model), epochs=20, max_length=48, progress_bar=False))
    training = reg.start(small_csv, config, label="long", callbacks=[Slow()])
    while training.progress.snapshot().step < 1:
        time.sleep(0.1)
    scoring = reg.start_score(RUN_ID, OTHER_DOMAIN)  # not refused: the light slot
    assert scoring.active and training.status == "running"
    _wait(scoring)
    assert scoring.status == "done", scoring.error
    assert training.active  # the scoring did not wait for the fine-tune
    assert {TRAIN: 1, LIGHT: 1} in shares  # both held the CPU at once, each with its share
    assert reg.stop(training.run_id)
    _wait(training)
    assert training.status == "cancelled" and scoring_folders(store.path(RUN_ID))
