"""Providers beyond OpenAI: the model list, wire-API detection, presets and their sentences."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelclient._client import ModelClient
from modelclient._errors import (
    ConnectionFailedError,
    InvalidRequestError,
    RetryLimitError,
    StreamError,
    UnauthorizedError,
    UnexpectedStatusError,
)
from modelclient._models import NotAModelListError, list_models, parse_model_list
from modelclient._presets import (
    PRESETS,
    advise_failure,
    explain_failure,
    find_preset,
    guess_preset,
    reasoning_efforts,
)
from modelclient._provider import ModelProviderInfo, ModelSettings, WireApi
from modelclient._retry import RetryPolicy
from modelclient._transport import HttpRequest, MockTransport
from modelclient._wire_detect import Probe, decide, detect_wire_api, endpoint_missing
from tests.support.aio import run_sync

from .test_chat_client import chunks
from .test_client import SSE_HEADERS, Clock, no_timeout, reply_body

# ------------------------------------------------------------------ model list


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        ({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}, {"id": "o3"}]}, ["gpt-4o", "o3"]),
        ({"data": [{"id": "llama3.2:latest"}, {"id": "llama3.2:latest"}, {"id": " "}]}, ["llama3.2:latest"]),
        ({"models": [{"name": "qwen3:8b", "model": "qwen3:8b"}]}, ["qwen3:8b"]),  # Ollama's /api/tags
        ({"models": [{"slug": "gpt-5-codex"}]}, ["gpt-5-codex"]),  # the ChatGPT backend
        ({"data": ["a", 1, None, {"id": 5}, {"id": "b"}]}, ["a", "b"]),
        ({"data": []}, []),
    ],
)  # fmt: skip
def test_parse_model_list(body: Any, ids: list[str]) -> None:
    assert parse_model_list(json.dumps(body).encode()) == ids


@pytest.mark.parametrize("body", [b"<html>hi</html>", b"{}", b'{"data": {}}', b"[]", b"[" * 200])
def test_not_a_model_list(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_model_list(body)


def fetch_models(status: int, body: bytes, *, key: str | None = "sk-x", **provider: Any) -> Any:
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest) -> Any:
        seen.append(request)
        return status, {"content-type": "application/json"}, body

    info = ModelProviderInfo(base_url="http://127.0.0.1:9/v1", **provider)
    try:
        result: Any = run_sync(list_models(MockTransport(handler), info, bearer_token=key))
    except Exception as exc:  # the tests look at which
        result = exc
    return result, seen


def test_list_models_sends_the_turns_auth_and_headers() -> None:
    ids, [request] = fetch_models(200, b'{"data": [{"id": "m1"}]}', query_params={"api-version": "v1"},
                                  http_headers={"api-key": "k"}, organization="org-1")  # fmt: skip
    assert ids == ["m1"]
    assert (request.method, request.url) == ("GET", "http://127.0.0.1:9/v1/models?api-version=v1")
    assert request.headers["Authorization"] == "Bearer sk-x"
    assert request.headers["api-key"] == "k" and request.headers["OpenAI-Organization"] == "org-1"


def test_list_models_without_a_key_sends_no_authorization() -> None:
    _, [request] = fetch_models(200, b'{"data": []}', key=None)
    assert "Authorization" not in request.headers


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, b'{"error": {"message": "bad key"}}', UnauthorizedError),
        (404, b"404 page not found", UnexpectedStatusError),
        (503, b"", RetryLimitError),
        (200, b"<!doctype html>", NotAModelListError),
    ],
)  # fmt: skip
def test_list_models_failures_use_the_error_tree(status: int, body: bytes, kind: type) -> None:
    error, _ = fetch_models(status, body)
    assert type(error) is kind


def test_list_models_timeout_is_a_connection_failure() -> None:
    async def too_slow(awaitable: Any, seconds: float) -> Any:
        awaitable.close()
        raise TimeoutError

    transport = MockTransport(lambda r: (200, {}, b'{"data": []}'))
    with pytest.raises(ConnectionFailedError, match="within 2 s"):
        run_sync(list_models(transport, ModelProviderInfo(base_url="http://h/v1"), with_timeout=too_slow,
                             timeout_s=2))  # fmt: skip


# ------------------------------------------------------------------ wire detection


@pytest.mark.parametrize(
    ("probe", "missing"),
    [
        (Probe("responses", False, error=UnexpectedStatusError(404, "404 page not found")), True),
        (Probe("responses", False, error=UnexpectedStatusError(405, "")), True),
        (Probe("responses", False, error=UnexpectedStatusError(501, "")), True),
        (Probe("responses", False, error=InvalidRequestError("Invalid URL (POST /v1/responses)")), True),
        (Probe("responses", False, error=InvalidRequestError("Unrecognized request URL (POST /v1/x)")), True),
        (Probe("responses", False, error=StreamError("stream closed before response.completed")), True),
        (Probe("responses", True, error=StreamError("stream closed before response.completed")), False),
        (Probe("responses", False, error=StreamError("idle timeout waiting for SSE")), False),
        (Probe("responses", False, error=UnauthorizedError("bad key")), False),
        (Probe("responses", False, error=InvalidRequestError("model 'x' not found")), False),
        (Probe("responses", False, error=RetryLimitError(429)), False),
        # A 501 is a 5xx: the client's request retry classifies it, and without retries
        # (a probe's) it arrives as the retry limit with that status.
        (Probe("responses", False, error=RetryLimitError(501)), True),
        (Probe("responses", False, error=RetryLimitError(503)), False),
        (Probe("responses", True), False),
    ],
)  # fmt: skip
def test_endpoint_missing(probe: Probe, missing: bool) -> None:
    assert endpoint_missing(probe) is missing


def test_decide() -> None:
    failed = Probe("responses", False, error=UnexpectedStatusError(404, ""))
    assert decide([failed, Probe("chat", True)]) == "chat"
    assert decide([Probe("responses", True)]) == "responses"
    assert decide([failed, Probe("chat", False, error=UnauthorizedError())]) is None


def server(routes: dict[str, tuple[int, dict[str, str], Any]]) -> MockTransport:
    def handler(request: HttpRequest) -> Any:
        path = request.url.split("/v1", 1)[1]
        return routes.get(path, (404, {}, b"404 page not found"))

    return MockTransport(handler)


def detect(transport: MockTransport) -> Any:
    def make(wire: WireApi) -> ModelClient:
        return ModelClient(
            transport,
            settings=ModelSettings(model="m"),
            provider=ModelProviderInfo(base_url="http://127.0.0.1:9/v1", wire_api=wire),
            auth="sk-x",
            retry=RetryPolicy(request_max_retries=0, stream_max_retries=0),
            sleep=Clock().sleep,
            with_timeout=no_timeout,
        )

    return run_sync(detect_wire_api(make))


def test_detects_responses_first() -> None:
    transport = server({"/responses": (200, SSE_HEADERS, reply_body("OK")),
                        "/chat/completions": (200, SSE_HEADERS, chunks("OK"))})  # fmt: skip
    wire, probes = detect(transport)
    assert wire == "responses" and len(probes) == 1
    assert probes[0].text == "OK" and probes[0].usage is not None
    assert [r.url.rsplit("/", 1)[1] for r in transport.requests] == ["responses"]
    body = json.loads(transport.requests[0].body or b"")
    assert body["instructions"].startswith("This is a connection test")


def test_detects_chat_when_responses_is_missing() -> None:
    transport = server({"/chat/completions": (200, SSE_HEADERS, chunks("OK"))})
    wire, probes = detect(transport)
    assert wire == "chat"
    assert [p.wire_api for p in probes] == ["responses", "chat"]
    assert probes[1].text == "OK" and probes[1].usage is not None and probes[1].usage.total_tokens == 11


def test_detects_chat_when_responses_answers_200_with_no_stream() -> None:
    # LM Studio answers unknown paths with 200 and an error object.
    lm_studio = (200, {"content-type": "application/json"}, b'{"error": "Unexpected endpoint or method."}')
    wire, _ = detect(server({"/responses": lm_studio, "/chat/completions": (200, SSE_HEADERS, chunks("OK"))}))
    assert wire == "chat"


def test_a_bad_key_is_not_taken_for_a_missing_endpoint() -> None:
    refused = (401, {}, b'{"error": {"message": "Incorrect API key"}}')
    transport = server({"/responses": refused, "/chat/completions": refused})
    wire, probes = detect(transport)
    assert wire is None and len(probes) == 1 and isinstance(probes[0].error, UnauthorizedError)


def test_neither_wire_answers() -> None:
    wire, probes = detect(server({}))
    assert wire is None and len(probes) == 2
    assert all(isinstance(p.error, UnexpectedStatusError) for p in probes)


# ------------------------------------------------------------------ presets


def test_every_preset_the_issue_names_is_there() -> None:
    ids = {p.id for p in PRESETS}
    assert ids == {"openai", "azure", "openrouter", "groq", "deepseek", "mistral", "gemini", "ollama",
                   "lmstudio", "llamacpp", "vllm", "custom"}  # fmt: skip
    for preset in PRESETS:
        # Base URL and key are all a user types: each preset has one or says how it looks.
        assert preset.base_url or preset.base_url_example, preset.id
        assert preset.key == "none" or preset.local or preset.key_where or preset.id == "custom", preset.id
        assert not preset.local or preset.start, preset.id


def test_provider_info_from_a_preset() -> None:
    info = find_preset("mistral").provider_info()
    assert info.base_url == "https://api.mistral.ai/v1"
    assert (info.wire_api, info.chat_include_usage) == ("chat", False)
    assert find_preset("azure").provider_info("https://r.openai.azure.com/openai/v1").is_azure_responses_endpoint()
    assert find_preset("custom").provider_info("http://h/v1").wire_api == "responses"
    assert find_preset("custom").provider_info("http://h/v1", wire_api="chat").wire_api == "chat"
    assert find_preset("no-such-id").id == "custom"


@pytest.mark.parametrize(
    ("url", "preset"),
    [
        ("https://api.groq.com/openai/v1", "groq"),
        ("http://localhost:11434/v1", "ollama"),
        ("127.0.0.1:1234/v1", "lmstudio"),
        ("http://localhost:8080", "llamacpp"),
        ("https://my.openai.azure.com/openai/v1", "azure"),
        ("https://api.deepseek.com", "deepseek"),
        ("http://localhost:9999/v1", "custom"),
        ("http://localhost:bad/v1", "custom"),
    ],
)
def test_guess_preset(url: str, preset: str) -> None:
    assert guess_preset(url).id == preset


OLLAMA = find_preset("ollama")
LOCAL = "http://localhost:11434/v1"


@pytest.mark.parametrize(
    ("error", "preset", "kw", "expected"),
    [
        (ConnectionFailedError("refused"), OLLAMA, {},
         "Ollama is not running at http://localhost:11434: start Ollama (the app, or `ollama serve` in a "
         "terminal), then try again."),
        (ConnectionFailedError("refused"), find_preset("vllm"), {}, "vLLM is not running at http://localhost:11434"),
        (ConnectionFailedError("dns"), find_preset("groq"), {}, "Could not connect to http://localhost:11434"),
        (UnexpectedStatusError(403, ""), OLLAMA, {"extension_origin": "chrome-extension://abc"},
         "set OLLAMA_ORIGINS=chrome-extension://abc"),
        (UnexpectedStatusError(404, '{"error":{"message":"model \\"llama3\\" not found, try pulling it"}}'),
         OLLAMA, {"model": "llama3", "models": ["qwen3:8b", "llama3.2:latest"]},
         "Ollama has no model “llama3”. It has: qwen3:8b, llama3.2:latest. Pick one in the model list or run "
         "`ollama pull llama3`."),
        (InvalidRequestError("The model `gpt-6` does not exist or you do not have access to it."),
         find_preset("openai"), {"model": "gpt-6", "models": [f"m{i}" for i in range(20)]},
         "It has: m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11 and 8 more."),
        (InvalidRequestError("Model Not Exist"), find_preset("deepseek"), {"model": "deepseek-v9"},
         "DeepSeek has no model “deepseek-v9”: refresh the model list"),
        (UnauthorizedError(""), find_preset("groq"), {"has_key": False},
         "Groq needs an API key: add it in Settings (get one at console.groq.com → API Keys)."),
        (UnauthorizedError(""), find_preset("custom"), {},
         "The server at http://localhost:11434 refused the API key (HTTP 401)"),
        (UnexpectedStatusError(404, "404 page not found"), OLLAMA, {},
         "Nothing answers at http://localhost:11434/v1/chat/completions (HTTP 404): check the base URL; "
         "for Ollama it is http://localhost:11434/v1."),
    ],
)  # fmt: skip
def test_explain(error: Any, preset: Any, kw: dict[str, Any], expected: str) -> None:
    text = explain_failure(error, preset, LOCAL, **kw)
    assert text is not None and expected in text


@pytest.mark.parametrize(
    ("error", "preset", "kw", "reason"),
    [
        (ConnectionFailedError("refused"), OLLAMA, {}, "not_running"),
        (ConnectionFailedError("dns"), find_preset("groq"), {}, "unreachable"),
        (UnauthorizedError(""), find_preset("groq"), {"has_key": False}, "needs_key"),
        (UnauthorizedError(""), find_preset("groq"), {}, "bad_key"),
        (UnexpectedStatusError(403, ""), OLLAMA, {}, "origins"),
        (InvalidRequestError("Model Not Exist"), find_preset("deepseek"), {"model": "x"}, "unknown_model"),
        (UnexpectedStatusError(404, "404 page not found"), OLLAMA, {}, "wrong_url"),
    ],
)  # fmt: skip
def test_advice_says_what_it_is_about(error: Any, preset: Any, kw: dict[str, Any], reason: str) -> None:
    advice = advise_failure(error, preset, LOCAL, **kw)
    assert advice is not None and advice.reason == reason
    assert advice.text == explain_failure(error, preset, LOCAL, **kw)


def test_explain_has_nothing_better_for_other_errors() -> None:
    assert explain_failure(RetryLimitError(429), find_preset("openai"), "https://api.openai.com/v1") is None
    assert explain_failure(UnexpectedStatusError(404, "x"), find_preset("custom"), "http://h/v1") is None


@pytest.mark.parametrize(
    ("model", "efforts"),
    [
        ("gpt-5-mini", ("minimal", "low", "medium", "high")),
        ("gpt-5.1", ("none", "low", "medium", "high")),
        ("openai/gpt-5.2", ("none", "low", "medium", "high", "xhigh")),
        ("gpt-5.1-codex", ("low", "medium", "high")),
        ("gpt-5.1-codex-max", ("low", "medium", "high", "xhigh")),
        ("gpt-5.2-codex", ("low", "medium", "high", "xhigh")),
        ("o4-mini", ("low", "medium", "high")),
        ("openai/o3", ("low", "medium", "high")),
        ("gpt-oss:20b", ("low", "medium", "high")),
        ("gpt-5-codex", ("low", "medium", "high")),
        ("gpt-4o", ()),
        ("deepseek-reasoner", ()),
        ("llama3.2:latest", ()),
    ],
)
def test_reasoning_efforts(model: str, efforts: tuple[str, ...]) -> None:
    assert reasoning_efforts(model) == efforts
