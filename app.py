"""segscope: segment e-commerce customers from what they write. Run: streamlit run app.py"""
import streamlit as st

from ui.auth import login_page, logout_button, run_page, signed_in
from ui.shared import current_dataset, device_label, registry, selected_run

st.set_page_config(page_title="segscope", page_icon=":material/insights:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/segments.py", title="Segments", icon=":material/groups:"),
    st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
    st.Page("pages/strategies.py", title="Strategies & export", icon=":material/campaign:"),
    st.Page("pages/labels.py", title="Labels", icon=":material/fact_check:"),
    st.Page("pages/aspects.py", title="Aspects", icon=":material/label:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
]

if not signed_in():
    # Always a navigation, even signed out: without one, Streamlit would serve pages/*.py by URL.
    st.navigation([st.Page(login_page, title="Log in", url_path="login", default=True)], position="hidden").run()
    st.stop()

nav = st.navigation(PAGES)  # shown by the links below (config: showSidebarNavigation = false)
with st.sidebar:
    st.markdown("### segscope")
    for page in PAGES:
        st.page_link(page)
    st.divider()
    dataset = current_dataset()
    st.caption("Dataset")
    st.text(dataset.name if dataset else "none loaded")
    job = registry().active()
    run = selected_run()
    st.caption("Model run")
    if job is not None:
        st.text(f"training: {job.run_id} ({job.progress.snapshot().fraction:.0%})")
    st.text(run.run_id if run else "none yet")
    st.caption("Device")
    st.text(device_label())
    logout_button()
run_page(nav)
