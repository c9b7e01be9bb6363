"""segcore's own sentences (data-quality notes, column reasons, the model choice, drift, the
made-up-ids warning) in the page's language.

segcore writes English for the command line and the logs; a page shows its messages through
`say`, which matches each against the patterns below and fills the locale's sentence
(`segtext.<key>` in ui/locales/*.toml) with the parts it read. A sentence with no pattern is
shown as it is (and the Chinese page walk in tests/test_i18n.py fails on it)."""
from __future__ import annotations

import re

from ui.i18n import lang, t

# key -> pattern over segcore's English sentence; named groups become the locale's placeholders.
# Groups named `reason` / `why` / `what` / `model` are themselves translated (a nested sentence).
PATTERNS: dict[str, str] = {
    # ingest.clean reasons, ingest.prepare notes
    "empty_text": r"empty review text",
    "duplicate": r"duplicate review",
    "dropped": r"dropped (?P<n>[\d,]+) rows: (?P<reason>.+)",
    "no_id_column": r"no customer id column: each review counts as its own customer",
    "missing_ids": r"(?P<n>[\d,]+) reviews have no customer id; each counts as its own customer",
    "masked": r"masked personal data \(e-mail, phone, card or ID numbers, IBANs\) in (?P<n>[\d,]+) reviews",
    "titles": r"review titles from '(?P<col>.+)' joined before the text \('title\. text'\) in (?P<n>[\d,]+) of "
              r"(?P<total>[\d,]+) rows",
    "bad_ratings": r"(?P<n>[\d,]+) ratings could not be read as 1-5 stars; those reviews are not used for training",
    "partial": r"partial labels: (?P<n>[\d,]+) of (?P<total>[\d,]+) reviews have no (?P<what>label|readable rating); "
               r"training, validation and test use only the (?P<known>[\d,]+) labelled reviews, and the unlabelled "
               r"ones get predicted labels \(pred_label\)",
    "label": r"label", "readable_rating": r"readable rating",
    "by_content": r"column detected from its values, (?P<role>\w+): '(?P<col>.+)' \((?P<why>.+)\)",
    # ingest.columns / ingest.content reasons
    "header_name": r"header name",
    "title_joined": r"(?P<why>.+); joined before the review text",
    "longest_text": r"longest free text, (?P<n>[\d,]+) characters on average",
    "dates": r"(?P<share>\d+ %) of values parse as dates",
    "amounts_sign": r"(?P<share>\d+ %) of values are amounts, (?P<marked>\d+ %) with a currency sign",
    "amounts": r"(?P<share>\d+ %) of values are non-negative amounts, (?P<cents>\d+ %) with cents",
    "category": r"(?P<distinct>[\d,]+) distinct values repeated over (?P<rows>[\d,]+) rows",
    # training.candidates.selection_message and its notes
    "chosen_ft": r"Fine-tuned model chosen: (?P<f1>[\d.]+)(?: vs keyword baseline (?P<base>[\d.]+))? on held-out "
                 r"reviews\.(?P<rest>.*)",
    "not_beaten": r"Fine-tuning did not beat (?P<what>the keyword baseline|the other models) on this data "
                  r"\((?P<ft>[\d.]+)\); using the (?P<model>[\w\- ]+?) \((?P<f1>[\d.]+)(?: vs keyword baseline "
                  r"(?P<base>[\d.]+))? on held-out reviews\)\. Try more labelled reviews or more epochs\.(?P<rest>.*)",
    "chosen_other": r"(?P<model>[\w\- ]+?) chosen: (?P<f1>[\d.]+)(?: vs keyword baseline (?P<base>[\d.]+))? on "
                    r"held-out reviews\.(?P<rest>.*)",
    "within_noise": r" ?The (?P<model>[\w\- ]+?)'s (?P<f1>[\d.]+) is within what (?P<n>[\d,]+) held-out reviews can "
                    r"tell apart\.",
    "at_chance": r"Fine-tuning stayed at chance: validation macro-F1 (?P<f1>[\d.]+), chance level (?P<chance>[\d.]+); "
                 r"the (?P<model>[\w\- ]+?) is used instead\.",
    "the keyword baseline": r"the keyword baseline", "the other models": r"the other models",
    # encoders.models.choose_model reasons
    "auto_en": r"auto: reviews are English -> (?P<model>all-MiniLM-L6-v2)",
    "auto_unknown": r"auto: language unknown -> (?P<model>all-MiniLM-L6-v2)",
    "auto_other": r"auto: reviews are '(?P<lang>\w+)', not English -> (?P<model>multilingual-e5-small)",
    "given": r"given: --model (?P<model>.+)",
    # strategy.suggest.ACTION_WORDS: a customer's own action where the segment has no fitting play
    "act_recovery": r"Complaint recovery", "act_follow_up": r"Personal follow-up",
    "act_win_over": r"Win over undecided buyers: ask what would make it five stars", "act_monitor": r"Monitor",
    # compare.drift
    "drift": r"(?P<beyond>\d+) % of the new customers are farther from every segment centre than (?P<q>\d+) % of the "
             r"training customers \(about (?P<expected>\d+) % expected when the segments still fit\)\. (?P<verdict>.+)",
    "retrain": r"Retrain: the saved segments no longer fit these customers well\.",
    "still_fit": r"The saved segments still fit\.",
    # io.export.made_up_ids_warning
    "made_up_ids": r"(?P<n>[\d,]+) of (?P<total>[\d,]+) customer ids were made up by segscope .*",
}
# training.candidates.PLAIN_NAMES, as selection sentences name the models
MODELS = {"fine-tuned model": "fine_tuned", "combined model": "average", "quick model": "frozen",
          "keyword baseline": "tfidf"}
_NESTED = ("reason", "why", "what", "verdict", "rest")
_COMPILED = {k: re.compile(p, re.DOTALL) for k, p in PATTERNS.items()}


def say(message: str) -> str:
    """`message` (one of segcore's English sentences) in the page's language."""
    if lang() == "en" or not message:
        return message
    text = str(message).strip()
    for key, pattern in _COMPILED.items():
        m = pattern.fullmatch(text)
        if not m:
            continue
        parts = {k: (v or "") for k, v in m.groupdict().items()}
        for k in _NESTED:
            if parts.get(k):
                parts[k] = say(parts[k])
        if parts.get("model") and not key.startswith(("auto_", "given")):
            name = MODELS.get(parts["model"].lower())
            parts["model"] = t(f"train.model_{name}") if name else parts["model"]
        if "base" in parts:
            parts["vs"] = t("segtext.vs_base", base=parts["base"]) if parts["base"] else ""
        return t(f"segtext.{key.replace(' ', '_')}", **parts)
    return message
