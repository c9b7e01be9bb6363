"""The benchmark's pieces on tiny inputs: JSON shape and baseline-vs-segscope agreement.
Speed is measured by `python -m segcore bench`, never asserted here."""
import json

import numpy as np
import pytest

from segcore import bench
from segcore.bench.common import mfu
from segcore.encoders.models import cpu_has_fast_bf16, load_classifier
from segcore.ingest.samples import real_reviews, star_labels


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory, tiny_model):
    """The tiny encoder with a (random) 3-class head, saved like a run's model folder."""
    path = tmp_path_factory.mktemp("tiny-cls")
    load_classifier(str(tiny_model), bench.LABELS).save_pretrained(path)
    from segcore.encoders.models import load_tokenizer

    load_tokenizer(str(tiny_model)).save_pretrained(path)
    return str(path)


def _check_shape(d):
    assert list(d) == ["name", "value", "baseline", "ratio", "units", "target", "met", "device", "details"]
    json.dumps(d)


def test_real_reviews_resampling():
    frame = real_reviews(500, seed=1, distinct_rows=True)
    assert len(frame) == 500 and frame["Id"].is_unique and frame["UserId"].nunique() <= 166
    assert set(star_labels(frame["Score"])) <= set(bench.LABELS)


def test_score_naive_and_segscope_agree_and_options_are_reported(tiny_classifier):
    cfg = bench.BenchConfig(device="cpu")
    data = real_reviews(120, seed=3)
    result = bench.bench_score(cfg, tiny_classifier, texts=data["Text"].tolist(),
                               labels=star_labels(data["Score"]), batch_size=32)
    d = result.as_dict()
    _check_shape(d)
    assert d["name"] == "score" and d["units"] == "reviews/s" and d["ratio"] == pytest.approx(d["value"] / d["baseline"], rel=1e-2)
    details = d["details"]
    assert details["precision"] == ("bf16" if cpu_has_fast_bf16() else "fp32")
    # Same model, same texts, fp32: padding and batching must not change predictions.
    fp32 = details["fp32"]
    assert fp32["label_agreement_with_naive"] == 1.0
    assert fp32["max_abs_prob_diff"] < 1e-4 and fp32["max_abs_embedding_diff"] < 1e-4
    assert 0 <= details["accuracy"] <= 1 and 0 <= details["label_agreement_with_fp32"] <= 1
    assert 0 <= details["int8"]["label_agreement_with_fp32"] <= 1 and details["int8"]["reviews_per_s"] > 0


def test_map_group_share_and_estimate_error_on_known_layouts():
    # two product groups: apart on the map, every neighbour shares the group; interleaved, half do
    coords = np.array([[i, 0.0] for i in range(20)] + [[i, 50.0] for i in range(20)])
    groups = ["Dresses"] * 20 + ["Knits"] * 20
    assert bench.same_group_share(coords, groups, k=5) == 1.0
    angle = np.arange(40) * 2 * np.pi / 40  # a ring: each point's 4 nearest are the 2 on either side
    mixed = np.c_[np.cos(angle), np.sin(angle)]
    assert bench.same_group_share(mixed, ["Dresses", "Knits"] * 20, k=4) == 0.5
    assert bench.same_group_share(coords, groups[:-1] + [None], k=5) == 1.0  # no group: left out
    # a job of 100 s; at 10 s it had said 60-120 s left: estimated total 100 s
    samples = [(5.0, 200.0, 300.0), (10.0, 60.0, 120.0), (50.0, 40.0, 60.0)]
    at = bench.estimate_error(samples, 100.0, 0.1)
    assert at["estimated_total_s"] == 100.0 and at["error"] == 0.0 and at["real_total_in_range"]
    assert bench.estimate_error(samples, 100.0, 0.5)["at_s"] == 50.0
    assert bench.estimate_error(samples, 1000.0, 0.5) is None


def test_cpu_hogs_take_cpu_time_and_end():
    import os
    import time

    from segcore.threads import CpuMeter

    meter = CpuMeter()
    with bench.cpu_hogs(2) as procs:
        time.sleep(1.0)
        used = [int(open(f"/proc/{p.pid}/stat").read().split()[13]) for p in procs]  # utime, clock ticks
        busy = meter.others()
        pids = [p.pid for p in procs]
    assert min(used) > 0 and busy is not None and busy > 0  # the meter sees other processes' work
    assert all(not os.path.exists(f"/proc/{pid}") for pid in pids)  # killed and reaped


def test_train_rates_from_both_recipes(tiny_model):
    data = real_reviews(3 * 16 + 16, seed=4)
    texts, labels = data["Text"].tolist(), star_labels(data["Score"])
    seed = bench.seed_train_rate(str(tiny_model), texts, labels, steps=2, device="cpu")
    ours = bench.segscope_train_rate(str(tiny_model), texts, labels, steps=2, batch=16, device="cpu")
    for r in (seed, ours):
        assert r["samples"] == 32 and r["samples_per_s"] > 0 and r["flops_per_s"] > 0
    assert seed["tokens_per_sample"] == 128 and ours["tokens_per_sample"] < 128  # dynamic padding
    assert mfu(1e12, __import__("torch").device("cpu")) is None  # no known peak on CPU


