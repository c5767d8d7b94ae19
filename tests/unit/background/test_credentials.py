"""Credentials are bound to origins: the transport sees a key only on an origin approved for it.

The property tests drive the whole worker (settings, the turn, ``settings.test``)
over a recording transport, for random base URLs and random sets of approved
origins; the guard below the settings logic is also tested on its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from background.settings.credentials import (
    CHATGPT_ORIGINS,
    CredentialGuard,
    CredentialRefused,
    origin_of,
)
from background.settings.model import MemoryKeySource, normalise_base_url
from modelclient import HttpRequest, MockTransport
from tests.support.aio import run_sync
from tests.unit.background.kit import KEY, Harness, reply_events

HOSTS = ["api.openai.com", "api.openai.com.evil.example", "evil.example", "127.0.0.1", "localhost",
         "models.localhost", "[::1]", "res.openai.azure.com"]
PORTS = [None, 443, 8080, 9]


@st.composite
def base_urls(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from(HOSTS))
    loopback = host in ("127.0.0.1", "localhost", "models.localhost", "[::1]")
    scheme = draw(st.sampled_from(["http", "https"] if loopback else ["https"]))
    port = draw(st.sampled_from(PORTS))
    path = draw(st.sampled_from(["/v1", "/openai/v1", "", "/v1/responses"]))
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"


def origins_of(urls: list[str]) -> frozenset[str]:
    return frozenset(origin_of(normalise_base_url(u, "compatible")[0]) for u in urls)


def credential_origins(transport: MockTransport) -> set[str]:
    """The origins of every request that carried a credential header."""
    seen = set()
    for request in transport.requests:
        if {name.lower() for name in request.headers} & {"authorization", "api-key", "x-api-key"}:
            seen.add(origin_of(request.url))
    return seen


def answer(request: HttpRequest) -> Any:
    if request.url.endswith("/models"):
        return 200, {}, json.dumps({"data": [{"id": "gpt-5-mini"}]}).encode()
    return 200, {}, reply_events("ok")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(saved=base_urls(), approved=st.lists(base_urls(), max_size=3), tested=base_urls())
def test_the_transport_sees_the_key_only_on_approved_origins(saved: str, approved: list[str],
                                                             tested: str) -> None:
    allowed = origins_of(approved)
    h = Harness(keys=MemoryKeySource(KEY, allowed), handler=answer)
    assert h.ask({"type": "settings.set", "id": 1, "patch": {"provider": "compatible", "base_url": saved}}
                 )["type"] == "settings"
    accepted = h.ask({"type": "chat.send", "id": 2, "text": "hi"})
    assert accepted["type"] == "chat.accepted"
    test = h.ask({"type": "settings.test", "id": 3, "patch": {"provider": "compatible", "base_url": tested}})
    assert test["type"] == "settings.test"
    assert credential_origins(h.transport) <= allowed
    saved_origin = origin_of(normalise_base_url(saved, "compatible")[0])
    # ... and where it is approved, it does go (the check is not simply "never send").
    assert (saved_origin in credential_origins(h.transport)) == (saved_origin in allowed)
    if saved_origin not in allowed:
        stored = h.ask({"type": "conv.open", "id": 4, "conversation_id": accepted["conversation_id"]})
        error = stored["conversation"]["messages"][-1]["error"]
        assert error["kind"] == "key_not_approved" and saved_origin in error["message"]


@settings(max_examples=200, deadline=None)
@given(url=base_urls(), allowed=st.lists(base_urls(), max_size=3),
       header=st.sampled_from(["Authorization", "authorization", "api-key", "API-Key", "x-api-key", None]))
def test_the_guard_refuses_credentials_outside_its_origins(url: str, allowed: list[str],
                                                           header: str | None) -> None:
    inner = MockTransport(lambda r: (200, {}, b"{}"))
    origins = origins_of(allowed)
    guard = CredentialGuard(inner, lambda: origins)
    target = normalise_base_url(url, "compatible")[0] + "/responses"
    request = HttpRequest("POST", target, {header: "Bearer sk-x"} if header else {}, b"{}")
    if header is not None and origin_of(target) not in origins:
        with pytest.raises(CredentialRefused) as refused:
            run_sync(guard.send(request))
        assert origin_of(target) in str(refused.value) and "sk-x" not in str(refused.value)
        assert inner.requests == []
    else:
        run_sync(guard.send(request))
        assert inner.requests == [request]


def test_origins_are_compared_exactly() -> None:
    assert origin_of("https://API.openai.com:443/v1") == "https://api.openai.com"
    assert origin_of("http://127.0.0.1:80/x") == "http://127.0.0.1"
    assert origin_of("https://api.openai.com:444/v1") == "https://api.openai.com:444"
    assert origin_of("https://api.openai.com.evil.example/v1") != "https://api.openai.com"
    assert origin_of("ftp://x") == origin_of("not a url") == ""
    assert {"https://chatgpt.com", "https://auth.openai.com"} == CHATGPT_ORIGINS


def test_changing_the_base_url_needs_the_users_approval_and_key_set_binds_the_new_origin() -> None:
    h = Harness(handler=answer)
    view = h.ask({"type": "settings.get", "id": 1})["settings"]["key"]
    assert view["approved"] and view["origin"] == "https://api.openai.com"
    moved = h.ask({"type": "settings.set", "id": 2, "patch": {"provider": "compatible",
                                                               "base_url": "https://b.example/v1"}})
    assert moved["settings"]["key"] == {"set": True, "masked": "sk-…WXYZ", "origin": "https://b.example",
                                        "approved": False}
    stale = h.ask({"type": "settings.approve", "id": 3, "origin": "https://c.example"})
    assert stale["code"] == "stale" and h.transport.requests == []
    from_panel = h.ask({"type": "settings.approve", "id": 4, "origin": "https://b.example"}, sender="panel")
    assert from_panel["code"] == "forbidden"
    approved = h.ask({"type": "settings.approve", "id": 5, "origin": "https://b.example"})
    assert approved["settings"]["key"]["approved"] is True
    h.ask({"type": "chat.send", "id": 6, "text": "hi"})
    assert credential_origins(h.transport) == {"https://b.example"}
    # Another key for another server: bound to that server only.
    h.ask({"type": "settings.set", "id": 7, "patch": {"base_url": "https://d.example/v1"}})
    h.ask({"type": "key.set", "id": 8, "key": "sk-other-0123456789abcdef"})
    stored = run_sync(h.keys.load())
    assert stored is not None and stored.origins == {"https://d.example"}


def test_plain_http_is_only_for_this_machine() -> None:
    h = Harness()
    for url in ("http://127.0.0.1:9/v1", "http://localhost:8080", "http://x.localhost/v1", "http://[::1]:9/v1",
                "127.0.0.2:9", "localhost:1234"):
        patch = {"provider": "compatible", "base_url": url}
        reply = h.ask({"type": "settings.preview", "id": 1, "patch": patch})
        assert reply["type"] == "settings.preview", (url, reply)
        assert reply["settings"]["base_url"].startswith("http://")
    for url in ("http://api.example.com/v1", "http://10.0.0.5:8080/v1", "http://localhost.example.com/v1",
                "https://user:pw@api.example.com/v1"):
        patch = {"provider": "compatible", "base_url": url}
        reply = h.ask({"type": "settings.preview", "id": 1, "patch": patch})
        assert reply["code"] == "invalid_settings", (url, reply)
        assert "pw" not in json.dumps(reply)
    bad = h.ask({"type": "settings.preview", "id": 1, "patch": {"token_url": "http://auth.example/oauth/token"}})
    assert bad["code"] == "invalid_settings" and "token_url" in bad["fields"]
