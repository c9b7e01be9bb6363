"""Chart colours and builders shared by the pages.

One colour per segment on every page (by segment id, so a segment keeps its colour after a
rename), fixed colours for sentiment (negative red, neutral grey, positive green), ordered
palettes for ordered values (ratings), and trait comparisons against the overall average where
green always means better and red worse. Pure functions over DataFrames; titles and axis words
come from ui.i18n (the session's language, English outside a session)."""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ui.i18n import label_name, t

# 22 distinct colours; beyond 22 segments (k allows 50) colours repeat, still stable by id.
SEGMENT_PALETTE = px.colors.qualitative.Bold + px.colors.qualitative.Pastel
NEGATIVE, NEUTRAL, POSITIVE = "#d62728", "#9e9e9e", "#2ca02c"
# Sentiment label names the app produces or reads (English and Chinese), by tone.
_TONE = {"negative": NEGATIVE, "neg": NEGATIVE, "bad": NEGATIVE, "负面": NEGATIVE, "差评": NEGATIVE, "消极": NEGATIVE,
         "neutral": NEUTRAL, "mixed": NEUTRAL, "中性": NEUTRAL, "中评": NEUTRAL,
         "positive": POSITIVE, "pos": POSITIVE, "good": POSITIVE, "正面": POSITIVE, "好评": POSITIVE, "积极": POSITIVE}
ORDERED_SCALE = "RdYlGn"  # low (red) to high (green): ratings, and labels that are numbers


def segment_label(segment_id, name: str) -> str:
    """The one way a segment is named in charts: '2: Price buyers' (escaped: plotly renders HTML)."""
    return html.escape(f"{int(segment_id)}: {name}")


def segment_colour(segment_id) -> str:
    return SEGMENT_PALETTE[int(segment_id) % len(SEGMENT_PALETTE)]


def segment_colours(profiles: Mapping) -> dict[str, str]:
    """{segment_label: colour} for plotly's color_discrete_map, from {id: profile}."""
    return {segment_label(s, p["name"]): segment_colour(s) for s, p in profiles.items()}


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def sort_ordered(values: Iterable) -> list:
    """Values in their natural order: numbers by value, then text; blanks last."""
    values = list(dict.fromkeys(values))
    return sorted(values, key=lambda v: (str(v).strip() == "", _number(v) is None, _number(v) or 0.0, str(v)))


def ordered_colours(values: Iterable) -> dict:
    """{value: colour} from red (lowest) to green (highest), for numbers or number-like strings."""
    values = sort_ordered(values)
    if len(values) == 1:
        return {values[0]: px.colors.sample_colorscale(ORDERED_SCALE, [1.0])[0]}
    steps = px.colors.sample_colorscale(ORDERED_SCALE, [i / (len(values) - 1) for i in range(len(values))])
    return dict(zip(values, steps))


def label_colours(labels: Iterable[str]) -> dict[str, str]:
    """Fixed colours for sentiment labels; ordered (red to green) for number labels; else the
    segment palette in the labels' own order."""
    labels = [str(x) for x in labels]
    if labels and all(x.strip().lower() in _TONE for x in labels):
        return {x: _TONE[x.strip().lower()] for x in labels}
    if labels and all(_number(x) is not None for x in labels):
        return ordered_colours(labels)
    return {x: SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)] for i, x in enumerate(labels)}


# --- segment traits against the overall average -------------------------------------------

# trait: (direction, saturation). direction +1: higher is better, -1: higher is worse, 0: neither
# (drawn grey). saturation: the difference from the average drawn at full colour, in the trait's
# unit ('rel' = as a share of the average, for open-ended amounts).
_TRAITS = {"mean rating": (1, 1.0), "churn risk": (-1, 0.25), "recency (days)": (-1, "rel"),
           "frequency": (1, "rel"), "spend": (1, "rel"), "reviews / customer": (1, "rel")}
_SHARE_SATURATION = 0.3  # 30 percentage points above / below the average: full colour
_REL_SATURATION = 0.5  # 50 % above / below the average: full colour


def _share_direction(label: str) -> int:
    colour = _TONE.get(label.strip().lower())
    return {POSITIVE: 1, NEGATIVE: -1}.get(colour, 0)


