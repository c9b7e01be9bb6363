"""Train: fine-tune the encoder in the background with live progress, then show test results."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

from dataclasses import fields

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from segcore.config import (
    DEFAULT_EPOCHS,
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
from segcore.text.language import LANGUAGE_NAMES
from segcore.training.options import OFF
from ui import aspects as aspect_lists
from ui.charts import loss_axis
from ui.train_text import progress_text, verdict
from ui.shared import (
    current_dataset,
    device_label,
    outputs,
    registry,
    selected_run,
    show_error,
    store,
)

st.title("Train")
dataset = current_dataset()
reg = registry()
defaults = TrainConfig()

# Training samples/s of the shipped MiniLM on a 2-core AMX CPU (README, performance); for the warning only.
CPU_REVIEWS_PER_SECOND = 30
CPU_COMFORT_ROWS = 20_000

MODEL_CHOICES = {"auto": "Auto by language (English: MiniLM, other: multilingual)",
                 "default": "Shipped English model (all-MiniLM-L6-v2, offline)",
                 "multilingual": "Shipped multilingual model (multilingual-e5-small, offline)",
                 "local": "A model folder on this server", "hub": "A Hugging Face hub id (needs internet)"}

st.caption(f"Dataset: **{dataset.name}** — text column `{dataset.columns.get('text') or 'auto'}`, "
           f"labels from `{dataset.columns.get('label') or dataset.columns.get('rating') or 'auto'}`")
if dataset.rows and dataset.rows > CPU_COMFORT_ROWS and device_label() == "cpu":
    hours = dataset.rows * 0.6 * (defaults.epochs or DEFAULT_EPOCHS) / CPU_REVIEWS_PER_SECOND / 3600
    st.warning(f"Fine-tuning {dataset.rows:,} reviews on this CPU takes roughly {hours:.0f} h. With "
               "'Quick result first' (on by default) segments, map and exports from the quick model come within "
               "minutes and are replaced when fine-tuning is done; or run on a GPU server.", icon=":material/timer:")
def control(where, f, opt):
    """One widget from a config field's Option: label, help, bounds and default come from
    segcore.config, so the page offers what the Python API and the CLI accept; the value it
    returns goes to the field as is (the dataclass checks it with the same message)."""
    default, key = default_of(f), opt.key or f.name
    kind = opt.type or type(default)
    help_text = opt.help[:1].upper() + opt.help[1:] + "."
    if kind is bool:
        return where.checkbox(opt.label, value=default, key=key, help=help_text)
    if opt.choices is not None:
        values = [c for c in opt.choices if c is not None]
        if None in opt.choices and len(values) == 1:  # off / one method: a checkbox
            return values[0] if where.checkbox(opt.label, value=default == values[0], key=key, help=help_text) else None
        return where.selectbox(opt.label, opt.choices, index=opt.choices.index(default), key=key, help=help_text)
    bound = (lambda v: None if v is None else kind(v))
    label = opt.label + (f" (empty: {opt.none})" if default is None and opt.none else "")
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
    kind = st.radio("Model", list(MODEL_CHOICES), format_func=MODEL_CHOICES.get, horizontal=True, key="model_kind")
    where = st.text_input("Folder or hub id", placeholder="/path/to/model or bert-base-uncased",
                          help="Only used for the folder / hub choices.", key="model_where")
    values: dict[str, dict] = {owner: {} for owner in PAGE_CONFIGS}
    with st.expander("Advanced settings"):
        for group in (DATA, EXPERT):
            st.markdown(f"**{group}**")
            items = page_options(group)
            _grid([i for i in items if i[1].name not in TRAINING_OPTIONS], values)
            options_part = [i for i in items if i[1].name in TRAINING_OPTIONS]
            if options_part:
                st.markdown("*Training options* — each one on is compared with a run without it on the same "
                            "split (reported under Test results); every option on costs one more training run.")
                _grid(options_part, values)
    aspects_field = next(f for f in fields(RunConfig) if f.name == "aspects")
    values["run"]["aspects"] = control(st, aspects_field, aspects_field.metadata["option"])
    st.caption(aspect_lists.caption())
    start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
if start:
    model = kind if kind in BUILTIN_MODELS else where.strip()
    if not model:
        st.error("Enter the model folder or hub id, or choose the shipped model.")
    else:
        try:
            if values["run"]["aspects"]:  # the Aspects page's list, when edited
                values["run"]["aspect_lexicon"] = aspect_lists.run_lexicon_file()
            config = RunConfig(columns=dict(dataset.columns), sheet=dataset.sheet, **values["run"],
                               aspect_config=AspectConfig(**values["aspect"]),
                               train=TrainConfig(model=model, progress_bar=False, **values["train"]))
            job = reg.start(dataset.path, config, label=dataset.path.stem.removeprefix("upload-"),
                            input_name=dataset.name)
            st.session_state["run_id"] = job.run_id
            st.toast(f"Training started: {job.run_id}")
        except SegscopeError as exc:
            show_error(exc)


def _fmt_seconds(s):
    if s is None:
        return "estimating…"
    s = int(s)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _curves(snap):
    fig = go.Figure()
    if snap.train_loss:
        steps, losses = zip(*snap.train_loss)
        fig.add_scatter(x=steps, y=losses, name="train loss", mode="lines+markers")
    if snap.val_metrics:
        fig.add_scatter(x=[m["step"] for m in snap.val_metrics], y=[m.get("eval_macro_f1") for m in snap.val_metrics],
                        name="validation macro-F1", mode="lines+markers", yaxis="y2")
        fig.add_scatter(x=[m["step"] for m in snap.val_metrics], y=[m.get("eval_loss") for m in snap.val_metrics],
                        name="validation loss", mode="lines+markers")
    losses = [loss for _, loss in snap.train_loss] + [m.get("eval_loss") for m in snap.val_metrics]
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="step",
                      yaxis=dict(title="loss", range=loss_axis(losses)),  # from 0: noise does not look like swings yaxis2=dict(title="macro-F1", overlaying="y", side="right", range=[0, 1]),
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
    st.markdown("#### Test results")
    reliable, sentence = verdict(m)  # plain words first; the figures behind it one click away
    (st.success if reliable else st.warning)(sentence, icon=":material/check_circle:" if reliable else ":material/info:")
    selection = m.get("selection")
    for note in (selection or {}).get("notes", []):
        st.warning(note)
    with st.expander("Technical figures (macro-F1, epochs, precision / recall)"):
        if selection:  # which model labels the reviews, and why (training.candidates)
            st.caption(selection["message"])
            table = pd.DataFrame(selection["candidates"]).T.rename(index=CANDIDATE_NAMES)
            st.dataframe(table.rename(columns=lambda c: c.replace("val_", "held-out (validation) ").replace(
                "test_", "test ").replace("_", "-").replace("macro-f1", "macro-F1")), width="stretch")
        _metric_row(("Test macro-F1", f"{m['test']['macro_f1']:.3f}",
                     {"delta": f"{m['test']['macro_f1'] - m['baseline']['macro_f1']:+.3f} vs baseline",
                      "help": "F1 averaged over the classes, so rare classes count as much as common ones."}),
                    ("Test accuracy", f"{m['test']['accuracy']:.3f}", {}),
                    ("Baseline macro-F1 (TF-IDF + LR)", f"{m['baseline']['macro_f1']:.3f}", {}),
                    ("Epochs (best)", f"{m['epochs_run']} ({m['best_epoch']})",
                     {"help": f"{m['seconds']:.0f} s on {m['device']}"}))
        left, right = st.columns(2)
        report = pd.DataFrame(m["test"]["report"]).T.drop(index=["accuracy"], errors="ignore")
        left.dataframe(report.round(3), width="stretch")
        cm = px.imshow(m["confusion_matrix"], x=labels, y=labels, text_auto=True, color_continuous_scale="Blues",
                       labels=dict(x="predicted", y="true", color="reviews"), title="Confusion matrix (test)")
        right.plotly_chart(cm, width="stretch")
        unlabelled = m.get("n_unlabelled", 0)
        st.caption(f"{m['n_train']:,} train / {m['n_val']:,} validation / {m['n_test']:,} test reviews, split by "
                   "customer" + (f"; {unlabelled:,} unlabelled reviews got predicted labels" if unlabelled else "")
                   + ". Saved as run " + run_id)
        if m.get("options"):
            st.markdown("#### Training options")
            rows = [{"option": name, "test macro-F1 with": e.get("macro_f1_with"),
                     "without": e.get("macro_f1_without"), "change": e.get("macro_f1_change"),
                     "details": ", ".join(f"{k}: {v}" for k, v in e.items()
                                          if not k.startswith("macro_f1") and not k.endswith("_without"))}
                    for name, e in m["options"].items()]
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if m.get("model"):
        st.caption(f"Language: {LANGUAGE_NAMES.get(m.get('language'), m.get('language'))}; "
                   f"model: {m['model']['chosen']} ({m['model']['reason']}); baseline features: "
                   f"{m['baseline'].get('features') or 'TF-IDF'}")
    aspects = m.get("aspects") or {}
    if aspects.get("enabled"):
        held = aspects["heldout"]
        st.markdown("#### Aspect tagger")
        _metric_row(("Span F1 vs word list", f"{held['span']['f1']:.3f}",
                     {"help": f"On {held['n_reviews']:,} held-out reviews, against the labels the word list "
                              "gives them."}),
                    ("Mentions (word list / model)", f"{held['n_mentions_lexicon']:,} / {held['n_mentions_model']:,}", {}),
                    ("Found beyond the word list", f"{held['n_model_beyond_lexicon']:,}", {}),
                    ("Reviews with an aspect", f"{aspects.get('share_reviews_with_aspect_model', 0):.0%}",
                     {"help": f"Word list alone: {aspects.get('share_reviews_with_aspect_lexicon', 0):.0%}"}))
        if held["examples_beyond_lexicon"]:
            with st.expander("Aspect mentions the word list missed"):
                st.dataframe(pd.DataFrame(held["examples_beyond_lexicon"]), hide_index=True, width="stretch")
    st.page_link("pages/segments.py", label="See the segments", icon=":material/groups:")


def monitor():
    job = reg.latest()
    if job is None:
        run = selected_run()  # this person's, not the server's newest
        if run is not None:
            st.markdown(f"Latest finished run: **{run.run_id}**")
            _results(run.run_id)
        return
    snap = job.progress.snapshot()
    st.markdown(f"#### Run `{job.run_id}` — {job.status}")
    if job.active and job.quick_run_id:
        st.info("**Quick result ready**: segments, map, strategies and exports from the quick model are on the "
                "other pages now. Fine-tuning continues and replaces them when it is done.",
                icon=":material/bolt:")
        st.page_link("pages/segments.py", label="Open the segments", icon=":material/groups:")
    if job.active:
        eta = snap.eta_seconds if snap.stage == "training" else None
        st.progress(snap.fraction, text=progress_text(snap.stage, snap.step, snap.total_steps, status=job.status,
                                                      eta=eta))
        if st.button("Stop training", icon=":material/stop:", key="stop"):
            reg.stop(job.run_id)
            st.toast("Stopping at the next step…")
    elif job.status == "done":
        st.success(f"Finished in {_fmt_seconds(job.metrics['seconds'])}.", icon=":material/check_circle:")
    elif job.status == "cancelled":
        st.warning("Training was stopped; this run was not saved as a usable model.", icon=":material/stop_circle:")
    else:
        st.error(f"Training failed: {job.error}", icon=":material/error:")
    if snap.train_loss or snap.val_metrics:
        st.plotly_chart(_curves(snap), width="stretch", key=f"curves_{job.run_id}")
    with st.expander("Log", expanded=False):
        st.code("\n".join(snap.log[-30:]) or "waiting…", language=None)
    if job.status == "done":
        _results(job.run_id)
    # One full rerun when the job ends, so the sidebar and other widgets update.
    was_active = st.session_state.get("job_was_active")
    st.session_state["job_was_active"] = job.active
    if was_active and not job.active:
        st.rerun()


active = reg.active() is not None
st.fragment(monitor, run_every=1.0 if active else None)()
