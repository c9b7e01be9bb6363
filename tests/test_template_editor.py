"""The strategy template editor: conditions as form fields <-> Jinja2, errors with their line,
and the Strategies page's editor through AppTest on a real (tiny-model) run."""
from __future__ import annotations

import json
import random
import shutil

import pytest
from conftest import app_test, browser_workspace

from segcore.strategy.suggest import (SUFFIX, TemplateError, _environment, _trial_profiles, load_templates,
                                      render_strategies, render_template, segment_facts)
from segcore.strategy.conditions import FACTS, Clause, condition_expression, describe, parse_condition
from segcore.strategy.merge_fields import MERGE_FIELDS
from segcore.strategy.template_file import join_template, split_template, template_title
from segcore.strategy.template_meta import check_template, save_template


def _applies(expression: str, profile: dict) -> bool:
    env = _environment({"t": f"{{% if {expression} %}}yes{{% endif %}}"})
    return render_template(env, "t", segment_facts(profile)) == "yes"


def test_conditions_form_round_trip():
    """Every kind of clause -> expression -> the same clauses; the expression tests what it says."""
    groups = [[Clause("attitude", "in", ("happy", "mixed")), Clause("negative_share", ">=", 0.3),
               Clause("churn_risk", "<", 0.25), Clause("interest", "has")],
              [Clause("attitude", "not in", ("unhappy",)), Clause("negative_above_all", ">", 0.15),
               Clause("mean_rating", "<=", 3.5), Clause("size", ">=", 40), Clause("top_products", "has no")]]
    expression = condition_expression(groups)
    assert "seg.churn_risk is not none and seg.churn_risk < 0.25" in expression  # None never reaches a comparison
    assert parse_condition(expression) == groups
    assert condition_expression(parse_condition(expression)) == expression
    assert describe([groups[0][:2]]) == "mood is happy or mixed and negative reviews at least 30 %"
    assert parse_condition("") == [] and condition_expression([]) == ""
    # beyond the form: stays Jinja2 (expert)
    assert parse_condition("(seg.frequency_vs_all or 0) >= 1.2") is None
    assert parse_condition("seg.keywords | length > 3") is None

    trial = _trial_profiles()  # segment 1: 75 % negative, churn 0.8; segment 0: 5 % negative
    one = condition_expression([[Clause("negative_share", ">=", 0.3)]])
    assert _applies(one, trial[1]) and not _applies(one, trial[0])
    no_churn = dict(trial[1], behaviour={**trial[1]["behaviour"], "churn_risk": None})
    churny = condition_expression([[Clause("churn_risk", ">=", 0.4)]])
    assert _applies(churny, trial[1]) and not _applies(churny, no_churn)  # no error on a missing value


def test_shipped_templates_split_join_and_edit_in_the_form():
    for name, source in load_templates().items():
        parts = split_template(source)
        assert join_template(parts) == source, name
        assert parts.title and parts.description and template_title(name, source) == parts.title
        assert parts.groups is not None and condition_expression(parts.groups) == parts.condition, name
    parts = split_template(load_templates()["01_complaint_recovery"])
    assert describe(parts.groups).startswith("mood is unhappy; or negative reviews at least 30 %")
    # a template without metadata or a wrapping if: title from its heading, the whole text is the message
    plain = "## Hello {{ seg.name }}\n{% if seg.size > 3 %}big{% endif %}\n{% if seg.interest %}x{% endif %}\n"
    parts = split_template(plain)
    assert parts.condition is None and parts.body == plain and join_template(parts) == plain
    assert template_title("99_hello", plain) == "Hello"


# The shipped conditions before they were written in the form's words.
FORMER = {
    "01_complaint_recovery": 'seg.attitude == "unhappy" or seg.negative_share >= [0.3, seg.overall_negative_share + 0.15] | max',
    "02_churn_winback": "seg.churn_risk is not none and seg.churn_vs_all is not none and seg.churn_vs_all >= 1.25 "
                        "and seg.churn_risk >= 0.4",
    "03_loyalty_care": 'seg.attitude == "happy" and ((seg.frequency_vs_all or 0) >= 1.2 or (seg.monetary_vs_all or 0) >= 1.2)',
    "09_second_purchase": 'seg.attitude == "happy" and (seg.size_vs_average < 1 or (seg.frequency_vs_all is not none '
                          "and seg.frequency_vs_all < 0.9))",
}


