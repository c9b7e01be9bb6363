"""One real browser session: Debian chromium driven by Playwright against `streamlit run app.py`.

Set SEGSCOPE_SCREENSHOTS=DIR to keep the page screenshots (the README's come from here)."""
from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, request):
    extra = getattr(request, "param", [])
    password = secrets = None
    if isinstance(extra, dict):
        extra, password, secrets = extra.get("args", []), extra.get("password"), extra.get("secrets")
    cwd = ROOT
    if secrets:  # Streamlit reads .streamlit/ (config and secrets) from the working folder
        cwd = tmp_path / "cwd"
        (cwd / ".streamlit").mkdir(parents=True)
        shutil.copy(ROOT / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml")
        (cwd / ".streamlit" / "secrets.toml").write_text(secrets, encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "SEGSCOPE_MODELS_DIR": str(tmp_path / "models"), "PYTHONUNBUFFERED": "1"}
    env.pop("SEGSCOPE_PASSWORD", None)
    if password:
        env["SEGSCOPE_PASSWORD"] = password
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true", *extra],
                            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (tmp_path / "streamlit.log").read_text()[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text()


def nav(page, name):
    return page.get_by_test_id("stSidebar").get_by_role("link", name=name, exact=True)


def test_upload_train_segments_map_export(server, tmp_path, small_csv, tiny_model):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # the first page load imports torch

    shots = Path(os.environ.get("SEGSCOPE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(60_000)
        page.goto(server)
        expect(page.locator("h1", has_text="Data")).to_be_visible()

        # Upload a real review file; columns are detected and shown for mapping.
        page.locator("input[type=file]").set_input_files(str(small_csv))
        expect(page.get_by_text("Data quality")).to_be_visible()
        expect(page.get_by_text("Usable reviews")).to_be_visible()
        expect(page.get_by_text("Training labels from the rating")).to_be_visible()
        # the upload's own figures, not the sample's still on screen while the page reruns
        expect(page.get_by_text("sample_reviews.csv (Amazon Fine Food, CC0)")).to_have_count(0)
        expect(page.get_by_role("heading", name="small_reviews.csv")).to_be_visible()
        page.screenshot(path=str(shots / "data.png"), full_page=True)

        # Train a tiny model in the background and watch it finish.
        nav(page, "Train").click()
        # The Train page's first render imports the training stack: minutes on a loaded 2-core CI box.
        expect(page.get_by_text("A model folder on this server")).to_be_visible(timeout=240_000)
        page.get_by_text("A model folder on this server").click()
        page.get_by_label("Folder or hub id", exact=True).and_(page.locator("input")).fill(str(tiny_model))
        page.get_by_text("Advanced settings").click()
        page.locator("input[aria-label=\"Epochs (max) (empty: 4, more on small files)\"]").fill("2")
        page.locator("input[aria-label=\"Tokens per review\"]").fill("48")
        page.locator("input[aria-label=\"Segments (empty: chosen by silhouette, at most 12)\"]").fill("3")
        page.get_by_role("button", name="Start training").click()
        # the quick result comes first (its own run), then fine-tuning
        expect(page.get_by_text("Test results", exact=True)).to_be_visible(timeout=400_000)
        expect(page.get_by_text("Test macro-F1", exact=True)).to_be_visible()
        page.get_by_text("Test results", exact=True).scroll_into_view_if_needed()  # the README shows the verdict
        page.screenshot(path=str(shots / "train.png"), full_page=True)

        nav(page, "Segments").click()
        expect(page.get_by_role("heading", name="Profiles")).to_be_visible()
        expect(page.get_by_text("Customers per segment")).to_be_visible()
        page.screenshot(path=str(shots / "segments.png"), full_page=True)

        nav(page, "Map").click()
        expect(page.locator("h1", has_text="Map")).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(1)  # the map alone
        page.locator("input[aria-label=\"Highlight reviews containing\"]").fill("coffee")
        page.locator("input[aria-label=\"Highlight reviews containing\"]").press("Enter")
        expect(page.get_by_text("reviews contain “coffee”")).to_be_visible()
        page.screenshot(path=str(shots / "map.png"), full_page=True)

        nav(page, "Strategies & export").click()
        expect(page.get_by_role("tab", name="Export")).to_be_visible()
        page.screenshot(path=str(shots / "strategies.png"), full_page=True)
        page.get_by_role("tab", name="Export").click()
        with page.expect_download() as info:
            page.get_by_role("button", name="campaigns.xlsx (a sheet per segment)").click()
        data = Path(info.value.path()).read_bytes()

        nav(page, "Models").click()
        expect(page.get_by_role("heading", name="Delete a run")).to_be_visible()
        page.screenshot(path=str(shots / "models.png"), full_page=True)

        # A later batch of real reviews scored with the run (as `segcore score` / `watch` would),
        # then compared with the run's own data on the Compare page.
        from segcore.engines.stream import score_file
        from segcore.services.runs import RunStore

        (trained,) = [r for r in RunStore(tmp_path / "models").list() if r.usable and not r.run_id.endswith("-quick")]
        later = tmp_path / "later_reviews.csv"
        sample = pd.read_csv(SAMPLE)
        sample[~sample["Id"].isin(pd.read_csv(small_csv)["Id"])].head(300).to_csv(later, index=False)
        score_file(later, trained.path / "model", trained.path / "scores" / "later-reviews")
        nav(page, "Compare").click()
        expect(page.get_by_text("Alerts", exact=True)).to_be_visible()
        expect(page.get_by_text("Segment shares, before and now")).to_be_visible()
        page.screenshot(path=str(shots / "compare.png"), full_page=True)
        browser.close()

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    # k = 3 is the most segments (interest x attitude cells): an Index sheet and one sheet per segment
    assert 3 <= len(workbook.sheetnames) <= 4 and workbook.sheetnames[0] == "Index"
    header = [c.value for c in workbook.worksheets[1][1]]
    assert header[:3] == ["customer_id", "segment_id", "segment"] and "suggested_action" in header
    customers = [row[0] for ws in workbook.worksheets[1:] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(customers) == sorted(pd.read_csv(small_csv)["UserId"].astype(str).unique())


@pytest.mark.parametrize("server", [["--server.maxUploadSize", "1"]], indirect=True)
def test_file_over_upload_limit_is_refused_clearly(server):
    """With a 1 MB limit, the 1 MB-review fixture is refused in the browser; the app stays usable."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    big = Path(__file__).parent / "fixtures" / "inputs" / "one_megabyte_review.csv"
    assert big.stat().st_size > 1024 * 1024
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(server)
        expect(page.locator("h1", has_text="Data")).to_be_visible()
        page.locator("input[type=file]").set_input_files(str(big))
        expect(page.get_by_text("File must be 1.0MB or smaller")).to_be_visible()
        expect(page.get_by_text("Showing the shipped sample reviews")).to_be_visible()  # data kept
        browser.close()


PATHS = ["/models", "/", "/data", "/train", "/segments", "/map", "/strategies", "/labels", "/compare"]
TITLES = ["Data", "Train", "Segments", "Map", "Strategies & export", "Labels", "Models", "Compare"]


def _only_login_everywhere(page, server: str, login) -> None:
    """Every page path shows the login (`login()`: its locator) and nothing of the app."""
    from playwright.sync_api import expect

    for path in PATHS:
        page.goto(server + path)
        expect(login()).to_be_visible()
        page.wait_for_timeout(1000)  # let any page script that would run render
        assert page.locator("h1").all_inner_texts() == ["segscope"], path
        for test_id in ("stSidebarNavItems", "stFileUploader", "stDownloadButton", "stDataFrame", "stSidebar"):
            assert page.get_by_test_id(test_id).count() == 0, (path, test_id)


@pytest.mark.parametrize("server", [{"password": "s3cret"}], indirect=True)
def test_no_page_or_download_without_the_password(server):
    """A fresh server, opened first at /models (the run where Streamlit would serve pages/*.py by
    URL), then at every page path: only the login form; after login the links list the eight pages
    and never a helper module."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        _only_login_everywhere(page, server, lambda: page.get_by_label("Password", exact=True))
        page.goto(server)  # (the other paths end on Streamlit's "page not found" notice)
        page.get_by_label("Password", exact=True).fill("s3cret")
        page.get_by_role("button", name="Enter").click()
        expect(page.locator("h1", has_text="Data")).to_be_visible()
        links = page.get_by_test_id("stSidebar").get_by_role("link")
        expect(links).to_have_count(len(TITLES))
        assert [t.split("\n")[-1] for t in links.all_inner_texts()] == TITLES  # (icon name, then title)
        assert page.get_by_test_id("stSidebarNavItems").count() == 0
        nav(page, "Models").click()
        expect(page.locator("h1", has_text="Models")).to_be_visible()
        browser.close()


# An OIDC provider that is never reached: signed out, the app must not need it to refuse.
AUTH_SECRETS = """[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
cookie_secret = "a-test-cookie-secret-of-some-length"
client_id = "segscope-test"
client_secret = "not-a-secret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""


@pytest.mark.parametrize("server", [{"secrets": AUTH_SECRETS}], indirect=True)
def test_no_page_without_the_oidc_login(server):
    """With an [auth] section (Streamlit's OIDC login), every page path of a fresh server shows
    only the 'Log in' button: no page, uploader, download, table or page list."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        _only_login_everywhere(page, server, lambda: page.get_by_role("button", name="Log in"))
        browser.close()
