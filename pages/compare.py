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
from ui.compare import RUN_DATA, alert_line, comparison, file_name, scorings
from ui.i18n import shown_as, t, t_or
from ui.segtext import say
from ui.shared import md_escape, show_error
from ui.sidebar import need_run, stop_page

LEGEND_MAX = 8  # legend entries a chart shows at most

st.title(t("compare.title"))
run = need_run()
found = scorings(run)
if not found:
    st.info(t("compare.none"))
    st.page_link("pages/models.py", label=t("compare.go_models"), icon=":material/inventory_2:")
    stop_page()

names = list(found)
left, right = st.columns(2)
after_name = right.selectbox(t("compare.now"), names, index=len(names) - 1, key="compare_after")
before_name = left.selectbox(t("compare.before"), [RUN_DATA, *[n for n in names if n != after_name]], key="compare_before",
                             format_func=shown_as([RUN_DATA], lambda n: t("compare.run_data")))
try:
    result = comparison(run, before_name, found[after_name])
except SegscopeError as exc:
    show_error(exc)
    stop_page()

b, a = result["before"], result["after"]
# the files as the user named them (status.json), and their dates where the reviews have dates
before_file = file_name(run.path, run.input_file or b["name"]) if before_name == RUN_DATA else \
    file_name(found[before_name], before_name)
after_file = file_name(found[after_name], after_name)


def _dates(side: dict) -> str:
    return " – ".join(dict.fromkeys(side["dates"])) if side.get("dates") else t("compare.no_dates")


st.caption(t("compare.caption", before=md_escape(before_file), n_before=b["n_reviews"], label_before=_dates(b),
             now=md_escape(after_file), n_now=a["n_reviews"], label_now=_dates(a)))

st.markdown("#### " + t("compare.alerts"))
if result["alerts"]:
    for alert in result["alerts"]:
        st.warning(md_escape(alert_line(alert, since=_dates(b) if b.get("dates") else before_file)),
                   icon=":material/notifications:")
else:
    st.success(t("compare.no_alert"), icon=":material/check_circle:")

segments = result["segments"]
seg_colours = {segment_label(s["segment_id"], s["name"]): segment_colour(s["segment_id"]) for s in segments}
rows = []
for s in segments:
    label = segment_label(s["segment_id"], s["name"])
    for side in ("before", "after"):
        if s[side]:
            rows.append({"segment": label, "when": t("compare.when_before") if side == "before" else t("compare.when_now"),
                         "share of reviews": s[side]["share"], "negative share": s[side]["negative"]})
table = pd.DataFrame(rows)
c1, c2 = st.columns(2)
# Segment colours as on every page, "before" hatched, "now" solid; the segments are the y axis, so
# the legend holds only the two patterns (not one entry per segment and side); shares in percent.
when_pattern = {t("compare.when_before"): "/", t("compare.when_now"): ""}
bars = dict(y="segment", color="segment", pattern_shape="when", barmode="group", orientation="h",
            color_discrete_map=seg_colours, pattern_shape_map=when_pattern,
            labels={"when": t("compare.when"), "segment": t("compare.segment"),
                    "share of reviews": t("compare.share_of_reviews"), "negative share": t("compare.negative_share")})


def _share_bars(x: str, title: str):
    fig = px.bar(table, x=x, title=title, **bars).update_traces(showlegend=False)
    for when, shape in when_pattern.items():  # the legend: one grey swatch per pattern
        fig.add_trace(go.Bar(x=[None], y=[None], name=when, orientation="h", showlegend=True,
                             marker=dict(color="#9aa0b4", pattern_shape=shape)))
    return fig.update_yaxes(autorange="reversed", title=None).update_xaxes(tickformat=".0%") \
        .update_layout(legend=dict(orientation="h", y=-0.15, title=None))


c1.plotly_chart(_share_bars("share of reviews", t("compare.shares_title")), width="stretch")
c2.plotly_chart(_share_bars("negative share", t("compare.negative_title")), width="stretch")


def _pts(x: float) -> str:
    return f"{x * 100:+.0f}"


