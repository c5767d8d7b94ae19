"""Test kit for ChatGPT sign-in: a fake ChatGPT backend + token endpoint, and an App over a real vault.

Runs without an event loop (CPython and Pyodide): the fake answers a
``MockTransport``; the vault is :mod:`tests.support.vaultkit`'s software one.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from background.compose import compose
from background.keepalive import KeepAlive
from background.vault.handlers import VaultKeySource
from modelclient import HttpRequest, MockTransport
from tests.support.aio import run_sync
from tests.support.vaultkit import Browser
from tests.unit.background.kit import Clock, no_sleep, reply_events, run_now, sender_for
from tests.unit.background.test_app import FakeHost

ACCOUNT = "7f3e1c2a-5b8d-4e6f-9a01-2b3c4d5e6f70"
EMAIL = "user@example.com"
TOKEN_URL = "https://auth.openai.com/oauth/token"
CHATGPT_RESPONSES = "https://chatgpt.com/backend-api/codex/responses"
AUTH_CLAIM = "https://api.openai.com/auth"
RUST_EXPIRED = ("Your access token could not be refreshed because your refresh token has expired. "
                "Please log out and sign in again.")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT carrying ``claims`` (the client reads claims without checking signatures)."""
    header = b64url(json.dumps({"alg": "none"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(b'sig')}"


def oauth_error(code: str) -> tuple[int, dict[str, str], bytes]:
    body = {"error": {"message": "Please sign in again.", "type": "invalid_request_error", "code": code}}
    return 401, {"content-type": "application/json"}, json.dumps(body).encode()


class FakeChatGpt:
    """The ChatGPT backend (``/responses``, ``/models``) and its token endpoint, as a transport handler.

    The backend wants the current access token and the account's ``chatgpt-account-id``;
    :meth:`expire` makes the current token fail until a refresh; ``outcomes`` answers the
    next token exchanges instead of rotating (a ``(status, headers, body)`` each).
    """

    def __init__(self, clock: Clock, *, plan: str = "plus", account: str | None = ACCOUNT) -> None:
        self.clock = clock
        self.plan = plan
        self.account = account
        self.serial = 0
        self.refreshes = 0
        self.outcomes: list[tuple[int, dict[str, str], bytes]] = []
        self.spent: list[str] = []
        self.rotate()

    def rotate(self, *, expired: bool = False) -> None:
        self.serial += 1
        now = int(self.clock())
        claim = {"chatgpt_plan_type": self.plan}
        if self.account:
            claim["chatgpt_account_id"] = self.account
        exp = now - 60 if expired else now + 3600
        self.access = jwt({"exp": exp, "jti": f"at-{self.serial}", AUTH_CLAIM: claim})
        self.refresh = f"rt-mock-{self.serial}-0123456789"
        self.id_token = jwt({"email": EMAIL, "iat": now, AUTH_CLAIM: claim})
        self.valid = not expired

    def expire(self) -> None:
        self.valid = False

    def auth_json(self, **tokens: Any) -> str:
        """The ``auth.json`` Codex would have written now."""
        data = {"id_token": self.id_token, "access_token": self.access, "refresh_token": self.refresh,
                "account_id": None, **tokens}
        return json.dumps({"OPENAI_API_KEY": None, "tokens": data, "last_refresh": "2023-11-14T22:13:20Z"})

    def tokens(self) -> list[str]:
        return [self.access, self.refresh, self.id_token, *self.spent]

    def __call__(self, request: HttpRequest) -> tuple[int, dict[str, str], Any]:
        if request.method == "POST" and request.url.endswith("/oauth/token"):
            return self._exchange(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not self.valid or headers.get("authorization") != f"Bearer {self.access}":
            return 401, {"content-type": "application/json"}, b'{"detail": "Unauthorized"}'
        if headers.get("chatgpt-account-id") != self.account:
            return 403, {"content-type": "application/json"}, b'{"detail": "wrong account"}'
        if request.url.split("?")[0].endswith("/models"):
            return 200, {}, json.dumps({"models": [{"slug": "gpt-5"}, {"slug": "gpt-5-mini"}]}).encode()
        return 200, {}, reply_events("Signed", " in")

    def _exchange(self, request: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        if self.outcomes:
            return self.outcomes.pop(0)
        body = json.loads(request.body or b"{}")
        if body.get("refresh_token") in self.spent:
            return oauth_error("refresh_token_reused")
        if body.get("refresh_token") != self.refresh or body.get("grant_type") != "refresh_token":
            return oauth_error("token_expired")
        self.spent.append(self.refresh)
        self.refreshes += 1
        self.rotate()
        reply = {"id_token": self.id_token, "access_token": self.access, "refresh_token": self.refresh}
        return 200, {"content-type": "application/json"}, json.dumps(reply).encode()


class Rig:
    """An App with a software vault and the fake ChatGPT, all in one profile's storage.

    :meth:`restart` keeps the profile (as a worker restart does).
    """

    def __init__(self, browser: Browser | None = None, clock: Clock | None = None,
                 chatgpt: FakeChatGpt | None = None, *, dev: bool = False) -> None:
        self.dev = dev  # a developer build: ChatGPT tokens may go to other URLs (mock servers)
        self.browser = browser or Browser()
        self.clock = clock or Clock()
        self.chatgpt = chatgpt or FakeChatGpt(self.clock)
        self.host = FakeHost()
        self.transport = MockTransport(self.chatgpt)
        keepalive = KeepAlive(self.host.touch, spawn=lambda coro: coro.close())  # type: ignore[arg-type,return-value]
        vault = self.browser.vault
        self.worker = compose(
            self.host, version="1", dev=dev, keepalive=keepalive, transport=lambda: self.transport,
            client_options={"with_timeout": lambda awaitable, seconds: awaitable, "sleep": no_sleep},
            spawn=run_now, vault=vault, keys=VaultKeySource(vault), store=self.browser.local,
            clock=self.clock, monotonic=self.clock,
            sleep=no_sleep,
        )
        self.app = self.worker.app

    def restart(self) -> Rig:
        """A new worker over the same profile (storage, IndexedDB, session) and server."""
        self.browser.restart_worker()
        return Rig(self.browser, self.clock, self.chatgpt, dev=self.dev)

    def ask(self, sender: str | None = None, **msg: Any) -> dict[str, Any]:
        """A one-shot message from ``sender`` (default: the page that may send it)."""
        self.clock.advance(1)
        message = {"id": 1, **msg}
        reply = run_sync(self.app.on_runtime_message(json.dumps(message), sender or sender_for(message)))
        return json.loads(reply)  # type: ignore[no-any-return]

    def sign_in(self, **tokens: Any) -> dict[str, Any]:
        return self.ask(type="auth.import", text=self.chatgpt.auth_json(**tokens))

    def chat(self, text: str = "hi") -> dict[str, Any]:
        """Send a message; return the assistant's reply as stored once the turn ended."""
        accepted = self.ask(type="chat.send", text=text)
        assert accepted["type"] == "chat.accepted", accepted
        opened = self.ask(type="conv.open", conversation_id=accepted["conversation_id"])
        return opened["conversation"]["messages"][-1]  # type: ignore[no-any-return]

    def requests(self, part: str) -> list[HttpRequest]:
        return [r for r in self.transport.requests if part in r.url]

    def stored_auth(self) -> dict[str, Any]:
        text = run_sync(self.browser.vault.read("chatgpt_auth"))
        assert text is not None
        return json.loads(text)  # type: ignore[no-any-return]
