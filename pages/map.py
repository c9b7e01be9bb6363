"""Map: 2-D embedding map of reviews; hover to read, search to highlight, select to export."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

from pathlib import Path

import streamlit as st

from segcore.services.exports import (aspect_choices, csv_bytes, map_table, mentions_aspect, safe_filename,
                                      selection_table, xlsx_bytes)
from ui import map_chart
from ui.i18n import label_name, shown_as, t
from ui.shared import outputs
from ui.sidebar import need_run

MAX_POINTS = 100_000

st.title(t("map.title"))
run = need_run()
out = outputs(run)
ENCODERS = {"default": "all-MiniLM-L6-v2", "multilingual": "multilingual-e5-small"}


def layout_caption(meta: dict) -> str:
    """How the map is laid out and which model coloured its labels (the one chosen on held-out reviews)."""
    selected = (meta.get("metrics") or {}).get("selected") or "fine_tuned"
    model = t(f"train.model_{selected}") if selected in ("fine_tuned", "average", "frozen", "tfidf") else selected
    if meta.get("map_encoder") != "base":
        return t("map.layout.explain_model", model=model)
    enc = meta.get("segment_encoder") or {}
    name = ENCODERS.get(enc.get("chosen"), Path(str(enc.get("path") or enc.get("chosen") or "?")).name)
    return t("map.layout.explain", encoder=name, model=model)


st.caption(layout_caption(out.meta))
table, sampled = map_table(out.reviews, out.segments, out.meta.get("columns", {}), max_points=MAX_POINTS,
                           words={**{w: t(f"map.hover_{w}") for w in ("segment", "rating", "predicted", "sure")},
                                  "labels": {lab: label_name(lab) for lab in out.metrics.get("labels", [])}})
if sampled:
    st.info(t("map.sampled", shown=MAX_POINTS, total=len(out.reviews)))

colour_options = ["segment", "predicted label"] + (["rating"] if "rating" in table else []) + ["churn risk"]
aspects = aspect_choices(table)
c1, c2, c3 = st.columns([1, 1, 2]) if aspects else (*st.columns([1, 2]), None)
colour = c1.selectbox(t("map.colour_by"), colour_options, key="map_colour",
                      format_func=shown_as(colour_options, lambda c: t("map.colour_" + c.replace(" ", "_"))))
if c3 is not None:
    aspect = c2.selectbox(t("map.only_mentioning"), ["any aspect or none", *aspects], key="aspect",
                          format_func=shown_as(["any aspect or none"], lambda a: t("map.any_aspect")))
    if aspect in aspects:
        table = table[mentions_aspect(table, aspect)].reset_index(drop=True)
        st.caption(t("map.n_mention", n=len(table), aspect=aspect))
phrase = (c3 or c2).text_input(t("map.highlight"), placeholder=t("map.highlight_eg"), key="map_phrase")

fig, hits = map_chart.map_figure(table, colour=colour, labels=out.metrics["labels"], phrase=phrase)
if hits is not None:
    st.caption(t("map.n_contain", n=hits, phrase=phrase.strip()))
event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode=("box", "lasso"), key="map")

points = event.selection.points if event and event.selection else []
chosen = sorted({int(p["customdata"][0]) for p in points if p.get("customdata") is not None})
st.markdown("#### " + t("map.selected"))
if not chosen:
    st.caption(t("map.select_hint"))
else:
    selected = selection_table(out.reviews.iloc[chosen], out.meta.get("columns", {}))
    st.dataframe(selected, hide_index=True)
    st.caption(t("map.n_selected", n=len(selected), customers=selected["customer"].nunique()))
    name = safe_filename(f"{run.run_id}_selection")
    d1, d2 = st.columns(2)
    d1.download_button(t("map.download_csv"), csv_bytes(selected), file_name=f"{name}.csv", mime="text/csv",
                       icon=":material/download:")
    d2.download_button(t("map.download_xlsx"), xlsx_bytes({"selection": selected}), file_name=f"{name}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon=":material/download:")
