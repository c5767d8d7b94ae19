"""Providers in the worker: presets and the wire API in the settings, the server's model list,
saved profiles with their own keys, and a turn on the Chat Completions wire."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from background.settings.model import MemoryKeySource, StoredKey
from background.store.storage import SCHEMA_VERSION, MemoryStore
from modelclient import ConnectionFailedError, HttpRequest
from tests.support.aio import run_loop, run_sync
from tests.unit.background.kit import KEY, KEY_VIEW, Harness, reply_events

CHAT_BASE = "http://127.0.0.1:9/v1"
OTHER_KEY = "sk-other-provider-0123456789abcd"


def chat_stream(*pieces: str) -> list[bytes]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m"}
    out = [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    out.append({**base, "choices": [], "usage": usage})
    return [f"data: {json.dumps(c)}\n\n".encode() for c in out] + [b"data: [DONE]\n\n"]


def chat_server(models: list[str], seen: list[HttpRequest]) -> Any:
    def handler(request: HttpRequest) -> Any:
        seen.append(request)
        if request.url.endswith("/models"):
            return 200, {}, json.dumps({"object": "list", "data": [{"id": m} for m in models]}).encode()
        if request.url.endswith("/chat/completions"):
            return 200, {"content-type": "text/event-stream"}, chat_stream("Hi", " there")
        return 404, {}, b"404 page not found"

    return handler


def custom_chat(h: Harness) -> dict[str, Any]:
    return h.ask({"type": "settings.set", "id": 1,
                  "patch": {"preset": "custom", "base_url": CHAT_BASE, "wire_api": "chat"}})  # fmt: skip


def test_a_preset_sets_the_provider_and_the_wire() -> None:
    h = Harness()
    view = h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "deepseek",
                                                             "base_url": "https://api.deepseek.com/v1"}})["settings"]
    assert (view["preset"], view["provider"], view["wire"]) == ("deepseek", "compatible", "chat")
    assert view["request_url"] == "https://api.deepseek.com/v1/chat/completions"
    assert {p["id"] for p in view["presets"]} >= {"openai", "ollama", "custom"}
    bad = h.ask({"type": "settings.set", "id": 2, "patch": {"preset": "no-such"}})
    assert bad["type"] == "error" and bad["code"] == "invalid_settings"


def test_efforts_only_for_models_that_take_them() -> None:
    view = Harness().ask({"type": "settings.get", "id": 1})["settings"]
    assert view["efforts"]["gpt-5-mini"] == ["minimal", "low", "medium", "high"]
    assert view["efforts"]["gpt-4.1"] == []


def test_a_turn_on_the_chat_wire() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    custom_chat(h)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    [request] = [r for r in seen if r.method == "POST"]
    assert request.url == f"{CHAT_BASE}/chat/completions"
    body = json.loads(request.body or b"")
    assert body["messages"][-1] == {"role": "user", "content": "hello"} and body["stream"] is True
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there" and done["usage"]["total_tokens"] == 9


def test_the_model_list_comes_from_the_server_and_is_kept() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat", "deepseek-reasoner"], seen))
    custom_chat(h)
    h.ask({"type": "key.set", "id": 2, "key": KEY})
    view = h.ask({"type": "models.list", "id": 3}, sender="panel")["settings"]
    assert view["models"][-2:] == ["deepseek-chat", "deepseek-reasoner"]  # (after the chosen model)
    assert seen[-1].url == f"{CHAT_BASE}/models" and seen[-1].headers["Authorization"] == f"Bearer {KEY}"
    assert h.stored("settings")["models"] == ["deepseek-chat", "deepseek-reasoner"]


def test_a_model_list_failure_names_the_server_and_the_fix() -> None:
    def refused(request: HttpRequest) -> Any:
        raise ConnectionFailedError("connection refused")

    h = Harness(handler=refused)
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "ollama", "base_url": "http://localhost:11434/v1"}})
    error = h.ask({"type": "models.list", "id": 2}, sender="panel")
    assert error["type"] == "error" and error["code"] == "models"
    assert error["message"].startswith("Ollama is not running at http://localhost:11434: start Ollama")


def test_profiles_switch_the_provider_and_its_own_key() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    # The first provider: OpenAI with the harness's key (approved for api.openai.com).
    first = h.ask({"type": "profile.save", "id": 1, "name": "OpenAI"})["settings"]
    [openai] = first["profiles"]
    assert first["active_profile"] == openai["id"] and openai["name"] == "OpenAI"
    # A second provider: saved as new, then pointed at the chat server with its own key.
    second = h.ask({"type": "profile.save", "id": 2, "name": "Chat server", "new": True})["settings"]
    chat_id = second["active_profile"]
    assert chat_id != openai["id"] and second["key"]["set"] is False  # a new provider has no key yet
    custom_chat(h)
    h.ask({"type": "key.set", "id": 3, "key": OTHER_KEY})
    h.ask({"type": "profile.save", "id": 4})
    names = [p["name"] for p in h.ask({"type": "settings.get", "id": 5})["settings"]["profiles"]]
    assert names == ["OpenAI", "Chat server"]

    # The panel switches back to OpenAI: its URL and its key come back.
    back = h.ask({"type": "profile.select", "id": 6, "profile_id": openai["id"]}, sender="panel")["settings"]
    assert back["base_url"] == "https://api.openai.com/v1" and back["wire"] == "responses"
    assert back["key"] == KEY_VIEW
    # ... and to the chat server: its own key, approved for its own origin.
    there = h.ask({"type": "profile.select", "id": 7, "profile_id": chat_id}, sender="panel")["settings"]
    assert there["base_url"] == CHAT_BASE and there["wire"] == "chat"
    assert there["key"]["masked"] == "sk-…abcd" and there["key"]["approved"] is True
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 8, "text": "hi"})
    assert seen[-1].url == f"{CHAT_BASE}/chat/completions"
    assert seen[-1].headers["Authorization"] == f"Bearer {OTHER_KEY}"


def test_profile_rules() -> None:
    h = Harness()
    active = h.ask({"type": "profile.save", "id": 1})["settings"]["active_profile"]
    assert h.ask({"type": "profile.delete", "id": 2, "profile_id": active})["type"] == "error"
    missing = h.ask({"type": "profile.select", "id": 3, "profile_id": "p0123456789abcdef"}, sender="panel")
    assert missing["code"] == "not_found"
    # A panel may switch, never save or delete (they change what providers exist).
    assert h.ask({"type": "profile.save", "id": 4}, sender="panel")["code"] == "forbidden"
    delete = {"type": "profile.delete", "id": 5, "profile_id": active}
    assert h.ask(delete, sender="panel")["code"] == "forbidden"
    # A form sending the view back cannot rewrite the profiles.
    h.ask({"type": "settings.set", "id": 6, "patch": {"profiles": [], "active_profile": ""}})
    view = h.ask({"type": "settings.get", "id": 7})["settings"]
    assert view["active_profile"] == active and len(view["profiles"]) == 1


def test_test_connection_sends_the_turn_chat_will_send_and_keeps_the_detected_wire() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": CHAT_BASE,
                                                      "model": "deepseek-chat"}})  # fmt: skip
    h.ask({"type": "key.set", "id": 2, "key": KEY})
    out = h.ask({"type": "settings.test", "id": 3, "probe": True})
    assert out["ok"] is True and out["kind"] == "ok" and out["wire"] == "chat" and out["detected"] is True
    assert out["message"] == "Chat works: deepseek-chat answered “Hi there” over Chat Completions (9 tokens)."
    assert [(r.method, r.url.rsplit("/v1", 1)[1]) for r in seen] == [
        ("GET", "/models"), ("POST", "/responses"), ("POST", "/chat/completions")]  # fmt: skip
    assert out["probe"]["url"] == f"{CHAT_BASE}/chat/completions"
    view = h.ask({"type": "settings.get", "id": 4})["settings"]
    assert (view["detected_wire"], view["wire"]) == ("chat", "chat")
    assert view["request_url"] == f"{CHAT_BASE}/chat/completions"
    # Another base URL forgets what was detected for this one.
    moved = h.ask({"type": "settings.set", "id": 5, "patch": {"base_url": "http://127.0.0.1:10/v1"}})
    assert moved["settings"]["detected_wire"] is None and moved["settings"]["wire"] == "responses"


def posts(seen: list[HttpRequest]) -> list[str]:
    return [r.url.rsplit("/v1", 1)[1] for r in seen if r.method == "POST"]


def saved_without_test(h: Harness) -> None:
    """A custom server on "auto", saved without Test connection: nothing detected its wire."""
    view = h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": CHAT_BASE,
                                                             "model": "deepseek-chat"}})["settings"]
    assert (view["wire_api"], view["detected_wire"], view["wire"]) == ("auto", None, "responses")


def chat_only_as(responses: tuple[int, dict[str, str], bytes], seen: list[HttpRequest]) -> Any:
    """A Chat-Completions-only server that answers /responses with ``responses``."""
    chat = chat_server(["deepseek-chat"], seen)

    def handler(request: HttpRequest) -> Any:
        if request.url.endswith("/responses"):
            seen.append(request)
            return responses
        return chat(request)

    return handler


@pytest.mark.parametrize("responses", [
    (404, {}, b"404 page not found"),
    (501, {}, b"Not Implemented"),  # a 5xx: request retries first, then the turn's re-send is not made
    (200, {"content-type": "application/json"},
     b'{"error": "Unexpected endpoint or method. (POST /v1/responses)"}'),  # LM Studio's answer
], ids=["404", "501", "lm-studio-200"])
def test_a_custom_server_saved_untested_without_responses_answers_on_chat(
    responses: tuple[int, dict[str, str], bytes]
) -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_only_as(responses, seen))
    saved_without_test(h)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    sent = posts(seen)
    assert set(sent[:-1]) == {"/responses"} and sent[-1] == "/chat/completions"  # the guess, then chat
    assert len(sent) == (6 if responses[0] == 501 else 2)  # 501: the request retries, no turn re-send
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there"
    assert h.sent(1, "turn.error") == [] and h.sent(1, "turn.reconnecting") == []
    view = h.ask({"type": "settings.get", "id": 3})["settings"]
    assert (view["detected_wire"], view["wire"]) == ("chat", "chat")  # kept
    seen.clear()
    h.send(1, {"type": "chat.send", "id": 4, "text": "again"})
    assert posts(seen) == ["/chat/completions"]  # straight there
    assert h.restart().ask({"type": "settings.get", "id": 5})["settings"]["wire"] == "chat"  # stored


def test_a_custom_responses_server_saved_untested_is_kept_as_one_at_its_first_reply() -> None:
    seen: list[HttpRequest] = []
    replies = [(500, {}, b'{"error": {"message": "busy"}}')]  # a hiccup first: retried as always

    def handler(request: HttpRequest) -> Any:
        seen.append(request)
        return replies.pop(0) if replies else (200, {"content-type": "text/event-stream"},
                                              reply_events("Fine"))

    h = Harness(handler=handler)
    saved_without_test(h)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    assert posts(seen) == ["/responses", "/responses"]
    assert h.sent(1, "turn.done")[0]["assistant"]["text"] == "Fine"
    assert h.ask({"type": "settings.get", "id": 4})["settings"]["detected_wire"] == "responses"


def test_a_server_with_neither_endpoint_shows_the_first_error_and_keeps_nothing() -> None:
    seen: list[HttpRequest] = []

    def nowhere(request: HttpRequest) -> Any:
        seen.append(request)
        return 404, {}, b"404 page not found"

    h = Harness(handler=nowhere)
    saved_without_test(h)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    assert posts(seen) == ["/responses", "/chat/completions"]
    [failed] = h.sent(1, "turn.error")
    assert failed["error"]["fields"]["status"] == 404 and "/responses" in failed["error"]["message"]
    assert h.ask({"type": "settings.get", "id": 3})["settings"]["detected_wire"] is None


def test_a_wire_that_cannot_be_kept_does_not_fail_the_turn(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_only_as((404, {}, b""), seen))
    saved_without_test(h)

    async def full(found_on: Any, wire: str) -> None:
        raise OSError("QUOTA_BYTES quota exceeded")

    h.worker.scheduler.deps = replace(h.worker.scheduler.deps, keep_wire=full)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there"
    assert "could not keep the wire API found" in capsys.readouterr().out


def test_a_missing_endpoint_is_not_tried_elsewhere_when_the_wire_is_known() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": CHAT_BASE,
                                                      "wire_api": "responses"}})  # fmt: skip
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hello"})
    assert posts(seen) == ["/responses"]  # the user chose Responses: its 404 is the answer
    [failed] = h.sent(1, "turn.error")
    assert failed["error"]["fields"]["status"] == 404


def test_a_wire_found_for_one_server_is_not_kept_for_another() -> None:
    h = Harness()
    saved_without_test(h)
    found_on = run_sync(h.worker.settings.load())
    h.ask({"type": "settings.set", "id": 2, "patch": {"base_url": "http://127.0.0.1:10/v1"}})
    run_sync(h.worker.settings.keep_detected_wire(found_on, "chat"))
    assert h.ask({"type": "settings.get", "id": 3})["settings"]["detected_wire"] is None
    h.ask({"type": "settings.set", "id": 4, "patch": {"base_url": CHAT_BASE}})
    run_sync(h.worker.settings.keep_detected_wire(found_on, "chat"))
    assert h.ask({"type": "settings.get", "id": 5})["settings"]["detected_wire"] == "chat"


def test_without_the_probe_the_test_shows_what_it_would_send() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen))
    deepseek = {"preset": "deepseek", "model": "deepseek-chat", "base_url": "https://api.deepseek.com/v1"}
    h.ask({"type": "settings.set", "id": 1, "patch": deepseek})
    out = h.ask({"type": "settings.test", "id": 2})
    assert [r.method for r in seen] == ["GET"]  # nothing was streamed
    assert out["probe"]["url"] == "https://api.deepseek.com/v1/chat/completions"
    assert out["probe"]["body"]["messages"][-1] == {"role": "user", "content": "OK?"}


def test_an_unknown_model_is_named_with_the_models_the_server_has() -> None:
    def handler(request: HttpRequest) -> Any:
        if request.url.endswith("/models"):
            return 200, {}, json.dumps({"data": [{"id": "llama3.2:latest"}, {"id": "qwen3:8b"}]}).encode()
        return 404, {}, json.dumps({"error": {"message": 'model "llama3" not found, try pulling it first',
                                              "type": "api_error"}}).encode()  # fmt: skip

    h = Harness(handler=handler, key=None)
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "ollama", "base_url": "http://localhost:11434/v1",
                                                      "model": "llama3"}})  # fmt: skip
    out = h.ask({"type": "settings.test", "id": 2, "probe": True})
    assert out["ok"] is False and out["kind"] == "chat_failed"
    assert out["message"] == ("Chat failed: Ollama has no model “llama3”. It has: llama3.2:latest, qwen3:8b. "
                              "Pick one in the model list or run `ollama pull llama3`.")


def test_the_options_pages_preset_table_is_modelclients() -> None:
    from modelclient import PRESETS
    from panel import settings_form as sf

    ids = [p.id for p in PRESETS]
    assert [value for value, _ in sf.PROVIDERS] == [*ids[:-1], "compatible"]  # "compatible" is the custom one
    for preset in PRESETS[:-1]:
        assert sf.PRESET_BASES[preset.id] == preset.base_url, preset.id
        assert dict(sf.PROVIDERS)[preset.id] == preset.label
    assert set(sf.PAID) == {p.id for p in PRESETS if p.paid} - {"custom"} | {"compatible"}


def test_a_wrong_url_stays_a_wrong_url_when_the_short_message_fails_too() -> None:
    h = Harness(handler=lambda request: (404, {}, b"404 page not found"))
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": "http://127.0.0.1:9/x"}})
    out = h.ask({"type": "settings.test", "id": 2, "probe": True})
    assert (out["ok"], out["kind"]) == (False, "wrong_url")
    assert out["message"].startswith("Nothing answers at http://127.0.0.1:9/x/models (HTTP 404)")


def test_a_server_without_a_model_list_still_works_if_chat_does() -> None:
    def handler(request: HttpRequest) -> Any:
        if request.url.endswith("/chat/completions"):
            return 200, {"content-type": "text/event-stream"}, chat_stream("OK")
        return 404, {}, b"404 page not found"

    h = Harness(handler=handler)
    h.ask({"type": "settings.set", "id": 1, "patch": {"preset": "custom", "base_url": CHAT_BASE}})
    out = h.ask({"type": "settings.test", "id": 2, "probe": True})
    assert out["ok"] is True and out["wire"] == "chat"
    assert "answered “OK” over Chat Completions" in out["message"]


def test_a_server_that_takes_no_key_is_asked_without_the_saved_one() -> None:
    """The OpenAI key saved before, not approved for Ollama: Ollama takes no key, so the turn and
    Test connection go without it (never with it), instead of asking to approve it there."""
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["llama3.2"], seen))
    h.ask({"type": "settings.get", "id": 0})  # the harness's key: approved for the saved OpenAI only
    ollama = {"preset": "ollama", "base_url": "http://127.0.0.1:9/v1", "model": "llama3.2"}
    view = h.ask({"type": "settings.set", "id": 1, "patch": ollama})["settings"]
    assert view["key"]["approved"] is False
    tested = h.ask({"type": "settings.test", "id": 2, "patch": ollama, "probe": True})
    assert tested["ok"] is True, tested
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 3, "text": "hello"})
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there"
    assert [r.url for r in seen if r.method == "POST"][-1] == "http://127.0.0.1:9/v1/chat/completions"
    assert seen and not any("Authorization" in r.headers for r in seen)
    # A server that may take a key (llama.cpp: optional) still needs the user's approval first.
    llamacpp = {"preset": "llamacpp", "base_url": "http://127.0.0.1:9/v1"}
    refused = h.ask({"type": "settings.test", "id": 4, "patch": llamacpp})
    assert refused["kind"] == "key_not_approved"


OLLAMA = {"preset": "ollama", "base_url": CHAT_BASE, "model": "llama3.2"}


def test_switching_from_a_chatgpt_sign_in_profile_asks_the_next_provider_with_its_own_credential() -> None:
    """The credential mode is the provider's: Ollama after a ChatGPT profile is asked as Ollama."""
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["llama3.2"], seen), key=None)
    h.ask({"type": "settings.set", "id": 1, "patch": OLLAMA})
    ollama = h.ask({"type": "profile.save", "id": 2, "name": "Ollama"})["settings"]["active_profile"]
    h.ask({"type": "profile.save", "id": 3, "name": "ChatGPT", "new": True})
    signed = h.ask({"type": "settings.set", "id": 4, "patch": {"preset": "openai", "base_url": "",
                                                               "auth_mode": "chatgpt"}})["settings"]
    assert signed["auth_mode"] == "chatgpt"
    h.ask({"type": "profile.save", "id": 5})
    back = h.ask({"type": "profile.select", "id": 6, "profile_id": ollama}, sender="panel")["settings"]
    assert (back["auth_mode"], back["base_url"]) == ("apikey", CHAT_BASE)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 7, "text": "hello"})
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Hi there"
    assert [r.url for r in seen if r.method == "POST"] == [f"{CHAT_BASE}/chat/completions"]


