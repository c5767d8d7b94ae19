"""ChatGPT sign-in in the real browser: Codex's auth.json imported on the options page, then chat.

* a file that is not a usable auth.json is refused on the page with the reason;
* the mock server's auth.json (``srv.oauth.sign_in()``), picked in the Account section's file
  input, shows the signed-in email, plan and masked account id, and selects ChatGPT sign-in;
* Test connection and chat go to the mock ChatGPT backend, which checks the access token
  and ``chatgpt-account-id``;
* the server expires the access token: the next turn gets a 401, refreshes at the token
  endpoint (a setting, pointed at the mock) and works;
* after a browser restart on the same profile, chat works with the refreshed tokens read from
  the vault (the spent refresh token is never sent again); a refresh token the server
  refuses ends the turn with the Rust message; "Sign out" goes back to the API key;
* no token (the imported ones nor the refreshed ones) appears in plain text, base64 or hex in
  chrome.storage (local, sync, session), the console, or any file of the profile.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright, expect

from background.vault.vault import STORAGE_KEY
from mockapi import MockServerThread
from tests.e2e.conftest import Extension
from tests.e2e.test_options import TIMEOUT_MS, Options, configure
from tests.e2e.test_vault import files_holding, found_in, storage

pytestmark = pytest.mark.e2e

SIGNED_IN = "Signed in with ChatGPT as user@example.com · plus plan · account 7f3e…6f70"
RUST_EXPIRED = ("Your access token could not be refreshed because your refresh token has expired. "
                "Please log out and sign in again.")


@pytest.fixture(scope="module")
def server() -> Iterator[MockServerThread]:
    with MockServerThread() as srv:
        yield srv


def reply_to(ext: Extension, text: str, timeout_s: float = 30) -> dict[str, Any]:
    """Send ``text`` in a new conversation; the assistant's message once the turn has ended."""
    accepted = ext.send({"type": "chat.send", "id": 1, "text": text})
    assert accepted["type"] == "chat.accepted", accepted
    deadline = time.monotonic() + timeout_s
    while True:
        opened = ext.send({"type": "conv.open", "id": 2, "conversation_id": accepted["conversation_id"]})
        last: dict[str, Any] = opened["conversation"]["messages"][-1]  # type: ignore[index]
        if last["role"] == "assistant" and not last.get("streaming"):
            return last
        assert time.monotonic() < deadline, f"no reply within {timeout_s} s: {last}"
        time.sleep(0.2)


def tokens_nowhere(ext: Extension, console: list[str], tokens: list[str]) -> None:
    stored = storage(ext)
    assert stored["sync"] == {} and STORAGE_KEY in stored["local"]
    text, logs = json.dumps(stored), "\n".join(console)
    for token in tokens:
        assert found_in(text, token) == [], token[:16]
        assert found_in(logs, token) == [], token[:16]


def test_sign_in_with_an_imported_auth_json_refresh_and_restart(
    playwright: Playwright, server: MockServerThread
) -> None:
    work = Path(tempfile.mkdtemp(prefix="sidepy-chatgpt-"))
    profile = work / "profile"
    console: list[str] = []
    try:
        auth = server.oauth.sign_in()
        seen = [auth["tokens"]["id_token"], auth["tokens"]["access_token"], auth["tokens"]["refresh_token"]]
        good, bad = work / "auth.json", work / "not-auth.json"
        good.write_text(json.dumps(auth, indent=2))
        broken = json.loads(json.dumps(auth))
        broken["tokens"]["id_token"] = "not-a-jwt"
        bad.write_text(json.dumps(broken))

        ext = Extension(playwright, profile)
        ext.console = console
        options = Options(ext)
        configure(options, server.base_url, key=None)
        options.unfold("requests")  # the token endpoint is an advanced setting
        options.get("token-url").fill(server.token_url)
        options.save()
        expect(options.get("auth-status")).to_have_text("Not signed in with ChatGPT.")
        expect(options.get("auth-mode")).to_have_value("apikey")

        # A broken file: refused, with the reason, and nothing stored.
        options.get("auth-import").set_input_files(str(bad))
        expect(options.status).to_contain_text("Not imported: this auth.json is not valid: tokens.id_token: "
                                               "invalid ID token format", timeout=TIMEOUT_MS)
        assert STORAGE_KEY not in storage(ext)["local"]

        # The real one: signed in, ChatGPT selected, shown without any token.
        options.get("auth-import").set_input_files(str(good))
        expect(options.get("auth-status")).to_contain_text(SIGNED_IN, timeout=TIMEOUT_MS)
        expect(options.get("auth-status")).to_contain_text("Requests use it.")
        expect(options.get("auth-mode")).to_have_value("chatgpt")
        expect(options.status).to_have_text("Signed in with ChatGPT.")
        html = options.ui.locator("body").inner_html()
        assert all(token not in html for token in seen)
        assert options.test_connection()["kind"] == "ok"  # GET /models with the token and account id

        # Chat against the mock ChatGPT backend (it checks the token and chatgpt-account-id).
        reply = reply_to(ext, "hello")
        assert reply.get("error") is None and reply["text"], reply
        request = server.requests_to("responses")[-1]
        assert request.bearer == auth["tokens"]["access_token"]
        assert request.headers.get("chatgpt-account-id") == server.oauth.account_id

        # The access token expires: 401, refresh at the mock's token endpoint, retry.
        server.oauth.expire_access_token()
        reply = reply_to(ext, "after expiry")
        assert reply.get("error") is None and reply["text"], reply
        assert server.oauth.refreshes == 1
        refreshed = server.oauth.access_token
        assert refreshed is not None and server.requests_to("responses")[-1].bearer == refreshed
        seen += [refreshed, str(server.oauth.refresh_token)]
        options.page.close()
        tokens_nowhere(ext, console, seen)
        ext.close()

        # A browser restart: the refreshed tokens come from the vault, no refresh needed.
        ext = Extension(playwright, profile)
        ext.console = console
        options = Options(ext)
        expect(options.get("auth-status")).to_contain_text(SIGNED_IN, timeout=TIMEOUT_MS)
        reply = reply_to(ext, "after a restart")
        assert reply.get("error") is None and reply["text"], reply
        assert server.oauth.refreshes == 1 and server.requests_to("responses")[-1].bearer == refreshed
        tokens_nowhere(ext, console, seen)

        # The server refuses the refresh token: the turn ends with the Rust message.
        server.oauth.expire_access_token()
        server.oauth.enqueue("expired")
        reply = reply_to(ext, "once more")
        assert reply["error"]["kind"] == "refresh_token_failed" and reply["error"]["message"] == RUST_EXPIRED

        # Sign out from the page: back to the API key, the record is gone.
        options.get("auth-clear").click()
        expect(options.get("auth-status")).to_have_text("Not signed in with ChatGPT.", timeout=TIMEOUT_MS)
        expect(options.get("auth-mode")).to_have_value("apikey")
        expect(options.get("auth-clear")).to_be_hidden()
        vault = ext.send({"type": "vault.status", "id": 3})
        assert "chatgpt_auth" not in vault["records"]  # type: ignore[operator]
        tokens_nowhere(ext, console, seen)
        ext.close()
        # Nor in any file of the profile (storage, IndexedDB, caches, the memory snapshot, session state).
        assert [files_holding(profile, token) for token in seen] == [[] for _ in seen]
    finally:
        shutil.rmtree(work, ignore_errors=True)
