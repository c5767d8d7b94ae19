"""The JSON shapes the live Responses API sends, built fresh for each request.

Strategy: everything here is pure (no sockets, no asyncio) so the shapes can be
checked on their own. The shapes follow the recorded streams of the test corpus
(`corpus/responses/sse/aibridge_simple_gpt4o_mini.sse`, `pai_text_gpt4o.sse`) and
Codex's own test fixtures: `event: <type>` + one compact `data:` line
+ a blank line, `sequence_number` on every event, the full response object on
`response.created` / `.in_progress` / `.completed`, and error bodies shaped
`{"error": {"message", "type", "param", "code"}}` as the public API sends them.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_MODEL",
    "FAILED_MESSAGES",
    "HTTP_ERROR_KINDS",
    "ResponseContext",
    "error_body",
    "http_error_parts",
    "last_user_text",
    "new_id",
    "output_text_part",
    "rate_limit_message",
    "split_deltas",
    "sse_event",
    "usage",
]

DEFAULT_MODEL = "gpt-4o-mini"
ECHO_FALLBACK = "Hello from the SidePy mock Responses API."

JSONDict = dict[str, Any]


def sse_event(payload: Mapping[str, Any], name: str | None = None) -> bytes:
    """Frame one event the way the API does: ``event:`` line, one compact ``data:`` line.

    ``name`` defaults to the payload's ``type``; pass ``""`` for a data-only event.
    """
    event_name = payload.get("type") if name is None else name
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event_name}\n" if event_name else ""
    return f"{head}data: {data}\n\n".encode()


def new_id(prefix: str) -> str:
    """An id shaped like the API's (``resp_``/``msg_`` + 50 hex digits)."""
    return f"{prefix}_{secrets.token_hex(25)}"


_TOKEN = re.compile(r"\s*\S+")


def split_deltas(text: str) -> list[str]:
    """Split ``text`` into word-sized deltas (``"The", " capital", " of"``) losslessly."""
    pieces = _TOKEN.findall(text)
    if not pieces:
        return [text] if text else []
    # Trailing whitespace belongs to the last delta, so "".join(...) == text.
    pieces[-1] += text[len("".join(pieces)) :]
    return pieces


def last_user_text(body: Mapping[str, Any] | None) -> str | None:
    """The text of the last user message of a Responses request, if any.

    ``input`` is either a string or a list of items whose ``content`` is a string
    or a list of ``input_text`` parts.
    """
    if not body:
        return None
    items = body.get("input")
    if isinstance(items, str):
        return items
    if not isinstance(items, list):
        return None
    for item in reversed(items):
        if not isinstance(item, Mapping) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, Mapping) and part.get("type") in ("input_text", "text")
            )
    return None


def output_text_part(text: str) -> JSONDict:
    """An ``output_text`` content part."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def usage(
    input_tokens: int, output_tokens: int, *, cached_tokens: int = 0, reasoning_tokens: int = 0
) -> JSONDict:
    """A ``usage`` object with both detail blocks, as on ``response.completed``."""
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


class ResponseContext:
    """Per-request state shared by the steps of one scripted stream.

    Holds the response id, model, creation time and the ``sequence_number``
    counter, so events written by different steps (a text turn, then a
    ``response.failed``) agree with each other as they do on the live API.
    """

    def __init__(self, request: Mapping[str, Any] | None = None) -> None:
        self.request: Mapping[str, Any] = request or {}
        model = self.request.get("model")
        self.model = model if isinstance(model, str) and model else DEFAULT_MODEL
        self.response_id = new_id("resp")
        self.created_at = int(time.time())
        self.output: list[JSONDict] = []
        self.started = False  # response.created already sent
        self._seq = 0

    def echo_text(self) -> str:
        """The default reply: echoes the last user message so tests can tell requests apart."""
        text = last_user_text(self.request)
        return f"Echo: {text}" if text else ECHO_FALLBACK

    def input_tokens(self) -> int:
        """A rough token count of the request (4 bytes a token), never zero."""
        size = len(json.dumps(self.request.get("input", ""), ensure_ascii=False))
        return max(1, size // 4)

    @property
    def message_id(self) -> str:
        """The id of the assistant message item (derived from the response id)."""
        return f"msg_{self.response_id[5:]}"

    def message_item(self, text: str | None, status: str) -> JSONDict:
        """An assistant message item; ``text=None`` gives the empty ``content`` of ``.added``."""
        content = [] if text is None else [output_text_part(text)]
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    def event(self, type_: str, **fields: Any) -> JSONDict:
        """An event payload with the next ``sequence_number``."""
        payload: JSONDict = {"type": type_, **fields, "sequence_number": self._seq}
        self._seq += 1
        return payload

    def response(
        self,
        status: str,
        *,
        output: list[JSONDict] | None = None,
        usage: JSONDict | None = None,
        error: JSONDict | None = None,
        incomplete_details: JSONDict | None = None,
    ) -> JSONDict:
        """The full response object, with request settings echoed like the live API."""
        req = self.request
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": incomplete_details,
            "instructions": req.get("instructions"),
            "max_output_tokens": req.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": self.model,
            "output": list(self.output if output is None else output),
            "parallel_tool_calls": req.get("parallel_tool_calls", True),
            "previous_response_id": req.get("previous_response_id"),
            "prompt_cache_key": req.get("prompt_cache_key"),
            "reasoning": req.get("reasoning") or {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": req.get("store", True),
            "temperature": req.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": req.get("tool_choice", "auto"),
            "tools": req.get("tools", []),
            "top_logprobs": 0,
            "top_p": req.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": req.get("metadata") or {},
        }


# -- response.failed messages (corpus codex_failed_*.sse) --------------------


def rate_limit_message(model: str, retry_in: str = "1.5s") -> str:
    """The TPM rate-limit text whose "Please try again in …" clients parse."""
    return (
        f"Rate limit reached for {model} in organization org-mock on tokens per min (TPM): "
        f"Limit 30000, Used 29710, Requested 1504. Please try again in {retry_in}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )


_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)

FAILED_MESSAGES: dict[str, str] = {
    "context_length_exceeded": (
        "Your input exceeds the context window of this model. "
        "Please adjust your input and try again."
    ),
    "insufficient_quota": _QUOTA_MESSAGE,
    "server_error": "The model failed to generate a response.",
    "server_is_overloaded": "Our servers are currently overloaded. Please try again later.",
}
"""``response.failed`` messages by ``error.code`` (``rate_limit_exceeded`` is built per model)."""


# -- HTTP error bodies ----------------------------------------------------------------------------


def error_body(
    message: str, type_: str, *, param: str | None = None, code: str | int | None = None
) -> JSONDict:
    """An OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _redact(key: str) -> str:
    # The API shows the first and last few characters of a wrong key.
    return f"{key[:3]}{'*' * max(1, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "sk-***"


