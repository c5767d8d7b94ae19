"""ChatCompletionsStreamParser: chat.completion.chunk streams → ResponseEvents, case by case.

Each case is a body as a server sends it (``data: …`` blocks), run through the
SSE decoder whole, byte by byte and split at every offset: the events and the
error must not depend on where the network cut the bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from modelclient._chat_stream import ChatCompletionsStreamParser, chat_usage
from modelclient._errors import (
    ContextWindowExceededError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    StreamError,
)
from modelclient._events import (
    Completed,
    Created,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ResponseEvent,
)
from modelclient._sse import ServerSentEvent, SSEDecoder
from modelclient._usage import TokenUsage

from ._chunking import chunkings

ID = "chatcmpl-1"
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
TOKENS = TokenUsage(input_tokens=12, output_tokens=5, total_tokens=17)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with a single choice (``delta`` / ``finish_reason``)."""
    body: dict[str, Any] = {"id": ID, "object": "chat.completion.chunk", "created": 1, "model": "m"}
    if delta is not None or finish is not None:
        body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    else:
        body["choices"] = []
    body.update(top)
    return body


def body(*payloads: Any, done: bool = True) -> bytes:
    """``data:`` blocks for each payload (strings verbatim), then ``[DONE]`` unless ``done=False``."""
    out = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
    if done:
        out.append("[DONE]")
    return b"".join(f"data: {data}\n\n".encode() for data in out)


def message(text: str) -> OutputItemDone:
    return OutputItemDone(
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    )


def reasoning(text: str) -> OutputItemDone:
    return OutputItemDone(
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": text}]}
    )


def call(name: str, arguments: str, call_id: str) -> OutputItemDone:
    return OutputItemDone({"type": "function_call", "name": name, "arguments": arguments, "call_id": call_id})


@dataclass
class Run:
    events: list[ResponseEvent]
    error: ModelClientError | None
    parser: ChatCompletionsStreamParser


def run(chunks: list[bytes]) -> Run:
    decoder, parser = SSEDecoder(), ChatCompletionsStreamParser()
    events: list[ResponseEvent] = []
    for piece in chunks:
        for sse in decoder.feed(piece):
            events.extend(parser.feed(sse))
    for sse in decoder.close():
        events.extend(parser.feed(sse))
    error = None
    try:
        events.extend(parser.close())
    except ModelClientError as exc:
        error = exc
    return Run(events, error, parser)


def run_every_way(data: bytes) -> Run:
    reference: Run | None = None
    for label, chunks in chunkings(data):
        result = run(chunks)
        if reference is None:
            reference = result
        else:
            assert result.events == reference.events, label
            assert repr(result.error) == repr(reference.error), label
    assert reference is not None
    return reference


