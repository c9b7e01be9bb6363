"""The Map page's figure: every review at its 2-D map position, coloured by segment, predicted
label, rating or churn risk with the colours of every other page, and the reviews containing a
phrase ringed. Hover texts come escaped from segcore's map table (services.exports.map_table)."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from ui.charts import NEUTRAL, label_colours, ordered_colours, segment_colour, sort_ordered
from ui.i18n import label_name, t


def map_figure(table: pd.DataFrame, *, colour: str, labels: list[str], phrase: str = "") -> tuple[go.Figure, int | None]:
    """The map figure for `table` coloured by `colour` ("segment", "predicted label", "rating",
    "churn risk"), and how many reviews contain `phrase` (None without one)."""
    hits = None
    custom = table[["index", "hover_id", "hover", "hover_facts"]].to_numpy()  # escaped (segcore.analysis.maptable)
    hovertemplate = "<b>%{customdata[1]}</b><br>%{customdata[3]}<br><br>%{customdata[2]}<extra></extra>"
    fig = go.Figure()
    if colour == "churn risk":
        fig.add_trace(go.Scattergl(x=table["x"], y=table["y"], mode="markers", customdata=custom,
                                   hovertemplate=hovertemplate, name=t("map.reviews"),
                                   marker=dict(size=5, color=table["churn risk"], colorscale="RdYlGn_r",
                                               showscale=True, colorbar=dict(title=t("map.colour_churn_risk")))))
    else:
        # The same colours as every other page: segments by id, sentiment fixed, ratings low red to high green.
        if colour == "segment":
            keys = sorted(table["segment_id"].unique())
            groups = {k: table[table["segment_id"] == k] for k in keys}
            names = {k: html.escape(groups[k]["segment"].iloc[0]) for k in keys}
            colours = {k: segment_colour(k) for k in keys}
        else:
            present = set(table[colour])
            keys = ([x for x in labels if x in present] + sorted(present - set(labels))
                    if colour == "predicted label" else sort_ordered(present))
            groups = {k: table[table[colour] == k] for k in keys}
            names = {k: html.escape((label_name(k) if colour == "predicted label" else str(k)) or t("map.no_rating"))
                     for k in keys}
            colours = label_colours(keys) if colour == "predicted label" else ordered_colours([k for k in keys if k])
        for k in keys:
            group = groups[k]
            fig.add_trace(go.Scattergl(x=group["x"], y=group["y"], mode="markers", name=names[k],
                                       customdata=custom[group.index], hovertemplate=hovertemplate,
                                       marker=dict(size=5, color=colours.get(k, NEUTRAL), opacity=0.8)))
    if phrase.strip():
        hits = table[table["text"].str.contains(phrase.strip(), case=False, regex=False, na=False)]
        fig.add_trace(go.Scattergl(x=hits["x"], y=hits["y"], mode="markers", name=html.escape(t("map.contains", phrase=phrase.strip())),
                                   customdata=custom[hits.index], hovertemplate=hovertemplate,
                                   marker=dict(size=10, color="rgba(0,0,0,0)", line=dict(width=2, color="black"))))
    fig.update_layout(height=620, margin=dict(l=0, r=0, t=10, b=0), dragmode="lasso",
                      legend=dict(orientation="h", y=-0.05), xaxis=dict(showticklabels=False, title=None),
                      yaxis=dict(showticklabels=False, title=None))
    return fig, None if hits is None else len(hits)
