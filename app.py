"""segscope: segment e-commerce customers from what they write. Run: streamlit run app.py"""
import streamlit as st

from ui.i18n import language_switch, t
from ui.auth import login_page, logout_button, run_page, signed_in
from ui.shared import device_label, owner, remember_browser
from ui import sidebar

st.set_page_config(page_title="segscope", page_icon=":material/insights:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title=t("nav.data"), icon=":material/upload_file:", default=True),
    st.Page("pages/train.py", title=t("nav.train"), icon=":material/model_training:"),
    st.Page("pages/segments.py", title=t("nav.segments"), icon=":material/groups:"),
    st.Page("pages/map.py", title=t("nav.map"), icon=":material/scatter_plot:"),
    st.Page("pages/strategies.py", title=t("nav.strategies"), icon=":material/campaign:"),
    st.Page("pages/labels.py", title=t("nav.labels"), icon=":material/fact_check:"),
    st.Page("pages/aspects.py", title=t("nav.aspects"), icon=":material/label:"),
    st.Page("pages/models.py", title=t("nav.models"), icon=":material/inventory_2:"),
    st.Page("pages/compare.py", title=t("nav.compare"), icon=":material/compare_arrows:"),
]

if not signed_in():
    # Always a navigation, even signed out: without one, Streamlit would serve pages/*.py by URL.
    st.navigation([st.Page(login_page, title=t("auth.log_in"), url_path="login", default=True)], position="hidden").run()
    st.stop()

nav = st.navigation(PAGES)  # shown by the links below (config: showSidebarNavigation = false)
with st.sidebar:
    st.markdown("### segscope")
    language_switch()
    for page in PAGES:
        st.page_link(page)
    st.divider()
    st.caption(t("shared.workspace"))
    st.text(owner().name)
    status = st.container()  # filled after the page ran: it names what this very click uploaded or started
    st.caption(t("app.device"))
    st.text(device_label())
    logout_button()
    remember_browser()
sidebar.place(status)
run_page(nav)  # a page that stops early fills the sidebar first (ui.sidebar.stop_page)
sidebar.fill()
