"""ChatGPT sign-in end to end in the app: import, storage in the vault, turns, refresh, failures."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from background.accounts.accounts import NOT_SIGNED_IN, AuthImportError, mask_account_id, parse_auth_json
from background.vault.names import CHATGPT_AUTH
from background.vault.vault import STORAGE_KEY
from tests.support.aio import run_sync
from tests.unit.background.chatgpt_kit import (
    ACCOUNT,
    CHATGPT_RESPONSES,
    EMAIL,
    RUST_EXPIRED,
    TOKEN_URL,
    Rig,
    b64url,
    jwt,
    oauth_error,
)

PASS = "correct horse battery staple"


def leaks(rig: Rig, text: str) -> list[str]:
    """The fake server's tokens (current and spent) found in ``text``, raw or base64."""
    found = []
    for token in rig.chatgpt.tokens():
        if token in text or base64.b64encode(token.encode()).decode() in text:
            found.append(token[:12])
    return found


# ------------------------------------------------------------------------- import


def auth_with(rig: Rig, **tokens: Any) -> str:
    return rig.chatgpt.auth_json(**tokens)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "this is not a Codex auth.json: it is not valid JSON"),
        ("[1, 2]", "it must hold a JSON object"),
        ('{"OPENAI_API_KEY": "sk-proj-0123456789abcdef"}', "holds an API key, not a ChatGPT sign-in"),
        ('{"OPENAI_API_KEY": null}', "has no ChatGPT tokens: sign in to Codex with ChatGPT"),
        ('{"tokens": {"id_token": "x", "access_token": "a"}}', "tokens.id_token: invalid ID token format: "
                                                               "expected 3 dot-separated parts, got 1"),
    ],
)
def test_a_file_that_is_not_a_chatgpt_auth_json_is_refused_clearly(text: str, expected: str) -> None:
    rig = Rig()
    reply = rig.ask(type="auth.import", text=text)
    assert reply["type"] == "error" and reply["code"] == "bad_auth", reply
    assert reply["message"].startswith("Not imported: ") and expected in reply["message"], reply["message"]
    assert STORAGE_KEY not in rig.browser.local.data  # nothing stored


def test_bad_jwts_and_missing_fields_name_the_problem_never_the_token() -> None:
    rig = Rig()
    cases = {
        "tokens.id_token: invalid ID token payload: not JSON": {"id_token": f"a.{b64url(b'nope')}.c"},
        "tokens.id_token: invalid ID token format: a part is empty": {"id_token": "a..c"},
        "'email' must be a string": {"id_token": jwt({"email": 5})},
        "tokens.refresh_token: Field required": {"refresh_token": None},
        "the id token names no ChatGPT account": {"id_token": jwt({"email": EMAIL})},
        "tokens.access_token is empty": {"access_token": ""},
    }
    for expected, tokens in cases.items():
        data = json.loads(auth_with(rig, **tokens))
        data["tokens"] = {k: v for k, v in data["tokens"].items() if v is not None or k == "account_id"}
        reply = rig.ask(type="auth.import", text=json.dumps(data))
        assert reply["code"] == "bad_auth" and expected in reply["message"], (expected, reply)
        assert leaks(rig, json.dumps(reply)) == []
    bad_date = json.loads(auth_with(rig))
    bad_date["last_refresh"] = "yesterday"
    assert "last_refresh" in rig.ask(type="auth.import", text=json.dumps(bad_date))["message"]
    assert rig.ask(type="auth.import", text=" ")["code"] == "bad_request"
    assert rig.ask(type="auth.import", text="x" * 70_000)["message"] == (
        "Not imported: this file is too large to be a Codex auth.json (over 64 KiB).")
    assert STORAGE_KEY not in rig.browser.local.data


