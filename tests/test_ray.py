"""The Ray engine (`segcore score --engine ray`) on a real local Ray instance (2 CPUs): the same
labels, segments and map positions as the local engine, row by row, on a few thousand real
reviews; the three engines on tests/test_engines.py's edge-case files; folders / globs of CSV
and Parquet shards; bad rows end in errors/, the rest is scored.

Starting Ray and its workers costs tens of CPU seconds: the module's jobs run on one local
instance in this process (ray_local); the command line, run as a new process, starts and stops
its own, as it does for a user."""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from test_engines import CHUNK, EMAIL, _local_outputs, _same, english_csv, gbk_csv  # noqa: F401 (fixtures)

from segcore import bench
from segcore.cli import main
from segcore.config import RunConfig
from segcore.errors import SegscopeError
from segcore.io.export import read_export_csv
from segcore.pipeline import score_file

pytestmark = pytest.mark.ray

ray_engine = pytest.importorskip("segcore.engines.ray")  # ray[data] is in requirements.txt

N = 2000


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance (2 CPUs) in this process for the module's Ray jobs; ray_session joins
    a running instance instead of starting one."""
    with ray_engine.ray_session(None):
        yield ray_engine


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_run, ray_local):
    """`segcore bench`'s score_ray measurement on 2,000 real reviews (resampled from the shipped
    sample; ~640 customers, a few of whom wrote the same review twice): both engines score
    the same file, the Ray one on the module's local Ray instance (`segcore bench` starts and
    stops one of its own); its folder keeps ray_reviews.csv and both engines' outputs."""
    folder = tmp_path_factory.mktemp("ray-cmp")
    result = bench.bench_score_ray(bench.BenchConfig(device="cpu"), str(tiny_run), folder, rows=N)
    return result.as_dict(), folder


def _ray_reviews(folder):
    return pd.read_parquet(folder / "reviews_scored").sort_values("row_id").reset_index(drop=True)


def _ray_errors(folder):
    return pd.read_parquet(folder / "errors").sort_values("row_id").reset_index(drop=True)


def _same_scores(a: pd.DataFrame, b: pd.DataFrame, *, segments: bool = True) -> None:
    """Row by row: the same reviews with the same labels, probabilities, segments and map."""
    assert len(a) == len(b) and (a["row_id"].to_numpy() == b["row_id"].to_numpy()).all()
    assert (a["customer_id"].astype(str).to_numpy() == b["customer_id"].astype(str).to_numpy()).all()
    assert (a["pred_label"].to_numpy() == b["pred_label"].to_numpy()).all()
    p_cols = [c for c in a if c.startswith("p_")]
    np.testing.assert_allclose(a[p_cols].to_numpy(float), b[p_cols].to_numpy(float), atol=1e-4)
    if segments:
        assert (a["segment_id"].to_numpy() == b["segment_id"].to_numpy()).all()
        assert (a["segment_name"].to_numpy() == b["segment_name"].to_numpy()).all()
    # Map: as in test_stream, float noise of another batch composition can reorder a few
    # near-tied neighbours of the tiny random encoder; the rest agree to 1e-3.
    close = (np.abs(a[["x", "y"]].to_numpy(float) - b[["x", "y"]].to_numpy(float)) <= 1e-3).all(axis=1)
    assert close.mean() >= 0.97, close.mean()


def test_ray_engine_matches_local_row_by_row(compared):
    result, folder = compared
    local = read_export_csv(folder / "ray-local" / "reviews_scored.csv")
    ours = _ray_reviews(folder / "ray-out")

    assert list(ours.columns) == list(local.columns)  # original columns, row_id, labels, segments, map
    _same_scores(local, ours)
    pd.testing.assert_frame_equal(local[["Id", "UserId", "Score", "Time", "Summary", "Text"]],
                                  ours[["Id", "UserId", "Score", "Time", "Summary", "Text"]], check_dtype=False)
    # The customer table (RFM, shares, churn risk, segment) is the local one.
    seg_local = read_export_csv(folder / "ray-local" / "segments.csv")
    seg_ray = read_export_csv(folder / "ray-out" / "segments.csv")
    pd.testing.assert_frame_equal(seg_local, seg_ray, check_exact=False, atol=1e-6)
    assert seg_local["segment_id"].nunique() >= 2
    # The rows the local engine drops (duplicates: same customer, same text) are the error rows.
    dropped = read_export_csv(folder / "ray-local" / "dropped_rows.csv")
    errors = _ray_errors(folder / "ray-out")
    assert len(dropped) >= 1 and set(dropped["reason"]) == {"duplicate review"}
    assert errors[["row_id", "reason"]].values.tolist() == dropped[["row_id", "reason"]].values.tolist()

    metrics = json.loads((folder / "ray-out" / "metrics.json").read_text())
    local_metrics = json.loads((folder / "ray-local" / "metrics.json").read_text())
    assert metrics["engine"] == "ray" and metrics["workers"] == 2 and metrics["num_gpus_per_worker"] == 0
    for key in ("labels", "n_rows_read", "n_reviews", "n_dropped", "dropped_by_reason", "agreement_with_file_labels"):
        assert metrics[key] == local_metrics[key], key
    assert metrics["n_rows_read"] == N and metrics["n_dropped"] == len(dropped)
    assert metrics["n_reviews"] == len(local) == N - len(dropped)
    assert metrics["reviews_per_s"] > 0 and set(metrics["stage_seconds"]) >= {"score", "duplicates", "write"}
    for name in ("segment_profiles.json", "strategies.md", "campaigns.xlsx"):
        assert (folder / "ray-out" / name).exists(), name

    # The bench figure reports both engines on this file and that they agree.
    assert result["name"] == "score_ray" and result["units"] == "reviews/s"
    assert result["value"] > 0 and result["baseline"] > 0 and result["met"] is True
    details = result["details"]
    assert details["labels_equal"] and details["segments_equal"] and details["max_abs_prob_diff"] <= 1e-4
    assert details["reviews"] == len(local) and details["workers"] == 2
    json.dumps(result)


