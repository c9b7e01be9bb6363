"""The Compare page's figures: each segment's share and negative share before and now, shares per
period, and how far the new customers sit from the run's segments (drift). Built from a comparison
(segcore.compare, compare.json) with the colours and segment names of ui.charts; words from ui.i18n."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ui.charts import segment_colour, segment_label
from ui.i18n import t, t_or

LEGEND_MAX = 8  # legend entries a chart shows at most


def _colours(segments: list[dict]) -> dict[str, str]:
    return {segment_label(s["segment_id"], s["name"]): segment_colour(s["segment_id"]) for s in segments}


def share_bars(segments: list[dict]) -> tuple[go.Figure, go.Figure]:
    """Share of reviews and negative share per segment, before and now. Segment colours as on every
    page, "before" hatched, "now" solid; the segments are the y axis, so the legend holds only the
    two patterns (not one entry per segment and side); shares in percent."""
    rows = [{"segment": segment_label(s["segment_id"], s["name"]),
             "when": t("compare.when_before") if side == "before" else t("compare.when_now"),
             "share of reviews": s[side]["share"], "negative share": s[side]["negative"]}
            for s in segments for side in ("before", "after") if s[side]]
    table = pd.DataFrame(rows)
    when_pattern = {t("compare.when_before"): "/", t("compare.when_now"): ""}
    bars = dict(y="segment", color="segment", pattern_shape="when", barmode="group", orientation="h",
                color_discrete_map=_colours(segments), pattern_shape_map=when_pattern,
                labels={"when": t("compare.when"), "segment": t("compare.segment"),
                        "share of reviews": t("compare.share_of_reviews"), "negative share": t("compare.negative_share")})

    def one(x: str, title: str) -> go.Figure:
        fig = px.bar(table, x=x, title=title, **bars).update_traces(showlegend=False)
        for when, shape in when_pattern.items():  # the legend: one grey swatch per pattern
            fig.add_trace(go.Bar(x=[None], y=[None], name=when, orientation="h", showlegend=True,
                                 marker=dict(color="#9aa0b4", pattern_shape=shape)))
        return fig.update_yaxes(autorange="reversed", title=None).update_xaxes(tickformat=".0%") \
            .update_layout(legend=dict(orientation="h", y=-0.15, title=None))

    return one("share of reviews", t("compare.shares_title")), one("negative share", t("compare.negative_title"))


def periods_chart(periods: dict, segments: list[dict]) -> tuple[go.Figure, int]:
    """Each segment's share of reviews per period, for the LEGEND_MAX largest segments now; and how
    many segments there are."""
    sizes = {int(s["segment_id"]): (s["after"] or {}).get("n_reviews", 0) for s in segments}
    shown_ids = sorted(sizes, key=lambda s: -sizes[s])[:LEGEND_MAX]
    per = pd.DataFrame([{"segment": segment_label(s, next((x["name"] for x in segments if x["segment_id"] == int(s)), s)),
                         "period": r["period"], "share": r["share"], "negative": r["negative"]}
                        for s, rs in periods["segments"].items() if int(s) in shown_ids for r in rs])
    fig = px.line(per, x="period", y="share", color="segment", markers=True, color_discrete_map=_colours(segments),
                  labels={"period": t("compare.period"), "share": t("compare.share"), "segment": t("compare.segment")},
                  title=t("compare.per_period", freq=t_or(f"segments.freq_{periods['freq']}", periods["freq"])))
    return fig.update_yaxes(tickformat=".0%"), len(sizes)


def drift_chart(drift: dict) -> go.Figure:
    """The distance of each customer to their segment's centre: the run's customers and the new
    ones overlaid, with the distance from which a customer counts as beyond."""
    h = drift["histogram"]
    mids = [(x + y) / 2 for x, y in zip(h["edges"], h["edges"][1:])]
    fig = go.Figure([go.Bar(x=mids, y=h["reference"], name=t("compare.training_customers"), opacity=0.6),
                     go.Bar(x=mids, y=h["new"], name=t("compare.new_customers"), opacity=0.6)])
    fig.add_vline(x=drift["threshold"], line_dash="dash")
    return fig.update_layout(barmode="overlay", title=t("compare.distance_title"), xaxis_title=t("compare.distance"),
                             yaxis_title=t("compare.share_customers"))