HTTP_ERROR_KINDS = (
    "rate_limit",
    "model_not_found",
    "usage_limit_reached",
    "usage_not_included",
    "insufficient_quota",
    "invalid_api_key",
    "invalid_request",
    "invalid_json",
    "not_found",
    "server_error",
    "bad_gateway",
    "service_unavailable",
    "server_overloaded",
)
"""The ``kind`` values :func:`http_error_parts` knows."""


def http_error_parts(
    kind: str,
    *,
    model: str = DEFAULT_MODEL,
    message: str | None = None,
    api_key: str | None = None,
    plan_type: str = "plus",
    resets_in_seconds: int = 3600,
    retry_in: str = "20s",
    detail: str = "",
) -> tuple[int, JSONDict]:
    """Status and body of one kind of non-stream error reply.

    The bodies copy the corpus (``corpus/responses/errors/``) and Codex's 429 fixtures:
    ``usage_limit_reached`` carries ``plan_type``, ``resets_at`` and
    ``resets_in_seconds`` like the ChatGPT backend; ``rate_limit`` is the public
    API's RPM message with its "Please try again in …" hint.
    """
    if kind == "rate_limit":
        text = message or (
            f"Rate limit reached for {model} in organization org-mock on requests per min "
            f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {retry_in}. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        return 429, error_body(text, "requests", code="rate_limit_exceeded")
    if kind == "usage_limit_reached":
        body: JSONDict = {
            "error": {
                "type": "usage_limit_reached",
                "message": message or "The usage limit has been reached",
                "plan_type": plan_type,
                "resets_at": int(time.time()) + resets_in_seconds,
                "resets_in_seconds": resets_in_seconds,
            }
        }
        return 429, body
    if kind == "usage_not_included":
        return 429, {"error": {"type": "usage_not_included", "message": message or ""}}
    if kind == "insufficient_quota":
        text = message or _QUOTA_MESSAGE
        return 429, error_body(text, "insufficient_quota", code="insufficient_quota")
    if kind == "invalid_api_key":
        text = message or (
            f"Incorrect API key provided: {_redact(api_key or '')}. You can find your API key "
            "at https://platform.openai.com/account/api-keys."
        )
        return 401, error_body(text, "invalid_request_error", code="invalid_api_key")
    if kind == "invalid_request":
        text = message or (
            "Invalid 'temperature': decimal below minimum value. "
            "Expected a value >= 0, but got -1 instead."
        )
        code = None if message else "decimal_below_min_value"
        param = None if message else "temperature"
        return 400, error_body(text, "invalid_request_error", param=param, code=code)
    if kind == "invalid_json":
        text = message or (
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)"
        )
        return 400, error_body(text, "invalid_request_error")
    if kind == "model_not_found":
        text = message or f"The model `{model}` does not exist or you do not have access to it."
        return 404, error_body(text, "invalid_request_error", code="model_not_found")
    if kind == "not_found":
        return 404, error_body(message or f"Invalid URL ({detail})", "invalid_request_error")
    if kind == "server_error":
        text = message or (
            "The server had an error while processing your request. Sorry about that!"
        )
        return 500, error_body(text, "server_error")
    if kind == "bad_gateway":
        return 502, error_body(message or "Bad gateway.", "cf_bad_gateway", code=502)
    if kind == "service_unavailable":
        text = message or "The server is overloaded or not ready yet."
        return 503, error_body(text, "server_error")
    if kind == "server_overloaded":
        text = message or FAILED_MESSAGES["server_is_overloaded"]
        return 503, error_body(text, "server_error", code="server_is_overloaded")
    raise ValueError(f"unknown HTTP error kind {kind!r}; known: {', '.join(HTTP_ERROR_KINDS)}")
