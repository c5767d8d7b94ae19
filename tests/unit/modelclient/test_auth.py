"""ChatGPT auth: auth.json, id-token claims, proactive refresh, 401 refresh, failure classes.

Driven without an event loop (tests.support.aio.run_sync and a round-robin
driver for the concurrent cases) over MockTransport, so the same tests run on
CPython and inside Pyodide.
"""

from __future__ import annotations

import base64
import json
import pickle
import types
from collections.abc import Coroutine, Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelclient import Auth
from modelclient._auth import (
    CLIENT_ID,
    REFRESH_TOKEN_URL,
    AuthManager,
    classify_refresh_failure,
    error_message,
)
from modelclient._authfile import (
    AUTH_CLAIM,
    AuthDotJson,
    IdTokenError,
    TokenData,
    jwt_expiry,
    parse_id_token,
    parse_jwt_claims,
)
from modelclient._client import ModelClient, Reconnecting
from modelclient._errors import (
    ConnectionFailedError,
    ModelClientError,
    RefreshTokenFailedError,
    RefreshTokenTransientError,
    error_from_json,
)
from modelclient._events import Completed, OutputTextDelta
from modelclient._items import MessageItem
from modelclient._provider import ModelProviderInfo, ModelSettings
from modelclient._request import Prompt
from modelclient._retry import RetryPolicy
from modelclient._transport import HttpRequest, MockTransport
from tests.support.aio import run_sync

NOW = datetime(2025, 11, 21, 12, 0, 0, tzinfo=UTC)
ACCOUNT = "7f3e1c2a-5b8d-4e6f-9a01-2b3c4d5e6f70"
TOKEN_URL = "http://127.0.0.1:9/oauth/token"
RESPONSES_URL = "http://127.0.0.1:9/v1/responses"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HEADER = b64url(b'{"alg":"none"}')


def jwt(claims: Any) -> str:
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    return f"{HEADER}.{b64url(payload)}.{b64url(b'sig')}"


def id_token(plan: str | None = "pro", account: str | None = ACCOUNT, email: str = "user@example.com") -> str:
    return jwt({"email": email, AUTH_CLAIM: {"chatgpt_plan_type": plan, "chatgpt_account_id": account}})


def access_token(name: str = "at-0", exp: datetime | None = NOW + timedelta(hours=1)) -> str:
    claims: dict[str, Any] = {"jti": name}
    if exp is not None:
        claims["exp"] = int(exp.timestamp())
    return jwt(claims)


def chatgpt(
    *,
    last_refresh: datetime | None = NOW - timedelta(days=1),
    access: str | None = None,
    account_id: str | None = ACCOUNT,
    token: str | None = None,
) -> AuthDotJson:
    tokens = {
        "id_token": token or id_token(),
        "access_token": access or access_token(),
        "refresh_token": "rt-0",
        "account_id": account_id,
    }
    return AuthDotJson.model_validate(
        {"OPENAI_API_KEY": None, "tokens": tokens, "last_refresh": last_refresh}
    )


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@types.coroutine
def pause(steps: int) -> Generator[None, None, None]:
    for _ in range(steps):
        yield