def test_adding_a_provider_before_any_was_saved_keeps_the_current_one_with_its_key() -> None:
    h = Harness()  # OpenAI with the harness's key, no profile saved yet
    added = h.ask({"type": "profile.save", "id": 1, "name": "Chat server", "new": True})["settings"]
    assert [p["name"] for p in added["profiles"]] == ["OpenAI", "Chat server"]
    assert added["profiles"][1]["id"] == added["active_profile"]
    assert added["key"]["set"] is False  # the new provider starts without the OpenAI key
    custom_chat(h)
    h.ask({"type": "key.set", "id": 2, "key": OTHER_KEY})
    h.ask({"type": "profile.save", "id": 3})
    openai = added["profiles"][0]["id"]
    back = h.ask({"type": "profile.select", "id": 4, "profile_id": openai}, sender="panel")["settings"]
    assert back["base_url"] == "https://api.openai.com/v1" and back["key"] == KEY_VIEW


def broken_profile_store() -> MemoryStore:
    """Saved settings: OpenAI active (profile "pa…"), a profile "pb…" whose saved URL is no
    longer valid (plain http to another machine), and a good one "pc…" (the chat server)."""
    chat = {"preset": "custom", "provider": "compatible", "base_url": CHAT_BASE, "wire_api": "chat"}
    profiles = [{"id": "pa0000000", "name": "OpenAI", "fields": {"preset": "openai"}},
                {"id": "pb0000000", "name": "Broken", "fields": {"preset": "custom",
                                                                 "base_url": "http://example.com/v1"}},
                {"id": "pc0000000", "name": "Chat server", "fields": chat}]
    store = MemoryStore()
    settings = {"schema": SCHEMA_VERSION, "profiles": profiles, "active_profile": "pa0000000"}
    run_sync(store.set({"settings": json.dumps(settings)}))
    return store


