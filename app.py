"""segscope: segment e-commerce customers from what they write. Run: streamlit run app.py"""
import streamlit as st

from ui.shared import current_dataset, device_label, registry, selected_run

st.set_page_config(page_title="segscope", page_icon=":material/insights:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/segments.py", title="Segments", icon=":material/groups:"),
    st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
    st.Page("pages/strategies.py", title="Strategies & export", icon=":material/campaign:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
]

from ui.auth import require_login  # noqa: E402  (after set_page_config)

if require_login():
    nav = st.navigation(PAGES)
    with st.sidebar:
        st.markdown("### segscope")
        dataset = current_dataset()
        st.caption("Dataset")
        st.write(dataset.name if dataset else "none loaded")
        job = registry().active()
        run = selected_run()
        st.caption("Model run")
        if job is not None:
            st.write(f"training: {job.run_id} ({job.progress.snapshot().fraction:.0%})")
        st.write(run.run_id if run else "none yet")
        st.caption("Device")
        st.write(device_label())
    nav.run()