@dataclass
class Case:
    name: str
    data: bytes
    events: list[ResponseEvent]
    error: type[ModelClientError] | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("text", body(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}), chunk({"content": "lo"}),
        chunk({}, "stop"),
    ), [Created(), OutputTextDelta("Hel"), OutputTextDelta("lo"), message("Hello"), Completed(ID, None)]),
    Case("text then usage-only final chunk", body(
        chunk({"content": "Hi"}, usage=None), chunk({}, "stop", usage=None), chunk(usage=USAGE),
    ), [Created(), OutputTextDelta("Hi"), message("Hi"), Completed(ID, TOKENS)]),
    Case("usage in the finish chunk (Mistral, llama.cpp)", body(
        chunk({"content": "Hi"}), chunk({}, "stop", usage=USAGE),
    ), [Created(), OutputTextDelta("Hi"), message("Hi"), Completed(ID, TOKENS)]),
    Case("Groq's x_groq.usage", body(
        chunk({"content": "Hi"}), chunk({}, "stop", x_groq={"id": "req", "usage": USAGE}),
    ), [Created(), OutputTextDelta("Hi"), message("Hi"), Completed(ID, TOKENS)]),
    Case("no [DONE]: the end of the body after finish_reason completes", body(
        chunk({"content": "Hi"}), chunk({}, "stop"), chunk(usage=USAGE), done=False,
    ), [Created(), OutputTextDelta("Hi"), message("Hi"), Completed(ID, TOKENS)]),
    Case("no [DONE] and no finish_reason: a cut stream", body(
        chunk({"content": "Hi"}), done=False,
    ), [Created(), OutputTextDelta("Hi")], StreamError, "stream closed before finish_reason"),
    Case("[DONE] without finish_reason still completes (Codex)", body(
        chunk({"content": "Hi"}),
    ), [Created(), OutputTextDelta("Hi"), message("Hi"), Completed(ID, None)]),
    Case("reasoning_content (DeepSeek, vLLM, llama.cpp)", body(
        chunk({"reasoning_content": "Let me "}), chunk({"reasoning_content": "think."}),
        chunk({"content": "4"}), chunk({}, "stop"),
    ), [Created(), ReasoningContentDelta("Let me ", 0), ReasoningContentDelta("think.", 0),
        OutputTextDelta("4"), reasoning("Let me think."), message("4"), Completed(ID, None)]),
    Case("reasoning as a string (OpenRouter, Ollama) and as an object", body(
        chunk({"reasoning": "a"}), chunk({"reasoning": {"text": "b"}}),
        chunk({"reasoning": {"content": "c"}}), chunk({"content": "x", "reasoning": None}), chunk({}, "stop"),
    ), [Created(), ReasoningContentDelta("a", 0), ReasoningContentDelta("b", 0),
        ReasoningContentDelta("c", 0), OutputTextDelta("x"), reasoning("abc"), message("x"),
        Completed(ID, None)]),
    Case("content as a list of text parts", body(
        chunk({"content": [{"type": "text", "text": "A"}, {"type": "image_url"},
                           {"type": "text", "text": "B"}]}),
        chunk({}, "stop"),
    ), [Created(), OutputTextDelta("AB"), message("AB"), Completed(ID, None)]),
    Case("a tool call split across chunks (OpenAI: id and name first, then argument fragments)", body(
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ty\": \"Par"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "is\"}"}}]}),
        chunk({}, "tool_calls"), chunk(usage=USAGE),
    ), [Created(), call("get_weather", '{"city": "Paris"}', "call_a"), Completed(ID, TOKENS)]),
    Case("two parallel tool calls interleaved by index", body(
        chunk({"tool_calls": [{"index": 0, "id": "c0", "function": {"name": "a", "arguments": "{\"x\""}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "c1", "function": {"name": "b", "arguments": "{"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]}),
        chunk({}, "tool_calls"),
    ), [Created(), call("a", '{"x":1}', "c0"), call("b", "{}", "c1"), Completed(ID, None)]),
    Case("whole calls without index, told apart by id (Gemini)", body(
        chunk({"tool_calls": [
            {"id": "g1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
            {"id": "g2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ), [Created(), call("a", "{}", "g1"), call("b", "{}", "g2"), Completed(ID, None)]),
    Case("every call numbered 0, new ids (some Ollama builds)", body(
        chunk({"tool_calls": [{"index": 0, "id": "o1", "function": {"name": "a", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "o2", "function": {"name": "b", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ), [Created(), call("a", "{}", "o1"), call("b", "{}", "o2"), Completed(ID, None)]),
    Case("a call with no id gets a pairable one", body(
        chunk({"tool_calls": [{"index": 0, "function": {"name": "a", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ), [Created(), call("a", "{}", "call_0"), Completed(ID, None)]),
    Case("text before a tool call: message, then the call", body(
        chunk({"content": "Looking it up."}),
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ), [Created(), OutputTextDelta("Looking it up."), message("Looking it up."), call("f", "{}", "c"),
        Completed(ID, None)]),
    Case("fragments that repeat the call's id", body(
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "}"}}]}),
        chunk({}, "tool_calls"),
    ), [Created(), call("f", "{}", "c"), Completed(ID, None)]),
    Case("a fragment with neither index nor id continues the last call", body(
        chunk({"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{"}}]}),
        chunk({"tool_calls": [{"function": {"arguments": "}"}}]}), chunk({}, "tool_calls"),
    ), [Created(), call("f", "{}", "c"), Completed(ID, None)]),
    Case("a whole answer in one chunk, as `message`", body(
        {"id": ID, "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                               "finish_reason": "stop"}]},
    ), [Created(), OutputTextDelta("Hi"), message("Hi"), Completed(ID, None)]),
    Case("the legacy function_call delta", body(
        chunk({"function_call": {"name": "f", "arguments": "{\"a\""}}),
        chunk({"function_call": {"arguments": ":1}"}}), chunk({}, "function_call"),
    ), [Created(), call("f", '{"a":1}', "call_0"), Completed(ID, None)]),
    Case("a custom (freeform) tool call", body(
        chunk({"tool_calls": [{"index": 0, "id": "c", "type": "custom",
                               "custom": {"name": "patch", "input": "*** "}}]}),
        chunk({"tool_calls": [{"index": 0, "custom": {"input": "End"}}]}), chunk({}, "tool_calls"),
    ), [Created(),
        OutputItemDone({"type": "custom_tool_call", "call_id": "c", "name": "patch", "input": "*** End"}),
        Completed(ID, None)]),
    Case("finish_reason length completes as incomplete; the partial text is kept", body(
        chunk({"content": "Once upon"}), chunk({}, "length"), chunk(usage=USAGE),
    ), [Created(), OutputTextDelta("Once upon"), message("Once upon"),
        Completed(ID, TOKENS, "incomplete", "max_output_tokens")]),
    Case("finish_reason content_filter completes as incomplete", body(
        chunk({"content": "I"}), chunk({}, "content_filter"),
    ), [Created(), OutputTextDelta("I"), message("I"), Completed(ID, None, "incomplete", "content_filter")]),
    Case("length without [DONE] is incomplete too", body(
        chunk({"content": "a"}), chunk({}, "length"), done=False,
    ), [Created(), OutputTextDelta("a"), message("a"),
        Completed(ID, None, "incomplete", "max_output_tokens")]),
    Case("finish_reason end_turn / eos and other values complete", body(
        chunk({"content": "ok"}), chunk({}, "eos"),
    ), [Created(), OutputTextDelta("ok"), message("ok"), Completed(ID, None)]),
    Case("finish_reason error without an error object (OpenRouter)", body(
        chunk({"content": "par"}), chunk({}, "error"),
    ), [Created(), OutputTextDelta("par"), message("par")],
        StreamError, "the server ended the response with an error"),
    Case("mid-stream error then [DONE] (vLLM): the error wins", body(
        chunk({"content": "par"}),
        {"error": {"object": "error", "message": "Internal server error", "type": "InternalServerError",
                   "code": 500}},
    ), [Created(), OutputTextDelta("par"), message("par")], StreamError, "Internal server error"),
    Case("mid-stream error with OpenRouter's numeric code and finish_reason error", body(
        chunk({"content": "x"}),
        chunk({}, "error", error={"code": 502, "message": "Provider disconnected"}),
    ), [Created(), OutputTextDelta("x"), message("x")], StreamError, "Provider disconnected"),
    Case("mid-stream context_length_exceeded is fatal", body(
        {"error": {"message": "too long", "type": "invalid_request_error",
                   "code": "context_length_exceeded"}},
    ), [], ContextWindowExceededError),
    Case("mid-stream insufficient_quota is fatal", body(
        {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
    ), [], QuotaExceededError),
    Case("mid-stream invalid_request_error is fatal", body(
        {"error": {"message": "model 'x' not found", "type": "invalid_request_error", "code": None}},
    ), [], InvalidRequestError, "model 'x' not found"),
    Case("a bare string error (Ollama)", body({"error": "model requires more system memory"}, done=False),
         [], StreamError, "model requires more system memory"),
    Case("a rate-limit error keeps the server's delay", body(
        {"error": {"message": "Rate limit reached. Please try again in 1.5s.",
                   "code": "rate_limit_exceeded"}},
    ), [], StreamError, "Please try again in 1.5s", {"delay": timedelta(seconds=1.5)}),
    Case("malformed chunks are skipped and counted", body(
        "not json", "[1, 2]", "{\"unterminated\": ", chunk({"content": "ok"}), chunk({}, "stop"),
    ), [Created(), OutputTextDelta("ok"), message("ok"), Completed(ID, None, malformed_events=3)],
        extra={"malformed": 3}),
    Case("a second choice is not mixed into the first", body(
        {"id": ID, "choices": [{"index": 0, "delta": {"content": "a"}},
                               {"index": 1, "delta": {"content": "b"}}]},
        chunk({}, "stop"),
    ), [Created(), OutputTextDelta("a"), message("a"), Completed(ID, None)]),
    Case("empty content and role-only deltas produce nothing", body(
        chunk({"role": "assistant"}), chunk({"content": ""}), chunk({}, "stop"),
    ), [Created(), Completed(ID, None)]),
    Case("nothing after [DONE] is read", body(
        chunk({"content": "a"}), chunk({}, "stop"), "[DONE]", chunk({"content": "late"}),
    ), [Created(), OutputTextDelta("a"), message("a"), Completed(ID, None)]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_chunk_adapter(case: Case) -> None:
    result = run_every_way(case.data)
    assert result.events == case.events
    if case.error is None:
        assert result.error is None
        assert result.parser.completed
    else:
        assert type(result.error) is case.error
        assert case.message in str(result.error)
        assert not result.parser.completed
    if "delay" in case.extra:
        assert isinstance(result.error, StreamError)
        assert result.error.delay == case.extra["delay"]
    if "malformed" in case.extra:
        assert result.parser.malformed_count == case.extra["malformed"]


def test_parser_state_after_a_stream() -> None:
    result = run([body(chunk({"content": "a"}), chunk({}, "stop"), chunk(usage=USAGE))])
    parser = result.parser
    assert (parser.saw_done, parser.finish_reason, parser.response_id) == (True, "stop", ID)
    assert parser.error is None


def test_feed_after_completed_only_notes_the_sentinel() -> None:
    parser = ChatCompletionsStreamParser()
    assert parser.feed(ServerSentEvent("message", json.dumps(chunk({}, "stop")))) == [Created()]
    assert parser.feed(ServerSentEvent("message", "[DONE]")) == [Completed(ID, None)]
    assert parser.feed(ServerSentEvent("message", json.dumps(chunk({"content": "x"})))) == []
    assert parser.close() == []


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 3, "completion_tokens": 4},
         TokenUsage(input_tokens=3, output_tokens=4, total_tokens=7)),
        (
            {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16,
             "prompt_tokens_details": {"cached_tokens": 8},
             "completion_tokens_details": {"reasoning_tokens": 4}},
            TokenUsage(input_tokens=10, cached_input_tokens=8, output_tokens=6, reasoning_output_tokens=4,
                       total_tokens=16),
        ),
        (
            {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11, "prompt_cache_hit_tokens": 9},
            TokenUsage(input_tokens=10, cached_input_tokens=9, output_tokens=1, total_tokens=11),
        ),
        ({"prompt_tokens": "3", "completion_tokens": -1, "total_tokens": True}, TokenUsage()),
        (None, None),
    ],
)  # fmt: skip
def test_chat_usage(usage: Any, expected: TokenUsage | None) -> None:
    assert chat_usage({"usage": usage}) == expected
