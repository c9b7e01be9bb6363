"""A workspace per person: uploads, jobs and the picked run belong to one browser (or signed-in
user); a run is its owner's until they share it with the team (read-only, their name shown); an
SSO sign-in needs a verified e-mail and never opens a typed name's workspace. AppTest and segcore
on real files and the tiny model; one real-browser test (two browser contexts on one server)."""
from __future__ import annotations

import json
import time

import pytest
from conftest import DATA, ROOT
from streamlit.testing.v1 import AppTest
from test_browser import server as app_server  # noqa: F401  (test_browser's fixture: `streamlit run app.py`)

from segcore.config import RunConfig, TrainConfig
from segcore.services.jobs import JobRegistry
from segcore.services.owners import Owner, OwnerJobs, new_token
from segcore.services.runs import RunStore

APP = str(ROOT / "app.py")
CLOTHING = DATA / "womens_clothing_600.csv"
CHINESE = DATA / "asap_zh_100.csv"


def _browser(token: str) -> AppTest:
    """A session of the browser whose cookie holds `token` (AppTest cannot send cookies)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["ws_token"] = token
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _sidebar(at: AppTest) -> list[str]:
    return [t.value for t in at.sidebar.text]


def _upload(at: AppTest, path) -> AppTest:
    at.file_uploader[0].set_value((path.name, path.read_bytes(), "text/csv"))
    return _ok(at.run())


def test_owner_keys_are_hashes_never_the_identity():
    a, b = Owner.browser(new_token()), Owner.browser(new_token())
    assert a.key != b.key and len(a.key) == 32 and set(a.key) <= set("0123456789abcdef")
    # the same person by e-mail, however typed; a user and a browser never share a key
    assert Owner.user(" Alice@Example.com ").key == Owner.user("alice@example.com").key
    assert Owner.user("alice@example.com").name == "alice@example.com"
    assert "alice" not in Owner.user("alice@example.com").key
    for bad in ("../../etc/passwd-xxxxxxxx", "short", "a" * 65, None, "token with spaces inside"):
        with pytest.raises(ValueError):
            Owner.browser(bad)


def test_two_browsers_each_see_only_their_upload(models_dir):
    a, b = "browser-a-token-000000001", "browser-b-token-000000002"
    at_a, at_b = _browser(a), _browser(b)
    _upload(at_a, CLOTHING)
    _upload(at_b, CHINESE)
    assert CLOTHING.name in _sidebar(at_a) and CHINESE.name not in _sidebar(at_a)
    assert CHINESE.name in _sidebar(at_b) and CLOTHING.name not in _sidebar(at_b)
    assert at_a.subheader[0].value == CLOTHING.name and at_b.subheader[0].value == CHINESE.name
    # the Data page's figures are each file's own: 600 English clothing reviews, 100 Chinese ones
    rows = {at.subheader[0].value: {m.label: m.value for m in at.metric}["Rows"] for at in (at_a, at_b)}
    assert rows == {CLOTHING.name: "600", CHINESE.name: "100"}

    # a reload (a new session of the same browser) finds its own file; a new browser the sample
    assert CLOTHING.name in _sidebar(_browser(a))
    fresh = _browser("browser-c-token-000000003")
    assert "Showing the shipped sample reviews" in fresh.info[0].value
    assert not {CLOTHING.name, CHINESE.name} & set(_sidebar(fresh))

    # one folder per owner under .data, named by the hashed key; the shared templates folder stays
    folders = {p.name for p in (models_dir / ".data").iterdir() if p.is_dir()}
    assert folders == {Owner.browser(t).key for t in (a, b, "browser-c-token-000000003")}
    assert sorted(p.name for p in (models_dir / ".data" / Owner.browser(a).key).glob("upload-*")) == [
        f"upload-{CLOTHING.name}"]


def _wait(job, timeout=600):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.5)
    assert job.status == "done", (job.status, job.error)


def test_jobs_are_listed_and_stopped_only_by_their_owner(tmp_path, small_csv, tiny_model):
    registry = JobRegistry(RunStore(tmp_path / "models"))
    alice, bob = Owner.user("alice@example.com"), Owner.browser(new_token())
    mine, theirs = OwnerJobs(registry, alice), OwnerJobs(registry, bob)
    config = RunConfig(k=3, quick_first=False, compare_options=False,
                       train=TrainConfig(model=str(tiny_model), epochs=1, max_length=48, progress_bar=False))
    job = mine.start(small_csv, config, label="alice")
    assert mine.active() is job and mine.latest() is job and mine.jobs() == [job]
    assert theirs.jobs() == [] and theirs.active() is None and theirs.latest() is None
    assert theirs.stop(job.run_id) is False and not job.progress.stop_requested
    assert registry.active() is job  # the registry stays one per server
    _wait(job)
    info = registry.store.info(job.run_id)
    assert (info.owner, info.owner_key) == ("alice@example.com", alice.key)
    status = json.loads((info.path / "status.json").read_text())
    assert status["owner"] == "alice@example.com"


def test_apptest_jobs_and_runs_per_person(models_dir, small_csv, tiny_model):
    """A trains on their upload; B's Train page and sidebar show no job of A's, B's result pages
    show no run of A's, and the Models page lists A's run with its owner ('you' for A)."""
    at_a, at_b = _browser("browser-a-token-000000001"), _browser("browser-b-token-000000002")
    _upload(at_a, small_csv)
    at_a.switch_page("pages/train.py").run()
    for key, value in {"compare": False, "quick_first": False}.items():
        at_a.checkbox(key=key).set_value(value)
    at_a.radio(key="model_kind").set_value("local")
    at_a.text_input(key="model_where").set_value(str(tiny_model))
    at_a.number_input(key="epochs").set_value(1)
    at_a.number_input(key="max_length").set_value(48)
    at_a.number_input(key="k").set_value(3)
    at_a.button[0].click()
    _ok(at_a.run())
    assert any(m.value.startswith("#### Run `") for m in at_a.markdown)  # A's job, running or done

    at_b.switch_page("pages/train.py").run()
    _ok(at_b)
    assert not any(t.startswith("training: ") for t in _sidebar(at_b))
    assert not any(m.value.startswith("#### Run `") for m in at_b.markdown)  # no job of A's shown

    end = time.time() + 600
    while time.time() < end:
        text = " ".join(m.value for m in _ok(at_a.run()).markdown)
        if "— done" in text or "— failed" in text:
            break
        time.sleep(1)
    assert "— done" in text, text[-500:]
    (run,) = [r for r in RunStore(models_dir).list() if r.usable]

    at_b.switch_page("pages/segments.py").run()
    _ok(at_b)
    assert "No finished run yet" in at_b.info[0].value  # A's run is not B's to see by default
    at_a.switch_page("pages/segments.py").run()
    assert _ok(at_a).title[0].value == "Segments" and run.run_id in _sidebar(at_a)

    at_a.switch_page("pages/models.py").run()
    table = _ok(at_a).dataframe[0].value
    assert dict(zip(table["run"], table["owner"])) == {run.run_id: "you"}
    at_b.switch_page("pages/models.py").run()
    assert not _ok(at_b).dataframe and "No saved runs yet" in at_b.info[0].value  # not shared: not there for B

    # A shares the run with the team: B sees it, whose it is and what B may do, and may open it
    at_a.selectbox(key="share_run").set_value(run.run_id)
    _ok(at_a.run())
    next(b for b in at_a.button if b.label == "Share with the team").click()
    _ok(at_a.run())
    table = _ok(at_b.run()).dataframe[0].value
    assert list(table.columns[:3]) == ["run", "owner", "access"]  # on screen, not off to the right
    assert table.iloc[0][["run", "owner", "access"]].tolist() == [
        run.run_id, Owner.browser("browser-a-token-000000001").name, "open, view, download, score"]
    assert at_b.selectbox[0].value is None  # nothing of A's pre-selected
    assert not any(s.key == "delete_run" for s in at_b.selectbox)  # nothing of B's to delete
    at_b.selectbox[0].set_value(run.run_id)
    _ok(at_b.run())
    next(b for b in at_b.button if b.label.startswith("Open in Segments")).click()
    _ok(at_b.run())
    assert any("only its owner or an admin can re-segment or rename it" in c.value for c in at_b.caption)
    assert not any(b.label == "Save names" for b in at_b.button)
    assert run.run_id in _sidebar(_browser("browser-b-token-000000002"))  # B's pick, kept across a reload


@pytest.mark.browser
def test_two_browsers_on_one_server(app_server, small_csv):  # noqa: F811 (the imported fixture)
    """Two browser contexts (two people) on one server: A's upload is A's alone; B still sees the
    sample; A's reload, a page change plus reload and a new tab of A's all find A's file (the
    workspace token is kept in a cookie)."""
    from playwright.sync_api import expect, sync_playwright
    from test_browser import ARGS, CHROMIUM, nav

    expect.set_options(timeout=60_000)
    sample, server = "sample_reviews.csv (Amazon Fine Food, CC0)", app_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        a, b = browser.new_context(), browser.new_context()
        page_a, page_b = a.new_page(), b.new_page()
        for page in (page_a, page_b):
            page.goto(server)
            expect(page.locator("h1", has_text="Data")).to_be_visible()
        page_a.locator("input[type=file]").set_input_files(str(small_csv))
        expect(page_a.get_by_role("heading", name=small_csv.name)).to_be_visible()
        sidebar_a, sidebar_b = page_a.get_by_test_id("stSidebar"), page_b.get_by_test_id("stSidebar")
        expect(sidebar_a.get_by_text(small_csv.name, exact=True)).to_be_visible()

        page_b.reload()  # B's next look at the server: still the sample, no trace of A's file
        expect(page_b.get_by_text("Showing the shipped sample reviews")).to_be_visible()
        expect(sidebar_b.get_by_text(sample, exact=True)).to_be_visible()
        expect(page_b.get_by_text(small_csv.name)).to_have_count(0)

        # each browser got its own token, kept in a cookie that a reload sends back
        tokens = {name: [c["value"] for c in ctx.cookies() if c["name"] == "segscope_ws"] for name, ctx in
                  (("a", a), ("b", b))}
        assert len(tokens["a"]) == len(tokens["b"]) == 1 and tokens["a"] != tokens["b"], tokens
        page_a.reload()
        expect(page_a.get_by_role("heading", name=small_csv.name)).to_be_visible()
        expect(sidebar_a.get_by_text(small_csv.name, exact=True)).to_be_visible()
        nav(page_a, "Models").click()
        expect(page_a.locator("h1", has_text="Models")).to_be_visible()
        page_a.reload()  # on another page's URL
        expect(page_a.locator("h1", has_text="Models")).to_be_visible()
        expect(sidebar_a.get_by_text(small_csv.name, exact=True)).to_be_visible()
        tab = a.new_page()  # a second tab of the same browser: the same workspace
        tab.goto(server)
        expect(tab.get_by_role("heading", name=small_csv.name)).to_be_visible()
        expect(sidebar_b.get_by_text(sample, exact=True)).to_be_visible()
        browser.close()


def _login(at: AppTest, name: str = "") -> AppTest:
    at.text_input[0].input("s3cret")
    if name:
        at.text_input(key="login_name").input(name)
    at.button[0].click()
    return _ok(at.run())


def test_password_login_with_a_name_follows_the_person(models_dir, monkeypatch):
    """With the shared password, the name given at login owns the workspace: the same name in
    another browser finds the upload; no name keeps the browser's own workspace."""
    monkeypatch.setenv("SEGSCOPE_PASSWORD", "s3cret")
    laptop = _login(_browser("laptop-browser-token-0001"), "Alice@Example.com")
    assert "alice@example.com" in _sidebar(laptop)
    _upload(laptop, CLOTHING)
    office = _login(_browser("office-browser-token-0002"), "alice@example.com ")
    assert CLOTHING.name in _sidebar(office)
    anonymous = _login(_browser("office-browser-token-0002"))
    assert CLOTHING.name not in _sidebar(anonymous) and Owner.browser("office-browser-token-0002").name in _sidebar(
        anonymous)
    assert (models_dir / ".data" / Owner.user("alice@example.com").key / f"upload-{CLOTHING.name}").exists()


OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "id",
        "client_secret": "secret", "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}


def _sso(user: dict, token: str = "sso-browser-token-000001") -> AppTest:
    """A session of a browser signed in with the identity provider as `user` (the ID token's claims)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["ws_token"] = token
    at.secrets["auth"] = OIDC
    at.user = user
    return _ok(at.run())


def test_sso_needs_a_verified_email(models_dir):
    """Issue 27: the workspace came from the `email` claim without `email_verified`."""
    for claims in ({"email_verified": False}, {}, {"email_verified": "false"}):
        at = _sso({"is_logged_in": True, "email": "alice@example.com", "sub": "alice-sub", **claims})
        assert "did not confirm your e-mail address" in at.error[0].value
        assert [b.label for b in at.button] == ["Log out"] and not at.file_uploader and not at.sidebar.children
    assert not (models_dir / ".data").exists()  # no workspace made for an unverified address
    at = _sso({"is_logged_in": True, "email": "Alice@Example.com", "email_verified": True, "sub": "alice-sub"})
    assert not at.error and at.file_uploader and "alice@example.com" in _sidebar(at)


def test_typed_names_and_sso_identities_never_share_a_workspace(models_dir, monkeypatch):
    """Issue 27: a name typed with the shared password opened the SSO user's workspace (same key)."""
    assert Owner.user("alice@example.com").key != Owner.sso("alice@example.com").key
    sso = _sso({"is_logged_in": True, "email": "alice@example.com", "email_verified": True, "sub": "a"})
    _upload(sso, CLOTHING)
    assert (models_dir / ".data" / Owner.sso("alice@example.com").key / f"upload-{CLOTHING.name}").exists()
    monkeypatch.setenv("SEGSCOPE_PASSWORD", "s3cret")
    typed = _login(_browser("typed-name-browser-token-01"), "alice@example.com")
    assert "alice@example.com" in _sidebar(typed) and CLOTHING.name not in _sidebar(typed)
    assert "Showing the shipped sample reviews" in typed.info[0].value
