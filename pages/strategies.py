"""Strategies & export: suggestions per segment, a template editor, and the downloads."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import streamlit as st

from segcore.services.exports import (campaign_lists, campaigns_xlsx, csv_bytes, made_up_ids_warning, render_strategies,
                                      report_html, report_markdown, safe_filename)
from ui.i18n import lang, shown_as, t
from ui.segtext import say
from ui.shared import md_escape, md_escaped, outputs, show_error
from ui.sidebar import need_run
from ui.templates import current_templates, template_editor


def _smaller_title(text: str) -> str:
    # Templates open with a level-2 title (right for the report); inside a card it is a sub-heading.
    return "####" + text[2:] if text.startswith("## ") else text


st.title(t("strategies.title"))
run = need_run()
out = outputs(run)
profiles = out.profiles
current = current_templates(lang())  # the language switch picks the templates (and the report's words)
# A failing template is left out with its own error; the others still apply (and drive the campaigns).
failed: list = []
strategies = render_strategies(profiles, templates=current, errors=failed)  # raw values: the exports
# page=True: values shown as text, and no image, link or HTML (nothing makes the browser fetch)
shown = render_strategies(profiles, templates=current, page=True, errors=[])

tab_suggest, tab_edit, tab_export = st.tabs([t("strategies.tab_suggest"), t("strategies.tab_templates"),
                                             t("strategies.tab_export")])
with tab_suggest:
    for exc in failed:  # shown here only; the Templates tab shows the same template's error in its preview
        show_error(exc)
    if failed:
        st.info(t("strategies.fix_it"))
    for s, p in sorted(profiles.items()):
        with st.expander(t("strategies.segment", id=s, name=md_escape(p["name"]), n=p["size"]), expanded=(s == 0)):
            items = shown.get(s, [])
            if not items:
                st.caption(t("strategies.none_applies"))
            for item in items:
                st.markdown(_smaller_title(item["text"]))

with tab_edit:
    template_editor(profiles, profiles, current, language=lang())  # the preview renders as the page does

with tab_export:
    campaigns = campaign_lists(out.segments, profiles, strategies)
    report = report_markdown(profiles, strategies, language=lang(), fix_first=out.fix_first)
    base = safe_filename(run.run_id)
    n_customers = sum(len(t) for t in campaigns.values())
    warning = say(made_up_ids_warning(campaigns))
    if warning:
        st.warning(warning, icon=":material/warning:")
    st.caption(t("strategies.ready"))

    def download(col, label: str, rows: str, data: bytes, **kwargs) -> None:
        # each download with what it holds, so nobody opens an empty list by mistake
        with col.container(border=True):
            st.download_button(label, data, icon=":material/download:", width="stretch", **kwargs)
            st.caption(rows)

    c1, c2 = st.columns(2)
    download(c1, t("strategies.campaigns"), t("strategies.campaigns_rows", n=n_customers, sheets=len(campaigns)),
             campaigns_xlsx(campaigns, profiles, out.fix_first), file_name="campaigns.xlsx",
             mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with c2.container(border=True):
        seg = st.selectbox(t("strategies.one_segment"), sorted(campaigns),
                           format_func=shown_as(campaigns, lambda s: t("strategies.seg_option", id=s,
                                                                      name=profiles[s]["name"], n=len(campaigns[s]))),
                           key="csv_seg")
        st.download_button(t("strategies.segment_csv"), csv_bytes(campaigns[seg]), mime="text/csv", icon=":material/download:",
                           file_name=f"{seg:02d}_{safe_filename(profiles[seg]['name'])}.csv", width="stretch")
        st.caption(t("strategies.n_customers", n=len(campaigns[seg])))
    c3, c4, c5 = st.columns(3)
    download(c3, t("strategies.report_md"), t("strategies.report_rows", n=len(profiles)),
             report.encode("utf-8"), file_name=f"{base}_strategies.md", mime="text/markdown")
    download(c4, t("strategies.report_html"), t("strategies.report_rows", n=len(profiles)),
             report_html(report, language=lang()).encode("utf-8"), file_name=f"{base}_strategies.html", mime="text/html")
    download(c5, t("strategies.scored"), t("strategies.scored_rows", n=len(out.reviews)),
             csv_bytes(out.reviews), file_name=f"{base}_reviews_scored.csv", mime="text/csv")
