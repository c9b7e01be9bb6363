"""Quick result first: the whole result from the base encoder's head (no fine-tuning), from the
command line (`run --quick`) and in the app's jobs (a `<run>-quick` run usable while fine-tuning goes on)."""
from __future__ import annotations

import json
import time

import pandas as pd
from conftest import run_cli

from segcore.config import RunConfig, TrainConfig
from segcore.services.jobs import JobRegistry
from segcore.services.runs import RunStore


def test_run_quick_gives_the_whole_result_and_scores_again(tmp_path, small_csv, tiny_model):
    out = tmp_path / "quick"
    done = run_cli("run", small_csv, "--out", out, "--quick", "--model", tiny_model, "--k", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True and metrics["epochs_run"] == 0 and metrics["fine_tuned_test"] is None
    assert metrics["selected"] in ("frozen", "tfidf")
    assert set(metrics["selection"]["candidates"]) == {"frozen", "tfidf"}  # nothing fine-tuned
    assert metrics["k"] == 3 and (out / "campaigns.xlsx").exists() and (out / "model" / "head.json").exists()
    scored = pd.read_csv(out / "reviews_scored.csv")
    # scoring the same file with the saved quick run gives every review the same label (same head)
    again = run_cli("score", small_csv, "--model", out / "model", "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr[-2000:]
    rescored = pd.read_csv(tmp_path / "again" / "reviews_scored.csv")
    merged = scored.merge(rescored, on="row_id", suffixes=("", "_again"))
    assert len(merged) == len(scored) > 300
    assert (merged["pred_label"] == merged["pred_label_again"]).all()
    assert (merged["segment_id"] == merged["segment_id_again"]).all()


def test_job_shows_the_quick_result_before_fine_tuning_ends(tmp_path, small_csv, tiny_model):
    store = RunStore(tmp_path / "models")
    reg = JobRegistry(store)
    config = RunConfig(k=3, train=TrainConfig(model=str(tiny_model), epochs=2, max_length=48, progress_bar=False))
    assert config.quick_first  # the app's default
    job = reg.start(small_csv, config, label="quickfirst")
    seen_quick_while_training = False
    end = time.time() + 600
    while job.active and time.time() < end:
        if job.quick_run_id and job.active:
            usable = [r.run_id for r in store.list() if r.usable]
            seen_quick_while_training = usable == [job.quick_run_id]  # the pages show this one meanwhile
            if seen_quick_while_training:
                break
        time.sleep(0.2)
    assert seen_quick_while_training, (job.status, job.error)
    while job.active and time.time() < end:
        time.sleep(0.5)
    assert job.status == "done", job.error
    runs = store.list()
    assert [r.run_id for r in runs] == [job.run_id, f"{job.run_id}-quick"]  # the fine-tuned run first
    quick = json.loads((runs[1].path / "metrics.json").read_text())
    full = json.loads((runs[0].path / "metrics.json").read_text())
    assert quick["quick"] and not full["quick"] and full["epochs_run"] >= 1
    # the full run had the quick candidates too, on the same split: the same keyword-model test score
    assert quick["baseline"]["macro_f1"] == full["baseline"]["macro_f1"]