def test_the_account_comes_from_the_id_token_and_an_api_key_is_not_kept() -> None:
    rig = Rig()
    data = json.loads(rig.chatgpt.auth_json())
    data["OPENAI_API_KEY"] = "sk-proj-0123456789abcdef"
    auth = parse_auth_json(json.dumps(data))
    assert auth.openai_api_key is None and auth.tokens is not None
    assert auth.tokens.account_id == ACCOUNT and auth.tokens.id_token.chatgpt_plan_type == "plus"
    data["tokens"]["account_id"] = "acct-from-the-file-0001"  # the file's own wins, as Codex stores it
    assert parse_auth_json(json.dumps(data)).tokens.account_id == "acct-from-the-file-0001"  # type: ignore[union-attr]
    with pytest.raises(AuthImportError):
        parse_auth_json("\ufeff{")
    assert mask_account_id(ACCOUNT) == "7f3e…6f70" and mask_account_id("short") == "…"


def test_import_stores_the_whole_record_encrypted_and_shows_only_a_summary() -> None:
    rig = Rig()
    reply = rig.sign_in()
    assert reply == {"type": "auth.status", "id": 1, "selected": "chatgpt", "mode": "chatgpt",
                     "chatgpt": "signed_in", "email": EMAIL, "plan": "plus", "account_id_masked": "7f3e…6f70",
                     "last_refresh": 1_700_000_000_000}
    # In the vault, as Codex's auth.json (account id filled in); ciphertext only in storage.
    stored = rig.stored_auth()
    assert stored["tokens"]["refresh_token"] == rig.chatgpt.refresh
    assert stored["tokens"]["account_id"] == ACCOUNT and stored["OPENAI_API_KEY"] is None
    document = json.loads(rig.browser.local.data[STORAGE_KEY])
    assert set(document["records"]) == {CHATGPT_AUTH}
    assert leaks(rig, rig.browser.stored_text()) == []
    # Views: the settings carry the same summary; the vault masks the record entirely.
    settings = rig.ask(type="settings.get")["settings"]
    assert settings["auth"] == {k: v for k, v in reply.items() if k not in ("type", "id")}
    assert settings["auth_mode"] == "chatgpt" and settings["token_url"] == TOKEN_URL
    assert settings["request_url"] == CHATGPT_RESPONSES
    assert rig.ask(type="vault.status")["records"] == {CHATGPT_AUTH: "…"}
    assert rig.ask(type="auth.status") == reply
    # No way back to a page: reveal and raw writes of the record are refused.
    assert rig.ask(type="vault.reveal", record=CHATGPT_AUTH, confirm=True)["code"] == "forbidden"
    assert rig.ask(type="vault.set", record=CHATGPT_AUTH, secret="{}")["code"] == "bad_request"


def test_only_the_options_page_may_import_or_sign_out() -> None:
    rig = Rig()
    rig.app.on_port_connect(7, "panel")
    rig.host.sent.clear()
    for kind in ("auth.import", "auth.clear"):
        rig.app.on_port_message(7, json.dumps({"type": kind, "id": 3, "text": rig.chatgpt.auth_json()}))
        [(_, reply)] = [(p, m) for p, m in rig.host.sent if m.get("id") == 3]
        assert reply["code"] == "forbidden", reply
        rig.host.sent.clear()
    rig.app.on_port_connect(8, "options")
    rig.app.on_port_message(8, json.dumps({"type": "auth.import", "id": 4, "text": rig.chatgpt.auth_json()}))
    assert next(m for p, m in rig.host.sent if m.get("id") == 4)["chatgpt"] == "signed_in"
    # The panel learns of it (settings pushed) without ever seeing a token.
    pushed = [m for p, m in rig.host.sent if p == 7 and m["type"] == "settings"]
    assert pushed and pushed[-1]["settings"]["auth"]["mode"] == "chatgpt"
    assert leaks(rig, json.dumps(rig.host.sent)) == []