def parked(h: Harness, profile_id: str) -> Any:
    """A saved provider's own key record (in memory: the harness has no vault)."""
    assert h.worker.providers is not None
    return h.worker.providers._parked(profile_id)


def test_a_refused_switch_leaves_the_key_where_it_was() -> None:
    """The target's settings are refused: the active key stays in the slot, and a later switch
    parks it under the provider it belongs to, not the one the refused switch named."""
    h = Harness(store=broken_profile_store())
    run_sync(parked(h, "pb0000000").store(OTHER_KEY, ["http://example.com"]))
    refused = h.ask({"type": "profile.select", "id": 1, "profile_id": "pb0000000"}, sender="panel")
    assert refused["type"] == "error" and refused["code"] == "invalid_settings"
    view = h.ask({"type": "settings.get", "id": 2})["settings"]
    assert view["active_profile"] == "pa0000000" and view["key"] == KEY_VIEW
    h.ask({"type": "profile.select", "id": 3, "profile_id": "pc0000000"}, sender="panel")
    back = h.ask({"type": "profile.select", "id": 4, "profile_id": "pa0000000"}, sender="panel")["settings"]
    assert back["key"] == KEY_VIEW  # OpenAI's own key came back, not Broken's


class SlowKeys(MemoryKeySource):
    """The vault's key slot: every read and write takes a few turns of the event loop."""

    async def load(self) -> StoredKey | None:
        await asyncio.sleep(0)
        return await super().load()

    async def store(self, key: str, origins: Any) -> None:
        for _ in range(6):  # (encrypting and writing take longer than reading)
            await asyncio.sleep(0)
        await super().store(key, origins)


