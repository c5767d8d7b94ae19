"""Chat Completions replies of the mock server: ``POST /chat/completions`` as OpenAI streams it.

A server started with ``wire_apis=("chat",)`` offers only this and ``GET /models``, like
DeepSeek, Mistral, Groq or an older Ollama: the case where a client that speaks only the
Responses API fails. The default reply echoes the last user message, one word per chunk,
then the ``finish_reason`` chunk, the usage chunk when ``stream_options.include_usage``
asks for it, and ``data: [DONE]``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from ._payloads import ECHO_FALLBACK, split_deltas

__all__ = ["chat_chunks", "chat_completion", "chat_echo_text"]


def chat_echo_text(body: Mapping[str, Any] | None) -> str:
    """``Echo: <last user message>`` (its text parts joined), or the fallback."""
    messages = body.get("messages") if isinstance(body, Mapping) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            content = " ".join(parts)
        if isinstance(content, str) and content.strip():
            # The page context comes first and the typed text last: echo what was typed.
            return f"Echo: {content.strip().split(chr(10) * 2)[-1]}"
    return ECHO_FALLBACK


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _tokens(body: Mapping[str, Any] | None) -> int:
    return max(1, len(json.dumps((body or {}).get("messages", ""), ensure_ascii=False)) // 4)


def _usage(body: Mapping[str, Any] | None, text: str) -> dict[str, int]:
    prompt, completion = _tokens(body), max(1, len(text.split()))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_chunks(body: Mapping[str, Any] | None, text: str) -> list[bytes]:
    """The SSE body of a streamed reply of ``text`` to the request ``body``."""
    request = body or {}
    model = str(request.get("model", "mock-model"))
    options = request.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    base = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": None}  # fmt: skip

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        data = {**base, "choices": choices}
        if include_usage:
            data["usage"] = usage
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    out = [chunk([choice({"role": "assistant", "content": ""})])]
    out += [chunk([choice({"content": piece})]) for piece in split_deltas(text)]
    out.append(chunk([choice({}, "stop")]))
    if include_usage:
        out.append(chunk([], _usage(request, text)))
    out.append(b"data: [DONE]\n\n")
    return out


def chat_completion(body: Mapping[str, Any] | None, text: str) -> dict[str, Any]:
    """The whole ``chat.completion`` object of a non-streamed request."""
    return {
        "id": _completion_id(), "object": "chat.completion", "created": int(time.time()),
        "model": str((body or {}).get("model", "mock-model")),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": _usage(body, text),
    }  # fmt: skip
