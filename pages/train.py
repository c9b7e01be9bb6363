"""Train: fine-tune the encoder in the background with live progress, then show test results."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from segcore.services import training
from segcore.services.training import GROUPS, TRAINING_OPTIONS, Plan, Remaining, minutes
from ui import aspects as aspect_lists
from ui import train_charts
from ui.config_form import control, grid
from ui.i18n import label_name, language_name, shown_as, t
from ui.train_text import changes_text, progress_text, queue_text, seconds_text, verdict
from ui.segtext import say
from ui.shared import (
    current_dataset,
    device_label,
    outputs,
    polled,
    registry,
    selected_run,
    show_error,
    store,
)

st.title(t("train.title"))
dataset = current_dataset()
reg = registry()

MODEL_CHOICES = training.MODEL_KINDS  # shown as t("train.choice_<kind>")

st.caption(t("train.dataset", name=dataset.name, text=dataset.columns.get("text") or "auto",
             labels=dataset.columns.get("label") or dataset.columns.get("rating") or "auto"))


def _estimate(rows: int, *, epochs=None, min_steps=None, batch_size=None, extra: int = 0):
    """The figures before a training on `rows` reviews (services.training), and their source."""
    device = device_label()
    guess, rates = training.training_estimate(rows, store(), device=device, epochs=epochs, min_steps=min_steps,
                                              batch_size=batch_size, extra=extra)
    return guess, rates, device


def time_estimate() -> None:
    """Before every training: the quick result's and the fine-tuning's minutes on this machine, for
    the settings last submitted (the defaults at first), and where a new training would stand in
    the server's queue. The figures come from segcore.training.estimate."""
    rows = dataset.rows or 0
    if not rows:
        return
    state = st.session_state
    rows = min(rows, state.get("max_rows") or rows)
    guess, rates, device = _estimate(rows, epochs=state.get("epochs"), min_steps=state.get("min_steps"),
                                     batch_size=state.get("batch_size"), extra=training.trainings_added(state))
    source = (t("train.estimate_measured", run=rates.measured_by) if rates.measured_by
              else t("train.estimate_default", device=device))
    text = t("train.estimate", rows=rows, quick=minutes(guess.quick_seconds), fine=minutes(guess.fine_tune_seconds))
    if device == "cpu" and guess.fine_tune_seconds > 3600:
        st.warning(text + " " + t("train.slow", hours=guess.fine_tune_seconds / 3600), icon=":material/timer:")
    else:
        st.info(text, icon=":material/timer:")
    st.caption(source)
    ahead, wait = reg.registry.wait_before_start()  # every person's trainings: the server runs one at a time
    line = queue_text(ahead, wait, mine=reg.active() is not None and reg.active().kind == "train")
    if line:
        st.warning(line, icon=":material/hourglass_top:")


time_estimate()
with st.form("train_form"):
    kind = st.radio(t("train.model"), MODEL_CHOICES, format_func=shown_as(MODEL_CHOICES, lambda k: t(f"train.choice_{k}")), horizontal=True,
                    key="model_kind")
    where = st.text_input(t("train.where"), placeholder=t("train.where_eg"), help=t("train.where_help"),
                          key="model_where")
    values: dict[str, dict] = {owner: {} for owner in training.PAGE_CONFIGS}
    # business choices and the learning knobs apart: a marketer opens the first, an expert the second
    for group, group_key in zip(GROUPS, ("group_data", "group_expert")):
        with st.expander(t("train." + group_key)):
            items = training.page_options(group)
            grid([i for i in items if i[1].name not in TRAINING_OPTIONS], values)
            options_part = [i for i in items if i[1].name in TRAINING_OPTIONS]
            if options_part:
                st.markdown(t("train.options_intro"))
                grid(options_part, values)
    values["run"]["aspects"] = control(st, *training.option_field("run", "aspects"))
    st.caption(aspect_lists.caption())
    start = st.form_submit_button(t("train.start"), type="primary", icon=":material/play_arrow:")
