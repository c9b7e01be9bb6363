"""Partial labels: a label column with blanks trains on the labelled rows and predicts the rest."""
import json

import numpy as np
import pandas as pd
from conftest import run_main

from segcore.ingest.labels import labels_from_rating


def test_blank_labels_get_predictions_and_few_examples_warn(tmp_path, sample_frame, tiny_model):
    """Real reviews with a sentiment label column; a quarter of the labels blanked out, and only
    9 labelled 'neutral' reviews left (trains, with a warning)."""
    frame = pd.concat([sample_frame[sample_frame.Score <= 2].head(80), sample_frame[sample_frame.Score == 3].head(30),
                       sample_frame[sample_frame.Score >= 4].head(150)]).sort_values("Id").reset_index(drop=True)
    frame = frame.drop_duplicates(["UserId", "Text"]).reset_index(drop=True)
    frame["sentiment"] = labels_from_rating(frame["Score"].astype(float)).astype(object)
    frame = frame.drop(columns=["Score"])  # the label column is the only source of labels
    blank = frame.index[::4]
    neutral = frame.index[frame["sentiment"] == "neutral"]
    blank = blank.union(neutral.difference(neutral.difference(blank)[:9]))  # 9 labelled neutral reviews remain
    frame.loc[blank, "sentiment"] = None
    path = tmp_path / "partial.csv"
    frame.to_csv(path, index=False)

    out = tmp_path / "out"
    proc = run_main("run", path, "--out", out, "--model", tiny_model, "--label-col", "sentiment", "--epochs", "1",
                    "--k", "3", "--max-length", "48")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'neutral' has only 9 labelled reviews" in proc.stderr  # in the log ...
    metrics = json.loads((out / "metrics.json").read_text())
    notes = " ".join(metrics["notes"])
    assert "'neutral' has only 9 labelled reviews" in notes  # ... and in the report
    assert f"partial labels: {len(blank)} of {len(frame)} reviews have no label" in notes
    assert metrics["label_source"] == "label column" and metrics["labels"] == ["negative", "neutral", "positive"]
    assert metrics["n_reviews"] == len(frame) and metrics["n_unlabelled"] == len(blank)
    # Only labelled rows are split into train / validation / test.
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == len(frame) - len(blank)
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["n_test"]

    scored = pd.read_csv(out / "reviews_scored.csv")
    unlabelled = scored[scored["sentiment"].isna()]
    assert len(unlabelled) == len(blank) and set(unlabelled["Id"]) == set(frame.loc[blank, "Id"])
    assert unlabelled["pred_label"].isin(metrics["labels"]).all()  # every blank gets a predicted label
    np.testing.assert_allclose(unlabelled[["p_negative", "p_neutral", "p_positive"]].sum(axis=1), 1, atol=1e-3)
    assert unlabelled["segment_id"].notna().all()
