"""Strategies & export: suggestions per segment, a template editor, and the downloads."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import streamlit as st

from segcore.errors import SegscopeError
from segcore.io.export import campaign_lists, campaigns_xlsx, csv_bytes, made_up_ids_warning, safe_filename
from segcore.strategy.report import report_html, report_markdown
from segcore.strategy.suggest import render_strategies
from ui.shared import md_escape, md_escaped, need_run, outputs, show_error, templates
from ui.templates import template_editor


def _smaller_title(text: str) -> str:
    # Templates open with a level-2 title (right for the report); inside a card it is a sub-heading.
    return "####" + text[2:] if text.startswith("## ") else text


st.title("Strategies & export")
run = need_run()
out = outputs(run)
profiles = out.profiles
current = templates()
shown_profiles = md_escaped(profiles)  # data inside the rendered markdown stays text (no remote images)
try:
    strategies = render_strategies(profiles, templates=current)  # raw values: the exports
    shown = render_strategies(shown_profiles, templates=current)
    failed = None
except SegscopeError as exc:
    strategies = shown = {s: [] for s in profiles}
    failed = exc

tab_suggest, tab_edit, tab_export = st.tabs(["Suggestions", "Templates", "Export"])
with tab_suggest:
    if failed:  # shown here only; the Templates tab shows the same template's error in its preview
        show_error(failed)
        st.info("Open the template in the Templates tab to fix or reset it.")
    for s, p in sorted(profiles.items()):
        with st.expander(f"{s}. {md_escape(p['name'])} — {p['size']:,} customers", expanded=(s == 0)):
            items = shown.get(s, [])
            if not items:
                st.caption("No template applies to this segment.")
            for item in items:
                st.markdown(_smaller_title(item["text"]))

with tab_edit:
    template_editor(profiles, shown_profiles, current)

with tab_export:
    campaigns = campaign_lists(out.segments, profiles, strategies)
    report = report_markdown(profiles, strategies)
    base = safe_filename(run.run_id)
    n_customers = sum(len(t) for t in campaigns.values())
    warning = made_up_ids_warning(campaigns)
    if warning:
        st.warning(warning, icon=":material/warning:")
    st.caption("Every download below is ready to hand on: spreadsheets open with the header frozen and filters on.")

    def download(col, label: str, rows: str, data: bytes, **kwargs) -> None:
        # each download with what it holds, so nobody opens an empty list by mistake
        with col.container(border=True):
            st.download_button(label, data, icon=":material/download:", width="stretch", **kwargs)
            st.caption(rows)

    c1, c2 = st.columns(2)
    download(c1, "campaigns.xlsx (a sheet per segment)",
             f"{n_customers:,} customers in {len(campaigns)} segment sheets, plus an index sheet",
             campaigns_xlsx(campaigns, profiles), file_name="campaigns.xlsx",
             mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with c2.container(border=True):
        seg = st.selectbox("Campaign list of one segment (CSV)", sorted(campaigns),
                           format_func=lambda s: f"{s}. {profiles[s]['name']} ({len(campaigns[s]):,} customers)",
                           key="csv_seg")
        st.download_button("Segment CSV", csv_bytes(campaigns[seg]), mime="text/csv", icon=":material/download:",
                           file_name=f"{seg:02d}_{safe_filename(profiles[seg]['name'])}.csv", width="stretch")
        st.caption(f"{len(campaigns[seg]):,} customers")
    c3, c4, c5 = st.columns(3)
    download(c3, "Strategy report (Markdown)", f"{len(profiles)} segments, a summary table and their strategies",
             report.encode("utf-8"), file_name=f"{base}_strategies.md", mime="text/markdown")
    download(c4, "Strategy report (HTML)", f"{len(profiles)} segments, a summary table and their strategies",
             report_html(report).encode("utf-8"), file_name=f"{base}_strategies.html", mime="text/html")
    download(c5, "Scored reviews (CSV)", f"{len(out.reviews):,} reviews with label, segment and map position",
             csv_bytes(out.reviews), file_name=f"{base}_reviews_scored.csv", mime="text/csv")