def test_sign_out_deletes_the_record_and_goes_back_to_the_api_key() -> None:
    rig = Rig()
    rig.ask(type="key.set", key="sk-proj-0123456789abcdefWXYZ")
    rig.sign_in()
    reply = rig.ask(type="auth.clear")
    assert reply["selected"] == "apikey" and reply["mode"] == "apikey" and reply["chatgpt"] == "none"
    assert set(json.loads(rig.browser.local.data[STORAGE_KEY])["records"]) == {"api_key", "api_key.origins"}
    rig.chat()  # the key is used again (the fake ChatGPT refuses it: not this test's business)
    [request] = rig.requests("/responses")
    assert request.url == "https://api.openai.com/v1/responses"
    assert request.headers["Authorization"] == "Bearer sk-proj-0123456789abcdefWXYZ"
    assert "chatgpt-account-id" not in request.headers


# --------------------------------------------------------------------------- turns


def test_a_turn_signed_in_with_chatgpt_goes_to_the_chatgpt_backend_with_the_account() -> None:
    rig = Rig()
    rig.sign_in()
    reply = rig.chat()
    assert reply["text"] == "Signed in" and reply.get("error") is None
    [request] = rig.requests("/responses")
    assert request.url == CHATGPT_RESPONSES
    assert request.headers["Authorization"] == f"Bearer {rig.chatgpt.access}"
    assert request.headers["chatgpt-account-id"] == ACCOUNT
    assert rig.chatgpt.refreshes == 0


def test_a_401_refreshes_retries_and_saves_the_new_tokens_in_the_vault() -> None:
    rig = Rig()
    rig.sign_in()
    old_refresh = rig.chatgpt.refresh
    rig.chatgpt.expire()
    reply = rig.chat()
    assert reply["text"] == "Signed in" and reply.get("error") is None
    assert [r.url.rsplit("/", 1)[-1] for r in rig.transport.requests] == ["responses", "token", "responses"]
    exchange = json.loads(rig.requests("/oauth/token")[0].body or b"{}")
    assert exchange["refresh_token"] == old_refresh and exchange["grant_type"] == "refresh_token"
    assert rig.requests("/oauth/token")[0].url == TOKEN_URL
    assert rig.chatgpt.refreshes == 1
    # The rotated tokens are in the vault (encrypted), with the refresh time.
    stored = rig.stored_auth()
    assert stored["tokens"]["refresh_token"] == rig.chatgpt.refresh != old_refresh
    assert stored["tokens"]["access_token"] == rig.chatgpt.access
    assert stored["tokens"]["account_id"] == ACCOUNT
    assert stored["last_refresh"] != "2023-11-14T22:13:20Z"
    assert leaks(rig, rig.browser.stored_text()) == [] and leaks(rig, json.dumps(rig.host.sent)) == []
    # A new worker reads them from the vault: no second refresh, the spent token is never sent again.
    again = rig.restart()
    assert again.chat()["text"] == "Signed in"
    assert rig.chatgpt.refreshes == 1 and again.requests("/oauth/token") == []


def test_a_permanent_refresh_failure_ends_the_turn_with_the_rust_message() -> None:
    rig = Rig()
    rig.sign_in()
    rig.chatgpt.expire()
    rig.chatgpt.outcomes.append(oauth_error("refresh_token_expired"))
    reply = rig.chat()
    assert reply["error"] == {"kind": "refresh_token_failed", "message": RUST_EXPIRED, "retryable": False,
                              "fields": {"reason": "expired", "message": RUST_EXPIRED}}
    # The dead refresh token is not tried again by the next turn.
    assert rig.chat()["error"]["message"] == RUST_EXPIRED
    assert len(rig.requests("/oauth/token")) == 1
    assert rig.ask(type="auth.status")["chatgpt"] == "signed_in"  # still stored: the user signs in again


def test_a_transient_refresh_failure_is_retried_by_the_turn() -> None:
    rig = Rig()
    rig.sign_in()
    rig.chatgpt.expire()
    body = {"error": {"message": f"upstream hiccup for {rig.chatgpt.refresh}"}}
    rig.chatgpt.outcomes.append((503, {}, json.dumps(body).encode()))
    rig.app.on_port_connect(1, "panel")
    rig.app.on_port_message(1, json.dumps({"type": "chat.send", "id": 5, "text": "hi"}))
    sent = [m for p, m in rig.host.sent if p == 1]
    [reconnecting] = [m for m in sent if m["type"] == "turn.reconnecting"]
    assert reconnecting["error"]["kind"] == "refresh_token_transient"
    message = reconnecting["error"]["message"]
    assert "Failed to refresh token: 503 Service Unavailable: upstream hiccup for …" in message  # scrubbed
    assert next(m for m in sent if m["type"] == "turn.done")["assistant"]["text"] == "Signed in"
    assert rig.chatgpt.refreshes == 1 and leaks(rig, json.dumps(rig.host.sent)) == []


