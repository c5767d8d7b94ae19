"""A failed turn carries the provider's advice: a local server that is not running, Ollama's
origin check, a model the server does not have (with the models it has)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from background.chat import advice as advice_module
from background.chat.advice import advise
from background.compose import compose
from background.settings.model import Settings
from modelclient import ConnectionFailedError, HttpRequest, InvalidRequestError, MockTransport
from tests.support.aio import run_loop, run_sync
from tests.unit.background.kit import Harness
from tests.unit.background.test_app import FakeHost

OLLAMA = {"preset": "ollama", "base_url": "http://localhost:11434/v1", "model": "llama3"}
ORIGIN = "chrome-extension://abcdefghijklmnop"
LISTED = json.dumps({"object": "list", "data": [{"id": "qwen3:8b"}, {"id": "llama3.2:latest"}]}).encode()
NOT_FOUND = json.dumps({"error": {"message": 'model "llama3" not found, try pulling it first'}}).encode()


async def fast_sleep(seconds: float) -> None:  # the client's retry waits, not the bound under test
    await asyncio.sleep(0)


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


class SilentList:
    """A server whose chat fails with an unknown model and whose ``GET /models`` never answers."""

    def __init__(self) -> None:
        self.failing = MockTransport(lambda request: (404, {}, NOT_FOUND))

    async def send(self, request: HttpRequest) -> Any:
        if request.method == "GET":
            await asyncio.Event().wait()  # no answer, ever
        return await self.failing.send(request)

    async def aclose(self) -> None:
        return None


def test_the_model_list_asked_for_the_advice_is_bounded_in_the_worker_as_the_browser_builds_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser's worker is composed without client options (background.main): a server
    that never lists its models still gets the turn's error to the user, without the list."""
    monkeypatch.setattr(advice_module, "LIST_TIMEOUT_S", 0.05)
    host = FakeHost()

    async def run() -> dict[str, Any]:
        worker = compose(host, version="9.9.9", transport=SilentList, sleep=fast_sleep)
        await worker.app.on_runtime_message(json.dumps({"type": "settings.set", "id": 1, "patch": OLLAMA}),
                                            "options")
        worker.app.on_port_connect(1, "panel")
        worker.app.on_port_message(1, json.dumps({"type": "chat.send", "id": 2, "text": "hi"}))
        while not (errors := [m for _, m in host.sent if m["type"] == "turn.error"]):
            await asyncio.sleep(0.01)
        return errors[0]

    error = run_loop(asyncio.wait_for(run(), 5))
    assert error["error"]["advice"]["reason"] == "unknown_model"
    assert "It has" not in error["error"]["advice"]["text"]  # the list never came


def test_a_failure_while_looking_for_advice_still_ends_the_turn_with_its_error() -> None:
    def server(request: HttpRequest) -> Any:
        if request.method == "GET":
            raise RuntimeError("the transport broke")  # not a ModelClientError
        return 404, {}, NOT_FOUND

    error, _ = failed_turn(server)
    assert "llama3" in error["error"]["message"]
    assert error["error"]["advice"]["reason"] == "unknown_model"  # (without the server's list)
