"""The Train page's plain words: a verdict on the model, and the progress line of a job."""
from __future__ import annotations

from segcore.training.candidates import CHANCE_MARGIN
from ui.i18n import DEFAULT, catalogue, t

# Test macro-F1 the used model must beat the keyword baseline by to count as better: differences
# below it are within what a few hundred held-out reviews can tell apart (candidates.NOISE_MARGIN).
BETTER_MARGIN = 0.01


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def verdict(metrics: dict) -> tuple[bool, str]:
    """(reliable, one plain sentence) from metrics.json: does the model that labels the reviews
    agree with the held-out reviews' own ratings / labels, and does it beat a keyword count.

    Agreement is test accuracy (what a marketer reads as "right N % of the time"); the decision
    uses test macro-F1 too, so a model that only ever answers the commonest class is not called
    reliable."""
    truth = t("train.truth_ratings") if metrics.get("label_source") == "rating" \
        or "rating" in str(metrics.get("task", "")) else t("train.truth_labels")
    selection = metrics.get("selection") or {}
    table = selection.get("candidates") or {}
    used = selection.get("selected") or metrics.get("selected") or "fine_tuned"
    if used in table and "tfidf" in table:
        acc, f1 = table[used]["test_accuracy"], table[used]["test_macro_f1"]
        base_acc, base_f1 = table["tfidf"]["test_accuracy"], table["tfidf"]["test_macro_f1"]
    else:  # runs from before the candidates: the selected model's test figures and the baseline
        acc, f1 = metrics["test"]["accuracy"], metrics["test"]["macro_f1"]
        base_acc, base_f1 = metrics["baseline"].get("accuracy"), metrics["baseline"]["macro_f1"]
    chance = selection.get("chance_level_val_macro_f1", 1.0 / max(1, len(metrics.get("labels") or [1])))
    name = t(f"train.model_{used}") if used in MODEL_NAMES else used
    base_part = "" if base_acc is None else t("train.base_part", base=_pct(base_acc))
    if used == "tfidf":
        return False, t("train.verdict_tfidf", truth=truth, acc=_pct(acc))
    if f1 <= chance + CHANCE_MARGIN:
        return False, t("train.verdict_chance", truth=truth, acc=_pct(acc), base_part=base_part)
    if f1 >= base_f1 + BETTER_MARGIN:
        compare = (t("train.better_acc", base=_pct(base_acc)) if base_acc is not None and acc > base_acc
                   else t("train.better_rare", truth=truth)
                   + ("" if base_acc is None else t("train.base_agreement", base=_pct(base_acc))))
        return True, t("train.verdict_good", name=name, truth=truth, acc=_pct(acc), compare=compare)
    return False, t("train.verdict_rough", name=name, truth=truth, acc=_pct(acc), base_part=base_part)


MODEL_NAMES = ("fine_tuned", "average", "frozen", "tfidf")  # training.candidates.PLAIN_NAMES, translated


def seconds_text(s: float) -> str:
    s = int(s)
    return t("train.min_s", m=s // 60, s=s % 60) if s >= 60 else t("train.s", s=s)


_seconds = seconds_text
ENDED = ("done", "cancelled", "failed")


def progress_text(stage: str, step: int, total: int, *, status: str, eta: float | None) -> str:
    """The line under the progress bar. After the job: done / stopped / failed. While it runs, a
    time left only where one is measured (training steps); other stages say what they do."""
    if status in ENDED:
        return t(f"train.ended_{status}")
    name = t(f"train.stage_{stage}") if f"train.stage_{stage}" in catalogue(DEFAULT) else stage
    where = t("train.step", stage=name, step=step, total=total) if total else t("train.stage_only", stage=name)
    if stage == "training" and eta is not None:
        return t("train.eta", where=where, left=_seconds(eta))
    if total and step >= total:
        return t("train.finishing", where=where)
    return where