def _ray_outputs(folder):
    reviews = pd.read_parquet(folder / "reviews_scored").sort_values("row_id").reset_index(drop=True)
    errors = pd.read_parquet(folder / "errors").sort_values("row_id").reset_index(drop=True)
    return reviews, read_export_csv(folder / "segments.csv"), errors, json.loads((folder / "metrics.json").read_text())


def test_three_engines_same_outputs(tmp_path, tiny_run, gbk_csv, ray_local):
    """Local in one piece, streamed in chunks and Ray give the same outputs on tests/test_engines.py's
    GBK file: English reviews whose first chunk is dropped whole (blank, personal data in another
    column) and whose third chunk repeats the second (e-mails, phone numbers), then real Chinese
    reviews, one of them repeated."""
    score_file(gbk_csv, tiny_run, tmp_path / "local")
    streamed = score_file(gbk_csv, tiny_run, tmp_path / "stream", chunk_rows=CHUNK)
    assert streamed.metrics["n_chunks"] > 2
    ray_metrics = ray_local.score_ray(gbk_csv, tiny_run, tmp_path / "ray", RunConfig(), batch_size=CHUNK)
    local = _local_outputs(tmp_path / "local")
    _same(local, _local_outputs(tmp_path / "stream"))
    _same(local, _ray_outputs(tmp_path / "ray"))
    assert ray_metrics["engine"] == "ray" and ray_metrics["n_reviews"] == local[3]["n_reviews"]
    reviews, _, dropped, metrics = local
    assert metrics["n_reviews"] == len(reviews) and metrics["n_dropped"] == len(dropped) >= 1
    # GBK decoded, not replaced: the Chinese text is there; the Chinese rows dropped are the repeats
    chinese = reviews["UserId"].astype(str).str.startswith("zh")
    assert chinese.any() and reviews.loc[chinese, "Text"].str.contains("[\u4e00-\u9fff]").all()
    assert set(dropped.loc[dropped["UserId"].astype(str).str.startswith("zh"), "reason"]) == {"duplicate review"}
    # The first chunk was dropped whole and the third repeats the second: every engine masks
    # the personal data in those dropped rows.
    for folder in ("local", "stream"):
        text = (tmp_path / folder / "dropped_rows.csv").read_text(encoding="utf-8-sig")
        assert EMAIL not in text and "555 0132" not in text
    errors = pd.read_parquet(tmp_path / "ray" / "errors")
    assert not errors.astype(str).apply(lambda c: c.str.contains(EMAIL, regex=False)).any().any()
    dropped = _local_outputs(tmp_path / "stream")[2]
    assert (dropped["reason"] == "empty review text").sum() == CHUNK
    assert (dropped["reason"] == "duplicate review").sum() >= CHUNK


