"""The three scoring engines (local in one piece, streamed in chunks, Ray) share one scoring core
and give the same outputs on the same real files: an English file whose first chunk is dropped
whole (blank reviews, personal data in another column) and whose third chunk repeats the second
(duplicates with e-mails / phone numbers), followed by real Chinese reviews in a GBK-encoded copy.
The comparison of all three is tests/test_ray.py::test_three_engines_same_outputs (with this
module's files and checks), on the Ray instance that module starts once for its Ray jobs."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from segcore.config import RunConfig
from segcore.engines.core import load_run
from segcore.io.scored import added_columns, input_columns
from segcore.errors import SegscopeError
from segcore.io.artifacts import PROJECTION_FILE
from segcore.io.export import read_export_csv
from segcore.pipeline import score_file

CHUNK = 40
EMAIL, PHONE = "jane.doe@example.com", "+1 415 555 0132"
METRIC_KEYS = {"task", "engine", "model", "labels", "n_rows_read", "n_reviews", "n_dropped", "dropped_by_reason",
               "notes", "agreement_with_file_labels", "seconds", "stage_seconds"}


@pytest.fixture(scope="module")
def english_csv(tmp_path_factory, small_csv, sample_frame):
    frame = pd.read_csv(small_csv)
    blank = frame.iloc[:CHUNK].assign(Text="  ", Summary=f"write to {EMAIL} or call {PHONE}")
    second = sample_frame[~sample_frame["Id"].isin(frame["Id"])].head(CHUNK).copy()
    second.loc[second.index[:5], "Text"] = second["Text"].iloc[:5] + f" Contact me at {EMAIL} or {PHONE}."
    path = tmp_path_factory.mktemp("engines") / "reviews.csv"
    pd.concat([blank, second, second, frame], ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def gbk_csv(tmp_path_factory, english_csv):
    """english_csv's reviews, then real Chinese reviews (ASAP), written as GBK as Excel on a
    Chinese Windows saves them; a few Chinese customers wrote twice and one review is repeated.
    (One file for both: every Ray job starts scoring actors of its own, each importing torch.)"""
    zh = pd.read_csv(DATA / "asap_zh_100.csv")
    zh = zh[zh["reviewbody"].map(lambda t: _encodes(t, "gbk"))].head(90)
    # The saved run's column names (its segments need dates: recency, frequency); Chinese text.
    chinese = pd.DataFrame({"Id": 900_000 + np.arange(len(zh)), "UserId": [f"zh{i % 70}" for i in range(len(zh))],
                            "Text": zh["reviewbody"].to_numpy(), "Score": zh["star"].to_numpy(),
                            "Time": 1_300_000_000 + 86_400 * np.arange(len(zh))})
    chinese = pd.concat([chinese, chinese.iloc[[5]]], ignore_index=True)
    english = pd.read_csv(english_csv)
    assert english.astype(str).map(lambda v: _encodes(v, "gbk")).all().all()  # GBK holds every English row
    path = tmp_path_factory.mktemp("engines-gbk") / "gbk.csv"
    pd.concat([english, chinese], ignore_index=True).to_csv(path, index=False, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    return path


def _encodes(text: str, encoding: str) -> bool:
    try:
        str(text).encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _local_outputs(folder):
    return (read_export_csv(folder / "reviews_scored.csv"), read_export_csv(folder / "segments.csv"),
            read_export_csv(folder / "dropped_rows.csv"), json.loads((folder / "metrics.json").read_text()))


def _same(a, b) -> None:
    rev_a, seg_a, drop_a, met_a = a
    rev_b, seg_b, drop_b, met_b = b
    assert list(rev_a.columns) == list(rev_b.columns) and len(rev_a) == len(rev_b)
    for col in ("row_id", "customer_id", "pred_label", "segment_id", "segment_name"):
        assert (rev_a[col].astype(str).to_numpy() == rev_b[col].astype(str).to_numpy()).all(), col
    p_cols = [c for c in rev_a if c.startswith("p_")]
    np.testing.assert_allclose(rev_a[p_cols].to_numpy(float), rev_b[p_cols].to_numpy(float), atol=1e-5 + 1e-9)
    # Map: the tiny random encoder's embeddings are nearly collinear, so float noise of another
    # batch composition can reorder a few near-tied map neighbours; the rest agree to 1e-3.
    close = (np.abs(rev_a[["x", "y"]].to_numpy(float) - rev_b[["x", "y"]].to_numpy(float)) <= 1e-3).all(axis=1)
    assert close.mean() >= 0.97, close.mean()
    pd.testing.assert_frame_equal(seg_a, seg_b, check_exact=False, atol=1e-6)
    assert drop_a[["row_id", "reason"]].values.tolist() == drop_b[["row_id", "reason"]].values.tolist()
    text = [c for c in drop_a.columns if c not in ("row_id", "reason")]
    pd.testing.assert_frame_equal(drop_a[text].astype(str), drop_b[text].astype(str))
    assert METRIC_KEYS <= set(met_a) and METRIC_KEYS <= set(met_b)
    for key in ("labels", "n_rows_read", "n_reviews", "n_dropped", "dropped_by_reason"):
        assert met_a[key] == met_b[key], key
    assert met_a["agreement_with_file_labels"] == pytest.approx(met_b["agreement_with_file_labels"], abs=1e-9)


def test_scored_layout_is_one_definition(tmp_path, tiny_run, english_csv):
    """The added columns of reviews_scored come from engines.outputs, and its inverse gives the
    input's own columns back (the run editor reads runs with it)."""
    score_file(english_csv, tiny_run, tmp_path / "o", RunConfig(max_rows=200))
    scored = read_export_csv(tmp_path / "o" / "reviews_scored.csv")
    labels = json.loads((tmp_path / "o" / "metrics.json").read_text())["labels"]
    added = added_columns(labels, aspects=False)
    assert list(scored.columns[-len(added):]) == added
    original = pd.read_csv(english_csv)
    assert list(input_columns(scored, labels, aspects=False).columns) == ["row_id", *original.columns]


def _copy_run(tiny_run, tmp_path):
    import shutil

    return shutil.copytree(tiny_run, tmp_path / "model")


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "segscope.json").write_text("{not json"), "is not valid JSON"),
    (lambda d: (d / PROJECTION_FILE).unlink(), f"no {PROJECTION_FILE}"),
    (lambda d: _edit_json(d / "segscope.json", lambda m: m.pop("labels")), "has no 'labels'"),
    (lambda d: _edit_json(d / "segscope.json", lambda m: m["segment_names"].update({"7": "extra"})),
     "from different runs"),
    (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:5000]),
     "damaged or truncated"),
    (lambda d: (d / "model.safetensors").unlink(), "no model weights"),
])
def test_damaged_run_fails_before_scoring(tmp_path, tiny_run, english_csv, damage, message):
    model = _copy_run(tiny_run, tmp_path)
    damage(model)
    with pytest.raises(SegscopeError, match=message) as info:
        load_run(model)
    assert "\n" not in str(info.value)
    with pytest.raises(SegscopeError, match=message):
        score_file(english_csv, model, tmp_path / "out")
    assert not (tmp_path / "out" / "reviews_scored.csv").exists()


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