@pytest.mark.parametrize("later", range(20))
def test_profile_changes_do_not_interleave(later: int) -> None:
    """Two switches at once (say, two panels; the second ``later`` loop turns after the first):
    each completes before the next reads the settings and the key, so no key ends up filed
    under another provider."""
    h = Harness(store=broken_profile_store(), keys=SlowKeys(KEY))
    run_sync(parked(h, "pc0000000").store(OTHER_KEY, ["http://127.0.0.1:9"]))

    async def select(n: int, profile_id: str, after: int = 0) -> None:
        for _ in range(after):
            await asyncio.sleep(0)
        message = {"type": "profile.select", "id": n, "profile_id": profile_id}
        await h.app.on_runtime_message(json.dumps(message), "panel")

    async def both() -> None:
        await asyncio.gather(select(1, "pc0000000"), select(2, "pa0000000", later))

    run_loop(both())
    active = h.stored("settings")["active_profile"]
    assert run_sync(h.keys.get()) == (KEY if active == "pa0000000" else OTHER_KEY)
    assert run_sync(parked(h, "pa0000000").get()) == KEY  # OpenAI's record holds OpenAI's key
    assert run_sync(parked(h, "pc0000000").get()) == OTHER_KEY


def test_a_model_list_that_arrives_after_a_switch_is_not_given_to_the_new_provider() -> None:
    h: Harness

    def handler(request: HttpRequest) -> Any:
        if request.url == "https://api.openai.com/v1/models":
            # The panel switches to the chat server while OpenAI's list is on its way.
            h.ask({"type": "profile.select", "id": 9, "profile_id": "pc0000000"}, sender="panel")
            return 200, {}, json.dumps({"data": [{"id": "gpt-5"}, {"id": "o3"}]}).encode()
        return chat_server(["deepseek-chat"], [])(request)

    h = Harness(store=broken_profile_store(), handler=handler)
    h.ask({"type": "models.list", "id": 1}, sender="panel")
    view = h.ask({"type": "settings.get", "id": 2})["settings"]
    assert view["active_profile"] == "pc0000000"
    assert "o3" not in view["models"]
    openai = next(p for p in h.stored("settings")["profiles"] if p["id"] == "pa0000000")
    assert "o3" not in openai["fields"].get("models", [])


