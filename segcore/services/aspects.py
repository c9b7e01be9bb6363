"""A person's own aspect categories (category -> seed terms) as the Aspects page edits them; the
rules (names, term lengths, the JSON file) are segcore.aspects.custom's."""
from __future__ import annotations

from ..aspects.custom import (
    MAX_TERM,
    add_category,
    lexicon_json,
    parse_lexicon,
    parse_terms,
    remove_category,
    rename_category,
    set_terms,
)

__all__ = ["MAX_TERM", "add_category", "lexicon_json", "parse_lexicon", "parse_terms", "remove_category",
           "rename_category", "set_terms"]
