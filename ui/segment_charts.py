"""The Segments page's figures: sizes, aspect shares and negatives, shares over time. Built from a run's
segment profiles (segment_profiles.json) with the colours and segment names of ui.charts; titles and
axis words from ui.i18n."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ui.charts import segment_colours, segment_label
from ui.i18n import t


def sizes_frame(profiles: Mapping) -> pd.DataFrame:
    """One row per segment, in id order: its chart name, customers, reviews and share of customers."""
    return pd.DataFrame([{"segment": segment_label(s, p["name"]), "customers": p["size"], "reviews": p["n_reviews"],
                          "share": p["share_of_customers"]} for s, p in sorted(profiles.items())])


def size_charts(profiles: Mapping) -> tuple[go.Figure, go.Figure]:
    """Customers per segment (bars) and their shares (a ring), segments in id order in both."""
    sizes = sizes_frame(profiles)
    colours, order = segment_colours(profiles), {"segment": list(sizes["segment"])}
    bars = (px.bar(sizes, x="customers", y="segment", orientation="h", text="customers", color="segment",
                   color_discrete_map=colours, category_orders=order, title=t("segments.per_segment"),
                   labels={"customers": t("segments.axis_customers")})
            .update_yaxes(autorange="reversed", title=None).update_layout(showlegend=False))
    ring = (px.pie(sizes, names="segment", values="customers", hole=0.5, title=t("segments.share"),
                   color="segment", color_discrete_map=colours, category_orders=order)
            .update_traces(sort=False, textinfo="percent")
            .update_layout(legend=dict(orientation="h", y=-0.1)))
    return bars, ring


def aspect_share_chart(aspects: pd.DataFrame) -> go.Figure:
    """Share of each segment's reviews that mention each aspect (aspects.profile.aspect_table rows)."""
    shares = aspects.pivot(index="segment", columns="aspect", values="share").fillna(0.0)
    fig = px.imshow(shares, aspect="auto", color_continuous_scale="Blues", text_auto=".0%",
                    title=t("segments.aspect_share"), labels={"x": t("segments.axis_aspect"), "y": ""})
    return fig.update_layout(coloraxis_showscale=False, height=140 + 45 * len(shares), xaxis_side="top")


def aspect_negative_chart(aspects: pd.DataFrame) -> go.Figure | None:
    """Share of each aspect's mentions that are negative, one panel per segment; None without that column."""
    if "negative" not in aspects:
        return None
    return px.bar(aspects, x="aspect", y="negative", facet_col="segment", facet_col_wrap=2,
                  hover_data=["share", "n_reviews"], range_y=[0, 1],
                  labels={"aspect": t("segments.axis_aspect"), "negative": t("segments.axis_negative")},
                  title=t("segments.aspect_negative"))


def period_frequency(profiles: Mapping) -> str | None:
    """The period the profiles were counted by ("D", "W", "M", ...), None when they have no dates."""
    return next((p["periods"]["freq"] for p in profiles.values() if p.get("periods")), None)


def period_charts(profiles: Mapping) -> tuple[go.Figure, go.Figure] | None:
    """Each segment's share of the reviews and its negative share per period; None without dates."""
    rows = [{"segment": segment_label(s, p["name"]), "period": r["period"], "share of reviews": r["share"],
             "negative share": r["negative"], "reviews": r["n_reviews"]}
            for s, p in sorted(profiles.items()) for r in (p.get("periods") or {}).get("rows", [])]
    freq = period_frequency(profiles)
    if not rows or freq is None:
        return None
    per = pd.DataFrame(rows)
    colours = segment_colours(profiles)
    order = {"segment": [segment_label(s, p["name"]) for s, p in sorted(profiles.items())]}
    axes = {"period": t("segments.axis_period"), "share of reviews": t("segments.axis_share_reviews"),
            "negative share": t("segments.axis_negative"), "segment": t("segments.axis_segment"),
            "reviews": t("segments.axis_reviews")}
    every = t(f"segments.freq_{freq}")
    share = px.line(per, x="period", y="share of reviews", color="segment", markers=True,
                    color_discrete_map=colours, category_orders=order, hover_data=["reviews"], labels=axes,
                    title=t("segments.share_per", freq=every))
    negative = px.line(per.dropna(subset=["negative share"]), x="period", y="negative share", color="segment",
                       color_discrete_map=colours, category_orders=order, markers=True, hover_data=["reviews"],
                       range_y=[0, 1], labels=axes, title=t("segments.negative_per", freq=every))
    return share, negative
