"""Property tests: chunking never matters, nothing crashes, usage arithmetic holds."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelclient._errors import ModelClientError
from modelclient._events import Completed, ResponseEvent
from modelclient._sse import ServerSentEvent, SSEDecoder
from modelclient._stream import ResponseStreamParser
from modelclient._usage import TokenUsage

from ._chunking import decode

# No deadline and no too-slow check: Pyodide under Node is several times slower.
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Field values never contain a line end (they could not be written as one line).
line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"))
id_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"))
ending = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def cut(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at arbitrary (sorted, possibly repeated) offsets."""
    offsets = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    points = [0, *offsets, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A well-formed stream with one line ending throughout, and the events it must give."""
    eol = draw(ending)
    lines: list[str] = []
    expected: list[ServerSentEvent] = []
    current_id = ""
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.none() | line_text.filter(bool))
        data_lines = draw(st.lists(line_text, min_size=1, max_size=4))
        new_id = draw(st.none() | id_text)
        if draw(st.booleans()):
            lines.append(": " + draw(line_text))
        if name is not None:
            lines.append(f"event: {name}")
        if new_id is not None:
            lines.append(f"id: {new_id}")
            current_id = new_id
        lines.extend(f"data: {d}" for d in data_lines)
        lines.append("")
        expected.append(ServerSentEvent(name or "message", "\n".join(data_lines), current_id))
    return "".join(line + eol for line in lines).encode("utf-8"), expected


@SETTINGS
@given(st.data())
def test_decoding_a_stream_gives_its_events_however_it_is_cut(data: st.DataObject) -> None:
    body, expected = data.draw(event_streams())
    chunks = data.draw(cut(body))
    events, _ = decode(chunks)
    assert events == expected


@SETTINGS
@given(st.data())
def test_arbitrary_bytes_never_crash_and_chunking_never_matters(data: st.DataObject) -> None:
    alphabet = st.sampled_from(
        [
            b"\n",
            b"\r",
            b"\r\n",
            b":",
            b" ",
            b"data",
            b"id",
            b"event",
            b"retry",
            b"12",
            b"\x00",
            b"\xef\xbb\xbf",
            b"\xe2\x82",
            b"\xff",
            b"x",
            b"{}",
        ]
    )
    body = b"".join(data.draw(st.lists(alphabet, max_size=60))) + data.draw(st.binary(max_size=40))
    whole, whole_decoder = decode([body])
    events, decoder = decode(data.draw(cut(body)))
    assert events == whole
    assert (decoder.last_event_id, decoder.retry) == (
        whole_decoder.last_event_id,
        whole_decoder.retry,
    )
    for event in events:
        assert isinstance(event, ServerSentEvent)
        assert event.data is not None


@SETTINGS
@given(st.binary(max_size=300))
def test_random_binary_never_crashes_the_decoder(body: bytes) -> None:
    decoder = SSEDecoder()
    for i in range(0, len(body), 7):
        decoder.feed(body[i : i + 7])
    assert decoder.close() == []


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
TYPES = [
    "response.created",
    "response.output_item.done",
    "response.output_item.added",
    "response.output_text.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_part.added",
    "response.completed",
    "response.failed",
    "response.incomplete",
    "response.in_progress",
    "error",
    "response.unknown",
]
KEYS = ["response", "item", "delta", "summary_index", "content_index", "error", "id", "usage"]


@st.composite
def response_payloads(draw: st.DrawFn) -> str:
    """SSE data: usually a plausible Responses event with odd field values, sometimes junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=30) | st.just("[DONE]"))
    obj: dict[str, Any] = {"type": draw(st.sampled_from(TYPES) | json_values)}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        obj[key] = draw(json_values)
    if draw(st.booleans()):
        obj["response"] = {
            "id": draw(st.text(max_size=8) | json_values),
            "usage": draw(
                st.none()
                | json_values
                | st.fixed_dictionaries(
                    {
                        "input_tokens": st.integers(0, 99),
                        "output_tokens": st.integers(0, 99),
                        "total_tokens": st.integers(0, 199),
                    }
                )
            ),
            "error": draw(json_values),
            "incomplete_details": draw(json_values),
        }
    return json.dumps(obj)


@SETTINGS
@given(st.lists(response_payloads(), max_size=12))
def test_parser_never_crashes_on_arbitrary_sse(payloads: list[str]) -> None:
    parser = ResponseStreamParser()
    events: list[ResponseEvent] = []
    for i, payload in enumerate(payloads):
        produced = parser.feed(ServerSentEvent("message", payload))
        assert isinstance(produced, list)
        if i and events and isinstance(events[-1], Completed):
            assert produced == []  # nothing after Completed
        events.extend(produced)
    completed = [e for e in events if isinstance(e, Completed)]
    assert len(completed) <= 1
    assert parser.completed is bool(completed)
    try:
        parser.close()
    except ModelClientError:
        assert not completed
    else:
        assert completed


@SETTINGS
@given(st.lists(st.text(max_size=50), max_size=10))
def test_parser_never_crashes_on_arbitrary_text(datas: list[str]) -> None:
    parser = ResponseStreamParser()
    for data in datas:
        parser.feed(ServerSentEvent("message", data))
    assert 0 <= parser.malformed_count <= len(datas)


counts = st.integers(0, 10**9)
usages = st.builds(TokenUsage, counts, counts, counts, counts, counts)


@SETTINGS
@given(usages, usages, usages)
def test_usage_addition_is_a_commutative_monoid(a: TokenUsage, b: TokenUsage, c: TokenUsage) -> None:
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + TokenUsage() == a
    assert sum([a, b, c]) == a + b + c


@SETTINGS
@given(usages)
def test_usage_round_trips_through_the_api_shape(usage: TokenUsage) -> None:
    api = {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_output_tokens},
        "total_tokens": usage.total_tokens,
    }
    assert TokenUsage.from_api(api, strict=True) == usage


@SETTINGS
@given(usages, st.integers(0, 2 * 10**6))
def test_percent_left_is_between_0_and_100_and_monotone(usage: TokenUsage, window: int) -> None:
    percent = usage.percent_of_context_window_remaining(window)
    assert 0 <= percent <= 100
    more = usage + TokenUsage(total_tokens=1000)
    assert more.percent_of_context_window_remaining(window) <= percent