def test_map_measurement_reports_both_fits():
    base = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    cfg = bench.BenchConfig(map_sizes=(300,), map_threshold=150)
    d = bench.bench_map(cfg, base).as_dict()
    _check_shape(d)
    (row,) = d["details"]["sizes"]
    assert row["n"] == 300 and row["fit_all_s"] > 0 and row["fit_sample_s"] > 0 and d["details"]["warmup_s"] > 0
    assert 0 <= row["neighbours_kept_fit_sample"] <= 1 and 0 <= row["neighbours_kept_fit_all"] <= 1


def test_peak_rss_of_a_child():
    import sys

    rc, gb, _ = bench.peak_rss_of([sys.executable, "-c", "x = bytearray(200 * 1024 * 1024)"])
    assert rc == 0 and gb > 0.19


def test_bench_parser_and_quick_sizes():
    from segcore.cli import build_parser

    args = build_parser().parse_args(["bench", "--quick", "--device", "cpu", "--only", "score,map", "--out", "x.jsonl"])
    assert args.command == "bench" and args.quick and not args.debug
    cfg = bench.BenchConfig.for_run(quick=True, device="cpu")
    assert cfg.memory_rows <= 5000 and max(cfg.map_sizes) <= 5000 and cfg.train_batch == 16
    assert cfg.ray_rows <= 5000 and bench.MEASUREMENTS[-1] == "score_ray"  # the Ray figure (tests/test_ray.py)
    assert bench.BenchConfig.for_run(quick=False, device="cpu").memory_rows == 1_000_000


def test_memory_with_a_tiny_run_adds_the_models_extra_memory(tmp_path, tiny_run):
    run_model = str(tiny_run)  # stands in for the fine-tuned run, and is the tiny run (not fitted again)
    cfg = bench.BenchConfig(memory_rows=600, chunk_rows=200, memory_model="tiny", memory_tiny_run=run_model)
    d = bench.bench_memory(cfg, run_model, tmp_path).as_dict()
    _check_shape(d)
    det = d["details"]
    assert set(det["peak_rss_gb"]) == {"csv", "parquet"} and min(det["peak_rss_gb"].values()) > 0.1
    ref = det["reference_peak_rss_gb"]
    assert det["reference_rows"] == 400 and ref["tiny"] > 0.1 and ref["run"] > 0.1
    assert d["value"] == pytest.approx(max(det["peak_rss_gb"].values()) + max(0, ref["run"] - ref["tiny"]), abs=1e-3)
    same = det["small_file_chunked_vs_one_piece"]
    assert same["rows_equal"] and same["labels_equal"] and same["segments_equal"]
    assert d["met"] is True



PRINT_AFTER_RAY = """
import builtins, numba, umap  # loaded before Ray, as in segcore
from segcore.analysis.jitcache import keep_print_unpatched
keep_print_unpatched()  # what ray_session does before Ray starts
from ray.experimental import tqdm_ray
tqdm_ray.instance()  # what Ray's driver does when a worker's log line reaches it
@numba.njit
def threads():
    return numba.get_num_threads()  # its jitted body prints, so `print` must still be the builtin
print(builtins.print is tqdm_ray._print, threads())
"""


def test_ray_leaves_print_alone_so_numba_still_compiles():
    """The cause of the map failing after the Ray measurement, in seconds: without
    keep_print_unpatched() this compile raises TypingError (untyped global name 'print')."""
    import subprocess
    import sys

    from conftest import ROOT

    proc = subprocess.run([sys.executable, "-c", PRINT_AFTER_RAY], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    unpatched, threads = proc.stdout.split()[-2:]
    assert unpatched == "True" and int(threads) >= 1



def test_the_quick_models_labels_are_refitted_as_the_run_fitted_them(tiny_run, small_csv):
    """bench quick compares fp32 and bf16 quick models by refitting the frozen head on each run's
    saved base embeddings and split: on a real run the refit gives the run's own test figure."""
    from segcore.bench.quick import frozen_labels
    from segcore.config import RunConfig
    from segcore.ingest.prepare import prepare_reviews
    from segcore.pipeline import load_input
    from segcore.training.metrics import classification_metrics
    from segcore.training.split import split_622

    metrics = json.loads((tiny_run.parent / "metrics.json").read_text())
    pred = frozen_labels(tiny_run.parent, small_csv, seed=42)
    frame, columns = load_input(small_csv, RunConfig())
    reviews = prepare_reviews(frame, columns, row_ids=frame.index.to_numpy()).reviews
    assert len(pred) == metrics["n_reviews"] == len(reviews)
    _, _, test_idx = split_622(reviews["label"], reviews["customer_id"], seed=42)
    names = np.asarray(metrics["labels"])
    f1 = classification_metrics(reviews["label"].iloc[test_idx].tolist(), names[pred[test_idx]].tolist(),
                                labels=metrics["labels"])["macro_f1"]
    assert f1 == pytest.approx(metrics["selection"]["candidates"]["frozen"]["test_macro_f1"], abs=0.02)
