"""Sans-IO Chat Completions stream adapter: ``chat.completion.chunk`` in, ``ResponseEvent`` out.

Codex's ``process_chat_sse`` without the channel, the timer and the socket, with
the same contract as :class:`~modelclient._stream.ResponseStreamParser`, so the
client drives either one the same way::

    decoder, parser = SSEDecoder(), ChatCompletionsStreamParser()
    async for chunk in body:
        for sse in decoder.feed(chunk):
            for event in parser.feed(sse):
                yield event
        if parser.completed:
            break
    for sse in decoder.close():
        ...
    for event in parser.close():   # the end of a stream without [DONE]
        yield event

What the chunks become:

* the first chunk that is not an error → ``Created``;
* ``choices[0].delta.content`` (a string, or a list of ``text`` parts) →
  ``OutputTextDelta``;
* ``delta.reasoning_content`` (DeepSeek, vLLM, llama.cpp, LM Studio) or
  ``delta.reasoning`` (OpenRouter, Ollama; a string, or an object with
  ``text`` / ``content``) → ``ReasoningContentDelta``;
* ``delta.tool_calls`` fragments are assembled per call: by ``index`` as the
  API documents, by ``id`` for servers that send none, and a fragment with
  neither continues the last call. Names are taken once, ``arguments`` (or a
  custom tool's ``input``) are concatenated;
* ``finish_reason`` → ``OutputItemDone`` for the reasoning, the assistant
  message and each call, in that order;
* ``usage`` (or Groq's ``x_groq.usage``) → the ``TokenUsage`` of ``Completed``;
* ``data: [DONE]``, or the end of the body after a ``finish_reason`` →
  ``Completed(id of the chunks, usage)``; after ``finish_reason`` ``length`` /
  ``content_filter`` it says ``status="incomplete"`` with the Responses API's
  reason (``max_output_tokens`` / ``content_filter``), as a ``response.completed``
  whose status is incomplete does.

Failures are recorded and raised by :meth:`~ChatCompletionsStreamParser.close`,
as on the Responses wire: a chunk's ``error`` object (classified like the
Responses ``error`` event: context window and quota fatal, a request the
server rejects fatal, anything else retried), ``finish_reason: "error"``, and a
body that ends before any ``finish_reason`` or ``[DONE]`` (a cut stream).
An error wins over a later ``[DONE]``: vLLM sends its error, then ``[DONE]``.
"""

from __future__ import annotations

from ._errors import ModelClientError, StreamError
from ._events import (
    Completed,
    Created,
    JsonObject,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ResponseEvent,
)
from ._json import loads_untrusted
from ._sse import ServerSentEvent
from ._stream import DONE_SENTINEL, classify_error_event
from ._usage import TokenUsage

__all__ = ["ChatCompletionsStreamParser", "chat_usage"]

#: ``finish_reason`` values that end a response early, with the reason the
#: Responses API gives for the same cut (``incomplete_details.reason``).
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _count(obj: object, key: str) -> int:
    value = obj.get(key) if type(obj) is dict else None
    return value if type(value) is int and value >= 0 else 0


def chat_usage(chunk: JsonObject) -> TokenUsage | None:
    """The token usage a chunk carries, or ``None``.

    ``usage`` (OpenAI and most servers; ``null`` on every chunk but the last
    with ``include_usage``), else Groq's ``x_groq.usage``. ``prompt_tokens`` /
    ``completion_tokens`` are the input / output counts; cached input comes from
    ``prompt_tokens_details.cached_tokens`` or DeepSeek's
    ``prompt_cache_hit_tokens``; a missing ``total_tokens`` is the sum.
    """
    usage = chunk.get("usage")
    if type(usage) is not dict:
        groq = chunk.get("x_groq")
        usage = groq.get("usage") if type(groq) is dict else None
    if type(usage) is not dict:
        return None
    prompt = _count(usage, "prompt_tokens")
    completion = _count(usage, "completion_tokens")
    total = _count(usage, "total_tokens") or prompt + completion
    cached = _count(usage.get("prompt_tokens_details"), "cached_tokens") or _count(
        usage, "prompt_cache_hit_tokens"
    )
    reasoning = _count(usage.get("completion_tokens_details"), "reasoning_tokens")
    return TokenUsage(
        input_tokens=prompt,
        cached_input_tokens=cached,
        output_tokens=completion,
        reasoning_output_tokens=reasoning,
        total_tokens=total,
    )


def _reasoning_text(delta: JsonObject) -> str:
    """The reasoning piece of a delta: ``reasoning_content``, else ``reasoning``."""
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if type(value) is str and value:
            return value
        if type(value) is dict:
            for inner in ("text", "content"):
                text = value.get(inner)
                if type(text) is str and text:
                    return text
    return ""


