"""Data: upload or pick the sample, map columns, check data quality."""
from ui.auth import guard

guard()  # before anything else: no page runs without the login

import streamlit as st

from segcore.errors import SegscopeError
from segcore.services import datasets
from segcore.services.datasets import ROLES, read_table
from ui.charts import length_chart, rating_chart
from ui.i18n import language_name, shown_as, t
from ui.segtext import say
from ui.shared import current_dataset, show_error, workspace
from ui.sidebar import stop_page

NONE = "— none —"  # the option value; shown in the session's language


def _stamp(dataset) -> tuple[str, int, int]:
    stat = dataset.path.stat()
    return str(dataset.path), stat.st_mtime_ns, stat.st_size


# Read once per file version and sheet, not on every rerun (errors are not cached: raised again).
@st.cache_data(max_entries=2, show_spinner=False)
def _read_file(stamp: tuple[str, int, int], sheet: str | None):
    return read_table(stamp[0], sheet=sheet)


# What detection alone picks and why, shown next to the choices (the saved mapping may differ).
@st.cache_data(max_entries=2, show_spinner=False)
def _detected(stamp: tuple[str, int, int], sheet: str | None) -> tuple[dict, dict]:
    return datasets.detected(_read_file(stamp, sheet))


@st.cache_data(max_entries=2, show_spinner=False)
def _sheets(stamp: tuple[str, int, int]):
    return datasets.list_sheets(stamp[0])


st.title(t("data.title"))
st.caption(t("data.intro"))

ws = workspace()
left, right = st.columns([3, 1])
upload = left.file_uploader(t("data.file"), type=datasets.upload_suffixes(),
                            key="upload")
if right.button(t("data.use_sample"), icon=":material/dataset:", width="stretch"):
    ws.use_sample()  # the file still in the uploader stays refused (same signature); a new upload wins
    st.rerun()  # the sidebar, drawn before this page, names the new dataset
if upload is not None:
    signature = (upload.name, upload.size, upload.file_id)
    if st.session_state.get("upload_sig") != signature:
        st.session_state["upload_sig"] = signature  # a bad file is refused once, not on every rerun
        try:  # read before saving: a file that cannot be read never becomes the current dataset
            with st.spinner(t("data.reading")):
                ws.save_upload(upload.getvalue(), upload.name, check=lambda data, name: read_table(data, name=name))
        except SegscopeError as exc:
            show_error(exc)
            st.caption(t("data.unchanged"))
        else:
            st.rerun()  # the sidebar, drawn before this page, names the new dataset

dataset = current_dataset()
if dataset.is_sample:
    st.info(t("data.sample_info"),
            icon=":material/info:")

st.subheader(dataset.name)
sheet = dataset.sheet
if datasets.is_excel(dataset.path.name):
    try:
        sheets = _sheets(_stamp(dataset))
    except SegscopeError as exc:
        show_error(exc)
        stop_page()
    if len(sheets) > 1:
        auto = "(first sheet with data)"
        options_ = [auto, *sheets]
        picked = st.selectbox(t("data.sheet"), options_, index=options_.index(sheet) if sheet in sheets else 0,
                              format_func=shown_as([auto], lambda o: t("data.first_sheet")))
        sheet = None if picked == auto else picked

try:
    with st.spinner(t("data.reading")):
        frame = _read_file(_stamp(dataset), sheet)
except SegscopeError as exc:
    show_error(exc)
    stop_page()

# Column mapping: auto-detected choices pre-selected, saved with the dataset (services.datasets).
detected, failed = datasets.preselected(frame, dataset.columns)
try:
    auto, why = ({}, {}) if failed else _detected(_stamp(dataset), sheet)
except SegscopeError as exc:  # detection alone fails where the saved choices help it
    failed, auto, why = str(exc), {}, {}
if failed:
    st.warning(failed)
options = [NONE, *frame.columns]
st.markdown("#### " + t("data.columns"))
picked = {}
half = (len(ROLES) + 1) // 2
for row in (ROLES[:half], ROLES[half:]):
    for col, role in zip(st.columns(half), row):
        current = detected.get(role)
        picked[role] = col.selectbox(t(f"data.role_{role}"), options,
                                     format_func=shown_as([NONE], lambda c: t("data.none")),
                                     index=options.index(current) if current in options else 0,
                                     key=f"map_{role}_{dataset.path.name}")
settled = datasets.check_mapping({k: (None if v == NONE else v) for k, v in picked.items()})
mapping = settled.columns
if settled.title_dropped:
    st.caption(t("data.no_title", col=settled.title_dropped))
reasons = [f"**{t(f'data.rolename_{r}')}**: `{c}` ({say(why[r])})" for r, c in mapping.items()
           if c and auto.get(r) == c and r in why]
if reasons:
    st.caption(t("data.detected", reasons="; ".join(reasons)))
if settled.problem:
    st.error(t("data.twice" if settled.problem == "twice" else "data.pick_text"))
    stop_page()
stored = datasets.stored_columns(mapping)
if stored != dataset.columns or sheet != dataset.sheet or dataset.rows != len(frame):
    dataset.columns, dataset.sheet, dataset.rows = stored, sheet, len(frame)
    ws.update(dataset)

with st.expander(t("data.preview"), expanded=False):
    st.dataframe(frame.head(50), hide_index=True)

try:
    report = datasets.data_quality(frame, mapping)
except SegscopeError as exc:
    show_error(exc)
    stop_page()

st.markdown("#### " + t("data.quality"))
m = st.columns(5)
m[0].metric(t("data.rows"), f"{report['rows']:,}")
m[1].metric(t("data.usable"), f"{report['kept']:,}")
m[2].metric(t("data.dropped"), f"{report['dropped']:,}")
m[3].metric(t("data.customers"), f"{report['customers']:,}",
            help=t("data.repeat", n=report["reviews_per_customer"]["repeat_customers"]))
m[4].metric(t("data.language"), language_name(report["language"]), help=t("data.language_help"))
for note in report["notes"]:
    st.caption(f"• {say(note)}")
if report["cannot_train"]:
    st.error(t("data.cannot_train", why=report["cannot_train"]), icon=":material/error:")
if report["label_source"] == "none":
    st.warning(t("data.no_labels"))
else:
    counts = ", ".join(f"{k}: {v:,}" for k, v in report["labels"].items())
    st.caption(t("data.labels_from", source=t("data.source_" + report["label_source"].replace(" ", "_")), counts=counts)
               + (t("data.unlabelled", n=report["unlabelled"]) if report["unlabelled"] else ""))

c1, c2 = st.columns(2)
if "rating_distribution" in report:
    c1.plotly_chart(rating_chart(report["rating_distribution"]), width="stretch")
c2.plotly_chart(length_chart(report["text_lengths"]), width="stretch")
if report["dropped"]:
    with st.expander(t("data.dropped_rows", n=report["dropped"])):
        st.dataframe(report["dropped_rows"], hide_index=True)
st.page_link("pages/train.py", label=t("data.next"), icon=":material/arrow_forward:")
