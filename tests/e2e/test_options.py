"""The options page in the real browser: a key saved through the form, Test connection, damage, restarts.

* save a key through the page (fill ``api-key``, click ``save``): it is nowhere in plain
  text (nor base64 or hex) in chrome.storage (local, sync, session), the console or any
  file of the profile; chat
  uses it against the mock server, which checks the ``Authorization`` header; after a
  browser restart on the same profile the page shows its mask and chat still works;
* Test connection names what is wrong: a refused key, a wrong URL, nothing listening,
  and a server the browser blocks (CORS, no host permission);
* a custom origin makes the page ask Chrome for a host permission inside the click: the
  request reaches Chrome's prompt instead of failing for want of a user gesture;
* a damaged envelope shows "key store damaged, re-enter your key" and re-entering works;
  reveal (confirmed) and wipe work from the page, whose port the worker trusts;
* the passphrase lock: on, lock now, the locked state, unlock.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, Playwright, expect

from background.vault.vault import STORAGE_KEY
from mockapi import MockServerThread, text_reply
from tests.e2e.conftest import Extension
from tests.e2e.test_vault import files_holding, found_in, set_local, storage

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-options-0123456789abcdWXYZ"
WRONG = "sk-e2e-wrong-key-00000000000000"
PASSPHRASE = "correct horse battery staple"
DAMAGED = "Key store damaged, re-enter your key"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def server() -> Iterator[MockServerThread]:
    with MockServerThread(api_key=KEY) as srv:
        yield srv


class Options:
    """The options page: the extension page and its sandboxed UI frame."""

    def __init__(self, ext: Extension) -> None:
        self.ext = ext
        self.page: Page = ext.page("options.html")
        self.ui: FrameLocator = self.page.frame_locator("#options-ui")
        expect(self.status).to_have_text("Ready", timeout=TIMEOUT_MS)

    def get(self, testid: str) -> Any:
        return self.ui.get_by_test_id(testid)

    def unfold(self, section: str) -> None:
        """Open a folded section ("account", "requests": Advanced, "diagnostics")."""
        fold = self.get("fold-" + section)
        if fold.get_attribute("open") is None:
            fold.locator("summary").click()

    @property
    def status(self) -> Any:
        return self.get("settings-status")

    def save(self, expected: str = "Saved") -> None:
        self.get("save").click()
        expect(self.status).to_contain_text(expected, timeout=TIMEOUT_MS)

    def test_connection(self) -> dict[str, str]:
        self.get("test-connection").click()
        kind = self.get("test-kind")
        expect(kind).to_be_visible(timeout=TIMEOUT_MS)
        return {"kind": kind.get_attribute("data-kind") or "", "text": self.get("test-result").inner_text()}


def configure(options: Options, base_url: str, *, key: str | None) -> None:
    options.get("provider").select_option("compatible")
    options.get("base-url").fill(base_url)
    options.get("model").fill("gpt-5")  # one the mock lists
    if key is not None:
        options.get("api-key").fill(key)


def chat_uses_the_key(ext: Extension, server: MockServerThread) -> None:
    """A turn from the background with the stored settings and key: the mock checks the header."""
    server.reset()
    server.enqueue(text_reply("through the options page"))
    accepted = ext.send({"type": "chat.send", "id": 1, "text": "hi"})
    assert accepted["type"] == "chat.accepted", accepted
    [request] = server.wait_for_requests(1, endpoint="responses", timeout=15)
    assert request.bearer == KEY


def nowhere_in_plain_text(ext: Extension, console: list[str]) -> None:
    stored = storage(ext)
    assert stored["sync"] == {} and STORAGE_KEY in stored["local"]
    assert found_in(json.dumps(stored), KEY) == []  # local, sync and session, raw/base64/hex
    assert found_in("\n".join(console), KEY) == []


def test_save_a_key_through_the_options_page(playwright: Playwright, server: MockServerThread) -> None:
    profile = Path(tempfile.mkdtemp(prefix="sidepy-options-"))
    console: list[str] = []
    try:
        ext = Extension(playwright, profile)
        ext.console = console
        options = Options(ext)
        configure(options, server.base_url + "/responses", key=KEY)  # a full endpoint URL is fine
        expect(options.get("request-url")).to_have_text(server.base_url + "/responses")
        options.save("Saved · key stored encrypted (sk-…WXYZ)")
        expect(options.get("key-state")).to_have_text("Saved, encrypted: sk-…WXYZ")
        expect(options.get("api-key")).to_be_hidden()
        expect(options.get("base-url")).to_have_value(server.base_url)  # normalised by the background
        assert KEY not in options.page.content() and KEY not in options.ui.locator("body").inner_html()
        assert options.test_connection()["kind"] == "ok"

        chat_uses_the_key(ext, server)
        options.page.close()
        nowhere_in_plain_text(ext, console)
        ext.close()

        ext = Extension(playwright, profile)  # the same profile after a browser restart
        ext.console = console
        options = Options(ext)
        expect(options.get("key-state")).to_have_text("Saved, encrypted: sk-…WXYZ")
        chat_uses_the_key(ext, server)
        nowhere_in_plain_text(ext, console)
        ext.close()
        # Nor in any file of the profile: no form autofill, no cache, no log kept the typed key.
        assert files_holding(profile, KEY) == []
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class NoCors(BaseHTTPRequestHandler):
    """A server that answers, but sends no CORS headers (and refuses the preflight)."""

    def do_GET(self) -> None:
        body = b'{"object": "list", "data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_test_connection_says_exactly_what_is_wrong(extension: Extension, server: MockServerThread) -> None:
    extension.wait_ready()
    options = Options(extension)
    configure(options, server.base_url, key=KEY)
    options.save()

    # A wrong key, typed and tested before saving it: refused by the server, never echoed.
    options.get("key-replace").click()
    options.get("api-key").fill(WRONG)
    result = options.test_connection()
    assert result["kind"] == "bad_key", result
    assert "The server refused the API key (HTTP 401)" in result["text"]
    expect(options.status).to_have_text("Connection failed: the API key was refused")
    assert WRONG not in result["text"] and KEY not in result["text"]
    options.get("key-cancel").click()

    # The saved key against a wrong path, then against a port where nothing listens.
    wrong = server.root_url + "/nothing-here"
    options.get("base-url").fill(wrong)
    result = options.test_connection()
    assert result["kind"] == "wrong_url", result
    assert f"Nothing answers at {wrong}/models (HTTP 404)" in result["text"]
    closed = f"http://127.0.0.1:{free_port()}/v1"
    options.get("base-url").fill(closed)
    # Another origin: the saved key is not approved there, so nothing is sent and the page says so.
    result = options.test_connection()
    assert result["kind"] == "key_not_approved", result
    assert "not approved for http://127.0.0.1:" in result["text"]
    # A key typed for it is tested there (and not stored).
    options.get("key-replace").click()
    options.get("api-key").fill(KEY)
    result = options.test_connection()
    assert result["kind"] == "network", result
    assert "Could not connect to 127.0.0.1:" in result["text"]
    assert options.test_connection()["kind"] == "network"  # a second click works too
    options.get("key-cancel").click()

    # A server without CORS headers on an origin SidePy has no permission for.
    httpd = ThreadingHTTPServer(("127.0.0.2", 0), NoCors)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        origin = f"http://127.0.0.2:{httpd.server_address[1]}"
        reply = extension.send({"type": "settings.test", "id": 1, "key": KEY,
                                "patch": {"base_url": origin + "/v1"}})
        assert reply["kind"] == "cors" and reply["access"] is False, reply
        assert reply["origin"] == "http://127.0.0.2/*"
        assert "SidePy has no access to http://127.0.0.2" in str(reply["message"])
    finally:
        httpd.shutdown()


def user_activation(options: Options) -> bool:
    """``navigator.userActivation.isActive`` of the extension page, read without granting one
    (Playwright's own evaluate runs as a user gesture, which would spoil what we look at)."""
    cdp = options.ext.context.new_cdp_session(options.page)
    try:
        found = cdp.send("Runtime.evaluate", {"expression": "navigator.userActivation.isActive",
                                              "returnByValue": True, "userGesture": False})
    finally:
        cdp.detach()
    return bool(found["result"]["value"])


def test_screenshots_of_any_tab_ask_chrome_for_all_urls_inside_the_click(extension: Extension) -> None:
    """The Screenshots section shows that <all_urls> is not granted and asks Chrome for it on a
    real click: Chrome's prompt comes up (headless: no answer), so the button waits, disabled.
    Without the click's activation the relay's request would fail at once and say so."""
    extension.wait_ready()
    options = Options(extension)
    expect(options.get("screenshots-state")).to_have_text(
        "Not allowed: the Screenshot button captures a tab after you open SidePy on it.", timeout=TIMEOUT_MS)
    allow = options.get("screenshots-allow")
    allow.scroll_into_view_if_needed()
    box = allow.bounding_box()
    assert box is not None
    time.sleep(5.5)  # no activation left from Playwright's own evaluations
    options.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    time.sleep(1.5)
    expect(allow).to_be_disabled()  # asking: the prompt is up
    assert "did not allow" not in options.status.inner_text()


def test_the_permission_request_rides_on_the_clicks_user_activation(extension: Extension) -> None:
    """chrome.permissions.request needs a user gesture in the extension page that calls it
    (options.html); the click is in its sandboxed frame. Chrome gives a click's transient
    activation to the frame's ancestors too, so the relay's request reaches the prompt.

    Playwright's evaluations (actionability checks, expect polling) count as user gestures,
    so both halves first leave the page alone for longer than the activation lasts (5 s)."""
    extension.wait_ready()
    options = Options(extension)
    options.get("provider").select_option("compatible")
    options.get("base-url").fill("https://llm.example.com/v1")
    box = options.get("save").bounding_box()
    frame = options.page.frame(url=lambda url: url.endswith("/options-ui.html"))
    assert box is not None and frame is not None

    # Control: the same request from the sandbox without a recent click is refused by Chrome.
    frame.evaluate("() => setTimeout(() => parent.postMessage("
                   "'ui.permissions [\"https://example.com/*\"]', '*'), 5500)")
    time.sleep(7)
    permission = options.get("permission")
    assert permission.get_attribute("data-state") == "error"
    assert "must be called during a user gesture" in permission.inner_text()

    time.sleep(5.5)
    assert not user_activation(options)
    options.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # input events only
    time.sleep(1.5)
    assert permission.get_attribute("data-state") == "asking"  # Chrome's prompt is up (headless: no answer)
    assert "llm.example.com" in permission.inner_text()
    expect(options.status).to_have_text("Saved")  # saving does not wait for the answer
    view = extension.send({"type": "settings.get", "id": 1})["settings"]
    assert view["base_url"] == "https://llm.example.com/v1"  # type: ignore[index]


def test_a_damaged_store_is_shown_and_reentering_the_key_mends_it(extension: Extension) -> None:
    extension.wait_ready()
    options = Options(extension)
    options.get("api-key").fill(KEY)
    options.save()
    document = json.loads(storage(extension)["local"][STORAGE_KEY])
    ct = bytearray(base64.b64decode(document["records"]["api_key"]["ct"]))
    ct[3] ^= 0x20
    document["records"]["api_key"]["ct"] = base64.b64encode(bytes(ct)).decode()
    set_local(extension, STORAGE_KEY, json.dumps(document))

    options.page.reload()
    options = Options(extension)
    expect(options.get("key-state")).to_contain_text(DAMAGED)
    expect(options.get("api-key")).to_be_visible()
    set_local(extension, STORAGE_KEY, '{"v": 1, "kid": "k-0')  # truncated: still no crash
    options.page.reload()
    options = Options(extension)
    expect(options.get("key-state")).to_have_text(DAMAGED)
    options.get("api-key").fill(KEY)
    options.save("Saved · key stored encrypted (sk-…WXYZ)")
    expect(options.get("key-state")).to_have_text("Saved, encrypted: sk-…WXYZ")

    # Reveal needs a confirmation, shows the key once, and hides it again.
    options.get("key-reveal").click()
    options.get("confirm-yes").click()
    expect(options.get("secret")).to_have_text(KEY)
    options.ui.get_by_role("button", name="Hide").click()
    expect(options.get("secret")).to_be_hidden()
    assert KEY not in options.ui.locator("body").inner_html()
    # Wipe, confirmed: nothing stored, the field is back.
    options.get("key-wipe").click()
    options.get("confirm-yes").click()
    expect(options.status).to_have_text("Every stored key was deleted.")
    expect(options.get("key-state")).to_have_text("No key saved yet.")
    assert STORAGE_KEY not in storage(extension)["local"]
    assert found_in("\n".join(extension.console), KEY) == []


def test_the_passphrase_lock_from_the_page(extension: Extension) -> None:
    extension.wait_ready()
    options = Options(extension)
    options.get("api-key").fill(KEY)
    options.save()
    options.get("pp-on").click()
    options.get("pp-new").fill(PASSPHRASE)
    options.get("pp-again").fill(PASSPHRASE)
    options.get("pp-minutes").fill("30")
    options.get("pp-submit").click()
    expect(options.status).to_have_text("Passphrase lock on.", timeout=TIMEOUT_MS)
    expect(options.get("vault")).to_contain_text("On · unlocked · locks at")
    options.get("lock").click()
    expect(options.get("key-state")).to_contain_text("locked with your passphrase")
    expect(options.get("api-key")).to_be_hidden()
    options.get("pp-unlock").fill("not the passphrase")
    options.get("unlock").click()
    expect(options.status).to_have_text("wrong passphrase", timeout=TIMEOUT_MS)
    options.get("pp-unlock").fill(PASSPHRASE)
    options.get("unlock").click()
    expect(options.status).to_have_text("Unlocked.", timeout=TIMEOUT_MS)
    expect(options.get("key-state")).to_have_text("Saved, encrypted: sk-…WXYZ")
    stored = json.dumps(storage(extension))
    assert found_in(stored, KEY) == [] and found_in(stored, PASSPHRASE) == []
    console = "\n".join(extension.console)
    assert found_in(console, KEY) == [] and found_in(console, PASSPHRASE) == []


def test_the_side_panel_opens_the_options_page(extension: Extension) -> None:
    """The panel's settings button posts "ui.options"; its relay opens this page (a sandbox cannot)."""
    extension.wait_ready()
    panel = extension.page("sidepanel.html")
    frame = panel.frame(url=lambda url: url.endswith("/ui.html"))
    assert frame is not None
    expect(panel.frame_locator("#ui").get_by_test_id("status")).to_have_text("Ready", timeout=TIMEOUT_MS)
    with extension.context.expect_page() as opened:
        frame.evaluate("() => parent.postMessage('ui.options', '*')")
    page = opened.value
    page.wait_for_load_state()
    assert page.url == extension.url("options.html")
    expect(page.frame_locator("#options-ui").get_by_test_id("settings-status")).to_have_text(
        "Ready", timeout=TIMEOUT_MS)


def test_moving_the_base_url_asks_in_one_click_before_the_key_goes_there(
        extension: Extension, server: MockServerThread) -> None:
    extension.wait_ready()
    options = Options(extension)
    configure(options, server.base_url, key=KEY)
    options.save()
    with MockServerThread(api_key=KEY) as other:
        # Another origin, saved without typing a key: saved, but the key does not go there yet.
        options.get("base-url").fill(other.base_url)
        options.save("not been sent to")
        prompt = options.get("approve-text")
        origin = other.base_url.rsplit("/", 1)[0]
        expect(prompt).to_contain_text(f"has not been sent to {origin}")
        expect(options.get("key-approve")).to_be_visible()
        assert options.test_connection()["kind"] == "key_not_approved"
        accepted = extension.send({"type": "chat.send", "id": 1, "text": "hi"})
        conversation = extension.send({"type": "conv.open", "id": 2,
                                       "conversation_id": accepted["conversation_id"]})["conversation"]
        deadline = time.monotonic() + 15
        while conversation["messages"][-1]["streaming"] and time.monotonic() < deadline:
            time.sleep(0.2)
            conversation = extension.send({"type": "conv.open", "id": 3,
                                           "conversation_id": accepted["conversation_id"]})["conversation"]
        assert conversation["messages"][-1]["error"]["kind"] == "key_not_approved"
        assert other.requests == []  # nothing reached the new server: no key, no conversation
        # The user's click: approved, and from then on the key goes there.
        options.get("approve-key").click()
        expect(options.status).to_contain_text(f"Approved: your key may now be sent to {origin}",
                                               timeout=TIMEOUT_MS)
        expect(options.get("key-approve")).to_be_hidden()
        assert options.test_connection()["kind"] == "ok"
        # The model list, the short test message and the list refreshed after it: each with the key.
        assert other.requests and {r.bearer for r in other.requests} == {KEY}
