"""Train: fine-tune the encoder in the background with live progress, then show test results."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from segcore.config import AspectConfig, RunConfig, TrainConfig
from segcore.encoders.models import MODEL_CHOICES as BUILTIN_MODELS
from segcore.errors import SegscopeError
from segcore.text.language import LANGUAGE_NAMES
from ui.shared import current_dataset, device_label, outputs, registry, show_error, store

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
    hours = dataset.rows * 0.6 * defaults.epochs / CPU_REVIEWS_PER_SECOND / 3600
    st.warning(f"{dataset.rows:,} reviews on this CPU would take roughly {hours:.0f} h to train. Set "
               f"'Use at most N rows' under Advanced settings (e.g. {CPU_COMFORT_ROWS:,}), or run on a GPU "
               "server; scoring all reviews later is much faster.", icon=":material/timer:")
with st.form("train_form"):
    kind = st.radio("Model", list(MODEL_CHOICES), format_func=MODEL_CHOICES.get, horizontal=True, key="model_kind")
    where = st.text_input("Folder or hub id", placeholder="/path/to/model or bert-base-uncased",
                          help="Only used for the folder / hub choices.", key="model_where")
    with st.expander("Advanced settings"):
        a, b, c = st.columns(3)
        epochs = a.number_input("Epochs (max)", 1, 50, defaults.epochs, key="epochs")
        batch = b.number_input("Batch size", 1, 512, defaults.batch_size)
        lr = c.number_input("Learning rate", 1e-6, 1e-2, defaults.lr, format="%.6f")
        max_length = a.number_input("Tokens per review", 16, 512, defaults.max_length, key="max_length")
        patience = b.number_input("Early-stopping patience (epochs)", 1, 10, defaults.patience)
        dropout = c.number_input("Dropout", 0.0, 0.9, defaults.dropout, step=0.05)
        weight_decay = a.number_input("Weight decay", 0.0, 1.0, defaults.weight_decay, step=0.01)
        warmup = b.number_input("Warm-up share of steps", 0.0, 0.5, defaults.warmup_ratio, step=0.05)
        seed = c.number_input("Seed", 0, 2**31 - 1, 42)
        k = a.number_input("Segments (0 = choose by silhouette)", 0, 20, 0, key="k")
        max_rows = b.number_input("Use at most N rows (0 = all)", 0, 10_000_000, 0)
        mask = c.checkbox("Mask e-mails, phone and card numbers", value=True,
                          help="In the text the model learns from and in every export.")
        st.markdown("**Training options** — each one on is compared with a run without it on the same "
                    "split (reported under Test results); every option on costs one more training run.")
        a, b, c = st.columns(3)
        mlm_epochs = a.number_input("Domain-adaptive pretraining (MLM epochs, 0 = off)", 0, 20, defaults.mlm_epochs,
                                    key="mlm_epochs", help="Masked-language-model training on all review texts "
                                    "(labelled or not) before fine-tuning.")
        lora = b.checkbox("LoRA (parameter-efficient)", value=defaults.lora, key="lora",
                          help="Train small adapters on the attention projections instead of every weight.")
        adversarial = c.checkbox("Adversarial training (FGM)", value=defaults.adversarial == "fgm", key="fgm",
                                 help="Perturb the word embeddings along the gradient each step (not with LoRA).")
        augment = a.checkbox("Augment training reviews", value=defaults.augment, key="augment",
                             help="Add a random word-deletion / swap copy of each training review; validation "
                                  "and test reviews are never changed.")
        compare = b.checkbox("Measure each option's effect", value=True, key="compare",
                             help="Train once more without each option that is on, on the same split.")
        aspect_epochs = a.number_input("Aspect tagger epochs", 1, 20, AspectConfig().epochs, key="aspect_epochs")
    aspects = st.checkbox("Tag aspects (price, delivery, taste, service, …)", value=RunConfig().aspects,
                          key="aspects",
                          help="Trains a second, small model that marks aspect terms in each review, starting "
                               "from a built-in English and Chinese word list. Adds aspect shares and sentiment "
                               "to the segments and aspect-specific strategies; costs a few more minutes.")
    start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
if start:
    model = kind if kind in BUILTIN_MODELS else where.strip()
    if not model:
        st.error("Enter the model folder or hub id, or choose the shipped model.")
    else:
        try:
            config = RunConfig(
                columns=dict(dataset.columns), sheet=dataset.sheet, k=int(k) or None,
                max_rows=int(max_rows) or None, seed=int(seed), mask_pii=bool(mask), compare_options=bool(compare),
                aspects=bool(aspects), aspect_config=AspectConfig(epochs=int(aspect_epochs)),
                train=TrainConfig(model=model, epochs=int(epochs), batch_size=int(batch), lr=float(lr),
                                  max_length=int(max_length), patience=int(patience), dropout=float(dropout),
                                  weight_decay=float(weight_decay), warmup_ratio=float(warmup), seed=int(seed),
                                  progress_bar=False, mlm_epochs=int(mlm_epochs), lora=bool(lora),
                                  adversarial="fgm" if adversarial else None, augment=bool(augment)))
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
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="step",
                      yaxis=dict(title="loss"), yaxis2=dict(title="macro-F1", overlaying="y", side="right", range=[0, 1]),
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
    _metric_row(("Test macro-F1", f"{m['test']['macro_f1']:.3f}",
                 {"delta": f"{m['test']['macro_f1'] - m['baseline']['macro_f1']:+.3f} vs baseline"}),
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
    st.caption(f"{m['n_train']:,} train / {m['n_val']:,} validation / {m['n_test']:,} test reviews, "
               "split by customer" + (f"; {unlabelled:,} unlabelled reviews got predicted labels" if unlabelled else "")
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
        runs = [r for r in store().list() if r.usable]
        if runs:
            st.markdown(f"Latest finished run: **{runs[0].run_id}**")
            _results(runs[0].run_id)
        return
    snap = job.progress.snapshot()
    st.markdown(f"#### Run `{job.run_id}` — {job.status}")
    if job.active:
        eta = snap.eta_seconds if snap.stage == "training" else None
        st.progress(snap.fraction, text=f"{snap.stage}: step {snap.step}/{snap.total_steps or '?'} — "
                                        f"time left {_fmt_seconds(eta)}")
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