def test_test_connection_then_save_keeps_the_wire_api_it_found() -> None:
    """The documented order: Test connection on the form's values, then Save: the saved
    provider speaks what the test found, and chat goes to /chat/completions."""
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat"], seen), key=None)
    form = {"preset": "custom", "base_url": CHAT_BASE, "model": "deepseek-chat"}
    out = h.ask({"type": "settings.test", "id": 1, "patch": form, "key": OTHER_KEY, "probe": True})
    assert (out["ok"], out["wire"], out["detected"]) == (True, "chat", True)
    view = h.ask({"type": "settings.set", "id": 2, "patch": form})["settings"]
    assert (view["detected_wire"], view["request_url"]) == ("chat", f"{CHAT_BASE}/chat/completions")
    h.ask({"type": "key.set", "id": 3, "key": OTHER_KEY})
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 4, "text": "hello"})
    assert [r.url for r in seen if r.method == "POST"][-1] == f"{CHAT_BASE}/chat/completions"
    assert h.sent(1, "turn.done")
    # Another server is not taken for the tested one.
    other = h.ask({"type": "settings.set", "id": 5, "patch": {"base_url": "http://127.0.0.1:10/v1"}})
    assert other["settings"]["detected_wire"] is None


def test_after_a_switch_the_open_conversation_goes_on_with_the_new_providers_model() -> None:
    """A conversation written with OpenAI's gpt-5-mini, continued after switching to a server
    that has no such model: its default answers, and the conversation records it."""
    seen: list[HttpRequest] = []
    chat = chat_server(["deepseek-chat"], seen)

    def handler(request: HttpRequest) -> Any:
        if request.url.endswith("/responses"):  # OpenAI
            seen.append(request)
            return 200, {"content-type": "text/event-stream"}, reply_events("Hello")
        return chat(request)

    h = Harness(store=broken_profile_store(), handler=handler)
    run_sync(parked(h, "pc0000000").store(OTHER_KEY, ["http://127.0.0.1:9"]))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hello"})
    [first] = h.sent(1, "turn.done")
    conversation_id = first["conversation_id"]
    h.ask({"type": "profile.select", "id": 2, "profile_id": "pc0000000"}, sender="panel")
    h.ask({"type": "settings.set", "id": 3, "patch": {"model": "deepseek-chat"}})
    h.ask({"type": "models.list", "id": 4}, sender="panel")
    h.send(1, {"type": "chat.send", "id": 5, "text": "again", "conversation_id": conversation_id})
    post = [r for r in seen if r.method == "POST"][-1]
    assert post.url == f"{CHAT_BASE}/chat/completions"
    assert json.loads(post.body or b"")["model"] == "deepseek-chat"
    state = h.ask({"type": "conv.open", "id": 6, "conversation_id": conversation_id}, sender="panel")
    assert state["conversation"]["model"] == "deepseek-chat"
    # Back on OpenAI, a model it offers that is not its default stays the conversation's.
    h.ask({"type": "profile.select", "id": 7, "profile_id": "pa0000000"}, sender="panel")
    h.ask({"type": "conv.settings", "id": 8, "conversation_id": conversation_id, "model": "gpt-4.1"},
          sender="panel")
    h.send(1, {"type": "chat.send", "id": 9, "text": "and again", "conversation_id": conversation_id})
    post = [r for r in seen if r.method == "POST"][-1]
    assert post.url.endswith("/responses") and json.loads(post.body or b"")["model"] == "gpt-4.1"