def _content_text(content: object) -> str:
    """A delta's ``content``: a string, or the text of a list of content parts."""
    if type(content) is str:
        return content
    if type(content) is list:
        return "".join(
            part["text"] for part in content if type(part) is dict and type(part.get("text")) is str
        )
    return ""


def _chunk_error(error: object, data: str, product: str | None) -> ModelClientError:
    """The error of a chunk's ``error`` field, through the Responses error-event classifier.

    Chat servers send ``{"error": {"message", "type", "code", "param"}}`` (OpenAI,
    vLLM, LiteLLM), a numeric HTTP-like ``code`` (OpenRouter), or a bare string
    (Ollama). Non-string fields are made strings so the classifier reads them
    instead of reporting a parse failure.
    """
    fields: JsonObject = {"message": error} if type(error) is str else {}
    if type(error) is dict:
        for key in ("type", "code", "message"):
            value = error.get(key)
            if value is not None:
                fields[key] = value if type(value) is str else str(value)
    return classify_error_event({"error": fields}, data, product)


class _ToolCall:
    __slots__ = ("arguments", "call_id", "custom", "name")

    def __init__(self) -> None:
        self.call_id = ""
        self.name = ""
        self.arguments: list[str] = []
        self.custom = False

    def item(self, position: int) -> JsonObject:
        call_id = self.call_id or f"call_{position}"  # a server that sent no id still gets a pairable one
        if self.custom:
            return {
                "type": "custom_tool_call",
                "call_id": call_id,
                "name": self.name,
                "input": "".join(self.arguments),
            }
        return {
            "type": "function_call",
            "name": self.name,
            "arguments": "".join(self.arguments),
            "call_id": call_id,
        }


