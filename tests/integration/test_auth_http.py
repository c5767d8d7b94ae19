"""ChatGPT auth end to end: AuthManager + ModelClient over HttpxTransport against the mock server.

The mock signs in (``srv.oauth.sign_in()`` gives a Codex ``auth.json``), checks
the access token and ``chatgpt-account-id`` on ``/responses`` and serves the
OAuth token endpoint, so a refresh here is a real POST on a real socket, with
the mock rotating (and spending) refresh tokens as the live endpoint does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mockapi import MockResponsesServer
from modelclient._auth import AuthManager
from modelclient._authfile import AuthDotJson
from modelclient._client import ModelClient, Reconnecting
from modelclient._errors import ModelClientError, RefreshTokenFailedError, RefreshTokenTransientError
from modelclient._events import Completed, OutputTextDelta
from modelclient._httpx import HttpxTransport
from modelclient._items import MessageItem
from modelclient._provider import ModelProviderInfo, ModelSettings
from modelclient._request import Prompt
from modelclient._retry import RetryPolicy


class Session:
    """One signed-in user: the AuthManager, what it saved, and a client factory."""

    def __init__(self, server: MockResponsesServer, auth_json: dict[str, Any]) -> None:
        self.server = server
        self.transport = HttpxTransport()
        self.saved: list[AuthDotJson] = []
        # What the app does: import the auth.json text, keep refreshed tokens in its vault.
        self.auth = AuthManager(
            AuthDotJson.from_json(json.dumps(auth_json, indent=2)),
            transport=self.transport,
            save=self.save,
            token_url=server.token_url,
            with_timeout=asyncio.wait_for,
        )

    async def save(self, auth: AuthDotJson) -> None:
        self.saved.append(AuthDotJson.from_json(auth.to_json()))

    def client(self) -> ModelClient:
        return ModelClient(
            self.transport,
            settings=ModelSettings(model="gpt-5-codex"),
            provider=ModelProviderInfo(base_url=self.server.base_url),
            auth=self.auth,
            retry=RetryPolicy(rand=lambda: 0.0),
        )

    async def turn(self) -> tuple[list[Any], ModelClientError | None]:
        events: list[Any] = []
        prompt = Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": "hello"}])])
        try:
            async with self.client().stream_turn(prompt) as stream:
                async for event in stream:
                    events.append(event)
        except ModelClientError as exc:
            return events, exc
        return events, None


def scenario(body: Callable[[MockResponsesServer, Session], Awaitable[None]], **sign_in: Any) -> None:
    async def run() -> None:
        async with MockResponsesServer() as server:
            session = Session(server, server.oauth.sign_in(**sign_in))
            try:
                await body(server, session)
            finally:
                await session.transport.aclose()

    asyncio.run(run())


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, OutputTextDelta))


def test_an_expired_access_token_is_refreshed_on_401_and_the_request_retried() -> None:
    async def body(server: MockResponsesServer, session: Session) -> None:
        old, spent = server.oauth.access_token, server.oauth.refresh_token
        server.oauth.expire_access_token()
        events, error = await session.turn()
        assert error is None and text_of(events) == "Echo: hello"
        assert not any(isinstance(e, Reconnecting) for e in events)
        assert [(r.endpoint, r.status) for r in server.requests] == [
            ("responses", 401),
            ("oauth", 200),
            ("responses", 200),
        ]
        first, retry = server.requests_to("responses")
        assert first.bearer == old and retry.bearer == server.oauth.access_token != old
        assert retry.headers["chatgpt-account-id"] == server.oauth.account_id
        [exchange] = server.requests_to("oauth")
        assert exchange.headers["content-type"] == "application/json"
        assert exchange.json == {
            "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
            "grant_type": "refresh_token",
            "refresh_token": spent,
            "scope": "openid profile email",
        }
        [saved] = session.saved
        assert saved.tokens is not None
        assert saved.tokens.access_token == server.oauth.access_token
        assert saved.tokens.refresh_token == server.oauth.refresh_token != spent
        assert saved.last_refresh is not None
        assert abs(saved.last_refresh - datetime.now(UTC)) < timedelta(minutes=1)

    scenario(body)


@pytest.mark.parametrize(
    "sign_in",
    [
        {"last_refresh": datetime.now(UTC) - timedelta(days=9)},  # B/C: older than 8 days
        {"access_expired": True},  # C: the access token's exp has passed
    ],
)
def test_a_stale_token_is_refreshed_before_the_request(sign_in: dict[str, Any]) -> None:
    async def body(server: MockResponsesServer, session: Session) -> None:
        events, error = await session.turn()
        assert error is None and isinstance(events[-1], Completed)
        assert [(r.endpoint, r.status) for r in server.requests] == [("oauth", 200), ("responses", 200)]
        assert len(session.saved) == 1 and session.auth.needs_refresh() is False

    scenario(body, **sign_in)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [("expired", "expired"), ("reused", "exhausted"), ("invalidated", "revoked"), ("unknown", "other")],
)
def test_a_refused_refresh_token_is_final(outcome: str, reason: str) -> None:
    async def body(server: MockResponsesServer, session: Session) -> None:
        server.oauth.expire_access_token()
        server.oauth.enqueue(outcome)
        events, error = await session.turn()
        assert isinstance(error, RefreshTokenFailedError) and error.reason == reason
        assert str(error).endswith("Please log out and sign in again.")
        assert not any(isinstance(e, Reconnecting) for e in events)  # fatal: not retried
        assert [r.endpoint for r in server.requests] == ["responses", "oauth"]
        assert session.saved == []
        # The next turn does not spend another request on the dead refresh token.
        assert isinstance((await session.turn())[1], RefreshTokenFailedError)
        assert len(server.requests_to("oauth")) == 1

    scenario(body)


def test_a_token_endpoint_outage_is_transient() -> None:
    async def body(server: MockResponsesServer, session: Session) -> None:
        server.oauth.expire_access_token()
        server.oauth.enqueue("server_error")
        events, error = await session.turn()
        assert error is None and text_of(events) == "Echo: hello"
        [notice] = [e for e in events if isinstance(e, Reconnecting)]
        assert isinstance(notice.error, RefreshTokenTransientError)
        assert str(notice.error).startswith(
            "Failed to refresh token: 500 Internal Server Error: The server had"
        )
        assert [r.status for r in server.requests_to("oauth")] == [500, 200]

    scenario(body)


def test_concurrent_turns_share_one_refresh() -> None:
    # Without the single flight the second exchange would present a spent refresh
    # token and get 401 refresh_token_reused: a permanent failure.
    async def body(server: MockResponsesServer, session: Session) -> None:
        results = await asyncio.gather(*(session.turn() for _ in range(3)))
        assert all(error is None for _, error in results)
        assert len(server.requests_to("oauth")) == 1
        assert len(server.requests_to("responses")) == 3
        assert {r.bearer for r in server.requests_to("responses")} == {server.oauth.access_token}

    scenario(body, access_expired=True)


def test_refreshed_tokens_survive_a_restart() -> None:
    # The saved auth.json is what the app reloads after a service-worker restart.
    async def body(server: MockResponsesServer, session: Session) -> None:
        server.oauth.expire_access_token()
        assert (await session.turn())[1] is None
        [saved] = session.saved
        restarted = Session(server, json.loads(saved.to_json()))
        try:
            assert (await restarted.turn())[1] is None
        finally:
            await restarted.transport.aclose()
        assert len(server.requests_to("oauth")) == 1

    scenario(body)