shifts = pd.DataFrame([{t("compare.segment"): f"{s['segment_id']}: {s['name']}", t("compare.col_aspect"): c["aspect"],
                        t("compare.col_before"): f"{c['before']:.0%}", t("compare.col_now"): f"{c['after']:.0%}",
                        t("compare.col_change"): _pts(c["change"])}
                       for s in segments for c in s.get("complaint_shifts", [])[:3]])
phrases = pd.DataFrame([{t("compare.segment"): f"{s['segment_id']}: {s['name']}", t("compare.col_phrase"): p["phrase"],
                         t("compare.col_before"): f"{p['share_old']:.0%}", t("compare.col_now"): f"{p['share_new']:.0%}",
                         t("compare.col_reviews_now"): p["n_new"]}
                        for s in segments for p in s["emerging_phrases"]])
c1, c2 = st.columns(2)
c1.markdown("##### " + t("compare.shifts"))
if len(shifts):
    c1.dataframe(shifts, hide_index=True)
else:
    c1.caption(t("compare.no_complaints"))
c2.markdown("##### " + t("compare.phrases"))
if len(phrases):
    c2.dataframe(phrases, hide_index=True)
else:
    c2.caption(t("compare.no_phrases"))

periods = result.get("periods")
if periods:
    # at most LEGEND_MAX segments in the legend: the largest now
    sizes = {int(s["segment_id"]): (s["after"] or {}).get("n_reviews", 0) for s in segments}
    shown_ids = sorted(sizes, key=lambda s: -sizes[s])[:LEGEND_MAX]
    per = pd.DataFrame([{"segment": segment_label(s, next((x['name'] for x in segments if x['segment_id'] == int(s)), s)),
                         "period": r["period"], "share": r["share"], "negative": r["negative"]}
                        for s, rs in periods["segments"].items() if int(s) in shown_ids for r in rs])
    st.plotly_chart(px.line(per, x="period", y="share", color="segment", markers=True, color_discrete_map=seg_colours,
                            labels={"period": t("compare.period"), "share": t("compare.share"),
                                    "segment": t("compare.segment")},
                            title=t("compare.per_period", freq=t_or(f"segments.freq_{periods['freq']}", periods["freq"])))
                    .update_yaxes(tickformat=".0%"), width="stretch")
    if len(sizes) > LEGEND_MAX:
        st.caption(t("compare.largest_only", n=LEGEND_MAX, total=len(sizes)))

st.markdown("#### " + t("compare.customers"))
movers, risk = result["movers"], result["newly_at_risk"]
m1, m2, m3 = st.columns(3)
m1.metric(t("compare.in_both"), f"{movers['n_recurring']:,}")
m2.metric(t("compare.moved"), f"{movers['n_moved']:,}")
m3.metric(t("compare.at_risk", threshold=risk["threshold"]), f"{risk['n']:,}")
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
st.download_button(t("compare.movers"), csv_bytes(movers_frame), file_name="movers.csv", mime="text/csv",
                   icon=":material/download:")

drift = result.get("drift")
st.markdown("#### " + t("compare.still_fit"))
if drift:
    st.metric(t("compare.beyond"), f"{drift['share_beyond']:.0%}", help=t("compare.beyond_help", expected=drift["expected"]))
    (st.error if drift["retrain"] else st.info)(say(drift["message"]))
    h = drift["histogram"]
    mids = [(x + y) / 2 for x, y in zip(h["edges"], h["edges"][1:])]
    fig = go.Figure([go.Bar(x=mids, y=h["reference"], name=t("compare.training_customers"), opacity=0.6),
                     go.Bar(x=mids, y=h["new"], name=t("compare.new_customers"), opacity=0.6)])
    fig.add_vline(x=drift["threshold"], line_dash="dash")
    st.plotly_chart(fig.update_layout(barmode="overlay", title=t("compare.distance_title"),
                                      xaxis_title=t("compare.distance"), yaxis_title=t("compare.share_customers")),
                    width="stretch")
else:
    st.caption(t("compare.against_run"))
