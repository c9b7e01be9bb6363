"""Compare: what changed between the run's data and a new scoring, or between two scorings."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login


import pandas as pd
import streamlit as st

from segcore.errors import SegscopeError
from segcore.services import scoring
from segcore.services.exports import csv_bytes
from ui import compare_charts
from ui.compare import RUN_DATA, alert_line, comparison, file_name, scorings
from ui.i18n import shown_as, t
from ui.segtext import say
from ui.shared import md_escape, show_error
from ui.sidebar import need_run, stop_page

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
shares_fig, negative_fig = compare_charts.share_bars(segments)
c1, c2 = st.columns(2)
c1.plotly_chart(shares_fig, width="stretch")
c2.plotly_chart(negative_fig, width="stretch")


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
    fig, n_segments = compare_charts.periods_chart(periods, segments)
    st.plotly_chart(fig, width="stretch")
    if n_segments > compare_charts.LEGEND_MAX:  # the legend shows the largest now only
        st.caption(t("compare.largest_only", n=compare_charts.LEGEND_MAX, total=n_segments))

st.markdown("#### " + t("compare.customers"))
movers, risk = result["movers"], result["newly_at_risk"]
m1, m2, m3 = st.columns(3)
m1.metric(t("compare.in_both"), f"{movers['n_recurring']:,}")
m2.metric(t("compare.moved"), f"{movers['n_moved']:,}")
m3.metric(t("compare.at_risk", threshold=risk["threshold"]), f"{risk['n']:,}")
before_folder = run.path if before_name == RUN_DATA else found[before_name]
movers_frame = scoring.movers(run.path, before_folder, found[after_name])
if len(movers_frame):
    st.dataframe(movers_frame.head(200), hide_index=True)
st.download_button(t("compare.movers"), csv_bytes(movers_frame), file_name="movers.csv", mime="text/csv",
                   icon=":material/download:")

drift = result.get("drift")
st.markdown("#### " + t("compare.still_fit"))
if drift:
    st.metric(t("compare.beyond"), f"{drift['share_beyond']:.0%}", help=t("compare.beyond_help", expected=drift["expected"]))
    (st.error if drift["retrain"] else st.info)(say(drift["message"]))
    st.plotly_chart(compare_charts.drift_chart(drift), width="stretch")
else:
    st.caption(t("compare.against_run"))