def test_cli_on_a_folder_of_csv_and_parquet_shards_with_bad_rows(tmp_path, compared, tiny_run):
    """The command line, which starts and stops its own local Ray, on three shards (CSV,
    Parquet, CSV) of the same reviews, the last with bad rows at its end: row ids continue
    across shards, the bad rows land in errors/ with their reasons, and every other row is
    scored as the local engine scores the single file."""
    folder = compared[1]
    reviews = pd.read_csv(folder / "ray_reviews.csv")
    shards = tmp_path / "shards"
    shards.mkdir()
    third = len(reviews) // 3
    reviews.iloc[:third].to_csv(shards / "part-0.csv", index=False)
    reviews.iloc[third:2 * third].to_parquet(shards / "part-1.parquet", index=False)
    last = reviews.iloc[2 * third:].to_csv(index=False).encode()
    row = reviews.iloc[0]
    bad = [
        f'{N + 10},{row.ProductId},U-bad-bytes,0,0,5,1300000000,"fine",'.encode() + b'"caf\xe9 au lait \xff"\n',
        f'{N + 11},{row.ProductId},U-empty,0,0,5,1300000000,"empty","   "\n'.encode(),
        f'{N + 12},{row.ProductId},U-extra,0,0,5,1300000000,"too","many",fields\n'.encode(),
        f'{N + 13},{row.ProductId},U-star,0,0,five,1300000000,"bad score","Lovely tea"\n'.encode(),
        f'{N + 14},{row.ProductId},U-ok,0,0,4,1300000000,"ok","A fine tea, would buy again"\n'.encode(),
    ]
    (shards / "part-2.csv").write_bytes(last + b"".join(bad))
    (shards / "_SUCCESS").write_text("")  # marker files are skipped

    # Ray's own folder, short (socket paths) and ours: another test's cluster may run beside this one
    ray_tmp = tempfile.mkdtemp(prefix="rt-", dir="/tmp")
    proc = run_cli("score", shards, "--model", tiny_run, "--out", tmp_path / "out", "--engine", "ray",
                   "--batch-size", "250", timeout=900, env={"RAY_TMPDIR": ray_tmp})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(Path(ray_tmp).glob("ray/session_*")), "the CLI's Ray used its own folder"
    assert _raylets(ray_tmp) == 0  # the Ray instance it started is gone
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert f"scored {len(reviews) + 1 - len(read_export_csv(folder / 'ray-local' / 'dropped_rows.csv'))} reviews" in proc.stdout
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["files"] == 3 and metrics["workers"] == 2 and metrics["address"] == "local"
    local = read_export_csv(folder / "ray-local" / "reviews_scored.csv")
    ours = _ray_reviews(tmp_path / "out")
    assert ours["row_id"].is_unique and ours["row_id"].max() == len(reviews) + len(bad) - 1
    extra = ours[ours["Id"] == N + 14]
    assert len(extra) == 1 and extra["pred_label"].notna().all()  # a good row after bad ones is scored
    ours = ours[ours["Id"] != N + 14].reset_index(drop=True)
    # One extra customer (U-ok) moves no one else: segments are compared too.
    _same_scores(local, ours)

    errors = _ray_errors(tmp_path / "out")
    by_row = dict(zip(errors["row_id"], errors["reason"]))
    first_bad = len(reviews)
    assert "column 'Text' is not valid UTF-8 (byte 0xe9" in by_row[first_bad]
    assert by_row[first_bad + 1] == "empty review text"
    assert by_row[first_bad + 2].startswith("malformed CSV row: 10 fields instead of 9")
    assert by_row[first_bad + 3] == "column 'Score': 'five' is not a whole number"
    dropped = read_export_csv(folder / "ray-local" / "dropped_rows.csv")
    assert len(errors) == len(dropped) + 4  # the local engine's dropped rows and these four
    undecodable = errors[errors["row_id"] == first_bad].iloc[0]
    assert undecodable["Id"] == N + 10 and "\\xe9" in undecodable["Text"]  # shown, not lost
    expected = {"duplicate review": len(dropped), "empty review text": 1, "not valid UTF-8": 1,
                "malformed CSV row": 1, "is not a whole number": 1}
    assert metrics["dropped_by_reason"] == expected


def test_inputs_a_file_a_folder_or_a_glob(tmp_path):
    for name in ("b.csv", "a.parquet", "c.tsv", "_SUCCESS", ".hidden.csv", "notes.md", "sub/d.csv"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    files = ray_engine.input_files(tmp_path)
    assert [f.split("/")[-1] for f in files] == ["a.parquet", "b.csv", "c.tsv", "d.csv"]  # sorted, markers skipped
    assert ray_engine.input_files(f"{tmp_path}/*.csv") == [str(tmp_path / "b.csv")]
    assert ray_engine.input_files(tmp_path / "a.parquet") == [str(tmp_path / "a.parquet")]
    with pytest.raises(SegscopeError, match="No CSV or Parquet files match"):
        ray_engine.input_files(f"{tmp_path}/*.xlsx")


def _raylets(ray_tmp: str) -> int:
    found = subprocess.run(["pgrep", "-c", "-f", f"raylet/raylet --raylet_socket_name={ray_tmp}/"],
                           capture_output=True, text=True)
    return int(found.stdout.strip() or 0)


@pytest.mark.parametrize("args,message", [
    (["{tmp}/nothing-*.csv"], "No CSV or Parquet files match"),
    (["{csv}", "--address", "127.0.0.1:1"], "Cannot reach the Ray cluster at 127.0.0.1:1"),
    (["{csv}", "--address", "bad address"], "give 'auto', 'host:port' or 'ray://host:port'"),
    (["{csv}", "--chunk-rows", "100"], "--chunk-rows is for --engine local"),
    (["{tmp}/model.json"], "--engine ray reads CSV and Parquet"),
])
def test_cli_ray_errors_are_one_line(tmp_path, capsys, small_csv, tiny_run, args, message):
    (tmp_path / "model.json").write_text("[]")
    args = [a.format(tmp=tmp_path, csv=small_csv) for a in args]
    assert main(["score", *args, "--model", str(tiny_run), "--out", str(tmp_path / "o"), "--engine", "ray"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("segscope: error: ") and message in last, last


def test_cli_ray_options_need_the_ray_engine(tmp_path, capsys, small_csv, tiny_run):
    assert main(["score", str(small_csv), "--model", str(tiny_run), "--out", str(tmp_path / "o"),
                 "--address", "auto"]) == 2
    assert capsys.readouterr().err.strip().endswith("segscope: error: --address is for --engine ray.")
