"""Train: fine-tune the encoder in the background with live progress, then show test results."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import json
from dataclasses import fields, replace

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from segcore.config import (
    DATA,
    EXPERT,
    AspectConfig,
    RunConfig,
    TrainConfig,
    default_of,
    options,
)
from segcore.encoders.models import MODEL_CHOICES as BUILTIN_MODELS
from segcore.errors import SegscopeError
from segcore.training.candidates import PLAIN_NAMES as CANDIDATE_NAMES
from segcore.services.changes import load_changes
from segcore.services.jobs import fraction_done
from segcore.training.estimate import Plan, Remaining, estimate, minutes, rates_for
from segcore.training.options import OFF
from ui import aspects as aspect_lists
from ui.charts import loss_axis
from ui.i18n import label_name, lang, language_name, shown_as, t, t_or
from ui.train_text import changes_text, progress_text, queue_text, seconds_text, verdict
from ui.segtext import say
from ui.shared import (
    current_dataset,
    device_label,
    outputs,
    registry,
    selected_run,
    show_error,
    store,
)

st.title(t("train.title"))
dataset = current_dataset()
reg = registry()
defaults = TrainConfig()

MODEL_CHOICES = ("auto", "default", "multilingual", "local", "hub")  # shown as t("train.choice_<kind>")

st.caption(t("train.dataset", name=dataset.name, text=dataset.columns.get("text") or "auto",
             labels=dataset.columns.get("label") or dataset.columns.get("rating") or "auto"))


def _measured_runs(limit: int = 20):
    """(run_id, metrics.json) of the newest finished runs on this server, newest first."""
    for info in [r for r in store().list() if r.usable][:limit]:
        try:
            yield info.run_id, json.loads((info.path / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue


def _estimate(rows: int, *, epochs=None, min_steps=None, batch_size=None, extra: int = 0):
    """The figures before a training on `rows` reviews (segcore.training.estimate), and their source."""
    device = device_label()
    rates = rates_for(device, _measured_runs())
    guess = estimate(rows, rates, device=device, epochs=epochs, min_steps=defaults.min_steps if min_steps is None
                     else min_steps, batch_size=batch_size, extra_trainings=extra)
    return guess, rates, device


def _extra_runs(values: dict) -> int:
    """Training options on: each one costs one more training when their effect is measured."""
    on = sum(bool(values.get(k)) for k in ("lora", "augment", "mlm_epochs", "fgm", "adversarial"))
    return on if values.get("compare", values.get("compare_options", True)) else 0


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
                                     batch_size=state.get("batch_size"), extra=_extra_runs(state))
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
def control(where, f, opt):
    """One widget from a config field's Option: label, help, bounds and default come from
    segcore.config, so the page offers what the Python API and the CLI accept; the value it
    returns goes to the field as is (the dataclass checks it with the same message)."""
    default, key = default_of(f), opt.key or f.name
    kind = opt.type or type(default)
    if lang() != "en":  # the config's English words are the source; other languages from ui/locales
        opt = replace(opt, label=t_or(f"opt.{key}", opt.label), help=t_or(f"opt.{key}_help", opt.help),
                      none=t_or(f"opt.{key}_none", opt.none) if opt.none else opt.none)
    help_text = opt.help[:1].upper() + opt.help[1:] + ("." if lang() == "en" else "")
    if kind is bool:
        return where.checkbox(opt.label, value=default, key=key, help=help_text)
    if opt.choices is not None:
        values = [c for c in opt.choices if c is not None]
        if None in opt.choices and len(values) == 1:  # off / one method: a checkbox
            return values[0] if where.checkbox(opt.label, value=default == values[0], key=key, help=help_text) else None
        return where.selectbox(opt.label, opt.choices, index=opt.choices.index(default), key=key, help=help_text)
    bound = (lambda v: None if v is None else kind(v))
    label = opt.label + (t("train.empty", none=opt.none) if default is None and opt.none else "")
    value = where.number_input(label, min_value=bound(opt.min), max_value=bound(opt.max), value=default,
                               step=bound(opt.step) or (1 if kind is int else None), format=opt.format, key=key,
                               help=help_text, placeholder=opt.none)
    return bound(value)


# The Train page's owners of option fields, in the order the page shows them.
PAGE_CONFIGS = {"train": TrainConfig, "run": RunConfig, "aspect": AspectConfig}
# The training options (each on costs a comparison run) and the switch for that comparison.
TRAINING_OPTIONS = {name for off in OFF.values() for name in off} | {"compare_options"}


def page_options(group: str) -> list[tuple[str, object, object]]:
    """(owner, field, Option) of the controls in `group`, training options last."""
    found = [(owner, f, opt) for owner, cls in PAGE_CONFIGS.items() for f, opt in options(cls) if opt.group == group]
    return sorted(found, key=lambda item: item[1].name in TRAINING_OPTIONS)  # stable: field order kept


def _grid(items, values):
    cols = st.columns(3)
    for i, (owner, f, opt) in enumerate(items):
        values[owner][f.name] = control(cols[i % 3], f, opt)


with st.form("train_form"):
    kind = st.radio(t("train.model"), MODEL_CHOICES, format_func=shown_as(MODEL_CHOICES, lambda k: t(f"train.choice_{k}")), horizontal=True,
                    key="model_kind")
    where = st.text_input(t("train.where"), placeholder=t("train.where_eg"), help=t("train.where_help"),
                          key="model_where")
    values: dict[str, dict] = {owner: {} for owner in PAGE_CONFIGS}
    # business choices and the learning knobs apart: a marketer opens the first, an expert the second
    for group, group_key in ((DATA, "group_data"), (EXPERT, "group_expert")):
        with st.expander(t("train." + group_key)):
            items = page_options(group)
            _grid([i for i in items if i[1].name not in TRAINING_OPTIONS], values)
            options_part = [i for i in items if i[1].name in TRAINING_OPTIONS]
            if options_part:
                st.markdown(t("train.options_intro"))
                _grid(options_part, values)
    aspects_field = next(f for f in fields(RunConfig) if f.name == "aspects")
    values["run"]["aspects"] = control(st, aspects_field, aspects_field.metadata["option"])
    st.caption(aspect_lists.caption())
    start = st.form_submit_button(t("train.start"), type="primary", icon=":material/play_arrow:")
if start:
    model = kind if kind in BUILTIN_MODELS else where.strip()
    if not model:
        st.error(t("train.need_where"))
    else:
        try:
            if values["run"]["aspects"]:  # the Aspects page's list, when edited
                values["run"]["aspect_lexicon"] = aspect_lists.run_lexicon_file()
            config = RunConfig(columns=dict(dataset.columns), sheet=dataset.sheet, **values["run"],
                               aspect_config=AspectConfig(**values["aspect"]),
                               train=TrainConfig(model=model, progress_bar=False, **values["train"]))
            rows = min(dataset.rows or 0, config.max_rows or dataset.rows or 0)
            guess, _, _ = _estimate(rows, epochs=config.train.epochs, min_steps=config.train.min_steps,
                                    batch_size=config.train.batch_size,
                                    extra=_extra_runs({**values["train"], **values["run"]}))
            plan = Plan.from_estimate(rows, guess, quick_first=config.quick_first, fine_tune=not config.quick)
            job = reg.start(dataset.path, config, label=dataset.path.stem.removeprefix("upload-"),
                            input_name=dataset.name, plan=plan)
            st.session_state["run_id"] = job.run_id
            st.toast(t("train.started", run=job.run_id))
        except SegscopeError as exc:
            show_error(exc)


def _fmt_seconds(s):
    return t("train.estimating") if s is None else seconds_text(s)


def _curves(snap):
    fig = go.Figure()
    if snap.train_loss:
        steps, losses = zip(*snap.train_loss)
        fig.add_scatter(x=steps, y=losses, name=t("train.train_loss"), mode="lines+markers")
    if snap.val_metrics:
        fig.add_scatter(x=[m["step"] for m in snap.val_metrics], y=[m.get("eval_macro_f1") for m in snap.val_metrics],
                        name=t("train.val_f1"), mode="lines+markers", yaxis="y2")
        fig.add_scatter(x=[m["step"] for m in snap.val_metrics], y=[m.get("eval_loss") for m in snap.val_metrics],
                        name=t("train.val_loss"), mode="lines+markers")
    losses = [loss for _, loss in snap.train_loss] + [m.get("eval_loss") for m in snap.val_metrics]
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=t("train.axis_step"),
                      yaxis=dict(title=t("train.axis_loss"), range=loss_axis(losses)),  # from 0: noise stays flat
                      yaxis2=dict(title="macro-F1", overlaying="y", side="right", range=[0, 1]),
                      legend=dict(orientation="h", y=1.15))
    return fig


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
    labels = m["labels"]
    st.markdown("#### " + t("train.test_results"))
    changes = load_changes(info.path)  # against the job's quick result, when there was one
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
                index=lambda c: t(f"train.model_{c}") if c in CANDIDATE_NAMES else c)
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
        shown = [label_name(x) for x in labels]
        cm = px.imshow(m["confusion_matrix"], x=shown, y=shown, text_auto=True, color_continuous_scale="Blues",
                       labels=dict(x=t("train.predicted"), y=t("train.true"), color=t("train.reviews")),
                       title=t("train.confusion"))
        right.plotly_chart(cm, width="stretch")
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
            queue = reg.registry.queue()
            ahead = queue[: queue.index(job)] if job in queue else queue
            left = [j.time_left() for j in ahead]
            wait = None if not left or any(x is None for x in left) else Remaining(sum(x.low for x in left),
                                                                                    sum(x.high for x in left))
            st.progress(0.0, text=progress_text(snap.stage, 0, 0, status="queued", left=wait))
        else:
            left = job.time_left() if job.plan is not None else None
            if left is None and snap.stage == "training" and snap.eta_seconds is not None:
                left = Remaining(snap.eta_seconds, snap.eta_seconds)
            st.progress(fraction_done(job), text=progress_text(snap.stage, snap.step, snap.total_steps,
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
        st.plotly_chart(_curves(snap), width="stretch", key=f"curves_{job.run_id}")
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
st.fragment(monitor, run_every=1.0 if active else None)()
