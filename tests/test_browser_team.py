"""A team on one server, in real browsers (issue 27): Debian chromium driven by Playwright against one
`streamlit run app.py`. Two people sign in with the shared password and their names; bob's scoring,
private run and dataset stay his, alice may only view the run he shared, and no template makes
either browser fetch an address. A second server signs in through an identity provider (a local
OIDC provider written here) with Authlib as installed, and only with a verified e-mail."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from conftest import DATA, ROOT
from test_browser import ARGS, CHROMIUM, _free_port, nav, settled

from segcore.services.jobs import JobRegistry
from segcore.services.owners import Owner, OwnerJobs
from segcore.services.runs import RunStore, write_status
from segcore.strategy.template_meta import save_template

pytestmark = pytest.mark.browser

PASSWORD = "team-s3cret"
SHARED, PRIVATE = "20260101-000000-bob-shared", "20260102-000000-bob-private"


class _Listener:
    """A local HTTP server that counts every request made to it (a template's "remote" address)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _streamlit(tmp_path, port: int, *, env: dict | None = None, cwd=ROOT):
    log = open(tmp_path / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"], cwd=cwd,
                            env={**os.environ, "SEGSCOPE_MODELS_DIR": str(tmp_path / "models"), "PYTHONUNBUFFERED": "1",
                                 **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, log, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("streamlit did not start: " + (tmp_path / f"streamlit-{port}.log").read_text()[-2000:])


def _stop(tmp_path, proc, log, port: int) -> None:
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    assert "Traceback" not in (tmp_path / f"streamlit-{port}.log").read_text()


def _bobs_work(models, tiny_run, listener: str, tmp_path) -> str:
    """On disk before anyone signs in: bob's shared run with a scoring of his, his private run; a
    team template and alice's own template that each put a remote image in the strategies."""
    bob, alice = Owner.user("bob"), Owner.user("alice")
    for run_id, shared in ((SHARED, True), (PRIVATE, False)):
        shutil.copytree(tiny_run.parent, models / run_id)
        write_status(models / run_id, {"run_id": run_id, "status": "done", "created": run_id[:8] + "T00:00:00",
                                       "input_file": "bob_reviews.csv", "owner": bob.name, "owner_key": bob.key,
                                       "shared": shared, "metrics": {"n_reviews": 400, "k": 3}})
    later = tmp_path / "bob_later.csv"  # bob's own file of real reviews
    pd.read_csv(DATA / "womens_clothing_600.csv").head(60).to_csv(later, index=False)
    job = OwnerJobs(JobRegistry(RunStore(models)), bob).start_score(SHARED, later)
    while job.active:
        time.sleep(0.2)
    assert job.status == "done", job.error
    image = "![ ](" + listener + "/leak?n={{ seg.name | urlencode }}&ex={{ seg.examples[0][:60] | urlencode }})"
    save_template(models / ".data" / "templates", "06_inventory_hints",  # as an admin saves a team template
                  "{% if seg.size > 0 %}\n## Team play\n" + image + "\n{% endif %}")
    save_template(models / ".data" / alice.key / "templates", "09_second_purchase",  # alice's own
                  "{% if seg.size > 0 %}\n## Alice play\n" + image.replace("leak", "alice") + "\n{% endif %}")
    return job.run_id


def _sign_in(context, url: str, name: str):
    from playwright.sync_api import expect

    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("textbox", name="Your name or e-mail (optional)").fill(name)
    page.get_by_role("button", name="Enter").click()
    expect(page.locator("h1", has_text="Data")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(name, exact=True)).to_be_visible()
    settled(page, f"{name}: signed in")
    return page


def _open(page, link: str, title: str, where: str) -> None:
    from playwright.sync_api import expect

    nav(page, link).click()
    expect(page.locator("h1").first).to_have_text(title)
    settled(page, where)


def test_two_people_on_one_server(tmp_path, tiny_run, small_csv):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # the first page load imports torch
    listener = _Listener()
    scoring = _bobs_work(tmp_path / "models", tiny_run, listener.url, tmp_path)
    port = _free_port()
    proc, log, url = _streamlit(tmp_path, port, env={"SEGSCOPE_PASSWORD": PASSWORD})
    fetched = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
                        for _ in range(2)]
            for context in contexts:
                context.on("request", lambda r: fetched.append(r.url) if r.url.startswith(listener.url) else None)
            bob = _sign_in(contexts[0], url, "bob")
            alice = _sign_in(contexts[1], url, "alice")

            # bob's dataset is his: alice still has the sample
            bob.locator("input[type=file]").set_input_files(str(small_csv))
            expect(bob.get_by_role("heading", name=small_csv.name)).to_be_visible()
            _open(alice, "Data", "Data", "alice: Data after bob's upload")  # (a reload would ask for the password)
            expect(alice.get_by_text("Showing the shipped sample reviews")).to_be_visible()
            expect(alice.get_by_text(small_csv.name)).to_have_count(0)

            # alice's Models page: bob's shared run with its owner and what she may do; not his
            # private run, not his scoring; nothing of his to delete, share or rename
            _open(alice, "Models", "Models", "alice: Models")
            table = alice.get_by_test_id("stDataFrame").first
            expect(table).to_contain_text(SHARED)
            expect(table).to_contain_text("open, view, download, score")
            body = alice.inner_text("body")
            assert PRIVATE not in body and scoring not in body and "bob_later" not in body
            for heading in ("Delete a run", "Share a run with the team"):
                expect(alice.get_by_role("heading", name=heading)).to_have_count(0)
            expect(alice.get_by_text("Scored reviews (CSV)")).to_have_count(0)

            # she opens it on purpose: read-only
            box = alice.get_by_test_id("stSelectbox").filter(
                has=alice.get_by_test_id("stWidgetLabel").get_by_text("Run", exact=True))
            box.get_by_role("combobox").click()
            alice.get_by_role("option", name=SHARED, exact=True).click()
            alice.get_by_role("button", name="Open in Segments / Map / Strategies").click()
            expect(alice.locator("h1").first).to_have_text("Segments")
            expect(alice.get_by_text("only its owner or an admin can re-segment or rename it")).to_be_visible()
            expect(alice.get_by_role("button", name="Save names")).to_have_count(0)
            settled(alice, "alice: bob's run, read-only")

            # Strategies in both browsers: the images are text, nothing reaches the listener
            _open(alice, "Strategies & export", "Strategies & export", "alice: Strategies")
            expect(alice.get_by_text("Team play").first).to_be_visible()
            expect(alice.get_by_text("Alice play").first).to_be_visible()  # her own template, for her
            _open(bob, "Strategies & export", "Strategies & export", "bob: Strategies")
            expect(bob.get_by_text("Team play").first).to_be_visible()
            expect(bob.get_by_text(f"{listener.url}/leak", exact=False).first).to_be_visible()  # as text
            assert "Alice play" not in bob.inner_text("body")  # alice's template is hers alone
            bob.wait_for_timeout(1500)  # time for any image request to leave

            # bob's own Models page still has his scoring and his runs to manage
            _open(bob, "Models", "Models", "bob: Models")
            expect(bob.get_by_role("heading", name="Delete a run")).to_be_visible()
            expect(bob.get_by_text("Scored reviews (CSV)")).to_be_visible()
            browser.close()
    finally:
        listener.close()
        _stop(tmp_path, proc, log, port)
    assert listener.hits == [] and fetched == [], (listener.hits, fetched)


# --- sign-in through an identity provider ---------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Provider:
    """A minimal OpenID Connect provider: discovery, an authorize step that signs the user in at
    once, a token endpoint that returns an RS256 ID token with `claims`, and its key set."""

    def __init__(self):
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.claims: dict = {}
        codes: dict[str, str] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, body: dict):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    base = provider.url
                    self._json({"issuer": base, "authorization_endpoint": f"{base}/authorize",
                                "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                                "id_token_signing_alg_values_supported": ["RS256"]})
                elif url.path == "/jwks":
                    self._json({"keys": [key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    code = hashlib.sha256(query["state"].encode()).hexdigest()[:20]
                    codes[code] = query.get("nonce", "")
                    self.send_response(302)
                    self.send_header("Location", f"{query['redirect_uri']}?code={code}&state={query['state']}")
                    self.end_headers()
                else:
                    self.send_response(404)
                    self.end_headers()

            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                now = int(time.time())
                claims = {"iss": provider.url, "aud": "segscope", "iat": now, "exp": now + 600,
                          "nonce": codes.get(form.get("code"), ""), **provider.claims}
                token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
                self._json({"access_token": "at", "token_type": "Bearer", "expires_in": 600, "id_token": token})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_sign_in_through_an_identity_provider_needs_a_verified_email(tmp_path):
    """Issue 27: with an [auth] section "Log in" showed StreamlitMissingAuthlibError (authlib was not
    in the requirements), and the workspace came from the e-mail without `email_verified`."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    provider = _Provider()
    port = _free_port()
    cwd = tmp_path / "cwd"
    (cwd / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml")
    (cwd / ".streamlit" / "secrets.toml").write_text(
        f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\ncookie_secret = "{"c" * 40}"\n'
        f'client_id = "segscope"\nclient_secret = "secret"\n'
        f'server_metadata_url = "{provider.url}/.well-known/openid-configuration"\n', encoding="utf-8")
    proc, log, url = _streamlit(tmp_path, port, cwd=cwd)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for verified in (False, True):
                provider.claims = {"sub": "erin-1", "email": "Erin@Example.com", "email_verified": verified}
                page = browser.new_context(locale="en-US").new_page()
                page.goto(url)
                page.get_by_role("button", name="Log in").click()
                if not verified:
                    expect(page.get_by_text("did not confirm your e-mail address")).to_be_visible()
                    expect(page.get_by_role("button", name="Log out")).to_be_visible()
                    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
                    settled(page, "unverified e-mail")
                    continue
                expect(page.locator("h1", has_text="Data")).to_be_visible()
                expect(page.get_by_test_id("stSidebar").get_by_text("erin@example.com", exact=True)).to_be_visible()
                settled(page, "signed in with the provider")
            browser.close()
    finally:
        provider.server.shutdown()
        _stop(tmp_path, proc, log, port)
    assert not any((tmp_path / "models" / ".data").glob(f"{Owner.user('erin@example.com').key}*"))
    assert (tmp_path / "models" / ".data" / Owner.sso("erin@example.com").key).is_dir()