def test_options_page_writes_are_refused_once_the_panel_switched_provider() -> None:
    """The options page shows provider A; the panel switches to C; the page's save, key and
    approval name A, so the worker refuses them rather than write them onto C."""
    h = Harness(store=broken_profile_store())
    run_sync(parked(h, "pc0000000").store(OTHER_KEY, ["http://127.0.0.1:9"]))
    shown = h.ask({"type": "settings.get", "id": 1})["settings"]["active_profile"]
    assert shown == "pa0000000"
    h.ask({"type": "profile.select", "id": 2, "profile_id": "pc0000000"}, sender="panel")
    stale = [h.ask({"type": "settings.set", "id": 3, "patch": {"model": "gpt-5"}, "active_profile": shown}),
             h.ask({"type": "key.set", "id": 4, "key": KEY, "active_profile": shown}),
             h.ask({"type": "settings.approve", "id": 5, "origin": "http://127.0.0.1:9",
                    "active_profile": shown})]
    for reply in stale:
        assert (reply["type"], reply["code"]) == ("error", "stale"), reply
        assert reply["message"] == "The provider was switched in the panel; reload this page's settings."
    view = h.ask({"type": "settings.get", "id": 6})["settings"]
    assert view["model"] != "gpt-5" and view["key"]["masked"] == "sk-…abcd"  # C's own, untouched
    # Named with the provider in use, the same writes go through.
    ok = h.ask({"type": "settings.set", "id": 7, "patch": {"model": "deepseek-chat"},
                "active_profile": "pc0000000"})
    assert ok["type"] == "settings" and ok["settings"]["model"] == "deepseek-chat"


