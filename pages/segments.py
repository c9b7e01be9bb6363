"""Segments: sizes, profiles, trait comparison; re-segment and rename without retraining."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import pandas as pd
import plotly.express as px
import streamlit as st

from segcore.analysis.edit import rename_run_segments, resegment_run
from segcore.aspects.profile import aspect_table
from segcore.errors import SegscopeError
from ui.charts import segment_colours, segment_label, segment_traits, sentiment_chart, traits_chart
from ui.shared import md_escape, need_run, outputs, show_error, templates

st.title("Segments")
run = need_run()
out = outputs(run)
profiles = out.profiles
labels = out.metrics["labels"]
st.caption(f"Run `{run.run_id}` — {len(out.segments):,} customers, {len(out.reviews):,} reviews, "
           f"{len(profiles)} segments")

# Segment quality (metrics.json segment_quality; analysis/quality.py says how each is measured)
quality = out.metrics.get("segment_quality") or {}
if quality:
    st.markdown("#### Segment quality")
    q = st.columns(5)
    fmt = lambda v, f="{:.2f}": "—" if v is None else f.format(v)  # noqa: E731
    q[0].metric("Separation (silhouette)", fmt(quality.get("silhouette")),
                help="How well segments separate on interest and attitude; -1 to 1, higher is better.")
    q[1].metric("Size balance", fmt(quality.get("size_balance")),
                help=f"1 = equal sizes. Smallest segment {fmt(quality.get('smallest_share'), '{:.0%}')}, "
                     f"largest {fmt(quality.get('largest_share'), '{:.0%}')} of customers.")
    q[2].metric("Keyword overlap", fmt(quality.get("keyword_overlap")),
                help="Mean pairwise Jaccard of the segments' top-10 keywords; 0 = no shared word, goal at most 0.15.")
    q[3].metric("Attitude purity", fmt(quality.get("attitude_purity"), "{:.0%}"),
                help=f"Share of the {quality.get('attitude_purity_customers', 0):,} customers with their own ratings / "
                     "labels whose majority sentiment is their segment's; goal at least 85 %.")
    nmi = quality.get("category_nmi") or {}
    q[4].metric("Match with unused category", "—" if not nmi else f"{max(nmi.values()):.2f}",
                help="Normalised mutual information (0-1) between segments and each category column of the file "
                     "that was not used: " + (", ".join(f"{md_escape(c)} {v:.2f}" for c, v in nmi.items()) or "none found"))

seg_colours = segment_colours(profiles)  # one colour per segment, the same on every page
sizes = pd.DataFrame([{"segment": segment_label(s, p["name"]), "customers": p["size"], "reviews": p["n_reviews"],
                       "share": p["share_of_customers"]} for s, p in sorted(profiles.items())])
order = {"segment": list(sizes["segment"])}
left, right = st.columns([3, 2])
left.plotly_chart(px.bar(sizes, x="customers", y="segment", orientation="h", text="customers", color="segment",
                         color_discrete_map=seg_colours, category_orders=order, title="Customers per segment")
                  .update_yaxes(autorange="reversed", title=None).update_layout(showlegend=False), width="stretch")
right.plotly_chart(px.pie(sizes, names="segment", values="customers", hole=0.5, title="Share of customers",
                          color="segment", color_discrete_map=seg_colours, category_orders=order)
                   .update_traces(sort=False, textinfo="percent")
                   .update_layout(legend=dict(orientation="h", y=-0.1)), width="stretch")
st.plotly_chart(sentiment_chart(profiles, labels), width="stretch")

# Traits against the overall average: green better, red worse, whatever the trait; constant traits dropped.
trait_fig = traits_chart(*segment_traits(profiles, labels))
if trait_fig is not None:
    st.plotly_chart(trait_fig, width="stretch", key="traits")

aspects = aspect_table(profiles, labels)
if not aspects.empty:
    st.markdown("#### Aspects")
    shares = aspects.pivot(index="segment", columns="aspect", values="share").fillna(0.0)
    fig = px.imshow(shares, aspect="auto", color_continuous_scale="Blues", text_auto=".0%",
                    title="Share of each segment's reviews mentioning an aspect")
    fig.update_layout(coloraxis_showscale=False, height=140 + 45 * len(shares), xaxis_side="top")
    st.plotly_chart(fig, width="stretch")
    if "negative" in aspects:
        st.plotly_chart(px.bar(aspects, x="aspect", y="negative", facet_col="segment", facet_col_wrap=2,
                               hover_data=["share", "n_reviews"], range_y=[0, 1],
                               title="Share of negative reviews among those mentioning the aspect"),
                        width="stretch")

periods = [{"segment": segment_label(s, p["name"]), "period": r["period"], "share of reviews": r["share"],
            "negative share": r["negative"], "reviews": r["n_reviews"]}
           for s, p in sorted(profiles.items()) for r in (p.get("periods") or {}).get("rows", [])]
if periods:
    freq = next(p["periods"]["freq"] for p in profiles.values() if p.get("periods"))
    st.markdown(f"#### Over time (per {freq})")
    per = pd.DataFrame(periods)
    c1, c2 = st.columns(2)
    c1.plotly_chart(px.line(per, x="period", y="share of reviews", color="segment", markers=True,
                            color_discrete_map=seg_colours, category_orders=order,
                            hover_data=["reviews"], title=f"Each segment's share of the reviews per {freq}"),
                    width="stretch")
    c2.plotly_chart(px.line(per.dropna(subset=["negative share"]), x="period", y="negative share", color="segment",
                            color_discrete_map=seg_colours, category_orders=order,
                            markers=True, hover_data=["reviews"], range_y=[0, 1],
                            title=f"Negative share of each segment's reviews per {freq}"), width="stretch")

st.markdown("#### Profiles")
for s, p in sorted(profiles.items()):
    b = p["behaviour"]
    with st.container(border=True):
        st.markdown(f"##### {s}. {md_escape(p['name'])}")  # names and values are data: shown as text
        cols = st.columns(5)
        cols[0].metric("Customers", f"{p['size']:,}", help=f"{p['share_of_customers']:.1%} of customers")
        cols[1].metric("Mean rating", "—" if b.get("mean_rating") is None else f"{b['mean_rating']:.2f}")
        cols[2].metric("Churn risk", "—" if b.get("churn_risk") is None else f"{b['churn_risk']:.2f}")
        cols[3].metric("Recency (median days)", "—" if b.get("median_recency_days") is None else f"{b['median_recency_days']:.0f}")
        cols[4].metric("Spend (mean)", "—" if b.get("mean_monetary") is None else f"{b['mean_monetary']:.2f}")
        st.markdown("**Keywords:** " + (", ".join(map(md_escape, p["keywords"])) or "—"))
        # observed first: the customers' own ratings / labels, predictions only for reviews without one
        st.markdown("**Sentiment:** " + ", ".join(f"{md_escape(k)} {v:.0%}" for k, v in p["label_shares"].items())
                    + f" — {p.get('n_observed', 0):,} of {p['n_reviews']:,} reviews rated by the customer (observed), "
                      f"{p['n_reviews'] - p.get('n_observed', 0):,} predicted")
        if p.get("label_shares_observed"):
            st.caption("Observed only: " + ", ".join(f"{md_escape(k)} {v:.0%}" for k, v in p["label_shares_observed"].items())
                       + " · model's predictions on all reviews: "
                       + ", ".join(f"{md_escape(k)} {v:.0%}" for k, v in (p.get("label_shares_predicted") or {}).items()))
        if "action" in out.segments:
            acts = out.segments.loc[out.segments["segment_id"] == s, "action"].value_counts()
            st.markdown("**Actions per customer:** " + ", ".join(f"{md_escape(a)} ({n:,})" for a, n in acts.items()))
        if p.get("aspects"):
            st.markdown("**Aspects:** " + ", ".join(
                f"{md_escape(a)} {v['share']:.0%}" + (f" ({v['negative']:.0%} negative)" if "negative" in v else "")
                for a, v in list(p["aspects"].items())[:6]))
        if p.get("top_products"):
            st.markdown("**Top products:** " + ", ".join(md_escape(x) for x in list(p["top_products"])[:5]))
        with st.expander("Example reviews"):
            for example in p["examples"]:
                st.text(example)  # plain text: review HTML / markdown is never rendered

st.markdown("#### Adjust")
c1, c2 = st.columns(2)
with c1.form("resegment"):
    st.write("Re-segment the same customers (no retraining).")
    k = st.number_input("Number of segments (0 = choose by silhouette)", 0, 20, 0)
    if st.form_submit_button("Re-segment", icon=":material/refresh:"):
        try:
            with st.spinner("Re-segmenting…"):
                resegment_run(run.path, k=int(k) or None, templates=templates())
            st.cache_data.clear()
            st.rerun()
        except SegscopeError as exc:
            show_error(exc)
with c2.form("rename"):
    st.write("Rename segments; names flow into strategies and exports.")
    names = {s: st.text_input(f"Segment {s}", value=p["name"], max_chars=80) for s, p in sorted(profiles.items())}
    if st.form_submit_button("Save names", icon=":material/edit:"):
        try:
            rename_run_segments(run.path, names, templates=templates())
            st.cache_data.clear()
            st.rerun()
        except SegscopeError as exc:
            show_error(exc)