def test_rewritten_shipped_conditions_decide_as_before():
    rng = random.Random(7)
    shipped = {n: split_template(s).condition for n, s in load_templates().items()}
    tests = {f"{when}_{n}": f"{{% if {c} %}}yes{{% endif %}}"
             for n in FORMER for when, c in (("before", FORMER[n]), ("now", shipped[n]))}
    env = _environment(tests)  # compiled once
    base = _trial_profiles()
    for _ in range(400):
        p = json.loads(json.dumps(base[rng.randrange(5)]))
        neg = rng.choice([0.0, 0.29, 0.3, 0.45, rng.random()])
        p["label_shares"].update(negative=neg, positive=1 - neg)
        rel = p["relative"]
        rel["attitude"] = rng.choice(["happy", "unhappy", "lukewarm", "mixed"])
        rel["overall_label_shares"]["negative"] = rng.choice([0.1, 0.15, 0.3, rng.random()])
        for key, values in {"churn_vs_all": [None, 1.25, 1.24, 2.0], "frequency_vs_all": [None, 0.0, 0.89, 0.9, 1.2],
                            "monetary_vs_all": [None, 1.19, 1.2], "size_vs_average": [0.5, 0.99, 1, 1.5]}.items():
            rel[key] = rng.choice(values)
        p["behaviour"]["churn_risk"] = None if rel["churn_vs_all"] is None else rng.choice([0.39, 0.4, 0.7])
        facts = segment_facts(p)
        for name in FORMER:
            before, now = (render_template(env, f"{w}_{name}", facts) for w in ("before", "now"))
            assert before == now, (name, p)


def test_a_broken_template_reports_its_line_once():
    source = "## Title\nSome words\n{% if seg.size > %}\n{% endif %}\n"
    with pytest.raises(TemplateError) as caught:
        check_template(source, name="broken", profiles=_trial_profiles())
    assert caught.value.line == 3 and str(caught.value).count("line 3") == 1
    with pytest.raises(TemplateError, match=r"\(line 2\).*did you mean seg\.name") as caught:
        render_strategies(_trial_profiles(), templates={"typo": "## Hi\n{{ seg.nmae }}"})
    assert caught.value.line == 2 and caught.value.reason.startswith("'dict object' has no attribute 'nmae'")


def test_merge_fields_render_on_trial_and_real_segments(tiny_run):
    profiles = {int(k): v for k, v in json.loads((tiny_run.parent / "segment_profiles.json").read_text()).items()}
    body = "\n".join(f"{label}: {snippet}" for label, snippet in MERGE_FIELDS.items())
    for each in (_trial_profiles(), profiles):
        rendered = check_template(body, name="facts", profiles=each)
        for seg, text in rendered.items():
            assert f"Segment name: {each[seg]['name']}" in text and f"Customers in the segment: {each[seg]['size']}" in text
    assert {f.kind for f in FACTS.values()} >= {"share", "points", "choice", "flag", "times", "number", "rating"}


def test_save_template_is_atomic_and_checks_the_name(tmp_path):
    target = save_template(tmp_path / "t", "01_x", "one")
    save_template(tmp_path / "t", "01_x", "two")
    assert target.read_text() == "two" and [p.name for p in (tmp_path / "t").iterdir()] == [f"01_x{SUFFIX}"]
    with pytest.raises(Exception, match="not a valid template name"):
        save_template(tmp_path / "t", "../evil", "x")


# --- the page -----------------------------------------------------------------------------

@pytest.fixture
def app_with_run(models_dir, tiny_run):
    """The app with one finished run (the tiny-model run copied in, as the Train page leaves it)."""
    from segcore.services.runs import write_status

    run = models_dir / "20260101-000000-tiny"
    shutil.copytree(tiny_run.parent, run)
    write_status(run, {"status": "done", "created": "2026-01-01 00:00", "input_file": "small_reviews.csv"})
    at = app_test().run()
    at.switch_page("pages/strategies.py").run()
    return _ok(at)


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _applies_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Applies to "))


def _key(name, part, rev=0):
    return f"tpl_{name}_{rev}_{part}"


