"""Segments: sizes, profiles, trait comparison; re-segment and rename without retraining."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from segcore.services import segments
from ui import segment_charts
from ui.charts import segment_traits, sentiment_chart, traits_chart
from ui.i18n import label_name, t
from ui.segtext import say
from ui.shared import md_escape, outputs, registry, show_error
from ui.sidebar import need_run, stop_page
from ui.templates import current_templates

st.title(t("segments.title"))
run = need_run()
out = outputs(run)
profiles = out.profiles
labels = out.metrics["labels"]
run_language = out.metrics.get("output_language", "en")  # re-segmenting keeps the run's names and templates
st.caption(t("segments.caption", run=run.run_id, customers=len(out.segments), reviews=len(out.reviews),
             segments=len(profiles)))

# Segment quality (metrics.json segment_quality; analysis/quality.py says how each is measured)
quality = out.metrics.get("segment_quality") or {}
if quality:
    st.markdown("#### " + t("segments.quality"))
    q = st.columns(5)
    fmt = lambda v, f="{:.2f}": "—" if v is None else f.format(v)  # noqa: E731
    q[0].metric(t("segments.silhouette"), fmt(quality.get("silhouette")), help=t("segments.silhouette_help"))
    q[1].metric(t("segments.balance"), fmt(quality.get("size_balance")),
                help=t("segments.balance_help", smallest=fmt(quality.get("smallest_share"), "{:.0%}"),
                       largest=fmt(quality.get("largest_share"), "{:.0%}")))
    q[2].metric(t("segments.overlap"), fmt(quality.get("keyword_overlap")), help=t("segments.overlap_help"))
    q[3].metric(t("segments.purity"), fmt(quality.get("attitude_purity"), "{:.0%}"),
                help=t("segments.purity_help", n=quality.get("attitude_purity_customers", 0)))
    nmi = quality.get("category_nmi") or {}
    q[4].metric(t("segments.nmi"), "—" if not nmi else f"{max(nmi.values()):.2f}",
                help=t("segments.nmi_help", found=", ".join(f"{md_escape(c)} {v:.2f}" for c, v in nmi.items())
                       or t("segments.none_found")))

left, right = st.columns([3, 2])
bars, ring = segment_charts.size_charts(profiles)
left.plotly_chart(bars, width="stretch")
right.plotly_chart(ring, width="stretch")
st.plotly_chart(sentiment_chart(profiles, labels), width="stretch")

# What to fix first (analysis.facts.fix_first): over all reviews, then per segment in its card
fixes = (out.fix_first or {}).get("overall") or []
if fixes:
    stars = out.fix_first.get("measure") == "rating"
    st.markdown("#### " + t("segments.fix_first"))
    st.caption(t("segments.fix_first_caption" if stars else "segments.fix_first_caption_neg"))
    scale = 1 if stars else 100
    st.dataframe(pd.DataFrame({
        t("segments.fix_rank"): range(1, len(fixes) + 1),
        t("segments.fix_aspect"): [r["word"] for r in fixes],
        t("segments.fix_share"): [f"{r['share']:.0%}" for r in fixes],
        t("segments.fix_drag"): [f"{r['drag'] * scale:+.2f}" for r in fixes],
        t("segments.fix_interval"): [f"{r['drag_low'] * scale:+.2f} … {r['drag_high'] * scale:+.2f}" for r in fixes],
        t("segments.fix_clear"): [t("segments.yes") if r["clear"] else t("segments.no") for r in fixes],
    }), hide_index=True, width="stretch")

# Traits against the overall average: green better, red worse, whatever the trait; constant traits dropped.
trait_fig = traits_chart(*segment_traits(profiles, labels))
if trait_fig is not None:
    st.plotly_chart(trait_fig, width="stretch", key="traits")

aspects = segments.aspect_table(profiles, labels)
if not aspects.empty:
    st.markdown("#### " + t("segments.aspects"))
    st.plotly_chart(segment_charts.aspect_share_chart(aspects), width="stretch")
    negative = segment_charts.aspect_negative_chart(aspects)
    if negative is not None:
        st.plotly_chart(negative, width="stretch")

over_time = segment_charts.period_charts(profiles)
if over_time is not None:
    freq = segment_charts.period_frequency(profiles)
    st.markdown("#### " + t("segments.over_time", freq=t(f"segments.freq_{freq}")))
    c1, c2 = st.columns(2)
    c1.plotly_chart(over_time[0], width="stretch")
    c2.plotly_chart(over_time[1], width="stretch")

st.markdown("#### " + t("segments.profiles"))
for s, p in sorted(profiles.items()):
    b = p["behaviour"]
    with st.container(border=True):
        st.markdown(f"##### {s}. {md_escape(p['name'])}")  # names and values are data: shown as text
        cols = st.columns(5)
        cols[0].metric(t("segments.customers"), f"{p['size']:,}",
                       help=t("segments.of_customers", share=p["share_of_customers"]))
        cols[1].metric(t("segments.mean_rating"), "—" if b.get("mean_rating") is None else f"{b['mean_rating']:.2f}")
        cols[2].metric(t("segments.churn"), "—" if b.get("churn_risk") is None else f"{b['churn_risk']:.2f}")
        cols[3].metric(t("segments.recency"), "—" if b.get("median_recency_days") is None else f"{b['median_recency_days']:.0f}")
        cols[4].metric(t("segments.spend"), "—" if b.get("mean_monetary") is None else f"{b['mean_monetary']:.2f}")
        st.markdown(f"**{t('segments.keywords')}** " + (", ".join(map(md_escape, p["keywords"])) or "—"))
        # observed first: the customers' own ratings / labels, predictions only for reviews without one
        st.markdown(f"**{t('segments.sentiment')}** "
                    + ", ".join(f"{md_escape(label_name(k))} {v:.0%}" for k, v in p["label_shares"].items())
                    + t("segments.observed", observed=p.get("n_observed", 0), n=p["n_reviews"],
                        predicted=p["n_reviews"] - p.get("n_observed", 0)))
        if p.get("label_shares_observed"):
            st.caption(t("segments.observed_only") + ", ".join(f"{md_escape(label_name(k))} {v:.0%}" for k, v in p["label_shares_observed"].items())
                       + t("segments.predicted_all")
                       + ", ".join(f"{md_escape(label_name(k))} {v:.0%}" for k, v in (p.get("label_shares_predicted") or {}).items()))
        if "action" in out.segments:
            acts = out.segments.loc[out.segments["segment_id"] == s, "action"].value_counts()
            st.markdown(f"**{t('segments.actions')}** " + ", ".join(f"{md_escape(say(a))} ({n:,})" for a, n in acts.items()))
        if p.get("aspects"):
            st.markdown(f"**{t('segments.aspects_label')}** " + ", ".join(
                f"{md_escape(a)} {v['share']:.0%}" + (t("segments.negative_pct", share=v["negative"]) if "negative" in v else "")
                for a, v in list(p["aspects"].items())[:6]))
        clear = [r for r in p.get("fix_first", []) if r["clear"]][:3]
        if clear:
            st.markdown(f"**{t('segments.fix_here')}** " + ", ".join(
                f"{md_escape(r['word'])} ({r['share']:.0%}, {r['drag']:+.2f})" for r in clear))
        if p.get("top_products"):
            st.markdown(f"**{t('segments.top_products')}** " + ", ".join(md_escape(x) for x in list(p["top_products"])[:5]))
        with st.expander(t("segments.examples")):
            for example in p["examples"]:
                st.text(example)  # plain text: review HTML / markdown is never rendered

st.markdown("#### " + t("segments.adjust"))
reg = registry()
if "/" in run.run_id or not reg.may_manage(run):  # a scoring, or a run shared with you: read-only
    st.caption(t("segments.view_only", owner=md_escape(run.owner or t("shared.command_line"))))
    stop_page()
c1, c2 = st.columns(2)
with c1.form("resegment"):
    st.write(t("segments.resegment_intro"))
    k_bounds = segments.k_option()  # 0 = by silhouette; otherwise RunConfig.k's bounds
    k = st.number_input(t("segments.k"), 0, int(k_bounds.max), 0)
    if st.form_submit_button(t("segments.resegment"), icon=":material/refresh:"):
        try:
            with st.spinner(t("segments.resegmenting")):
                templates = current_templates(run_language)
                reg.edit(run.run_id, lambda path: segments.resegment(path, k=int(k) or None, templates=templates),
                         what="re-segment")
            st.cache_data.clear()
            st.rerun()
        except SegscopeError as exc:
            show_error(exc)
with c2.form("rename"):
    st.write(t("segments.rename_intro"))
    names = {s: st.text_input(t("segments.segment_n", n=s), value=p["name"], max_chars=80, key=f"rename_{s}")
             for s, p in sorted(profiles.items())}
    if st.form_submit_button(t("segments.save_names"), icon=":material/edit:"):
        try:
            templates = current_templates(run_language)
            reg.edit(run.run_id, lambda path: segments.rename(path, names, templates=templates), what="rename")
            st.cache_data.clear()
            st.rerun()
        except SegscopeError as exc:
            show_error(exc)
