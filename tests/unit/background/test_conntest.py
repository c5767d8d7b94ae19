"""settings.test ("Test connection") and settings.preview: what is wrong, said exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from background.settings.conntest import ConnectionTest, origin_pattern
from background.settings.model import Settings, normalise_base_url
from modelclient import ConnectionFailedError, HttpRequest, MockTransport
from tests.support.aio import run_sync
from tests.unit.background.kit import KEY, Harness

MODELS = json.dumps({"object": "list", "data": [{"id": "gpt-5-mini"}, {"id": "gpt-5"}]}).encode()


def error_body(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()


class Probe:
    """An AccessProbe with fixed answers; records what it was asked."""

    def __init__(self, granted: bool | None, reachable: bool | None) -> None:
        self.answers = (granted, reachable)
        self.asked: list[str] = []

    async def granted(self, pattern: str) -> bool | None:
        self.asked.append(pattern)
        return self.answers[0]

    async def reachable(self, url: str) -> bool | None:
        self.asked.append(url)
        return self.answers[1]


def run(
    reply: Any, *, settings: Settings | None = None, key: str | None = KEY, probe: Probe | None = None
) -> tuple[dict[str, Any], list[HttpRequest]]:
    def handler(request: HttpRequest) -> Any:
        if isinstance(reply, BaseException):
            raise reply
        return reply

    transport = MockTransport(handler)
    tester = ConnectionTest(lambda: transport, probe, with_timeout=lambda aw, _s: aw)
    outcome = run_sync(tester.run(settings or Settings(), key))
    return outcome, transport.requests


def test_a_working_key_lists_models_with_one_authenticated_get() -> None:
    outcome, [request] = run((200, {}, MODELS))
    assert (request.method, request.url) == ("GET", "https://api.openai.com/v1/models")
    assert request.headers["Authorization"] == f"Bearer {KEY}" and "api-key" not in request.headers
    assert outcome["ok"] and outcome["kind"] == "ok" and outcome["models"] == 2
    assert outcome["model_listed"] is True and outcome["status"] == 200
    assert outcome["origin"] == "https://api.openai.com/*"
    assert outcome["message"] == "Connected: the key works and the server lists 2 models."


def test_a_model_the_server_does_not_list_is_pointed_out() -> None:
    outcome, _ = run((200, {}, MODELS), settings=Settings(model="gpt-9"))
    assert outcome["ok"] and outcome["model_listed"] is False
    assert "gpt-9 is not among them" in outcome["message"]


def test_azure_gets_its_header_query_organization_and_project() -> None:
    settings = Settings(provider="azure", base_url="https://res.openai.azure.com/openai/v1?api-version=preview",
                        organization="org-1", project="proj-1")
    _, [request] = run((200, {}, MODELS), settings=settings)
    assert request.url == "https://res.openai.azure.com/openai/v1/models?api-version=preview"
    assert request.headers["api-key"] == KEY and request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["OpenAI-Organization"] == "org-1" and request.headers["OpenAI-Project"] == "proj-1"


def test_a_refused_key_says_so_and_never_echoes_it() -> None:
    outcome, _ = run((401, {}, error_body(f"Incorrect API key provided: {KEY}.")))
    assert (outcome["ok"], outcome["kind"], outcome["status"]) == (False, "bad_key", 401)
    assert outcome["message"].startswith("The server refused the API key (HTTP 401)")
    assert outcome["detail"] == "Incorrect API key provided: …."
    assert KEY not in json.dumps(outcome)


def test_a_compatible_server_without_a_key_is_tested_without_one() -> None:
    settings = Settings(provider="compatible", base_url="http://127.0.0.1:8080/v1")
    outcome, [request] = run((401, {}, b""), settings=settings, key=None)
    assert "Authorization" not in request.headers
    assert outcome["kind"] == "bad_key"
    assert outcome["message"] == "The server at http://127.0.0.1:8080 needs an API key: add it in Settings."


def test_no_key_for_a_preset_that_needs_one_sends_nothing() -> None:
    outcome, requests = run((200, {}, MODELS), key=None)
    assert requests == [] and outcome["kind"] == "no_key" and not outcome["ok"]


@pytest.mark.parametrize(
    ("reply", "kind", "ok"),
    [
        ((404, {}, error_body("Not found")), "wrong_url", False),
        ((405, {}, b""), "wrong_url", False),
        ((403, {}, error_body("You are not allowed")), "forbidden", False),
        ((429, {}, error_body("Slow down")), "rate_limited", True),
        ((503, {}, b"<html>busy</html>"), "server_error", False),
        ((418, {}, b""), "http_error", False),
        ((200, {}, b"<html>a web page</html>"), "not_openai", False),
        ((200, {}, b'{"object": "list"}'), "not_openai", False),
        ((200, {}, b"[" * 100_000 + b"]" * 100_000), "not_openai", False),  # too deep: refused, no crash
    ],
)
def test_http_outcomes(reply: Any, kind: str, ok: bool) -> None:
    outcome, _ = run(reply)
    assert (outcome["kind"], outcome["ok"], outcome["status"]) == (kind, ok, reply[0])


def test_a_wrong_url_names_the_url_and_the_usual_path() -> None:
    settings = Settings(provider="compatible", base_url="http://127.0.0.1:9/api")
    outcome, _ = run((404, {}, b""), settings=settings)
    assert outcome["message"] == (
        "Nothing answers at http://127.0.0.1:9/api/models (HTTP 404): the base URL is probably wrong; "
        "it usually ends in /v1."
    )


def test_a_failed_fetch_to_a_server_that_answers_no_cors_is_cors() -> None:
    probe = Probe(granted=False, reachable=True)
    settings = Settings(provider="compatible", base_url="https://llm.example.com:8443/v1")
    outcome, _ = run(ConnectionFailedError("TypeError: Failed to fetch"), settings=settings, probe=probe)
    assert outcome["kind"] == "cors" and outcome["access"] is False
    assert probe.asked == ["https://llm.example.com/*", "https://llm.example.com:8443/v1/models"]
    assert "SidePy has no access to https://llm.example.com" in outcome["message"]


def test_a_failed_fetch_with_nothing_answering_is_the_network() -> None:
    outcome, _ = run(ConnectionFailedError("Failed to fetch"), probe=Probe(granted=True, reachable=False))
    assert outcome["kind"] == "network" and outcome["access"] is True and "detail" not in outcome
    assert outcome["message"].startswith("Could not connect to api.openai.com: the connection was refused")


OLLAMA = Settings(preset="ollama", base_url="http://localhost:11434/v1")


def test_a_local_server_that_is_not_running_is_named_with_how_to_start_it() -> None:
    outcome, _ = run(ConnectionFailedError("Failed to fetch"), settings=OLLAMA, key=None,
                     probe=Probe(granted=True, reachable=False))
    assert outcome["kind"] == "network"
    assert outcome["message"] == (
        "Ollama is not running at http://localhost:11434: start Ollama (the app, or `ollama serve` in a "
        "terminal), then try again."
    )


def test_ollama_refusing_the_extensions_origin_says_to_set_ollama_origins() -> None:
    transport = MockTransport(lambda r: (403, {}, b""))
    tester = ConnectionTest(lambda: transport, None, with_timeout=lambda aw, _s: aw,
                            extension_origin="chrome-extension://abcdefgh")
    outcome = run_sync(tester.run(OLLAMA, None))
    assert outcome["kind"] == "forbidden"
    assert "set OLLAMA_ORIGINS=chrome-extension://abcdefgh in Ollama's environment" in outcome["message"]


def test_without_a_probe_the_transports_words_are_kept() -> None:
    outcome, _ = run(ConnectionFailedError(f"refused (key {KEY})"))
    assert outcome["kind"] == "network" and outcome["detail"] == "refused (key …)"


def test_a_probe_that_fails_knows_nothing() -> None:
    class Broken(Probe):
        async def granted(self, pattern: str) -> bool | None:
            raise RuntimeError("no chrome.permissions")

    outcome, _ = run(ConnectionFailedError("x"), probe=Broken(None, False))
    assert outcome["kind"] == "network" and "access" not in outcome


def test_a_server_that_never_answers_times_out() -> None:
    async def slow(awaitable: Any, seconds: float) -> Any:
        awaitable.close()
        raise TimeoutError

    tester = ConnectionTest(lambda: MockTransport(lambda r: (200, {}, MODELS)), None, with_timeout=slow)
    outcome = run_sync(tester.run(Settings(), KEY))
    assert outcome["kind"] == "timeout" and "within 15 s" in outcome["message"]


@pytest.mark.parametrize(
    "typed",
    ["api.openai.com/v1", "http://127.0.0.1:8000/v1/responses", "localhost:1234", "https://[::1]:9/v1",
     "HTTPS://Host.Example.com/openai/v1?api-version=x"],
)
def test_origin_patterns_have_no_port(typed: str) -> None:
    base, _ = normalise_base_url(typed, "compatible")
    pattern = origin_pattern(base)
    assert pattern.endswith("/*") and ":" not in pattern.split("://")[1].replace("[::1]", "")


# ------------------------------------------------------------------ through the app


def test_settings_test_uses_the_form_values_without_saving_them() -> None:
    h = Harness(handler=lambda r: (200, {}, MODELS))
    h.ask({"type": "settings.set", "id": 1, "patch": {"provider": "compatible",
                                                       "base_url": "http://127.0.0.1:9/v1"}})
    h.ask({"type": "key.set", "id": 2, "key": KEY})  # approved for http://127.0.0.1:9
    h.ask({"type": "settings.set", "id": 3, "patch": {"provider": "openai", "base_url": ""}})
    saved = h.store.data["settings"]
    patch = {"provider": "compatible", "base_url": "http://127.0.0.1:9/v1/responses"}
    reply = h.ask({"type": "settings.test", "id": 4, "patch": patch})
    assert reply["type"] == "settings.test" and reply["id"] == 4 and reply["ok"], reply
    assert reply["url"] == "http://127.0.0.1:9/v1/models"
    assert h.transport.requests[0].headers["Authorization"] == f"Bearer {KEY}"  # the stored key
    assert h.store.data["settings"] == saved  # nothing saved


def test_settings_test_never_sends_the_stored_key_to_an_origin_it_is_not_approved_for() -> None:
    h = Harness(handler=lambda r: (200, {}, MODELS))
    h.ask({"type": "settings.get", "id": 1})  # the key is approved for the saved https://api.openai.com
    for base in ("http://127.0.0.1:9/v1", "https://api.openai.com.evil.example/v1",
                 "https://api.openai.com:444/v1", "https://evil.api.openai.com/v1"):
        patch = {"provider": "compatible", "base_url": base}
        reply = h.ask({"type": "settings.test", "id": 2, "patch": patch})
        assert reply["kind"] == "key_not_approved" and not reply["ok"], reply
        assert "approve" in reply["message"]
    assert h.transport.requests == []  # nothing was sent anywhere
    typed = "sk-typed-for-this-server-0123456789"
    reply = h.ask({"type": "settings.test", "id": 3, "key": typed,
                   "patch": {"provider": "compatible", "base_url": "http://127.0.0.1:9/v1"}})
    assert reply["ok"] and h.transport.requests[-1].headers["Authorization"] == f"Bearer {typed}"


def test_settings_test_with_a_typed_key_does_not_store_it() -> None:
    h = Harness(key=None, handler=lambda r: (401, {}, b""))
    other = "sk-typed-0123456789abcdef"
    reply = h.ask({"type": "settings.test", "id": 1, "key": other})
    assert reply["kind"] == "bad_key" and other not in json.dumps(reply)
    assert h.transport.requests[0].headers["Authorization"] == f"Bearer {other}"
    assert run_sync(h.keys.get()) is None


def test_settings_test_refuses_invalid_values_per_field() -> None:
    h = Harness()
    reply = h.ask({"type": "settings.test", "id": 1, "patch": {"base_url": "ftp://x"}, "key": "a b"})
    assert reply["code"] == "invalid_settings" and set(reply["fields"]) == {"base_url"}
    reply = h.ask({"type": "settings.test", "id": 2, "key": "sk has spaces in it"})
    assert reply["code"] == "invalid_settings" and set(reply["fields"]) == {"key"}
    assert h.transport.requests == []


def test_settings_preview_shows_the_request_url_and_saves_nothing() -> None:
    h = Harness()
    patch = {"provider": "azure", "base_url": "https://res.openai.azure.com/openai/v1/responses?api-version=p"}
    reply = h.ask({"type": "settings.preview", "id": 1, "patch": patch})
    assert reply["type"] == "settings.preview"
    view = reply["settings"]
    assert view["base_url"] == "https://res.openai.azure.com/openai/v1?api-version=p"
    assert view["request_url"] == "https://res.openai.azure.com/openai/v1/responses?api-version=p"
    assert "settings" not in h.store.data
    # A Chat Completions endpoint URL says the server speaks Chat Completions.
    chat = h.ask({"type": "settings.preview", "id": 2,
                  "patch": {"provider": "compatible", "base_url": "https://h/v1/chat/completions"}})
    view = chat["settings"]
    assert (view["base_url"], view["wire_api"], view["wire"]) == ("https://h/v1", "chat", "chat")
    assert view["request_url"] == "https://h/v1/chat/completions"
    bad = h.ask({"type": "settings.preview", "id": 3, "patch": {"base_url": "https://h/v1/completions"}})
    assert bad["code"] == "invalid_settings" and "legacy Completions" in bad["fields"]["base_url"]


@pytest.mark.parametrize(
    "typed",
    ["", "api.openai.com/v1", "http://127.0.0.1:8000/v1/responses", "localhost:1234", "LOCALHOST/v1",
     "https://[::1]:9/v1", "HTTPS://Host.Example.com/openai/v1?api-version=x", "x.localhost:3000",
     "https://example.com:8443/v1", "https://res.openai.azure.com/openai/v1/responses?api-version=p"],
)
def test_the_options_page_asks_for_the_origin_the_background_will_use(typed: str) -> None:
    """panel.settings_form reads the typed URL's origin like normalise_base_url (it runs before
    any round trip, inside the click), and asks for exactly the pattern settings.test checks."""
    from panel import settings_form

    base, _ = normalise_base_url(typed, "openai" if not typed else "compatible")
    pattern = origin_pattern(base)
    asked = settings_form.permission_pattern(typed)
    if pattern[:-2] in settings_form.NO_PERMISSION_NEEDED:
        assert asked is None
    else:
        assert asked == pattern