def segment_traits(profiles: Mapping, labels: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, weights): one row per segment (its chart label), one column per trait.

    Label shares are per review (weighted by the segment's reviews), the rest per customer."""
    values, weights = {}, {}
    for s, p in sorted(profiles.items()):
        b = p["behaviour"]
        row = {f"{lab} share": p["label_shares"].get(lab) for lab in labels}
        row.update({"mean rating": b.get("mean_rating"), "churn risk": b.get("churn_risk"),
                    "recency (days)": b.get("median_recency_days"), "frequency": b.get("mean_frequency"),
                    "spend": b.get("mean_monetary"), "reviews / customer": b.get("mean_reviews_per_customer")})
        key = segment_label(s, p["name"])
        values[key] = row
        weights[key] = {t: (p["n_reviews"] if t.endswith(" share") else p["size"]) for t in row}
    table = pd.DataFrame.from_dict(values, orient="index").astype(float)
    return table, pd.DataFrame.from_dict(weights, orient="index").astype(float)[table.columns]


def traits_vs_average(values: pd.DataFrame, weights: pd.DataFrame) -> dict:
    """Each segment's traits as differences from the overall (weighted) average.

    Traits with no value, or the same value in every segment, are dropped: they tell segments
    nothing apart. Returns {"average": Series, "difference": DataFrame, "score": DataFrame}, where
    score in [-1, 1] is the colour: + better than average, - worse, 0 neither (or no direction)."""
    values = values.dropna(axis=1, how="all")
    spread = values.max() - values.min()
    keep = spread.index[spread.fillna(0) > 1e-9]
    values = values[keep]
    w = weights[keep].where(values.notna(), 0.0)
    average = (values.fillna(0) * w).sum() / w.sum().replace(0, np.nan)
    difference = values - average
    score = pd.DataFrame(0.0, index=values.index, columns=values.columns)
    for trait in values.columns:
        if trait.endswith(" share"):
            direction, saturation = _share_direction(trait[: -len(" share")]), _SHARE_SATURATION
        else:
            direction, saturation = _TRAITS.get(trait, (0, "rel"))
        if saturation == "rel":
            saturation = _REL_SATURATION * abs(average[trait]) or 1.0
        score[trait] = (direction * difference[trait] / saturation).clip(-1, 1)
    return {"average": average, "difference": difference, "score": score.where(values.notna())}


_TRAIT_KEYS = {"mean rating": "mean_rating", "churn risk": "churn_risk", "recency (days)": "recency",
               "frequency": "frequency", "spend": "spend", "reviews / customer": "reviews_per_customer"}


def trait_name(trait: str) -> str:
    """A trait column named in the session's language (label names are data: kept)."""
    if trait.endswith(" share"):
        return t("charts.label_share", label=label_name(trait[: -len(" share")]))
    return t(f"charts.trait_{_TRAIT_KEYS[trait]}") if trait in _TRAIT_KEYS else trait


def _fmt(value: float, trait: str, *, sign: bool = False) -> str:
    if pd.isna(value):
        return "—"
    if trait.endswith(" share"):
        return t("charts.points", value=value * 100) if sign else f"{value:.0%}"
    digits = 0 if abs(value) >= 100 else 2  # days: 467, not 467.38
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def traits_chart(values: pd.DataFrame, weights: pd.DataFrame) -> go.Figure | None:
    """Diverging heat-map of the traits against the average: green better, red worse, grey
    neither; the text is the difference. None when no trait differs between segments."""
    found = traits_vs_average(values, weights)
    score, diff, avg = found["score"], found["difference"], found["average"]
    if score.empty:
        return None
    columns = [f"{html.escape(trait_name(c))}<br>{t('charts.average', value=_fmt(avg[c], c))}" for c in score.columns]
    text = [[_fmt(diff.iat[i, j], c, sign=True) for j, c in enumerate(score.columns)] for i in range(len(score))]
    hover = [[t("charts.vs_average", value=_fmt(values.loc[idx, c], c), average=_fmt(avg[c], c)) for c in score.columns]
             for idx in score.index]
    fig = go.Figure(go.Heatmap(
        z=score.to_numpy(), x=columns, y=list(score.index), zmin=-1, zmax=1, text=text, texttemplate="%{text}",
        customdata=hover, hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>", xgap=2, ygap=2,
        colorscale=[[0, NEGATIVE], [0.5, "#f2f2f2"], [1, POSITIVE]],
        colorbar=dict(title=t("charts.colorbar"), tickvals=[-1, 0, 1],
                      ticktext=[t("charts.worse"), t("charts.same"), t("charts.better")])))
    fig.update_layout(title=t("charts.traits_title"),
                      height=160 + 45 * len(score), xaxis_side="top", yaxis_autorange="reversed",
                      margin=dict(t=110))
    return fig


def sentiment_chart(profiles: Mapping, labels: list[str]) -> go.Figure:
    """Stacked bars: each segment's reviews by sentiment, in the labels' order, fixed colours."""
    # sentiment names shown in the session's language (negative -> 负面); the data keeps its labels
    rows = [{"segment": segment_label(s, p["name"]), "sentiment": html.escape(label_name(lab)),
             "share of reviews": p["label_shares"].get(lab, 0.0)}
            for s, p in sorted(profiles.items()) for lab in labels]
    colours = {html.escape(label_name(k)): v for k, v in label_colours(labels).items()}
    fig = px.bar(pd.DataFrame(rows), x="share of reviews", y="segment", color="sentiment", orientation="h",
                 barmode="stack", color_discrete_map=colours, title=t("charts.sentiment_title"),
                 category_orders={"sentiment": [html.escape(label_name(x)) for x in labels]}, text_auto=".0%",
                 labels={"share of reviews": t("charts.share_of_reviews"), "sentiment": t("charts.sentiment"),
                         "segment": t("charts.segment")})
    fig.update_yaxes(autorange="reversed", title=None).update_xaxes(tickformat=".0%", range=[0, 1])
    return fig.update_layout(legend=dict(orientation="h", y=-0.15), legend_title_text="")


def loss_axis(values: Iterable[float], *, pad: float = 0.1) -> list[float]:
    """A loss axis from 0 to a little above the highest value: a flat loss looks flat, not like
    swings in the third decimal."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    top = max(values) if values else 1.0
    return [0.0, top * (1 + pad) if top > 0 else 1.0]


def rating_chart(distribution: Mapping) -> go.Figure:
    """Reviews per rating (the Data page's quality report's rating_distribution)."""
    dist = pd.DataFrame({"rating": list(distribution), "reviews": list(distribution.values())})
    return px.bar(dist, x="rating", y="reviews", title=t("data.rating_chart"),
                  labels={"rating": t("data.axis_rating"), "reviews": t("data.axis_reviews")})


def length_chart(lengths: Iterable[int]) -> go.Figure:
    """How long the reviews are, in characters."""
    return (px.histogram(pd.DataFrame({"characters": list(lengths)}), x="characters", nbins=40,
                         title=t("data.length_chart"))
            .update_layout(xaxis_title=t("data.axis_characters"), yaxis_title=t("data.axis_reviews")))
