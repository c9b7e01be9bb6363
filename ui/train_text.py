"""The Train page's plain words: a verdict on the model, and the progress line of a job."""
from __future__ import annotations

from segcore.training.candidates import CHANCE_MARGIN, PLAIN_NAMES

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
    truth = "ratings" if metrics.get("label_source") == "rating" or "rating" in str(metrics.get("task", "")) \
        else "labels"
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
    name = PLAIN_NAMES.get(used, used)
    base_part = "" if base_acc is None else f" (the keyword baseline: {_pct(base_acc)})"
    if used == "tfidf":
        return False, (f"Fine-tuning did not learn more than a keyword count on this data, so the reviews are "
                       f"labelled by the keyword baseline: it agrees with held-out {truth} {_pct(acc)} of the time. "
                       "Segments and lists are usable but the sentiment is rough; to improve it, add labelled "
                       "reviews (especially of the rarer classes) or train more epochs, ideally on a GPU.")
    if f1 <= chance + CHANCE_MARGIN:
        return False, (f"The model is not reliable: it agrees with held-out {truth} {_pct(acc)} of the time"
                       f"{base_part}, no better than guessing the commonest answer. Add labelled reviews or train "
                       "more epochs before using its labels for campaigns.")
    if f1 >= base_f1 + BETTER_MARGIN:
        compare = (f"better than the keyword baseline ({_pct(base_acc)})" if base_acc is not None and acc > base_acc
                   else f"and tells the rarer {truth} apart better than the keyword baseline"
                        + ("" if base_acc is None else f" ({_pct(base_acc)} agreement)"))
        return True, (f"The model is reliable enough for segments: the {name} agrees with held-out {truth} "
                      f"{_pct(acc)} of the time, {compare}.")
    return False, (f"The model is no better than a keyword count here: the {name} agrees with held-out {truth} "
                   f"{_pct(acc)} of the time{base_part}. Segments are usable, but treat its labels as rough; add "
                   "labelled reviews or train more epochs to improve it.")


def _seconds(s: float) -> str:
    s = int(s)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


ENDED = {"done": "Done", "cancelled": "Stopped", "failed": "Failed"}


def progress_text(stage: str, step: int, total: int, *, status: str, eta: float | None) -> str:
    """The line under the progress bar. After the job: done / stopped / failed. While it runs, a
    time left only where one is measured (training steps); other stages say what they do."""
    if status in ENDED:
        return ENDED[status]
    where = f"{stage}: step {step}/{total}" if total else f"{stage}…"
    if stage == "training" and eta is not None:
        return f"{where} — about {_seconds(eta)} left"
    if total and step >= total:
        return f"{where} — finishing"
    return where