class Backend:
    """A token endpoint plus a ChatGPT backend, behind one MockTransport."""

    def __init__(self, access: str | None = None) -> None:
        self.valid = access or access_token()
        self.replies: list[tuple[int, bytes] | Exception] = []
        self.serial = 0
        self.delay = 0  # bare yields inside a token request (to overlap callers)
        self.transport = MockTransport(self.handle)
        self.saved: list[AuthDotJson] = []

    async def save(self, auth: AuthDotJson) -> None:
        self.saved.append(auth)

    @property
    def token_requests(self) -> list[HttpRequest]:
        return [r for r in self.transport.requests if r.url == TOKEN_URL]

    @property
    def responses_requests(self) -> list[HttpRequest]:
        return [r for r in self.transport.requests if r.url != TOKEN_URL]

    async def handle(self, request: HttpRequest) -> tuple[int, dict[str, str], Any]:
        if request.url == TOKEN_URL:
            await pause(self.delay)
            if self.replies:
                reply = self.replies.pop(0)
                if isinstance(reply, Exception):
                    raise reply
                return reply[0], {}, reply[1]
            self.serial += 1
            self.valid = access_token(f"at-{self.serial}")
            body = {"id_token": id_token(), "access_token": self.valid, "refresh_token": f"rt-{self.serial}"}
            return 200, {"content-type": "application/json"}, json.dumps(body).encode()
        if request.headers.get("Authorization") != f"Bearer {self.valid}":
            return 401, {"content-type": "application/json"}, b'{"detail":"Unauthorized"}'
        return 200, {"content-type": "text/event-stream"}, sse_reply("Hi there")

    def manager(self, auth: AuthDotJson | None = None, **kw: Any) -> AuthManager:
        kw.setdefault("clock", Clock())
        return AuthManager(
            auth or chatgpt(access=self.valid),
            transport=self.transport,
            save=self.save,
            token_url=TOKEN_URL,
            **kw,
        )


def sse_reply(text: str) -> bytes:
    events = [{"type": "response.created", "response": {"id": "resp_1"}}]
    events += [{"type": "response.output_text.delta", "delta": text}]
    usage = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    events += [{"type": "response.completed", "response": {"id": "resp_1", "usage": usage}}]
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)


def client_for(backend: Backend, auth: AuthManager, **provider: Any) -> ModelClient:
    async def no_sleep(seconds: float) -> None:
        pass

    return ModelClient(
        backend.transport,
        settings=ModelSettings(model="gpt-5-codex"),
        provider=ModelProviderInfo(**({"base_url": "http://127.0.0.1:9/v1"} | provider)),
        auth=auth,
        retry=RetryPolicy(rand=lambda: 0.5),
        sleep=no_sleep,
        with_timeout=lambda awaitable, seconds: awaitable,
    )


def turn(client: ModelClient, *, retry: bool = True) -> tuple[list[Any], ModelClientError | None]:
    seen: list[Any] = []

    async def go() -> None:
        prompt = Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": "hi"}])])
        async with client.stream_turn(prompt) if retry else client.stream(prompt) as events:
            async for event in events:
                seen.append(event)

    try:
        run_sync(go())
    except ModelClientError as exc:
        return seen, exc
    return seen, None


