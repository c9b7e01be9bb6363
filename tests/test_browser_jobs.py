"""Two people on one server in real browsers (Debian chromium, Playwright): while the first one's
fine-tune runs, the second sees the training queue before pressing Start, and scores a file with a
saved run; the scoring finishes while the fine-tune still runs (issue 28)."""
from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from conftest import SAMPLE
from test_browser import chromium, nav, open_settings, pick, server, settled  # noqa: F401 (chromium, server: fixtures)

from segcore.services.runs import write_status

pytestmark = pytest.mark.browser
RUN_ID = "20260101-000000-tiny"


@pytest.fixture
def installed_run(tmp_path, tiny_run):
    """The tiny run as a finished run of the server's models/ (asked for before `server`)."""
    shutil.copytree(tiny_run.parent, tmp_path / "models" / RUN_ID)
    write_status(tmp_path / "models" / RUN_ID, {"run_id": RUN_ID, "status": "done", "created": "2026-01-01T00:00:00",
                                                "input_file": "small_reviews.csv"})
    return tmp_path / "models" / RUN_ID


def test_scoring_finishes_while_a_fine_tune_runs_and_the_queue_shows(chromium, installed_run, server, tmp_path,
                                                                    tiny_model):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    later = tmp_path / "later_reviews.csv"
    pd.read_csv(SAMPLE).tail(80).to_csv(later, index=False)
    browser = chromium
    first = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US").new_page()
    first.set_default_timeout(60_000)
    first.goto(server)
    expect(first.locator("h1", has_text="Data")).to_be_visible()

    # Person 1: a long fine-tune of the tiny encoder on the shipped sample
    nav(first, "Train").click()
    expect(first.get_by_text("A model folder on this server")).to_be_visible(timeout=240_000)
    settled(first, "Train")
    expect(first.get_by_text(re.compile("training\\(s\\) ahead of yours"))).to_have_count(0)  # nobody ahead
    first.get_by_text("A model folder on this server").click()
    first.get_by_label("Folder or hub id", exact=True).and_(first.locator("input")).fill(str(tiny_model))
    open_settings(first)
    first.locator("input[aria-label=\"Epochs (max) (empty: 4, more on small files)\"]").fill("100")
    first.locator("input[aria-label=\"Early-stopping patience (epochs)\"]").fill("100")  # runs on
    first.locator("input[aria-label=\"Tokens per review\"]").fill("32")
    first.locator("input[aria-label=\"Segments (empty: chosen by silhouette, at most 12)\"]").fill("3")
    first.keyboard.press("Tab")  # the value is taken and the page reruns before Start (a click
    settled(first, "Train settings")  # during that rerun was once lost: no training started in 60 s)
    first.get_by_role("button", name="Start training").click()
    expect(first.get_by_text(re.compile(r" — running$"))).to_be_visible()
    expect(first.get_by_test_id("stProgress")).to_contain_text(re.compile(r"left|…"))

    # Person 2 (another browser: another workspace): the queue before Start, then a scoring
    second = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US").new_page()
    second.set_default_timeout(60_000)
    second.goto(server)
    expect(second.locator("h1", has_text="Data")).to_be_visible()
    nav(second, "Train").click()
    queue = second.get_by_test_id("stAlert").filter(has_text=re.compile(
        r"1 training\(s\) ahead of yours on this server: if you press Start, yours waits in the queue"))
    expect(queue).to_be_visible(timeout=240_000)
    settled(second, "Train (second person)")

    nav(second, "Models").click()
    expect(second.get_by_text("Score new reviews with a saved model")).to_be_visible()
    expect(second.get_by_text("A training is running: your scoring runs beside it")).to_be_visible()
    pick(second, "Model", RUN_ID)
    second.locator(".st-key-score_upload input[type=file]").set_input_files(str(later))
    expect(second.get_by_role("button", name="Score", exact=True)).to_be_visible()
    settled(second, "Models: file picked")  # the page has taken the upload before Score is pressed
    second.get_by_role("button", name="Score", exact=True).click()
    expect(second.get_by_text(re.compile(r"^Scoring later_reviews.csv with .* — \w+$"))).to_be_visible()
    expect(second.get_by_text(re.compile(r"^Scored [\d,]+ reviews in \d+ s\.$"))).to_be_visible(timeout=300_000)
    settled(second, "Models: scored")

    # the fine-tune went on all the while; its owner stops it
    expect(first.get_by_text(re.compile(r" — running$"))).to_be_visible()
    first.get_by_role("button", name="Stop training").click()
    expect(first.get_by_text(re.compile(r" — cancelled$"))).to_be_visible(timeout=120_000)
    settled(first, "Train: stopped")
    assert [p.name for p in (installed_run / "scores").iterdir()]  # the scoring is saved with its run