def test_a_stale_access_token_is_refreshed_before_the_request() -> None:
    rig = Rig()
    rig.chatgpt.rotate(expired=True)  # exp passed: refreshed before use (C)
    rig.sign_in()
    assert rig.chat()["text"] == "Signed in"
    assert [r.url.rsplit("/", 1)[-1] for r in rig.transport.requests] == ["token", "responses"]


def test_turns_share_one_manager_until_the_record_changes() -> None:
    rig = Rig()
    rig.sign_in()
    settings = run_sync(rig.worker.settings.load())
    first = run_sync(rig.worker.accounts.manager(settings))
    assert run_sync(rig.worker.accounts.manager(settings)) is first
    again = json.loads(rig.chatgpt.auth_json())
    again["last_refresh"] = "2023-11-15T00:00:00Z"
    rig.ask(type="auth.import", text=json.dumps(again))  # a new import: a new manager
    assert run_sync(rig.worker.accounts.manager(settings)) is not first
    run_sync(first.refresh())  # the old manager refreshes after all: it must not overwrite the import
    assert rig.chatgpt.refreshes == 1
    assert rig.stored_auth()["last_refresh"] == "2023-11-15T00:00:00Z"


def test_not_signed_in_locked_and_damaged_are_turn_errors_that_say_what_to_do() -> None:
    rig = Rig()
    rig.ask(type="settings.set", patch={"auth_mode": "chatgpt"})
    assert rig.chat()["error"] == {"kind": "not_signed_in", "message": NOT_SIGNED_IN, "retryable": False,
                                   "fields": {}}
    rig.sign_in()
    rig.ask(type="vault.passphrase", passphrase=PASS)
    rig.ask(type="vault.lock")
    error = rig.chat()["error"]
    assert error["kind"] == "not_signed_in" and "unlock your keys" in error["message"]
    assert rig.ask(type="auth.status")["chatgpt"] == "locked" and rig.transport.requests == []
    rig.ask(type="vault.unlock", passphrase=PASS)
    assert rig.chat()["text"] == "Signed in"
    # A damaged store: the record's tag fails.
    document = json.loads(rig.browser.local.data[STORAGE_KEY])
    ct = bytearray(base64.b64decode(document["records"][CHATGPT_AUTH]["ct"]))
    ct[0] ^= 1
    document["records"][CHATGPT_AUTH]["ct"] = base64.b64encode(bytes(ct)).decode()
    rig.browser.local.data[STORAGE_KEY] = json.dumps(document)
    fresh = rig.restart()
    fresh.ask(type="vault.unlock", passphrase=PASS)
    assert "key store damaged" in fresh.chat()["error"]["message"]
    status = fresh.ask(type="auth.status")
    assert status["chatgpt"] == "damaged" and status["mode"] == "none"
    # Importing again mends it (as re-entering the key does).
    assert fresh.sign_in()["chatgpt"] == "signed_in" and fresh.chat()["text"] == "Signed in"


def test_refreshed_tokens_the_locked_vault_refuses_are_written_at_the_next_use() -> None:
    rig = Rig()
    rig.sign_in()
    rig.ask(type="vault.passphrase", passphrase=PASS)
    settings = run_sync(rig.worker.settings.load())
    manager = run_sync(rig.worker.accounts.manager(settings))
    rig.ask(type="vault.lock")
    run_sync(manager.refresh())  # the save is refused (locked): kept in memory
    rig.ask(type="vault.unlock", passphrase=PASS)
    assert rig.stored_auth()["tokens"]["refresh_token"] != rig.chatgpt.refresh
    run_sync(rig.worker.accounts.manager(settings))
    assert rig.stored_auth()["tokens"]["refresh_token"] == rig.chatgpt.refresh