def run_all(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
    """Step the coroutines in turn until all end: concurrency without an event loop."""
    results: list[Any] = [None] * len(coros)
    pending = dict(enumerate(coros))
    while pending:
        for index, coro in list(pending.items()):
            try:
                assert coro.send(None) is None
            except StopIteration as stop:
                results[index] = stop.value
                del pending[index]
            except Exception as exc:
                results[index] = exc
                del pending[index]
    return results


# ------------------------------------------------------------------ auth.json


def rust_text(api_key: str | None, tokens: dict[str, Any] | None, last_refresh: str | None) -> str:
    """What serde_json::to_string_pretty writes for AuthDotJson (2-space indent, no newline at the end)."""
    key = "null" if api_key is None else json.dumps(api_key, ensure_ascii=False)
    lines = ["{", f'  "OPENAI_API_KEY": {key}']
    if tokens is not None:
        inner = ",\n".join(f'    "{k}": {json.dumps(v, ensure_ascii=False)}' for k, v in tokens.items())
        lines[-1] += ","
        lines.append('  "tokens": {\n' + inner + "\n  }")
    if last_refresh is not None:
        lines[-1] += ","
        lines.append(f'  "last_refresh": "{last_refresh}"')
    return "\n".join(lines) + "\n}"


TOKENS = {
    "id_token": id_token(),
    "access_token": access_token(),
    "refresh_token": "rt-0",
    "account_id": ACCOUNT,
}


@pytest.mark.parametrize(
    "text",
    [
        rust_text("sk-proj-abc", None, None),
        rust_text(None, TOKENS, "2025-10-16T18:04:11.123456Z"),
        rust_text(None, {**TOKENS, "account_id": None}, "2025-10-16T18:04:11.123Z"),
        rust_text(None, TOKENS, "2025-10-16T18:04:11Z"),
        rust_text(None, TOKENS, None),
        rust_text("sk-both", TOKENS, "2025-10-16T18:04:11.000001Z"),
        rust_text(None, {**TOKENS, "id_token": id_token(email="zoë@example.com")}, None),
        # serde writes non-ASCII as is and escapes quotes, backslashes and control characters.
        rust_text('sk-ключ "q" \\ \u0001\t', None, None),
    ],
)
def test_auth_json_round_trips_byte_for_byte(text: str) -> None:
    assert AuthDotJson.from_json(text).to_json() == text
    assert AuthDotJson.from_json(text.encode()).to_json() == text


@pytest.mark.parametrize(
    ("given", "written"),
    [
        # The field may be missing on input; Rust always writes it.
        ('{"tokens": null}', '{\n  "OPENAI_API_KEY": null\n}'),
        # Any offset is converted to UTC; chrono's AutoSi picks 0, 3 or 6 digits.
        (
            '{"last_refresh": "2025-10-16T20:04:11.5+02:00"}',
            rust_text(None, None, "2025-10-16T18:04:11.500Z"),
        ),
        ('{"last_refresh": "2025-10-16t18:04:11z"}', rust_text(None, None, "2025-10-16T18:04:11Z")),
        # Python keeps microseconds: Linux Codex's nanoseconds lose their last three digits.
        (
            '{"last_refresh": "2025-10-16T18:04:11.123456789Z"}',
            rust_text(None, None, "2025-10-16T18:04:11.123456Z"),
        ),
        # C's extra fields are read past and not written back (A's struct).
        ('{"OPENAI_API_KEY": "k", "auth_mode": "apikey"}', rust_text("k", None, None)),
    ],
)
def test_auth_json_normalises_as_rust_does(given: str, written: str) -> None:
    assert AuthDotJson.from_json(given).to_json() == written


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("not json", "Expecting value"),
        ("[]", "JSON object"),
        (b"\xff{}", "can.t decode"),
        ('{"OPENAI_API_KEY": 5}', "OPENAI_API_KEY"),
        (json.dumps({"tokens": {"id_token": id_token(), "access_token": "a"}}), "refresh_token"),
        (json.dumps({"tokens": {**TOKENS, "id_token": "not-a-jwt"}}), "invalid ID token format"),
        (json.dumps({"tokens": {**TOKENS, "access_token": 7}}), "access_token"),
        ('{"last_refresh": "2025-10-16T18:04:11"}', "RFC 3339"),
        ('{"last_refresh": "2025-02-30T00:00:00Z"}', "not a valid date-time"),
        ('{"last_refresh": 1760637851}', "last_refresh"),
    ],
)
def test_bad_auth_json_is_refused_clearly(text: str | bytes, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        AuthDotJson.from_json(text)


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    auth = AuthDotJson.model_validate({"OPENAI_API_KEY": "sk-secret-key", "tokens": TOKENS})
    text = repr(auth) + str(auth) + repr(auth.tokens)
    for secret in ("sk-secret-key", TOKENS["access_token"], "rt-0", TOKENS["id_token"]):
        assert secret not in text
    with pytest.raises(ValueError) as caught:
        TokenData.model_validate({**TOKENS, "id_token": "secret.secret", "refresh_token": 123})
    assert "secret.secret" not in str(caught.value)
    manager = AuthManager(chatgpt(), transport=MockTransport(lambda r: (500, {}, b"")))
    assert "rt-0" not in repr(manager) and "at-0" not in repr(manager)
    assert repr(manager) == f"AuthManager(mode='chatgpt', account_id='{ACCOUNT}', plan_type='pro')"


def test_datetime_and_python_names_are_accepted() -> None:
    auth = AuthDotJson(openai_api_key="k", last_refresh=datetime(2025, 1, 1, 1, tzinfo=UTC))
    assert auth.to_json() == rust_text("k", None, "2025-01-01T01:00:00Z")
    with pytest.raises(ValueError, match="timezone-aware"):
        AuthDotJson(last_refresh=datetime(2025, 1, 1))


# ------------------------------------------------------------------ JWT claims

GOOD_TOKENS = [
    # (token, email, plan, account)
    (id_token(), "user@example.com", "pro", ACCOUNT),
    (jwt({"sub": "123"}), None, None, None),
    (jwt({"email": None, AUTH_CLAIM: None}), None, None, None),
    (
        jwt({AUTH_CLAIM: {"chatgpt_plan_type": "enterprise_cbp_usage_based"}}),
        None,
        "enterprise_cbp_usage_based",
        None,
    ),
    (
        jwt({"email": "é@x", AUTH_CLAIM: {"chatgpt_account_id": "a", "other": [1, 2]}, "exp": 1}),
        "é@x",
        None,
        "a",
    ),
    # A payload whose base64url has "-" and "_" (the URL alphabet).
    (jwt({"email": "a???>>>b"}), "a???>>>b", None, None),
]
assert "-" in GOOD_TOKENS[-1][0].split(".")[1] and "_" in GOOD_TOKENS[-1][0].split(".")[1]


@pytest.mark.parametrize(("token", "email", "plan", "account"), GOOD_TOKENS)
def test_id_token_claims(token: str, email: str | None, plan: str | None, account: str | None) -> None:
    info = parse_id_token(token)
    assert (info.email, info.chatgpt_plan_type, info.chatgpt_account_id) == (email, plan, account)
    assert info.raw_jwt == token


PAYLOAD = b64url(b'{"email":"a@b"}')

BAD_TOKENS = [
    # (token, message fragment)
    ("", "expected 3 dot-separated parts, got 1"),
    ("abc", "got 1"),
    (f"h.{PAYLOAD}", "got 2"),
    (f"h.{PAYLOAD}.s.x", "got 4"),  # spec: exactly 3 (Rust reads the first 3)
    (f".{PAYLOAD}.s", "a part is empty"),
    ("h..s", "a part is empty"),
    (f"h.{PAYLOAD}.", "a part is empty"),
    (f"h.{PAYLOAD}=.s", "not base64url without padding"),
    (f"h.{b64url(b'{}')}==.s", "not base64url without padding"),
    (f"h.{PAYLOAD.replace('e', '+')}.s", "not base64url"),
    ("h.abcde.s", "not base64url"),  # length 5 (mod 4 == 1) cannot be base64
    ("h.e30=.s", "not base64url"),
    ("h.e31.s", "non-canonical"),  # "{}" with a stray low bit in the last character
    (f"h.{b64url(b'not json')}.s", "not JSON"),
    (f"h.{b64url(b'[1, 2]')}.s", "not a JSON object"),
    ("h." + b64url(b'{"exp": NaN}') + ".s", "not JSON"),
    ("h." + b64url(b"\xff\xfe") + ".s", "not JSON"),
    (jwt({"email": 5}), "'email' must be a string"),
    (jwt({AUTH_CLAIM: "pro"}), "must be an object"),
    (jwt({AUTH_CLAIM: {"chatgpt_plan_type": 1}}), "'chatgpt_plan_type' must be a string"),
    (jwt({AUTH_CLAIM: {"chatgpt_account_id": ["x"]}}), "'chatgpt_account_id' must be a string"),
]


@pytest.mark.parametrize(("token", "message"), BAD_TOKENS)
def test_malformed_id_tokens_are_refused(token: str, message: str) -> None:
    with pytest.raises(IdTokenError, match=message):
        parse_id_token(token)


def test_claims_and_expiry() -> None:
    assert parse_jwt_claims(jwt({"a": [1]})) == {"a": [1]}
    assert jwt_expiry(access_token(exp=NOW)) == NOW
    for token in (
        "opaque-token",
        access_token(exp=None),
        jwt({"exp": 1.5e9}),
        jwt({"exp": True}),
        jwt({"exp": 10**30}),
    ):
        assert jwt_expiry(token) is None


# ------------------------------------------------------------------ modes, account and plan


def test_api_key_is_preferred_over_tokens() -> None:
    both = AuthDotJson.model_validate({"OPENAI_API_KEY": "sk-key", "tokens": TOKENS})
    transport = MockTransport(lambda r: (500, {}, b""))
    manager = AuthManager(both, transport=transport)
    assert (manager.mode, manager.account_id, manager.plan_type, manager.can_refresh) == (
        "apikey",
        None,
        None,
        False,
    )
    assert run_sync(manager.token()) == "sk-key"
    run_sync(manager.refresh())  # nothing to refresh
    assert transport.requests == [] and manager.needs_refresh() is False


def test_chatgpt_account_and_plan() -> None:
    transport = MockTransport(lambda r: (500, {}, b""))
    manager = AuthManager(chatgpt(account_id="stored-id"), transport=transport)
    assert (manager.mode, manager.can_refresh, manager.plan_type) == ("chatgpt", True, "pro")
    assert (manager.account_id, manager.email) == ("stored-id", "user@example.com")
    # No stored account id: the id token's claim.
    assert AuthManager(chatgpt(account_id=None), transport=transport).account_id == ACCOUNT
    bare = chatgpt(account_id=None, token=jwt({"sub": "x"}))
    assert AuthManager(bare, transport=transport).account_id is None
    assert AuthManager(bare, transport=transport).plan_type is None


def test_empty_auth_json_is_refused() -> None:
    with pytest.raises(ValueError, match="neither"):
        AuthManager(AuthDotJson(), transport=MockTransport(lambda r: (500, {}, b"")))


def test_the_manager_is_the_clients_auth() -> None:
    manager: Auth = Backend().manager()
    assert manager.mode == "chatgpt"


# ------------------------------------------------------------------ proactive refresh


@pytest.mark.parametrize(
    ("last_refresh", "expires", "stale"),
    [
        (timedelta(days=1), timedelta(hours=1), False),
        (timedelta(days=7, hours=23), None, False),
        (timedelta(days=8), None, False),  # Rust: last_refresh < now - 8 days, strictly
        (timedelta(days=8, seconds=1), None, True),
        (timedelta(days=9), timedelta(hours=1), True),  # either rule (spec: B/C or C)
        (None, None, False),
        (None, timedelta(seconds=1), False),
        (None, timedelta(0), True),  # exp not in the future
        (timedelta(minutes=5), -timedelta(seconds=1), True),
    ],
)
def test_proactive_refresh_rules(
    last_refresh: timedelta | None, expires: timedelta | None, stale: bool
) -> None:
    backend = Backend(access_token("at-0", None if expires is None else NOW + expires))
    auth = chatgpt(last_refresh=None if last_refresh is None else NOW - last_refresh, access=backend.valid)
    manager = backend.manager(auth)
    assert manager.needs_refresh() is stale
    token = run_sync(manager.token())
    assert len(backend.token_requests) == (1 if stale else 0)
    assert token == backend.valid and (token == access_token("at-1")) is stale


def test_proactive_refresh_runs_before_the_request_and_saves() -> None:
    backend = Backend()
    clock = Clock()
    manager = backend.manager(
        chatgpt(last_refresh=NOW - timedelta(days=30), access=backend.valid), clock=clock
    )
    clock.now = NOW + timedelta(seconds=5)
    events, error = turn(client_for(backend, manager))
    assert error is None and isinstance(events[-1], Completed)
    assert [r.url for r in backend.transport.requests] == [TOKEN_URL, RESPONSES_URL]
    [saved] = backend.saved
    assert saved is manager.auth and saved.last_refresh == NOW + timedelta(seconds=5)
    assert saved.tokens is not None and saved.tokens.refresh_token == "rt-1"


def test_a_failed_proactive_refresh_keeps_the_current_token() -> None:
    # C: the old access token may still be good; the error is kept for the UI.
    backend = Backend()
    backend.replies = [(500, b'{"error": {"message": "boom"}}')]
    manager = backend.manager(chatgpt(last_refresh=NOW - timedelta(days=9), access=backend.valid))
    events, error = turn(client_for(backend, manager))
    assert error is None and isinstance(events[-1], Completed)
    assert isinstance(manager.last_refresh_error, RefreshTokenTransientError)
    assert backend.saved == []


# ------------------------------------------------------------------ 401 → refresh → retry


def test_401_refreshes_and_retries_through_the_client() -> None:
    backend = Backend()
    old = chatgpt(access=access_token("at-revoked"))
    manager = backend.manager(old)
    events, error = turn(client_for(backend, manager, base_url=None), retry=False)
    assert error is None
    assert [e.delta for e in events if isinstance(e, OutputTextDelta)] == ["Hi there"]
    first, refresh, second = backend.transport.requests
    chatgpt_url = "https://chatgpt.com/backend-api/codex/responses"
    assert (first.url, refresh.url, second.url) == (chatgpt_url, TOKEN_URL, chatgpt_url)
    assert first.headers["Authorization"] == f"Bearer {access_token('at-revoked')}"
    assert second.headers["Authorization"] == f"Bearer {access_token('at-1')}"
    assert first.headers["chatgpt-account-id"] == second.headers["chatgpt-account-id"] == ACCOUNT
    # B's request: JSON, compact, in Rust's field order, scope included.
    assert (refresh.method, refresh.headers) == ("POST", {"Content-Type": "application/json"})
    assert refresh.body == (
        b'{"client_id":"app_EMoamEEZ73f0CkXaXp7hrann","grant_type":"refresh_token",'
        b'"refresh_token":"rt-0","scope":"openid profile email"}'
    )
    [saved] = backend.saved
    assert saved.tokens is not None
    assert (saved.tokens.access_token, saved.tokens.refresh_token) == (access_token("at-1"), "rt-1")
    assert saved.tokens.account_id == ACCOUNT and saved.last_refresh == NOW
    assert saved.to_json() == manager.auth.to_json()


def test_a_reply_without_id_or_refresh_token_keeps_the_old_ones() -> None:
    backend = Backend()
    backend.replies = [(200, json.dumps({"access_token": "at-new", "id_token": None}).encode())]
    manager = backend.manager()
    run_sync(manager.refresh())
    tokens = manager.auth.tokens
    assert tokens is not None and (tokens.access_token, tokens.refresh_token) == ("at-new", "rt-0")
    assert tokens.id_token.raw_jwt == id_token()


def test_a_new_id_token_updates_the_plan_but_not_the_stored_account() -> None:
    backend = Backend()
    reply = {"id_token": id_token(plan="team", account="other"), "access_token": "a", "refresh_token": "r"}
    backend.replies = [(200, json.dumps(reply).encode())]
    manager = backend.manager()
    run_sync(manager.refresh())
    assert (manager.plan_type, manager.account_id) == ("team", ACCOUNT)


# ------------------------------------------------------------------ refresh failures

FAILED = "Your access token could not be refreshed"


@pytest.mark.parametrize(
    ("body", "reason", "text"),
    [
        ({"error": {"code": "refresh_token_expired"}}, "expired", "because your refresh token has expired"),
        (
            {"error": {"code": "refresh_token_reused"}},
            "exhausted",
            "because your refresh token was already used",
        ),
        (
            {"error": {"code": "refresh_token_invalidated"}},
            "revoked",
            "because your refresh token was revoked",
        ),
        ({"error": "REFRESH_TOKEN_EXPIRED"}, "expired", "has expired"),  # `error` as a string, any case
        ({"code": "refresh_token_reused"}, "exhausted", "already used"),  # top-level `code`
        ({"error": {"message": "x"}, "code": "refresh_token_invalidated"}, "revoked", "revoked"),
        ({"error": {"code": "token_expired"}}, "other", "refreshed. Please"),
        ({"error": {"code": 401}}, "other", "refreshed. Please"),
        ("not json", "other", "refreshed. Please"),
        ("", "other", "refreshed. Please"),
    ],
)
def test_401_from_the_token_endpoint_is_permanent(body: Any, reason: str, text: str) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    error = classify_refresh_failure(raw)
    assert (error.reason, error.retryable) == (reason, False)
    assert str(error).startswith(FAILED) and text in str(error)
    assert str(error).endswith("Please log out and sign in again.")


def test_permanent_failure_is_fatal_and_remembered() -> None:
    backend = Backend()
    backend.replies = [(401, b'{"error": {"code": "refresh_token_reused"}}')]
    manager = backend.manager(chatgpt(access=access_token("revoked")))
    events, error = turn(client_for(backend, manager))
    assert isinstance(error, RefreshTokenFailedError) and error.reason == "exhausted"
    assert not any(isinstance(e, Reconnecting) for e in events)
    assert (len(backend.token_requests), len(backend.responses_requests)) == (1, 1)
    # That refresh token is dead: later attempts do not spend requests on it.
    with pytest.raises(RefreshTokenFailedError):
        run_sync(manager.refresh())
    assert len(backend.token_requests) == 1 and manager.last_refresh_error is error
    # A new sign-in clears it.
    manager.replace(chatgpt(access=backend.valid))
    assert manager.last_refresh_error is None
    assert turn(client_for(backend, manager))[1] is None


@pytest.mark.parametrize(
    ("reply", "text"),
    [
        ((500, b'{"error": {"message": "boom", "type": "server_error"}}'), "500 Internal Server Error: boom"),
        ((502, b"<html>bad gateway</html>"), "502 Bad Gateway: <html>bad gateway</html>"),
        ((503, b""), "503 Service Unavailable: Unknown error"),
        ((400, b'{"error": {"message": "Invalid client"}}'), "400 Bad Request: Invalid client"),
        ((200, b"not json"), "invalid token response: "),
        ((200, b"[]"), "invalid token response: not a JSON object"),
        ((200, b'{"access_token": 1}'), "invalid token response: access_token is not a string"),
        ((200, b'{"id_token": "bad"}'), "invalid ID token format"),
        (ConnectionFailedError("dns error"), "Connection failed: dns error"),
    ],
)
def test_other_refresh_failures_are_transient(reply: Any, text: str) -> None:
    backend = Backend()
    backend.replies = [reply]
    manager = backend.manager()
    with pytest.raises(RefreshTokenTransientError) as caught:
        run_sync(manager.refresh())
    assert caught.value.retryable and str(caught.value).startswith(f"Failed to refresh token: {text}")
    assert manager.last_refresh_error is caught.value and backend.saved == []
    run_sync(manager.refresh())  # a transient failure is not remembered
    assert manager.last_refresh_error is None and len(backend.saved) == 1


def test_transient_failure_is_retried_at_turn_level() -> None:
    backend = Backend()
    backend.replies = [(500, b'{"error": {"message": "boom"}}')]
    manager = backend.manager(chatgpt(access=access_token("revoked")))
    events, error = turn(client_for(backend, manager))
    assert error is None and isinstance(events[-1], Completed)
    [notice] = [e for e in events if isinstance(e, Reconnecting)]
    assert isinstance(notice.error, RefreshTokenTransientError)
    assert len(backend.token_requests) == 2


def test_refresh_timeout_is_transient() -> None:
    async def expire(awaitable: Any, seconds: float) -> Any:
        assert seconds == 60.0
        awaitable.close()
        raise TimeoutError

    async def through(awaitable: Any, seconds: float) -> Any:
        return await awaitable

    backend = Backend()
    with pytest.raises(RefreshTokenTransientError, match="timed out while refreshing OpenAI API key"):
        run_sync(backend.manager(with_timeout=expire).refresh())
    run_sync(backend.manager(with_timeout=through).refresh())
    assert len(backend.saved) == 1


def test_error_message_reads_error_message() -> None:
    assert error_message('{"error": {"message": "m"}}') == "m"
    assert error_message('{"error": {"message": 1}}') == '{"error": {"message": 1}}'
    assert error_message("") == "Unknown error"


@pytest.mark.parametrize(
    "error",
    [
        RefreshTokenFailedError("expired"),
        RefreshTokenFailedError("other", "No more recovery steps available."),
        RefreshTokenTransientError(500, "boom"),
        RefreshTokenTransientError(None, "timed out while refreshing OpenAI API key"),
    ],
)
def test_refresh_errors_round_trip(error: ModelClientError) -> None:
    data = json.loads(json.dumps(error.to_json()))
    assert data["message"] == str(error) and data["retryable"] is error.retryable
    for copy in (error_from_json(data), pickle.loads(pickle.dumps(error))):
        assert type(copy) is type(error) and str(copy) == str(error) and copy.fields() == error.fields()


def test_unknown_reasons_become_other() -> None:
    assert RefreshTokenFailedError("weird").reason == "other"


# ------------------------------------------------------------------ one refresh at a time


def test_concurrent_refreshes_collapse_into_one() -> None:
    backend = Backend()
    backend.delay = 3
    manager = backend.manager()
    assert run_all(manager.refresh(), manager.refresh(), manager.refresh()) == [None, None, None]
    assert len(backend.token_requests) == 1 and len(backend.saved) == 1
    # Not concurrent: a second refresh is a second request.
    run_sync(manager.refresh())
    assert len(backend.token_requests) == 2


def test_concurrent_stale_tokens_refresh_once() -> None:
    backend = Backend()
    backend.delay = 3
    manager = backend.manager(chatgpt(last_refresh=NOW - timedelta(days=10), access=backend.valid))
    tokens = run_all(manager.token(), manager.token())
    assert tokens == [access_token("at-1")] * 2 and len(backend.token_requests) == 1


def test_concurrent_callers_share_a_failure() -> None:
    backend = Backend()
    backend.delay = 2
    backend.replies = [(401, b'{"error": {"code": "refresh_token_expired"}}')]
    manager = backend.manager()
    first, second = run_all(manager.refresh(), manager.refresh())
    assert first is second and isinstance(first, RefreshTokenFailedError)
    assert len(backend.token_requests) == 1


def test_a_cancelled_refresh_lets_a_waiter_run_its_own() -> None:
    backend = Backend()
    backend.delay = 5
    manager = backend.manager()
    owner, waiter = manager.refresh(), manager.refresh()
    owner.send(None)  # owner: request sent, waiting for the reply
    waiter.send(None)  # waiter: waiting on the owner's flight
    owner.close()  # cancelled (GeneratorExit inside the refresh)
    assert run_all(waiter) == [None]
    assert len(backend.token_requests) == 2 and len(backend.saved) == 1


def test_credentials_replaced_during_a_refresh_win() -> None:
    backend = Backend()
    manager = backend.manager()
    fresh = chatgpt(access="at-signed-in-again")

    def replace_mid_request(request: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        manager.replace(fresh)
        return 200, {}, json.dumps({"access_token": "at-stale-refresh"}).encode()

    manager.transport = MockTransport(replace_mid_request)
    run_sync(manager.refresh())
    assert manager.auth is fresh and backend.saved == []


def test_defaults() -> None:
    manager = AuthManager(chatgpt(), transport=MockTransport(lambda r: (500, {}, b"")))
    assert manager.token_url == REFRESH_TOKEN_URL == "https://auth.openai.com/oauth/token"
    assert CLIENT_ID == "app_EMoamEEZ73f0CkXaXp7hrann"
    assert manager.needs_refresh() is True  # the real clock: the fixture's access token has expired
