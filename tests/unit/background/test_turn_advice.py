"""A failed turn carries the provider's advice: a local server that is not running, Ollama's
origin check, a model the server does not have (with the models it has)."""

from __future__ import annotations

import json
from typing import Any

from background.chat.advice import advise
from background.settings.model import Settings
from modelclient import ConnectionFailedError, HttpRequest, InvalidRequestError, MockTransport
from tests.support.aio import run_sync
from tests.unit.background.kit import Harness

OLLAMA = {"preset": "ollama", "base_url": "http://localhost:11434/v1", "model": "llama3"}
ORIGIN = "chrome-extension://abcdefghijklmnop"
LISTED = json.dumps({"object": "list", "data": [{"id": "qwen3:8b"}, {"id": "llama3.2:latest"}]}).encode()
NOT_FOUND = json.dumps({"error": {"message": 'model "llama3" not found, try pulling it first'}}).encode()


def failed_turn(handler: Any) -> tuple[dict[str, Any], Harness]:
    h = Harness(key=None, handler=handler, extension_origin=ORIGIN)
    h.ask({"type": "settings.set", "id": 1, "patch": OLLAMA})
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "hi"})
    [error] = h.sent(1, "turn.error")
    return error, h


def test_a_local_server_that_is_not_running_is_named_with_how_to_start_it() -> None:
    def refused(request: HttpRequest) -> Any:
        raise ConnectionFailedError("Failed to fetch")

    error, _ = failed_turn(refused)
    advice = error["error"]["advice"]
    assert advice["reason"] == "not_running"
    assert advice["text"].startswith("Ollama is not running at http://localhost:11434: start Ollama")
    assert error["assistant"]["error"]["advice"] == advice  # kept with the reply, shown again on reopen


def test_ollama_refusing_the_extension_names_its_origin() -> None:
    error, _ = failed_turn(lambda r: (403, {}, b""))
    advice = error["error"]["advice"]
    assert advice["reason"] == "origins" and f"OLLAMA_ORIGINS={ORIGIN}" in advice["text"]


def test_an_unknown_model_lists_the_models_the_server_has() -> None:
    def server(request: HttpRequest) -> Any:
        if request.method == "GET" and request.url.endswith("/models"):
            return 200, {}, LISTED
        return 404, {}, NOT_FOUND

    error, h = failed_turn(server)
    advice = error["error"]["advice"]
    assert advice["reason"] == "unknown_model"
    assert "has no model “llama3”. It has: qwen3:8b, llama3.2:latest." in advice["text"]
    assert [r.method for r in h.transport.requests][-1] == "GET"  # asked once the turn had failed


def test_an_unknown_model_without_a_list_says_to_refresh_it() -> None:
    def server(request: HttpRequest) -> Any:
        return 404, {}, NOT_FOUND if request.method == "POST" else b"not a list"

    error, _ = failed_turn(server)
    assert "refresh the model list and pick one it has" in error["error"]["advice"]["text"]


def test_errors_with_nothing_better_to_say_carry_no_advice() -> None:
    error, _ = failed_turn(lambda r: (400, {}, b'{"error": {"message": "bad temperature"}}'))
    assert "advice" not in error["error"] and "advice" not in error["assistant"]["error"]


def test_chatgpt_sign_in_gets_no_provider_advice() -> None:
    settings = Settings(auth_mode="chatgpt")
    advice = run_sync(advise(ConnectionFailedError("x"), settings, model="gpt-5", key=None,
                             transport=lambda: MockTransport(lambda r: (200, {}, b""))))
    assert advice is None
    missing = InvalidRequestError("The model `gpt-9` does not exist")
    plain = run_sync(advise(missing, Settings(), model="gpt-9", key=None, transport=None))
    assert plain is not None and plain["reason"] == "unknown_model"