if start:
    model = kind if kind in training.BUILTIN_MODELS else where.strip()
    if not model:
        st.error(t("train.need_where"))
    else:
        try:
            lexicon = aspect_lists.run_lexicon_file() if values["run"]["aspects"] else None  # the Aspects page's list
            config = training.build_config(columns=dataset.columns, sheet=dataset.sheet, model=model, values=values,
                                           aspect_lexicon=lexicon)
            rows = training.planned_rows(dataset.rows, config)
            guess, _, _ = _estimate(rows, epochs=config.train.epochs, min_steps=config.train.min_steps,
                                    batch_size=config.train.batch_size,
                                    extra=training.trainings_added({**values["train"], **values["run"]}))
            plan = Plan.from_estimate(rows, guess, quick_first=config.quick_first, fine_tune=not config.quick)
            job = reg.start(dataset.path, config, label=dataset.path.stem.removeprefix("upload-"),
                            input_name=dataset.name, plan=plan)
            st.session_state["run_id"] = job.run_id
            st.toast(t("train.started", run=job.run_id))
        except SegscopeError as exc:
            show_error(exc)


def _fmt_seconds(s):
    return t("train.estimating") if s is None else seconds_text(s)


def _metric_row(*items):
    """One row of st.metric cards from (label, value, extra keyword arguments)."""
    for col, (label, value, extra) in zip(st.columns(len(items)), items):
        col.metric(label, value, **extra)


def _results(run_id):
    try:
        info = store().info(run_id)
    except SegscopeError:
        return
    if not info.usable:
        return
    out = outputs(info)
    m = out.metrics
    st.markdown("#### " + t("train.test_results"))
    changes = training.load_changes(info.path)  # against the job's quick result, when there was one
    reliable, sentence = verdict(m, changes)  # one sentence, one pair of figures; the rest one click away
    since = changes_text(changes, m)
    if since:
        sentence += " " + since
    (st.success if reliable else st.warning)(sentence, icon=":material/check_circle:" if reliable else ":material/info:")
    selection = m.get("selection")
    for note in (selection or {}).get("notes", []):
        st.warning(say(note))
    with st.expander(t("train.technical")):
        if selection:  # which model labels the reviews, and why (training.candidates)
            st.caption(say(selection["message"]))
            table = pd.DataFrame(selection["candidates"]).T.rename(
                index=lambda c: t(f"train.model_{c}") if c in training.CANDIDATE_NAMES else c)
            st.dataframe(table.rename(columns=lambda c: c.replace("val_", "held-out (validation) ").replace(
                "test_", "test ").replace("_", "-").replace("macro-f1", "macro-F1")), width="stretch")
        _metric_row((t("train.test_f1"), f"{m['test']['macro_f1']:.3f}",
                     {"delta": t("train.vs_baseline", delta=m["test"]["macro_f1"] - m["baseline"]["macro_f1"]),
                      "help": t("train.f1_help")}),
                    (t("train.test_acc"), f"{m['test']['accuracy']:.3f}", {}),
                    (t("train.base_f1"), f"{m['baseline']['macro_f1']:.3f}", {}),
                    (t("train.epochs"), f"{m['epochs_run']} ({m['best_epoch']})",
                     {"help": t("train.epochs_help", seconds=m["seconds"], device=m["device"])}))
        left, right = st.columns(2)
        report = pd.DataFrame(m["test"]["report"]).T.drop(index=["accuracy"], errors="ignore").rename(index=label_name)
        left.dataframe(report.round(3), width="stretch")
        right.plotly_chart(train_charts.confusion(m), width="stretch")
        unlabelled = m.get("n_unlabelled", 0)
        st.caption(t("train.split", train=m["n_train"], val=m["n_val"], test=m["n_test"])
                   + (t("train.unlabelled", n=unlabelled) if unlabelled else "") + t("train.saved_as", run=run_id))
        if m.get("options"):
            st.markdown("#### " + t("train.options"))
            rows = [{"option": name, "test macro-F1 with": e.get("macro_f1_with"),
                     "without": e.get("macro_f1_without"), "change": e.get("macro_f1_change"),
                     "details": ", ".join(f"{k}: {v}" for k, v in e.items()
                                          if not k.startswith("macro_f1") and not k.endswith("_without"))}
                    for name, e in m["options"].items()]
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if m.get("model"):
        st.caption(t("train.language_model", language=language_name(m.get("language")), model=m["model"]["chosen"],
                     reason=say(m["model"]["reason"]), features=m["baseline"].get("features") or "TF-IDF"))
    aspects = m.get("aspects") or {}
    if aspects.get("enabled"):
        held = aspects["heldout"]
        st.markdown("#### " + t("train.aspect_tagger"))
        _metric_row((t("train.span_f1"), f"{held['span']['f1']:.3f}",
                     {"help": t("train.span_f1_help", n=held["n_reviews"])}),
                    (t("train.mentions"), f"{held['n_mentions_lexicon']:,} / {held['n_mentions_model']:,}", {}),
                    (t("train.beyond"), f"{held['n_model_beyond_lexicon']:,}", {}),
                    (t("train.with_aspect"), f"{aspects.get('share_reviews_with_aspect_model', 0):.0%}",
                     {"help": t("train.word_list_alone", share=aspects.get("share_reviews_with_aspect_lexicon", 0))}))
        if held["examples_beyond_lexicon"]:
            with st.expander(t("train.missed")):
                st.dataframe(pd.DataFrame(held["examples_beyond_lexicon"]), hide_index=True, width="stretch")
    st.page_link("pages/segments.py", label=t("train.see_segments"), icon=":material/groups:")


