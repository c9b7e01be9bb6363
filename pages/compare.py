"""Compare: what changed between the run's data and a new scoring, or between two scorings."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login


import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from segcore.errors import SegscopeError
from segcore.io.export import csv_bytes, read_export_csv
from ui.charts import segment_colour, segment_label
from ui.compare import RUN_DATA, comparison, scorings
from ui.shared import md_escape, need_run, show_error

st.title("Compare")
run = need_run()
found = scorings(run)
if not found:
    st.info("No scorings of this run yet. Score a new file with it on the **Models** page (or with "
            "`python -m segcore score` / `watch` into the run's scores/ folder).")
    st.page_link("pages/models.py", label="Go to Models", icon=":material/inventory_2:")
    st.stop()

names = list(found)
left, right = st.columns(2)
after_name = right.selectbox("Now", names, index=len(names) - 1, key="compare_after")
before_name = left.selectbox("Before", [RUN_DATA, *[n for n in names if n != after_name]], key="compare_before")
try:
    result = comparison(run, before_name, found[after_name])
except SegscopeError as exc:
    show_error(exc)
    st.stop()

b, a = result["before"], result["after"]
st.caption(f"Before: {md_escape(b['name'])} ({b['n_reviews']:,} reviews, {md_escape(b['label'])}) — "
           f"now: {md_escape(a['name'])} ({a['n_reviews']:,} reviews, {md_escape(a['label'])}). Segment ids are "
           "the saved run's, so each segment is the same group in both.")

st.markdown("#### Alerts")
if result["alerts"]:
    for alert in result["alerts"]:
        st.warning(alert["text"], icon=":material/notifications:")
else:
    st.success("No change large enough for an alert.", icon=":material/check_circle:")

segments = result["segments"]
seg_colours = {segment_label(s["segment_id"], s["name"]): segment_colour(s["segment_id"]) for s in segments}
rows = []
for s in segments:
    label = segment_label(s["segment_id"], s["name"])
    for side in ("before", "after"):
        if s[side]:
            rows.append({"segment": label, "when": "before" if side == "before" else "now",
                         "share of reviews": s[side]["share"], "negative share": s[side]["negative"]})
table = pd.DataFrame(rows)
c1, c2 = st.columns(2)
# Segment colours as on every page; "before" hatched, "now" solid.
bars = dict(y="segment", color="segment", pattern_shape="when", barmode="group", orientation="h",
            color_discrete_map=seg_colours, pattern_shape_map={"before": "/", "now": ""})
c1.plotly_chart(px.bar(table, x="share of reviews", title="Segment shares, before (hatched) and now", **bars)
                .update_yaxes(autorange="reversed", title=None), width="stretch")
c2.plotly_chart(px.bar(table, x="negative share", title="Negative reviews per segment, before (hatched) and now",
                       **bars).update_yaxes(autorange="reversed", title=None), width="stretch")

shifts = pd.DataFrame([{"segment": f"{s['segment_id']}: {s['name']}", **c} for s in segments
                       for c in s.get("complaint_shifts", [])[:3]])
phrases = pd.DataFrame([{"segment": f"{s['segment_id']}: {s['name']}", **p} for s in segments
                        for p in s["emerging_phrases"]])
c1, c2 = st.columns(2)
c1.markdown("##### Complaint shifts (share of the segment's reviews)")
if len(shifts):
    c1.dataframe(shifts, hide_index=True)
else:
    c1.caption("No complaints found in either.")
c2.markdown("##### Emerging phrases (new, not among the segment's keywords)")
if len(phrases):
    c2.dataframe(phrases, hide_index=True)
else:
    c2.caption("No new phrase used often enough.")

periods = result.get("periods")
if periods:
    per = pd.DataFrame([{"segment": segment_label(s, next((x['name'] for x in segments if x['segment_id'] == int(s)), s)),
                         "period": r["period"], "share": r["share"], "negative": r["negative"]}
                        for s, rs in periods["segments"].items() for r in rs])
    st.plotly_chart(px.line(per, x="period", y="share", color="segment", markers=True, color_discrete_map=seg_colours,
                            title=f"Segment shares per {periods['freq']} (now)"), width="stretch")

st.markdown("#### Customers")
movers, risk = result["movers"], result["newly_at_risk"]
m1, m2, m3 = st.columns(3)
m1.metric("Customers in both", f"{movers['n_recurring']:,}")
m2.metric("Moved segment", f"{movers['n_moved']:,}")
m3.metric(f"Newly at risk (churn ≥ {risk['threshold']:g})", f"{risk['n']:,}")
movers_file = found[after_name] / "movers.csv"
if before_name != RUN_DATA or not movers_file.exists():
    from segcore.compare import load_scoring, movers_table
    from segcore.io.artifacts import load_meta

    meta = load_meta(run.path / "model")
    before_path = run.path if before_name == RUN_DATA else found[before_name]
    movers_frame = movers_table(load_scoring(before_path, meta=meta), load_scoring(found[after_name], meta=meta))
else:
    movers_frame = read_export_csv(movers_file, dtype={"customer_id": str})
if len(movers_frame):
    st.dataframe(movers_frame.head(200), hide_index=True)
st.download_button("movers.csv (campaign list)", csv_bytes(movers_frame), file_name="movers.csv", mime="text/csv",
                   icon=":material/download:")

drift = result.get("drift")
st.markdown("#### Do the saved segments still fit?")
if drift:
    st.metric("New customers beyond the training customers' 95th-percentile distance",
              f"{drift['share_beyond']:.0%}", help=f"about {drift['expected']:.0%} when the segments still fit")
    (st.error if drift["retrain"] else st.info)(drift["message"])
    h = drift["histogram"]
    mids = [(x + y) / 2 for x, y in zip(h["edges"], h["edges"][1:])]
    fig = go.Figure([go.Bar(x=mids, y=h["reference"], name="training customers", opacity=0.6),
                     go.Bar(x=mids, y=h["new"], name="new customers", opacity=0.6)])
    fig.add_vline(x=drift["threshold"], line_dash="dash")
    st.plotly_chart(fig.update_layout(barmode="overlay", title="Distance to the nearest segment centre",
                                      xaxis_title="distance", yaxis_title="share of customers"), width="stretch")
else:
    st.caption("Measured against the run's own data: choose \"The run's own data\" as Before.")
