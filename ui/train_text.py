"""The Train page's plain words: a verdict on the model (one sentence, one pair of figures), what
fine-tuning changed against the quick result, the progress line of a job with the time left as a
range, and the queue a new training would wait in."""
from __future__ import annotations

from segcore.training.candidates import CHANCE_MARGIN
from ui.i18n import DEFAULT, catalogue, t

# Test macro-F1 the used model must beat the keyword baseline by to count as better: differences
# below it are within what a few hundred held-out reviews can tell apart (candidates.NOISE_MARGIN).
BETTER_MARGIN = 0.01


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def _used_figures(metrics: dict) -> tuple[str, float, float, float | None, float]:
    """(model used, its test agreement, its test macro-F1, the keyword baseline's agreement and macro-F1)."""
    selection = metrics.get("selection") or {}
    table = selection.get("candidates") or {}
    used = selection.get("selected") or metrics.get("selected") or "fine_tuned"
    if used in table and "tfidf" in table:
        return (used, table[used]["test_accuracy"], table[used]["test_macro_f1"], table["tfidf"]["test_accuracy"],
                table["tfidf"]["test_macro_f1"])
    # runs from before the candidates: the selected model's test figures and the baseline
    return (used, metrics["test"]["accuracy"], metrics["test"]["macro_f1"], metrics["baseline"].get("accuracy"),
            metrics["baseline"]["macro_f1"])


def verdict(metrics: dict, changes: dict | None = None) -> tuple[bool, str]:
    """(reliable, one plain sentence) from metrics.json: which model labels the reviews and how
    often it agrees with the held-out reviews' own ratings / labels, against a keyword count: one
    pair of figures, both test agreement (accuracy, what a marketer reads as "right N % of the
    time"). The decision also reads test macro-F1, so that a model answering only the commonest
    class is not called reliable, and a model that agrees less often than the keyword count is
    never said to beat it. With `changes` (services.changes: the job's quick result) the pair is
    this model against the quick result's, which says what fine-tuning gained."""
    truth = t("train.truth_ratings") if metrics.get("label_source") == "rating" \
        or "rating" in str(metrics.get("task", "")) else t("train.truth_labels")
    used, acc, f1, base_acc, base_f1 = _used_figures(metrics)
    selection = metrics.get("selection") or {}
    chance = selection.get("chance_level_val_macro_f1", 1.0 / max(1, len(metrics.get("labels") or [1])))
    name = t(f"train.model_{used}") if used in MODEL_NAMES else used
    if changes and changes.get("quick"):
        base = t("train.live.quick_base", base=_pct(changes["quick"]["test_accuracy"]))
    else:
        base = t("train.live.base", base=_pct(base_acc)) if base_acc is not None else ""
    if used == "tfidf":
        return False, t("train.live.verdict_tfidf", truth=truth, acc=_pct(acc))
    if f1 <= chance + CHANCE_MARGIN:
        return False, t("train.live.verdict_chance", name=name, truth=truth, acc=_pct(acc), base=base)
    if f1 >= base_f1 + BETTER_MARGIN and (base_acc is None or acc >= base_acc - BETTER_MARGIN):
        return True, t("train.live.verdict_good", name=name, truth=truth, acc=_pct(acc), base=base)
    if f1 >= base_f1 + BETTER_MARGIN:  # better on the rarer classes, but agrees less often overall
        return False, t("train.live.verdict_rare", name=name, truth=truth, acc=_pct(acc), base=base)
    return False, t("train.live.verdict_rough", name=name, truth=truth, acc=_pct(acc), base=base)


def changes_text(changes: dict | None, metrics: dict) -> str | None:
    """One sentence on what fine-tuning changed against the job's quick result: the labels of the
    unrated reviews (rated ones are segmented by their own rating) and the segments."""
    if not changes:
        return None
    truth = t("train.truth_ratings") if metrics.get("label_source") == "rating" else t("train.truth_labels")
    unrated, changed = changes["n_unrated"], changes["labels_changed_unrated"]
    if unrated == 0:
        labels = t("train.live.labels_all_rated", truth=truth)
    else:
        labels = t("train.live.labels_changed", n=changed, unrated=unrated, truth=truth)
    if changes["customers_moved"] == 0:
        segments = t("train.live.segments_same_rated", truth=truth) if unrated == 0 else t("train.live.segments_same")
    else:
        segments = t("train.live.segments_moved", n=changes["customers_moved"], total=changes["n_customers"])
    return t("train.live.since_quick", labels=labels, segments=segments)


MODEL_NAMES = ("fine_tuned", "average", "frozen", "tfidf")  # training.candidates.PLAIN_NAMES, translated


def seconds_text(s: float) -> str:
    s = int(s)
    return t("train.min_s", m=s // 60, s=s % 60) if s >= 60 else t("train.s", s=s)


_seconds = seconds_text
ENDED = ("done", "cancelled", "failed")


def left_text(low: float, high: float) -> str:
    """'about 12-16 min' / 'about 40-70 s' / 'about 3 min': a range rounded as a person reads it."""
    if high < 90:
        lo, hi = (max(5, int(round(x / 5.0)) * 5) for x in (low, high))
        return t("train.live.about_s", s=hi) if lo >= hi else t("train.live.range_s", low=lo, high=hi)
    lo, hi = max(1, int(low // 60)), max(1, int(-(-high // 60)))
    return t("train.live.about_min", m=hi) if lo >= hi else t("train.live.range_min", low=lo, high=hi)


def stage_words(stage: str, phase: str = "") -> str:
    """What the job does now, in words (train.live.doing_<stage>); the quick pass says so."""
    key = f"train.live.doing_{stage}"
    words = t(key) if key in catalogue(DEFAULT) else stage
    if phase == "quick" and stage not in ("done", "waiting"):
        return t("train.live.quick_part", words=words)
    return words


def progress_text(stage: str, step: int, total: int, *, status: str, left=None, phase: str = "") -> str:
    """The line under the progress bar. After the job: done / stopped / failed. While it runs:
    what it does in words, the training step, and the time left as a range (`left`:
    training.estimate.Remaining) where there is one."""
    if status in ENDED:
        return t(f"train.ended_{status}")
    if status == "queued":
        return t("train.live.queued_line") + ("" if left is None else " — " + t("train.live.start_in",
                                                                             left=left_text(left.low, left.high)))
    words = stage_words(stage, phase)
    where = t("train.step", stage=words, step=step, total=total) if stage == "training" and total \
        else t("train.stage_only", stage=words)
    if left is not None:
        return t("train.live.eta", where=where, left=left_text(left.low, left.high))
    if total and step >= total:
        return t("train.finishing", where=where)
    return where


def queue_text(ahead: int, wait, *, mine: bool) -> str | None:
    """Before Start: where a new training would stand (None when it would start at once)."""
    if mine:
        return t("train.live.yours_active")
    if ahead == 0:
        return None
    if wait is None:
        return t("train.live.queue", n=ahead)
    return t("train.live.queue_when", n=ahead, left=left_text(wait.low, wait.high))
