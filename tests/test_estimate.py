"""Time estimates before a training (segcore.training.estimate) and the Train page showing them."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import app_test

from segcore.config import DEFAULT_EPOCHS
from segcore.training.estimate import (
    DEFAULT_RATES,
    FIXED_SECONDS,
    Plan,
    Rates,
    estimate,
    measured_rates,
    minutes,
    rates_for,
    remaining,
)
from ui.i18n import catalogue


@pytest.fixture(scope="module")
def run_metrics(tiny_run) -> dict:
    """metrics.json of a real finished run (tiny encoder, 1 epoch, 400 real reviews)."""
    return json.loads((tiny_run.parent / "metrics.json").read_text(encoding="utf-8"))


def test_measured_rates_come_from_the_runs_own_figures(run_metrics):
    m, stages = run_metrics, run_metrics["stage_seconds"]
    rates = measured_rates(m, run_id="r1")
    assert rates.measured_by == "r1"
    assert rates.train == pytest.approx(m["n_train"] * m["epochs_run"] / stages["train"])
    other = m["seconds"] - sum(stages.get(s, 0.0) for s in ("train", "compare", "mlm", "aspects"))
    assert rates.quick == pytest.approx(m["n_reviews"] / other)


def test_the_estimate_reproduces_the_run_it_was_measured_on(run_metrics):
    # the rates of a run, applied to that run's size and epochs, give back its own seconds
    m = run_metrics
    guess = estimate(m["n_reviews"], measured_rates(m, run_id="r1"), epochs=m["epochs_run"])
    spent = m["seconds"] - sum(m["stage_seconds"].get(s, 0.0) for s in ("compare", "mlm", "aspects"))
    assert guess.measured and guess.epochs == m["epochs_run"]
    assert guess.fine_tune_seconds == pytest.approx(spent, rel=0.1)  # n_train from the 60 % share, not the split
    assert 0 < guess.quick_seconds < guess.fine_tune_seconds


def test_newest_run_on_the_same_device_wins_and_defaults_otherwise(run_metrics):
    cpu_old = dict(run_metrics)
    cpu_new = {**run_metrics, "stage_seconds": {**run_metrics["stage_seconds"],
                                                "train": run_metrics["stage_seconds"]["train"] * 2}}
    gpu = {**run_metrics, "device": "cuda:0"}
    rates = rates_for("cpu", [("gpu", gpu), ("new", cpu_new), ("old", cpu_old)])
    assert rates.measured_by == "new"
    assert rates.train == pytest.approx(measured_rates(cpu_old).train / 2)
    assert rates_for("cuda", [("gpu", gpu), ("new", cpu_new)]).measured_by == "gpu"
    none = rates_for("cpu", [("gpu", gpu)])
    assert none.measured_by is None and (none.train, none.quick, none.embed) == tuple(DEFAULT_RATES["cpu"].values())
    # a quick run measures the quick pass only; the training rate comes from an older fine-tuned run
    quick = {k: v for k, v in run_metrics.items() if k != "epochs_run"}
    quick["stage_seconds"] = {k: v for k, v in run_metrics["stage_seconds"].items() if k != "train"}
    mixed = rates_for("cpu", [("quick", quick), ("old", cpu_old)])
    assert mixed.quick == pytest.approx(measured_rates(quick).quick)
    assert mixed.train == pytest.approx(measured_rates(cpu_old).train)


def test_estimates_for_any_size_follow_the_trainer():
    cpu = Rates(**DEFAULT_RATES["cpu"])
    tiny, small, big, bigger = (estimate(n, cpu) for n in (10, 400, 23_000, 46_000))
    for e in (tiny, small, big, bigger):
        assert 0 < e.quick_seconds < e.fine_tune_seconds and minutes(e.quick_seconds) >= 1
    assert small.epochs > DEFAULT_EPOCHS == big.epochs  # small files train more epochs (min_steps)
    train_big = big.fine_tune_seconds - big.quick_seconds
    assert bigger.fine_tune_seconds - bigger.quick_seconds == pytest.approx(2 * train_big, rel=0.01)
    # training samples (60 % of the reviews x epochs) at the device's rate; the quick pass reads each review once
    assert train_big == pytest.approx(0.6 * 23_000 * DEFAULT_EPOCHS / cpu.train, rel=0.001)
    assert big.quick_seconds == pytest.approx(FIXED_SECONDS + 23_000 / cpu.quick)
    assert estimate(23_000, cpu, epochs=2).fine_tune_seconds < big.fine_tune_seconds
    once = estimate(23_000, cpu, extra_trainings=1)
    assert once.fine_tune_seconds - once.quick_seconds == pytest.approx(2 * train_big)


def _place(models_dir, tiny_run, run_id="20261130-000000-small"):
    run = models_dir / run_id
    shutil.copytree(tiny_run.parent, run)
    (run / "status.json").write_text(json.dumps({"status": "done", "created": "2026-11-30T00:00:00",
                                                 "input_file": "small_reviews.csv"}))
    return run_id


def test_train_page_shows_the_estimate_in_both_languages(models_dir, tiny_run):
    at = app_test().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    rows = 1999  # the shipped sample
    guess = estimate(rows, rates_for("cpu", []))
    expected = catalogue("en")["train.estimate"].format(rows=rows, quick=minutes(guess.quick_seconds),
                                                        fine=minutes(guess.fine_tune_seconds))
    assert expected in [i.value for i in at.info] + [w.value for w in at.warning]
    assert catalogue("en")["train.estimate_default"].format(device="cpu") in [c.value for c in at.caption]
    run_id = _place(models_dir, tiny_run)  # a finished run on this machine: its speed is used
    at = app_test()
    at.query_params["lang"] = "zh"
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert catalogue("zh")["train.estimate_measured"].format(run=run_id) in [c.value for c in at.caption]
    shown = " ".join([i.value for i in at.info] + [w.value for w in at.warning])
    assert "快速结果约需" in shown and "微调约需" in shown
    assert [e.label for e in at.expander][:2] == [catalogue("zh")["train.group_data"],
                                                   catalogue("zh")["train.group_expert"]]


# --- the live estimate (training.estimate.remaining) ------------------------------------------------

def _state(*, steps_at: list[float], total: int, epoch_steps: int, evals: list[float] = (), quick=(0.0, 30.0),
           stages_after: list[tuple[str, float]] = ()):
    """A job's progress as the Progress object holds it: a quick pass from quick[0] to quick[1],
    then fine-tuning whose steps ended at `steps_at` (seconds)."""
    from segcore.progress import ProgressState

    q0, q1 = quick
    stages = [("load", q0), ("clean", q0 + 1), ("select", q0 + 2), ("segment", q1 - 8), ("map", q1 - 5),
              ("export", q1 - 1), ("load", q1), ("clean", q1 + 1), ("training", q1 + 3), *stages_after]
    step = len(steps_at)
    return ProgressState(stage=stages[-1][0], step=step, total_steps=total, epoch=step / epoch_steps,
                         phase="fine_tune", phases=[("quick", q0), ("fine_tune", q1)], stages=stages,
                         step_times=list(steps_at),
                         val_metrics=[{"eval_runtime": e, "step": epoch_steps * (i + 1)} for i, e in enumerate(evals)])


PLAN = Plan(rows=1500, quick_seconds=30.0, train_seconds=200.0, embed_seconds=15.0)


def test_live_estimate_counts_steps_evaluations_and_the_stages_after():
    start = 33.0
    steps = [start + 0.5 * (i + 1) for i in range(100)]  # 0.5 s a step, 100 of 400 done
    left = remaining(_state(steps_at=steps, total=400, epoch_steps=100, evals=[4.0]), PLAN, now=steps[-1])
    # 300 steps at 0.5 s, 3 evaluations of about 4 s, then the stages the quick pass measured after
    # reading (select .. export: 28 s)
    expected = 300 * 0.5 + 3 * 4.0 * 1.1 + 28
    assert left.measured and left.low < expected < left.high
    assert left.high / left.low < 2  # a range a person can plan by


def test_live_estimate_follows_a_change_of_load_and_narrows():
    start = 33.0
    idle = [start + 0.5 * (i + 1) for i in range(100)]
    slow = idle + [idle[-1] + 1.5 * (i + 1) for i in range(40)]  # beside other jobs: 3x slower steps
    before = remaining(_state(steps_at=idle, total=400, epoch_steps=100), PLAN, now=idle[-1])
    after = remaining(_state(steps_at=slow, total=400, epoch_steps=100), PLAN, now=slow[-1])
    assert after.high >= 260 * 1.5  # the rest at the new pace is inside the range
    assert after.mid < 3 * before.mid  # grows with the pace, never beyond it (no swing by hours)
    late = [start + 0.5 * (i + 1) for i in range(380)]
    end = remaining(_state(steps_at=late, total=400, epoch_steps=100, evals=[4.0, 4.0, 4.0]), PLAN, now=late[-1])
    width = lambda r: (r.high - r.low) / r.mid  # noqa: E731
    assert width(end) < width(before)  # narrows as the run goes


def test_before_training_the_quick_pass_scales_the_priors():
    from segcore.progress import ProgressState

    def reading():  # the quick pass has read 10 % of the reviews
        return ProgressState(stage="select", step=150, total_steps=1500, phase="quick", phases=[("quick", 0.0)],
                             stages=[("load", 0.0), ("clean", 1.0), ("select", 2.0)])

    as_planned = remaining(reading(), PLAN, now=2.0 + 1.5)  # 1.5 s for 10 %: the planned 15 s
    slower = remaining(reading(), PLAN, now=2.0 + 4.5)  # three times slower: the machine is busy
    assert not as_planned.measured
    assert as_planned.low < PLAN.total_seconds < as_planned.high
    assert 2.5 < slower.mid / as_planned.mid < 3.5
    # a quick result only: just what is left of its pass
    quick_only = remaining(reading(), Plan(rows=1500, quick_seconds=30.0, train_seconds=0.0, embed_seconds=15.0,
                                              fine_tune=False), now=3.5)
    assert quick_only.high < 30 * 1.5


def test_after_training_only_the_last_stages_are_left():
    start = 33.0
    steps = [start + 0.5 * (i + 1) for i in range(400)]
    state = _state(steps_at=steps, total=400, epoch_steps=100, evals=[4.0] * 4,
                   stages_after=[("score", steps[-1] + 20)])
    left = remaining(state, PLAN, now=steps[-1] + 25)
    assert not left.measured and left.high <= 28 * 1.1  # what the quick pass measured after reading, less 5 s


def test_stages_after_training_follow_the_load_training_saw():
    start = 33.0
    even = [start + 0.5 * (i + 1) for i in range(400)]
    slower = [start + 0.5 * (i + 1) for i in range(200)]
    slower += [slower[-1] + 1.5 * (i + 1) for i in range(200)]  # the machine got busy half-way
    at_even = remaining(_state(steps_at=even, total=400, epoch_steps=100, evals=[4.0] * 4,
                               stages_after=[("score", even[-1] + 1)]), PLAN, now=even[-1] + 1)
    at_slow = remaining(_state(steps_at=slower, total=400, epoch_steps=100, evals=[4.0] * 4,
                               stages_after=[("score", slower[-1] + 1)]), PLAN, now=slower[-1] + 1)
    assert at_even.high <= 28 * 1.1 < at_slow.high  # 3x slower steps: up to 3x longer stages
    assert at_slow.low <= at_even.high  # and the range still holds the quick pass's own figure
