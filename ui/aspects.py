"""The Aspects page's glue: the workspace's aspect list (segcore.aspects.custom) for the page
and for the Train page's runs. All checks live in segcore."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from segcore.aspects.custom import (
    LEXICON_FILE,
    Lexicon,
    lexicon_json,
    reset_workspace_lexicon,
    save_workspace_lexicon,
    shipped_lexicon,
    workspace_lexicon,
)
from ui.i18n import t
from ui.shared import workspace


def folder() -> Path:
    """The workspace folder that holds the current dataset; the aspect list lives beside it."""
    return workspace().root


def current() -> tuple[Lexicon, bool]:
    """(the aspect list runs use, whether it is the user's own)."""
    own = workspace_lexicon(folder())
    return (own, True) if own is not None else (shipped_lexicon(), False)


def save(lexicon: Lexicon) -> None:
    save_workspace_lexicon(folder(), lexicon)


def reset() -> None:
    reset_workspace_lexicon(folder())


def table(lexicon: Lexicon) -> pd.DataFrame:
    return pd.DataFrame([{t("aspects.col_category"): name, t("aspects.col_terms"): len(terms),
                          t("aspects.col_seed_terms"): ", ".join(terms)} for name, terms in lexicon.items()])


def run_lexicon_file() -> str | None:
    """For a training run: a frozen copy of the user's list (named by its content, so editing the
    list while a job runs cannot change what that job tags with), or None for the shipped list."""
    own = workspace_lexicon(folder())
    if own is None:
        return None
    text = lexicon_json(own)
    path = folder() / f"{Path(LEXICON_FILE).stem}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def caption() -> str:
    lexicon, own = current()
    return t("aspects.caption_own", n=len(lexicon)) if own else t("aspects.caption_shipped")
