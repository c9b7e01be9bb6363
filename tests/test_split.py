import numpy as np
import pandas as pd
import pytest

from segcore.errors import SegscopeError
from segcore.ingest.labels import labels_from_rating
from segcore.ingest.labels import check_trainable
from segcore.training.split import split_622


def test_split_is_622_grouped_stratified_and_seeded(sample_frame):
    labels = labels_from_rating(sample_frame["Score"].astype(float))
    groups = sample_frame["UserId"]
    tr, va, te = split_622(labels, groups, seed=7)
    n = len(labels)
    assert len(set(tr) | set(va) | set(te)) == n and not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
    assert abs(len(tr) / n - 0.6) < 0.03 and abs(len(va) / n - 0.2) < 0.03 and abs(len(te) / n - 0.2) < 0.03
    sides = [set(groups.iloc[idx]) for idx in (tr, va, te)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    overall = labels.value_counts(normalize=True)
    for idx in (tr, va, te):
        part = labels.iloc[idx].value_counts(normalize=True)
        assert (part.reindex(overall.index) - overall).abs().max() < 0.05
    again = split_622(labels, groups, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))


def test_unlabelled_rows_stay_out():
    labels = pd.Series(["a", "b"] * 50 + [pd.NA] * 10, dtype=object)
    tr, va, te = split_622(labels, pd.Series(range(110)), seed=1)
    assert max(np.concatenate([tr, va, te])) < 100


@pytest.mark.parametrize("labels,message", [
    (["x"] * 30, "Only one class"),
    (["x"] * 30 + ["y"] * 4, "'y' has 4"),
    ([pd.NA] * 5, "No labelled reviews"),
])
def test_check_trainable(labels, message):
    with pytest.raises(SegscopeError, match=message):
        check_trainable(pd.Series(labels, dtype=object))


@pytest.mark.parametrize("n,warned", [(8, True), (9, True), (10, False)])
def test_eight_per_class_train_with_a_warning_below_ten(n, warned):
    warnings = check_trainable(pd.Series(["x"] * 30 + ["y"] * n, dtype=object))
    assert bool(warnings) == warned
    if warned:
        assert len(warnings) == 1 and f"'y' has only {n} labelled reviews" in warnings[0]


def test_seven_per_class_is_refused_and_blanks_do_not_count():
    labels = pd.Series(["x"] * 30 + ["y"] * 7 + [pd.NA] * 50, dtype=object)
    with pytest.raises(SegscopeError, match=r"'y' has 7 \(at least 8 per class are needed, 10 or more recommended\)"):
        check_trainable(labels)
