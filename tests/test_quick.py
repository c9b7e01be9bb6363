"""Quick result first: the whole result from the base encoder's head (no fine-tuning), from the
command line (`run --quick`) and in the app's jobs (a `<run>-quick` run usable while fine-tuning goes on)."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import torch
from conftest import run_cli, run_main

from segcore.config import RunConfig, TrainConfig
from segcore.services.jobs import JobRegistry
from segcore.services.runs import RunStore


def test_run_quick_gives_the_whole_result_and_scores_again(tmp_path, small_csv, tiny_model):
    out = tmp_path / "quick"
    done = run_main("run", small_csv, "--out", out, "--quick", "--model", tiny_model, "--k", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True and metrics["epochs_run"] == 0 and metrics["fine_tuned_test"] is None
    assert metrics["selected"] in ("frozen", "tfidf")
    assert set(metrics["selection"]["candidates"]) == {"frozen", "tfidf"}  # nothing fine-tuned
    assert metrics["k"] == 3 and (out / "campaigns.xlsx").exists() and (out / "model" / "head.json").exists()
    scored = pd.read_csv(out / "reviews_scored.csv")
    # scoring the same file with the saved quick run, in a new process (nothing kept from the run's),
    # gives every review the same label (same head)
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
    assert [name for name, _ in job.progress.snapshot().phases] == ["quick", "fine_tune"]

    # both maps are laid out from the base encoder: the fine-tuned run's map is the quick one
    a = pd.read_csv(runs[1].path / "reviews_scored.csv")
    b = pd.read_csv(runs[0].path / "reviews_scored.csv")
    both = a.merge(b, on="row_id", suffixes=("_quick", "_tuned"))
    assert len(both) == len(a) == len(b)
    assert (both["x_quick"] == both["x_tuned"]).all() and (both["y_quick"] == both["y_tuned"]).all()
    assert json.loads((runs[0].path / "model" / "segscope.json").read_text())["map_encoder"] == "base"

    # what fine-tuning changed, as the Train page says it
    changes = json.loads((runs[0].path / "since_quick.json").read_text())
    assert changes["quick_run"] == job.quick_run_id and changes["n_reviews"] == len(both)
    assert changes["labels_changed"] == int((both["pred_label_quick"] != both["pred_label_tuned"]).sum())
    assert changes["n_unrated"] == full["n_unlabelled"] == 0 and changes["labels_changed_unrated"] == 0
    customers = both.groupby("customer_id_quick")[["segment_name_quick", "segment_name_tuned"]].first()
    assert changes["customers_moved"] == int((customers.iloc[:, 0] != customers.iloc[:, 1]).sum())
    assert changes["tuned"]["test_macro_f1"] == full["selection"]["candidates"][full["selected"]]["test_macro_f1"]


def test_embeddings_do_not_depend_on_the_reviews_batched_with_them(sample_frame):
    """The quick pass's and scoring's path (bf16 where the CPU has AMX): every review's figures are
    the same bit for bit whether it is read with the whole file, a chunk of it, or other batch sizes."""
    from segcore.encoders.models import cpu_has_fast_bf16, load_classifier, load_tokenizer, resolve_model
    from segcore.encoders.predict import predict

    name = resolve_model("default")
    model, tok = load_classifier(name, ["negative", "positive"]), load_tokenizer(name)
    texts = sample_frame["Text"].head(200).tolist()
    precision = "bf16" if cpu_has_fast_bf16() else "fp32"
    probs, embs = predict(model, tok, texts, batch_size=64, max_length=128, precision=precision)
    part = list(range(150, 37, -3))  # another order, another size, other neighbours in each batch
    p2, e2 = predict(model, tok, [texts[i] for i in part], batch_size=16, max_length=128, precision=precision)
    assert np.array_equal(e2, embs[part]) and np.array_equal(p2, probs[part])
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # bf16 read a copy
    _, e32 = predict(model, tok, texts, batch_size=64, max_length=128, precision="fp32")
    cos = (embs * e32).sum(1) / np.linalg.norm(embs, axis=1) / np.linalg.norm(e32, axis=1)
    assert cos.min() > 0.999  # bf16 reads the reviews as fp32 does
