"""Segments over time (segcore.compare) on real Amazon Fine Food reviews split by date, with a
saved run of the tiny encoder (tiny_run): constructed shift -> top alert, stable segment ids,
`watch` scores only new files, periods, emerging phrases, the Compare page."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import SAMPLE, run_main

from segcore.aspects.lexicon import lexicon_spans
from segcore.compare import CompareConfig, compare_folders, load_scoring
from segcore.compare.drift import drift_signal, training_distances
from segcore.compare.periods import choose_freq
from segcore.compare.phrases import emerging_phrases
from segcore.errors import SegscopeError
from segcore.io.artifacts import load_meta
from segcore.pipeline import score_file

THEME = "packaging"
PERIODS = ["2011H1", "2011H2", "2012H1", "2012H2"]


def _sample() -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(SAMPLE)
    dates = pd.to_datetime(frame["Time"], unit="s")
    half = dates.dt.year.astype(str) + "H" + ((dates.dt.month > 6) + 1).astype(str)
    return frame, half


def _shifted(frame: pd.DataFrame, half: pd.Series) -> tuple[pd.DataFrame, int]:
    """2012H2 where positive reviews about packaging are swapped for real negative packaging reviews
    from before 2011 (text, summary and stars; date and customer stay)."""
    on_theme = frame["Text"].map(lambda t: THEME in {a for *_, a in lexicon_spans(t)})
    donors = frame[on_theme & (frame["Score"] <= 2) & (half < "2011")]
    last = frame[half == "2012H2"].copy()
    targets = last.index[on_theme[last.index] & (last["Score"] >= 4)][: len(donors)]
    for col in ("Text", "Summary", "Score"):
        last.loc[targets, col] = donors[col].to_numpy()[: len(targets)]
    return last, len(targets)


@pytest.fixture(scope="module")
def scorings(tmp_path_factory, tiny_run):
    """Each half-year of 2011-2012 scored with one saved run, and the shifted copy of 2012H2."""
    work = tmp_path_factory.mktemp("periods")
    frame, half = _sample()
    files = {p: frame[half == p] for p in PERIODS}
    files["2012H2_shift"], n_swapped = _shifted(frame, half)
    out = {}
    for name, part in files.items():
        part.to_csv(work / f"{name}.csv", index=False)
        score_file(work / f"{name}.csv", tiny_run, work / name)
        out[name] = work / name
    out["n_swapped"] = n_swapped
    return out


def test_constructed_shift_is_the_top_alert_and_unchanged_periods_raise_none_that_large(scorings, tiny_run):
    assert scorings["n_swapped"] >= 30  # real negative packaging reviews swapped into one half-year
    shifted = compare_folders(scorings["2012H1"], scorings["2012H2_shift"], model_dir=tiny_run)
    top = shifted["alerts"][0]
    assert top["kind"] == "complaints" and top["aspect"] == THEME and top["change"] > 0.1, top
    assert f"Complaints about {THEME}" in top["text"] and "rose" in top["text"]
    unchanged = [compare_folders(scorings[a], scorings[b], model_dir=tiny_run)
                 for a, b in zip(PERIODS, PERIODS[1:])]
    sizes = [x["size"] for r in unchanged for x in r["alerts"]]
    # No alert on consecutive real periods comes near the constructed shift (measured: at most
    # 0.11 against 0.24).
    assert max(sizes, default=0.0) < 0.6 * top["size"], (sizes, top["size"])
    assert not any(x.get("aspect") == THEME and x["change"] > 0 for r in unchanged for x in r["alerts"])
    # The figures behind the alert are the segment's own counts.
    seg = next(s for s in shifted["segments"] if s["segment_id"] == top["segment_id"])
    assert seg["after"]["n_complaints"][THEME] == top["count_after"]
    assert seg["after"]["complaints"][THEME] == pytest.approx(top["after"], abs=1e-4)


def test_segment_ids_and_names_stay_across_scorings(scorings, tiny_run, tmp_path):
    names = load_meta(tiny_run)["segment_names"]
    again = score_file(scorings["2012H1"].parent / "2012H1.csv", tiny_run, tmp_path / "again")
    first = pd.read_csv(scorings["2012H1"] / "reviews_scored.csv")
    second = pd.read_csv(tmp_path / "again" / "reviews_scored.csv")
    assert (first["segment_id"] == second["segment_id"]).all()
    assert {int(k): v for k, v in names.items()} == {s: p["name"] for s, p in again.analysis.profiles.items()}
    for name in PERIODS:  # every scoring names each id as the run does
        scored = pd.read_csv(scorings[name] / "reviews_scored.csv")
        pairs = scored[["segment_id", "segment_name"]].drop_duplicates()
        assert all(names[str(s)] == n for s, n in pairs.itertuples(index=False))


def test_score_writes_compare_json_against_the_run_and_periods_in_profiles(scorings, tiny_run):
    folder = scorings["2012H1"]
    result = json.loads((folder / "compare.json").read_text())
    assert result["before"]["name"].startswith("the training data")
    assert result["before"]["n_reviews"] == len(pd.read_csv(tiny_run.parent / "reviews_scored.csv"))
    assert result["after"]["n_reviews"] == len(pd.read_csv(folder / "reviews_scored.csv"))
    drift = result["drift"]
    assert 0.0 <= drift["share_beyond"] <= 1.0 and drift["n_new"] == len(pd.read_csv(folder / "segments.csv"))
    assert len(drift["histogram"]["new"]) == len(drift["histogram"]["edges"]) - 1
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["compare"]["written"] and metrics["compare"]["n_alerts"] == len(result["alerts"])
    # Periods: six months of reviews -> months; per month the segments' shares add up to 1.
    profiles = json.loads((folder / "segment_profiles.json").read_text())
    rows = {s: p["periods"]["rows"] for s, p in profiles.items()}
    assert {p["periods"]["freq"] for p in profiles.values()} == {"month"}
    months = [r["period"] for r in next(iter(rows.values()))]
    assert months == [f"2012-0{m}" for m in range(1, 7)]
    for i in range(len(months)):
        assert sum(r[i]["share"] for r in rows.values()) == pytest.approx(1.0, abs=1e-3)
        if i:
            r = next(iter(rows.values()))
            assert r[i]["change_share"] == pytest.approx(r[i]["share"] - r[i - 1]["share"], abs=1e-3)
    # Training runs carry periods too (years: the small file spans 2005-2012).
    run_profiles = json.loads((tiny_run.parent / "segment_profiles.json").read_text())
    assert all(p["periods"]["freq"] == "year" for p in run_profiles.values())


def test_movers_and_newly_at_risk_follow_recurring_customers(scorings, tiny_run, tmp_path):
    before = load_scoring(scorings["2012H1"], meta=load_meta(tiny_run))
    after = load_scoring(scorings["2012H2_shift"], meta=load_meta(tiny_run))
    # The same customers again, with every review of theirs swapped for a 1-star complaint.
    frame = pd.read_csv(scorings["2012H1"].parent / "2012H1.csv")
    angry = frame.copy()
    angry["Score"] = 1
    angry["Text"] = "Terrible. The package arrived crushed, the box was broken and the product was stale. " + angry["Text"]
    angry.to_csv(tmp_path / "angry.csv", index=False)
    score_file(tmp_path / "angry.csv", tiny_run, tmp_path / "angry")
    result = compare_folders(scorings["2012H1"], tmp_path / "angry", model_dir=tiny_run, out_dir=tmp_path / "angry")
    assert result["movers"]["n_recurring"] == before.customers["customer_id"].nunique()
    movers = pd.read_csv(tmp_path / "angry" / "movers.csv", dtype={"customer_id": str})
    assert len(movers) == result["movers"]["n_moved"] > 0
    assert (movers["segment_id_before"] != movers["segment_id_now"]).all()
    was = before.customers.set_index("customer_id")["segment_id"]
    assert (movers.set_index("customer_id")["segment_id_before"] == was.reindex(movers["customer_id"])).all()
    assert result["newly_at_risk"]["n"] > 0
    assert all(c["churn_risk_now"] >= 0.6 > c["churn_risk_before"] for c in result["newly_at_risk"]["customers"])
    assert after.reviews["segment_id"].isin(before.reviews["segment_id"].unique()).all()


def test_thresholds_are_checked_and_change_the_alerts(scorings, tiny_run):
    with pytest.raises(SegscopeError, match="compare.min_change must be at most 1"):
        CompareConfig(min_change=2.0)
    strict = compare_folders(scorings["2012H1"], scorings["2012H2_shift"], model_dir=tiny_run,
                             config=CompareConfig(min_change=0.5))
    loose = compare_folders(scorings["2012H1"], scorings["2012H2_shift"], model_dir=tiny_run,
                            config=CompareConfig(max_p=1.0, min_change=0.01, min_reviews=5))
    assert strict["alerts"] == [] and len(loose["alerts"]) > 3


def test_emerging_phrases_find_a_new_theme_the_keywords_miss():
    frame, half = _sample()
    theme = frame["Text"].str.lower().str.contains("dog food", regex=False)
    old = frame.loc[(half == "2011H2") & ~theme, "Text"]
    new = pd.concat([frame.loc[(half == "2012H1") & ~theme, "Text"], frame.loc[theme, "Text"]])
    found = emerging_phrases(old, new, top_n=5)
    assert any("dog" in p["phrase"] for p in found), found
    assert all(p["share_new"] > p["share_old"] for p in found)
    covered = emerging_phrases(old, new, top_n=5, covered=["dog", "dogs"])
    assert not any("dog" in p["phrase"].split() for p in covered)
    same = emerging_phrases(old, old, top_n=5)  # nothing emerges from the same reviews
    assert same == []


def test_drift_signal_on_training_customers_and_on_other_reviews(tiny_run):
    reference = training_distances(tiny_run.parent)
    assert len(reference) == pd.read_csv(tiny_run.parent / "segments.csv").shape[0]
    itself = drift_signal(reference, reference)
    assert itself["share_beyond"] == pytest.approx(0.05, abs=0.02) and not itself["retrain"]
    farther = drift_signal(reference, reference * 1.5)
    assert farther["share_beyond"] > 0.2 and farther["retrain"] and "Retrain" in farther["message"]


def test_choose_freq_by_span():
    days = lambda n: pd.Series(pd.date_range("2024-01-01", periods=n, freq="D"))  # noqa: E731
    assert choose_freq(days(60)) == ("W", "week")
    assert choose_freq(days(400)) == ("M", "month")
    assert choose_freq(days(5 * 365)) == ("Q", "quarter")
    assert choose_freq(days(30 * 365)) == ("Y", "year")
    assert choose_freq(pd.Series([pd.NaT, pd.NaT])) is None


def test_watch_twice_scores_only_the_new_file(tiny_run, tmp_path):
    frame, half = _sample()
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    frame[half == "2012H1"].head(150).to_csv(inbox / "a.csv", index=False)
    first = run_main("watch", inbox, "--model", tiny_run, "--out", out)
    assert first.returncode == 0, first.stderr
    assert [l for l in first.stdout.splitlines() if l.startswith("scored ")] == [f"scored {inbox / 'a.csv'}"]
    frame[half == "2012H2"].head(150).to_csv(inbox / "b.csv", index=False)
    second = run_main("watch", inbox, "--model", tiny_run, "--out", out, "--min-change", "0.1")
    assert second.returncode == 0, second.stderr
    assert [l for l in second.stdout.splitlines() if l.startswith("scored ")] == [f"scored {inbox / 'b.csv'}"]
    history = [json.loads(l) for l in (out / "history.jsonl").read_text().splitlines()]
    assert [h["file"] for h in history] == ["a.csv", "b.csv"] and history[1]["compared_with"] == "a.csv"
    result = json.loads((out / "compare.json").read_text())
    assert result["before"]["name"] == "a.csv" and result["after"]["name"] == "b.csv"
    assert result["config"]["min_change"] == 0.1 and (out / "movers.csv").exists()
    assert sorted(p.name.split("-")[0] for p in (out / "scores").iterdir()) == ["a", "b"]
    bad = run_main("watch", inbox, "--model", tiny_run, "--out", out, "--min-change", "2")
    assert bad.returncode == 2 and "min_change must be at most 1" in bad.stderr


def test_compare_page(models_dir, scorings, tiny_run):
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT
    from segcore.services.runs import write_status

    run = models_dir / "20261130-120000-tiny"
    shutil.copytree(tiny_run.parent, run)
    write_status(run, {"status": "done", "created": "2026-11-30T12:00:00", "input_file": "small.csv", "metrics": {}})
    for name in ("2012H1", "2012H2_shift"):
        shutil.copytree(scorings[name], run / "scores" / name)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="compare_before").set_value("2012H1")
    at.selectbox(key="compare_after").set_value("2012H2_shift")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Complaints about {THEME}" in w.value for w in at.warning)
    assert "movers.csv (campaign list)" in [b.label for b in at.get("download_button")]


def _complaint_frame(texts: list[str], sentiment: str, segment: int) -> pd.DataFrame:
    return pd.DataFrame({"segment_id": segment, "sentiment": sentiment, "text": texts,
                         "aspects": [sorted({a for *_, a in lexicon_spans(t)}) for t in texts]})


def test_a_rise_from_47_to_63_percent_among_130_customers_raises_an_alert():
    """The issue's case on real reviews: 130 real 1-2 star sample reviews in a complaint segment,
    61 of them (47 %) about taste; later 130 others, 82 (63 %) about taste. Fisher's exact test
    (p = 0.013) raises it; the same share in two halves of one pool raises nothing."""
    from segcore.compare.alerts import change_alerts
    from segcore.compare.periods import segment_stats

    frame = pd.read_csv(SAMPLE)
    negative = frame[frame["Score"] <= 2]["Text"].tolist()
    taste = [t for t in negative if "taste" in {a for *_, a in lexicon_spans(t)}]
    other = [t for t in negative if "taste" not in {a for *_, a in lexicon_spans(t)}]
    happy = frame[frame["Score"] == 5]["Text"].tolist()
    assert len(taste) >= 143 and len(other) >= 117 and len(happy) >= 600
    before = pd.concat([_complaint_frame(taste[:61] + other[:69], "negative", 0),
                        _complaint_frame(happy[:300], "positive", 1)])
    after = pd.concat([_complaint_frame(taste[61:143] + other[69:117], "negative", 0),
                       _complaint_frame(happy[300:600], "positive", 1)])
    stats_b, stats_a = segment_stats(before), segment_stats(after)
    assert stats_b[0]["complaints"]["taste"] == pytest.approx(0.47, abs=0.005)
    assert stats_a[0]["complaints"]["taste"] == pytest.approx(0.63, abs=0.005)
    alerts = change_alerts(stats_b, stats_a, names={0: "Unhappy customers", 1: "Tea buyers, happy"},
                           n_before=len(before), n_after=len(after), since="the first file")
    taste_alert = [a for a in alerts if a.get("aspect") == "taste"]
    assert len(taste_alert) == 1 and taste_alert[0]["p"] < 0.02 and taste_alert[0]["change"] > 0.15, alerts
    assert "Complaints about taste in 'Unhappy customers' rose from 47 % to 63 %" in taste_alert[0]["text"]
    # no change: two halves of one pool with the same share of taste complaints
    pool = taste[:122] + other[:138]
    same_b = _complaint_frame(pool[0::2], "negative", 0)
    same_a = _complaint_frame(pool[1::2], "negative", 0)
    quiet = change_alerts(segment_stats(same_b), segment_stats(same_a), names={0: "x"}, n_before=130, n_after=130,
                          since="then")
    assert quiet == [], quiet


def test_consecutive_real_periods_without_a_change_raise_at_most_one_alert(scorings, tiny_run):
    """Each pair of consecutive half-years of the real sample, scored with one run: at most one alert."""
    for a, b in zip(PERIODS, PERIODS[1:]):
        result = compare_folders(scorings[a], scorings[b], model_dir=tiny_run)
        assert len(result["alerts"]) <= 1, (a, b, [x["text"] for x in result["alerts"]])