# ------------------------------------------------------------------- settings


def test_in_a_developer_build_a_base_url_the_user_set_wins_and_the_token_url_is_a_setting() -> None:
    rig = Rig(dev=True)  # the e2e suite's mock ChatGPT backend is on loopback
    reply = rig.ask(type="settings.set", patch={"provider": "compatible", "base_url": "http://127.0.0.1:9/v1",
                                                "token_url": "http://127.0.0.1:9/oauth/token"})
    assert reply["settings"]["request_url"] == "http://127.0.0.1:9/v1/responses"
    bad = rig.ask(type="settings.set", patch={"token_url": "ftp://x"})
    assert bad["code"] == "invalid_settings" and "token_url" in bad["fields"]
    assert rig.ask(type="settings.set", patch={"token_url": ""})["settings"]["token_url"] == TOKEN_URL
    rig.ask(type="settings.set", patch={"token_url": "http://127.0.0.1:9/oauth/token"})
    rig.sign_in()
    rig.chatgpt.expire()
    assert rig.chat()["text"] == "Signed in"
    assert [r.url for r in rig.transport.requests] == [
        "http://127.0.0.1:9/v1/responses", "http://127.0.0.1:9/oauth/token", "http://127.0.0.1:9/v1/responses"]


def test_a_release_build_sends_chatgpt_tokens_nowhere_but_chatgpt() -> None:
    rig = Rig()
    rig.ask(type="settings.set", patch={"provider": "compatible", "base_url": "http://127.0.0.1:9/v1"})
    rig.sign_in()
    error = rig.chat()["error"]
    assert error["kind"] == "key_not_approved" and "only sent to ChatGPT" in error["message"]
    test = rig.ask(type="settings.test")
    assert test["kind"] == "chatgpt_not_here" and not test["ok"]
    rig.ask(type="settings.set", patch={"provider": "openai", "base_url": "",
                                        "token_url": "http://127.0.0.1:9/oauth/token"})
    rig.chatgpt.expire()
    error = rig.chat()["error"]
    assert error["kind"] == "unavailable" and "auth.openai.com" in error["message"]
    assert rig.transport.requests == []  # not one request: no token left the worker


def test_settings_test_uses_the_sign_in_and_refreshes_on_401() -> None:
    rig = Rig()
    reply = rig.ask(type="settings.test", patch={"auth_mode": "chatgpt"})
    assert reply["kind"] == "not_signed_in" and reply["ok"] is False
    assert reply["url"] == "https://chatgpt.com/backend-api/codex/models"
    rig.sign_in()
    rig.chatgpt.expire()
    reply = rig.ask(type="settings.test")
    assert reply["ok"] is True and reply["kind"] == "ok" and reply["models"] == 2, reply
    [refused, second] = rig.requests("/models")
    assert refused.headers["Authorization"] != second.headers["Authorization"]
    assert second.headers["chatgpt-account-id"] == ACCOUNT and rig.chatgpt.refreshes == 1
    assert rig.stored_auth()["tokens"]["refresh_token"] == rig.chatgpt.refresh  # saved here too
    rig.chatgpt.expire()
    rig.chatgpt.outcomes.append(oauth_error("refresh_token_expired"))
    reply = rig.ask(type="settings.test")
    assert reply["kind"] == "signed_out" and reply["message"] == RUST_EXPIRED
    assert leaks(rig, json.dumps(rig.host.sent)) == []


def test_an_unexpected_failure_ends_the_turn_with_a_message_not_a_hang() -> None:
    rig = Rig()
    rig.sign_in()

    def broken() -> Any:
        raise RuntimeError("fetch is gone")

    rig.worker.accounts._transport = broken
    error = rig.chat()["error"]
    assert error["kind"] == "internal" and error["message"] == (
        "SidePy could not use your ChatGPT sign-in (RuntimeError).")