class ChatCompletionsStreamParser:
    """Turns the SSEs of one Chat Completions stream into ``ResponseEvent`` values.

    One parser per HTTP response. ``feed`` never raises; ``close`` returns the
    events a stream without ``[DONE]`` still owes, or raises the stream's error.
    """

    __slots__ = (
        "_by_id",
        "_by_index",
        "_calls",
        "_completed",
        "_created",
        "_error",
        "_finish_reason",
        "_malformed",
        "_product",
        "_reasoning",
        "_response_id",
        "_saw_done",
        "_seen",
        "_text",
        "_usage",
    )

    def __init__(self, *, product: str | None = None) -> None:
        self._product = product
        self._seen = False
        self._completed = False
        self._created = False
        self._error: ModelClientError | None = None
        self._finish_reason: str | None = None
        self._malformed = 0
        self._response_id: str | None = None
        self._saw_done = False
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[_ToolCall] = []
        self._by_index: dict[int, int] = {}
        self._by_id: dict[str, int] = {}
        self._usage: TokenUsage | None = None

    @property
    def completed(self) -> bool:
        """Whether ``Completed`` has been produced (the caller may stop reading)."""
        return self._completed

    @property
    def error(self) -> ModelClientError | None:
        """The error recorded so far; raised by :meth:`close`."""
        return self._error

    @property
    def finish_reason(self) -> str | None:
        """The ``finish_reason`` of the first choice, once it arrived."""
        return self._finish_reason

    @property
    def malformed_count(self) -> int:
        """How many events were skipped because their data was not a JSON object."""
        return self._malformed

    @property
    def saw_event(self) -> bool:
        """Whether any event was fed at all (a JSON body sent as SSE feeds none)."""
        return self._seen

    @property
    def saw_done(self) -> bool:
        """Whether a ``data: [DONE]`` sentinel was seen."""
        return self._saw_done

    @property
    def response_id(self) -> str | None:
        """The ``id`` of the chunks (``chatcmpl-…``), once one arrived."""
        return self._response_id

    def feed(self, sse: ServerSentEvent) -> list[ResponseEvent]:
        """Process one dispatched SSE; return the events it produces (often one)."""
        data = sse.data
        self._seen = True
        if self._completed:
            self._saw_done = self._saw_done or data.strip() == DONE_SENTINEL
            return []
        if data.strip() == DONE_SENTINEL:
            self._saw_done = True
            return self._finish()
        try:
            chunk = loads_untrusted(data)
        except ValueError:  # bad JSON, NaN/Infinity, nested 128 deep
            self._malformed += 1
            return []
        if type(chunk) is not dict:
            self._malformed += 1
            return []
        error = chunk.get("error")
        if error is not None:
            self._error = _chunk_error(error, data, self._product)
        events: list[ResponseEvent] = []
        if not self._created and self._error is None:
            self._created = True
            events.append(Created())
        chunk_id = chunk.get("id")
        if self._response_id is None and type(chunk_id) is str and chunk_id:
            self._response_id = chunk_id
        usage = chat_usage(chunk)
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        if type(choices) is list:
            for choice in choices:
                # n=1 is all we ask for; another index would be a second answer.
                if type(choice) is dict and choice.get("index", 0) in (0, None):
                    self._on_choice(choice, events)
        return events

    def close(self) -> list[ResponseEvent]:
        """Mark the end of the byte stream; return what a stream without ``[DONE]`` still owes.

        Raises:
            ModelClientError: the recorded error, or ``StreamError("stream closed
                before finish_reason")`` when the body ended before any
                ``finish_reason`` (a cut stream).
        """
        if self._completed:
            return []
        if self._error is None and self._finish_reason is None:
            # A cut stream: like a Responses stream without response.completed,
            # its partial answer is not an item.
            self._error = StreamError("stream closed before finish_reason")
        events = [] if self._error is not None else self._finish()
        if self._error is not None:
            raise self._error
        return events

    # -- internals --

    def _on_choice(self, choice: JsonObject, events: list[ResponseEvent]) -> None:
        delta = choice.get("delta")
        if type(delta) is not dict:
            # A few servers put the whole message of a one-chunk answer here.
            delta = choice.get("message")
        if type(delta) is dict:
            reasoning = _reasoning_text(delta)
            if reasoning:
                self._reasoning.append(reasoning)
                events.append(ReasoningContentDelta(reasoning, 0))
            text = _content_text(delta.get("content"))
            if text:
                self._text.append(text)
                events.append(OutputTextDelta(text))
            tool_calls = delta.get("tool_calls")
            if type(tool_calls) is list:
                for fragment in tool_calls:
                    if type(fragment) is dict:
                        self._on_tool_call(fragment)
            legacy = delta.get("function_call")  # the pre-tools `functions` API
            if type(legacy) is dict:
                self._on_tool_call({"index": -1, "function": legacy})
        finish = choice.get("finish_reason")
        if type(finish) is str and finish:
            self._finish_reason = finish
            events.extend(self._flush_items())

    def _on_tool_call(self, fragment: JsonObject) -> None:
        index = fragment.get("index")
        call_id = fragment.get("id")
        if type(call_id) is not str or not call_id:
            call_id = None
        position: int | None = None
        if call_id is not None and call_id in self._by_id:
            position = self._by_id[call_id]
        elif type(index) is int and index in self._by_index:
            slot = self._by_index[index]
            # Some servers number every call 0; a new id there is a new call.
            if call_id is None or not self._calls[slot].call_id:
                position = slot
        elif type(index) is not int and call_id is None and self._calls:
            position = len(self._calls) - 1
        if position is None:
            self._calls.append(_ToolCall())
            position = len(self._calls) - 1
        if type(index) is int:
            self._by_index[index] = position
        call = self._calls[position]
        if call_id is not None and not call.call_id:
            call.call_id = call_id
            self._by_id[call_id] = position
        body = fragment.get("function")
        piece_key = "arguments"
        if fragment.get("type") == "custom" or type(fragment.get("custom")) is dict:
            body = fragment.get("custom")
            piece_key = "input"
            call.custom = True
        if type(body) is dict:
            name = body.get("name")
            if type(name) is str and name and not call.name:
                call.name = name
            piece = body.get(piece_key)
            if type(piece) is str:
                call.arguments.append(piece)

    def _flush_items(self) -> list[ResponseEvent]:
        """``OutputItemDone`` for what has accumulated: reasoning, message, then calls."""
        events: list[ResponseEvent] = []
        if self._reasoning:
            text = "".join(self._reasoning)
            self._reasoning = []
            events.append(
                OutputItemDone(
                    {
                        "type": "reasoning",
                        "summary": [],
                        "content": [{"type": "reasoning_text", "text": text}],
                    }
                )
            )
        if self._text:
            text = "".join(self._text)
            self._text = []
            events.append(
                OutputItemDone(
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text}],
                    }
                )
            )
        if self._calls:
            events.extend(OutputItemDone(call.item(n)) for n, call in enumerate(self._calls))
            self._calls, self._by_index, self._by_id = [], {}, {}
        return events

    def _finish(self) -> list[ResponseEvent]:
        """The end of the response: flush items, then ``Completed`` unless it failed."""
        events = self._flush_items()
        if self._error is None and self._finish_reason == "error":
            # OpenRouter, when no error object came with it.
            self._error = StreamError("the server ended the response with an error")
        if self._error is None:
            self._completed = True
            reason = INCOMPLETE_REASONS.get(self._finish_reason or "")
            status = "completed" if reason is None else "incomplete"
            events.append(Completed(self._response_id or "", self._usage, status, reason, self._malformed))
        return events