def test_editor_live_preview_save_and_reset(app_with_run, models_dir):
    at, name = app_with_run, "06_inventory_hints"
    titles = at.radio(key="tpl_pick").options
    assert "Complaint recovery" in titles and "Second-purchase nudge" in titles  # titles, not file names
    at.radio(key="tpl_pick").set_value(name)
    _ok(at.run())
    # the condition's fact becomes "Customers in the segment"; widgets rebuild (revision 1)
    at.selectbox(key=_key(name, "f0_0")).set_value("size")
    _ok(at.run())
    size = at.number_input(key=_key(name, "v0_0", 1))
    size.set_value(100000)
    _ok(at.run())  # no submit: the change alone re-renders the preview
    assert _applies_caption(at) == "Applies to 0 of 3 segments of this run."
    assert any("it applies when customers in the segment at least 100000" in c.value for c in at.caption)
    at.number_input(key=_key(name, "v0_0", 1)).set_value(0)
    _ok(at.run())
    assert _applies_caption(at).startswith("Applies to 3 of 3 segments")
    assert any(m.value.startswith("#### Inventory hints") for m in at.markdown)

    body = at.text_area(key=_key(name, "body", 1))
    body.set_value(body.value.replace("## Inventory hints", "## Inventory hints, edited"))
    _ok(at.run())
    at.selectbox(key="tpl_fact").set_value("Segment name")
    next(b for b in at.button if b.label == "Insert").click()
    _ok(at.run())
    # the message is text with fact chips: no Jinja with Expert off
    shown = at.text_area(key=_key(name, "body", 2)).value
    assert shown.rstrip().endswith("[Segment name]") and "{{" not in shown and "{%" not in shown

    next(b for b in at.button if b.label == "Save template").click()
    _ok(at.run())
    saved = browser_workspace(models_dir) / "templates" / f"{name}{SUFFIX}"  # this person's own copy
    parts = split_template(saved.read_text())
    assert parts.condition == "seg.size >= 0" and "{{ seg.name }}" in parts.body
    # the run's strategies (Suggestions tab, exports) use the saved template: every segment has it
    cards = [m.value for m in at.markdown if m.value.startswith("#### Inventory hints, edited")]
    assert len(cards) >= 3  # three suggestion cards, plus the editor's preview

    next(b for b in at.button if b.label == "Reset to default").click()
    _ok(at.run())
    assert not saved.exists()
    assert not any(m.value.startswith("#### Inventory hints, edited") for m in at.markdown)
    assert at.selectbox(key=_key(name, "f0_0", 4)).value == "top_products"


def test_editor_shows_a_broken_message_once_with_its_line(app_with_run, models_dir):
    at, name = app_with_run, "01_complaint_recovery"
    body = at.text_area(key=_key(name, "body"))
    lines = body.value.splitlines()
    lines.insert(2, "{{ seg.size + }}")  # line 3 of the message
    body.set_value("\n".join(lines))
    _ok(at.run())
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Line 3 of the message: "), errors
    save = next(b for b in at.button if b.label == "Save template")
    assert save.disabled
    # expert mode: the same error, at its line in the whole file (5 lines of metadata and condition)
    at.toggle(key="tpl_expert").set_value(True)
    _ok(at.run())
    source = at.text_area(key=_key(name, "source"))
    assert source.value.startswith("{#- segscope\ntitle: Complaint recovery")
    assert [e.value for e in at.error] == [errors[0].replace("Line 3 of the message", "Line 8")]
    # the old flow: edit the text, save, reset
    source.set_value(source.value.replace("{{ seg.size + }}\n", "").replace("## ", "## Edited: ", 1))
    _ok(at.run())
    assert not at.error
    next(b for b in at.button if b.label == "Save template").click()
    _ok(at.run())
    saved = list((browser_workspace(models_dir) / "templates").glob(f"*{SUFFIX}"))
    assert len(saved) == 1 and "## Edited: Complaint recovery" in saved[0].read_text()
    next(b for b in at.button if b.label == "Reset to default").click()
    _ok(at.run())
    assert not saved[0].exists()


def test_the_message_reads_as_text_with_fact_chips_and_goes_back_to_the_same_template():
    """Every shipped template (English and Chinese): the message as a marketer edits it has no
    Jinja, facts show as chips in the UI language, and the text turns back into the same template;
    a chip typed by hand becomes its fact."""
    from segcore.strategy.merge_fields import message_body, message_text

    zh = {"Negative reviews (%)": "差评占比（%）", "Segment name": "客群名称"}
    for language in ("en", "zh"):
        for name, source in load_templates(language=language).items():
            body = split_template(source).body
            text = message_text(body, zh if language == "zh" else None)
            assert "{{" not in text and "{%" not in text, (name, text)
            assert message_body(text, body, zh if language == "zh" else None) == body, name
    body = "## Hi\n{{ (seg.negative_share * 100) | round | int }}% negative{% if seg.interest %} here{% endif %}\n"
    text = message_text(body, zh)
    assert text == "## Hi\n[差评占比（%）]% negative[#1 if] here[#2 end]\n"
    edited = text.replace("## Hi", "## 你好 [客群名称]")
    assert message_body(edited, body, zh) == body.replace("## Hi", "## 你好 {{ seg.name }}")
