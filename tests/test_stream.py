"""Streamed scoring (--chunk-rows) writes the same outputs as scoring the file in one piece."""
import json

import numpy as np
import pandas as pd
import pytest

from segcore.config import RunConfig
from segcore.io.export import read_export_csv
from segcore.pipeline import score_file


@pytest.fixture(scope="module")
def score_input(tmp_path_factory, small_csv, sample_frame):
    """The small file, 30 reviews the run did not see, cross-chunk duplicates and an empty
    review, as CSV and Parquet."""
    frame = pd.read_csv(small_csv)
    unseen = sample_frame[~sample_frame["Id"].isin(frame["Id"])].head(30)
    extra = frame.iloc[[3, 150]].copy()  # same customer and text again, in a later chunk
    blank = frame.iloc[[10]].assign(Text="   ")
    frame = pd.concat([frame, unseen, extra, blank], ignore_index=True)
    folder = tmp_path_factory.mktemp("stream-input")
    frame.to_csv(folder / "reviews.csv", index=False)
    frame.to_parquet(folder / "reviews.parquet", index=False)
    return folder


def _outputs(folder):
    return (read_export_csv(folder / "reviews_scored.csv"), read_export_csv(folder / "segments.csv"),
            read_export_csv(folder / "dropped_rows.csv"), json.loads((folder / "metrics.json").read_text()))


@pytest.mark.parametrize("name,chunk_rows", [("reviews.csv", 97), ("reviews.parquet", 150)])
def test_chunked_score_matches_one_piece(tmp_path, tiny_run, score_input, name, chunk_rows):
    score_file(score_input / name, tiny_run, tmp_path / "whole")
    streamed = score_file(score_input / name, tiny_run, tmp_path / "chunks", chunk_rows=chunk_rows)
    assert streamed.metrics["n_chunks"] == -(-433 // chunk_rows)
    rev_a, seg_a, drop_a, met_a = _outputs(tmp_path / "whole")
    rev_b, seg_b, drop_b, met_b = _outputs(tmp_path / "chunks")

    assert list(rev_a.columns) == list(rev_b.columns) and len(rev_a) == len(rev_b)
    assert (rev_a["row_id"] == rev_b["row_id"]).all() and (rev_a["customer_id"] == rev_b["customer_id"]).all()
    assert (rev_a["pred_label"] == rev_b["pred_label"]).all()
    p_cols = [c for c in rev_a if c.startswith("p_")]
    np.testing.assert_allclose(rev_a[p_cols], rev_b[p_cols], atol=1e-4)
    assert (rev_a["segment_id"] == rev_b["segment_id"]).all()
    assert (rev_a["segment_name"] == rev_b["segment_name"]).all()
    # Map: the same placement per review. The tiny random encoder's embeddings are nearly
    # collinear, so the ~1e-7 float noise of another batch composition can reorder a few
    # reviews' near-tied map neighbours; all others agree to 1e-3.
    close = (np.abs(rev_a[["x", "y"]].to_numpy() - rev_b[["x", "y"]].to_numpy()) <= 1e-3).all(axis=1)
    assert close.mean() >= 0.97, close.mean()
    pd.testing.assert_frame_equal(rev_a.drop(columns=p_cols + ["x", "y"]), rev_b.drop(columns=p_cols + ["x", "y"]))

    # Customer features that depend on all customers (recency, churn ranks) match too.
    assert list(seg_a.columns) == list(seg_b.columns)
    pd.testing.assert_frame_equal(seg_a, seg_b, check_exact=False, atol=1e-6)
    assert {"recency_days", "churn_risk", "frequency"} <= set(seg_a)
    # Dropped rows, duplicates found across chunks included, with the same reasons.
    pd.testing.assert_frame_equal(drop_a, drop_b)
    assert set(drop_b["reason"]) == {"duplicate review", "empty review text"}
    for key in ("n_rows_read", "n_reviews", "n_dropped", "labels"):
        assert met_a[key] == met_b[key], key
    assert sorted(met_a["notes"]) == sorted(met_b["notes"])
    assert met_a["agreement_with_file_labels"] == pytest.approx(met_b["agreement_with_file_labels"])
    prof_a = json.loads((tmp_path / "whole" / "segment_profiles.json").read_text())
    prof_b = json.loads((tmp_path / "chunks" / "segment_profiles.json").read_text())
    assert prof_a == prof_b
    assert (tmp_path / "chunks" / "campaigns.xlsx").exists()
    assert not list((tmp_path / "chunks").glob(".segscope-stream-*"))  # temporary files are gone


def test_chunk_rows_with_max_rows_is_refused(tmp_path, tiny_run, score_input):
    from segcore.errors import SegscopeError

    with pytest.raises(SegscopeError, match="--max-rows"):
        score_file(score_input / "reviews.csv", tiny_run, tmp_path / "o", RunConfig(max_rows=10), chunk_rows=50)


def test_map_fits_on_a_sample_above_the_threshold():
    from segcore.analysis.projection import fit_projection, project

    emb = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    proj, coords = fit_projection(emb, max_fit_rows=120)
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    assert len(proj.embedding_) == 120  # fitted on the sample only
    full_proj, full = fit_projection(emb[:100], max_fit_rows=120)  # below it: fitted on everything
    assert len(full_proj.embedding_) == 100
    # Block-wise transform: the same blocks give the same coordinates.
    np.testing.assert_allclose(project(proj, emb[:80], block_rows=40),
                               np.vstack([project(proj, emb[:40]), project(proj, emb[40:80])]), atol=1e-6)


@pytest.mark.parametrize("name", ["gbk_chinese.csv", "utf16.csv", "utf8_bom.csv", "semicolon.csv", "tab.tsv"])
def test_chunks_decode_as_the_whole_file_is_decoded(name):
    """--chunk-rows reads GBK, UTF-16 and BOM files as `read_table` reads them whole."""
    from conftest import ROOT

    from segcore.engines.stream import iter_chunks
    from segcore.ingest.load import read_table

    path = ROOT / "tests" / "fixtures" / "inputs" / name
    chunks = list(iter_chunks(path, 7))
    assert len(chunks) > 3
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_table(path))