def test_key_clear_forgets_the_active_providers_key_only() -> None:
    h = Harness(store=broken_profile_store())
    run_sync(parked(h, "pc0000000").store(OTHER_KEY, ["http://127.0.0.1:9"]))
    cleared = h.ask({"type": "key.clear", "id": 1})["settings"]
    assert cleared["key"]["set"] is False
    there = h.ask({"type": "profile.select", "id": 2, "profile_id": "pc0000000"}, sender="panel")["settings"]
    assert there["key"]["masked"] == "sk-…abcd" and there["key"]["approved"] is True


def test_the_model_list_belongs_to_the_server_that_listed_it() -> None:
    seen: list[HttpRequest] = []
    h = Harness(handler=chat_server(["deepseek-chat", "deepseek-reasoner"], seen))
    custom_chat(h)
    h.ask({"type": "models.list", "id": 2}, sender="panel")
    # Saving the same server again (as typed, with a trailing slash) keeps its list ...
    again = h.ask({"type": "settings.set", "id": 3, "patch": {"preset": "custom", "base_url": CHAT_BASE + "/",
                                                              "model": "deepseek-chat"}})["settings"]
    assert again["models"] == ["deepseek-chat", "deepseek-reasoner"]
    # ... another server starts without it.
    moved = h.ask({"type": "settings.set", "id": 4, "patch": {"base_url": "http://127.0.0.1:10/v1"}})["settings"]
    assert moved["models"] == ["deepseek-chat"]  # only the chosen model, until the server lists its own


def test_a_switch_whose_key_cannot_follow_leaves_the_settings_as_they_were() -> None:
    h = Harness(store=broken_profile_store())
    record = parked(h, "pc0000000")

    async def failing() -> StoredKey | None:
        raise RuntimeError("the vault could not be read")

    record.load = failing
    refused = h.ask({"type": "profile.select", "id": 1, "profile_id": "pc0000000"}, sender="panel")
    assert (refused["type"], refused["code"]) == ("error", "key_unavailable")
    assert "the vault could not be read" in refused["message"]
    view = h.ask({"type": "settings.get", "id": 2})["settings"]
    assert (view["active_profile"], view["base_url"], view["key"]) == ("pa0000000", "https://api.openai.com/v1",
                                                                        KEY_VIEW)