def monitor():
    job = reg.latest()
    if job is None:
        run = selected_run()  # this person's, not the server's newest
        if run is not None:
            st.markdown(t("train.latest", run=run.run_id))
            _results(run.run_id)
        return
    snap = job.progress.snapshot()
    st.markdown(f"#### {t('train.run', run=job.run_id)} — {t('train.status_' + job.status)}")
    if job.active and job.quick_run_id:
        st.info(t("train.quick_ready"), icon=":material/bolt:")
        st.page_link("pages/segments.py", label=t("train.open_segments"), icon=":material/groups:")
    if job.active:
        if job.status == "queued":
            wait = training.queued_wait(reg.registry.queue(), job)
            st.progress(0.0, text=progress_text(snap.stage, 0, 0, status="queued", left=wait))
        else:
            left = job.time_left() if job.plan is not None else None
            if left is None and snap.stage == "training" and snap.eta_seconds is not None:
                left = Remaining(snap.eta_seconds, snap.eta_seconds)
            st.progress(training.fraction_done(job), text=progress_text(snap.stage, snap.step, snap.total_steps,
                                                               status=job.status, left=left, phase=snap.phase))
        if st.button(t("train.stop"), icon=":material/stop:", key="stop"):
            reg.stop(job.run_id)
            st.toast(t("train.stopping"))
    elif job.status == "done":
        st.success(t("train.finished", time=_fmt_seconds(job.metrics["seconds"])), icon=":material/check_circle:")
    elif job.status == "cancelled":
        st.warning(t("train.was_stopped"), icon=":material/stop_circle:")
    else:
        st.error(t("train.failed", error=job.error), icon=":material/error:")
    if snap.train_loss or snap.val_metrics:
        st.plotly_chart(train_charts.curves(snap), width="stretch", key=f"curves_{job.run_id}")
    with st.expander(t("train.log"), expanded=False):
        st.code("\n".join(snap.log[-30:]) or t("train.waiting"), language=None)
    if job.status == "done":
        _results(job.run_id)
    # One full rerun when the job ends, so the sidebar and other widgets update.
    was_active = st.session_state.get("job_was_active")
    st.session_state["job_was_active"] = job.active
    if was_active and not job.active:
        st.rerun()


active = reg.active() is not None
polled(monitor, active=active)
