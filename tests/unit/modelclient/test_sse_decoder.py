"""SSEDecoder: WHATWG event-stream framing, every input fed whole, bytewise and split."""

from __future__ import annotations

import dataclasses
import time

import pytest

from modelclient._sse import ServerSentEvent, SSEDecoder

from ._chunking import decode, decode_every_way


def ev(data: str, event: str = "message", id: str = "", retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(event, data, id, retry)


# (name, input bytes, expected events) — each row runs whole, bytewise and at every split.
CASES: list[tuple[str, bytes, list[ServerSentEvent]]] = [
    ("single", b"data: hi\n\n", [ev("hi")]),
    ("named", b"event: response.created\ndata: {}\n\n", [ev("{}", "response.created")]),
    ("two-events", b"data: a\n\ndata: b\n\n", [ev("a"), ev("b")]),
    ("multi-line-data", b"data: a\ndata: b\ndata:\n\n", [ev("a\nb\n")]),
    ("lf", b"data: x\ndata: y\n\n", [ev("x\ny")]),
    ("cr", b"data: x\rdata: y\r\r", [ev("x\ny")]),
    ("crlf", b"data: x\r\ndata: y\r\n\r\n", [ev("x\ny")]),
    ("mixed-endings", b"data: a\rdata: b\ndata: c\r\n\r\n", [ev("a\nb\nc")]),
    ("lf-then-cr-is-two-ends", b"data: a\n\rdata: b\n\n", [ev("a"), ev("b")]),
    ("cr-cr-lf", b"data: a\r\r\ndata: b\r\n\r\n", [ev("a"), ev("b")]),
    ("comment", b": keep-alive\ndata: x\n: another\n\n", [ev("x")]),
    ("comment-only", b": hello\n\n:\n\n", []),
    ("no-colon-field", b"data\n\n", [ev("")]),
    ("space-stripped-once", b"data:  two\n\n", [ev(" two")]),
    ("tab-kept", b"data:\tx\n\n", [ev("\tx")]),
    ("colon-in-value", b"data: a: b\n\n", [ev("a: b")]),
    ("unknown-field", b"foo: bar\nData: no\ndata: yes\n\n", [ev("yes")]),
    ("event-reset-after-dispatch", b"event: a\ndata: 1\n\ndata: 2\n\n", [ev("1", "a"), ev("2")]),
    ("empty-event-name", b"event:\ndata: 1\n\n", [ev("1")]),
    ("dataless-block-not-dispatched", b"event: ping\n\n", []),
    ("dataless-block-resets-event", b"event: foo\n\ndata: x\n\n", [ev("x")]),
    ("bom-at-start", b"\xef\xbb\xbfdata: x\n\n", [ev("x")]),
    ("bom-only-once", b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\ndata: 2\n\n", [ev("2")]),
    ("bom-mid-stream-is-text", b"data: 1\n\n\xef\xbb\xbfdata: 2\n\n", [ev("1")]),
    ("bom-prefix-without-bom", b"\xef\xbbdata: x\n\n", []),
    ("id", b"id: 7\ndata: x\n\n", [ev("x", id="7")]),
    ("id-persists", b"id: 1\ndata: a\n\ndata: b\n\n", [ev("a", id="1"), ev("b", id="1")]),
    ("id-reset-by-empty", b"id: 1\ndata: a\n\nid\ndata: b\n\n", [ev("a", id="1"), ev("b")]),
    ("id-with-nul-ignored", b"id: 1\ndata: a\n\nid: x\x00y\ndata: b\n\n",
     [ev("a", id="1"), ev("b", id="1")]),
    ("id-committed-by-dataless-block", b"id: 4\n\ndata: a\n\n", [ev("a", id="4")]),
    ("retry", b"retry: 1500\ndata: a\n\n", [ev("a", retry=1500)]),
    ("retry-persists", b"retry: 10\ndata: a\n\ndata: b\n\n",
     [ev("a", retry=10), ev("b", retry=10)]),
    ("retry-digits-only",
     b"retry: 5\nretry: -1\nretry: 1.5\nretry: 1e3\nretry: 7 \nretry:\ndata: a\n\n",
     [ev("a", retry=5)]),
    ("retry-non-ascii-digit-ignored", "retry: \u0661\u0662\ndata: a\n\n".encode(), [ev("a")]),
    ("retry-leading-zero", b"retry: 0020\ndata: a\n\n", [ev("a", retry=20)]),
    ("utf8", "data: \u20ac \u6211 \U0001f600\n\n".encode(), [ev("\u20ac \u6211 \U0001f600")]),
    ("invalid-utf8-replaced", b"data: a\xffb\xe2\x82\n\n", [ev("a\ufffdb\ufffd")]),
    ("nul-in-data-kept", b"data: \x00\n\n", [ev("\x00")]),
    ("trailing-event-without-blank-line-discarded", b"data: done\n\ndata: cut\n", [ev("done")]),
    ("trailing-unterminated-line-discarded", b"data: done\n\ndata: cut", [ev("done")]),
    ("trailing-cr-at-eof-dispatches", b"data: x\n\r", [ev("x")]),
    ("leading-blank-lines", b"\r\n\n\rdata: x\n\n", [ev("x")]),
    ("json-body-is-not-sse", b'{"error":"boom"}\n', []),
    ("done-sentinel", b"data: [DONE]\n\n", [ev("[DONE]")]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_case_every_chunking(name: str, data: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode_every_way(data) == expected


def test_crlf_split_exactly_between_cr_and_lf() -> None:
    events, _ = decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert events == [ev("a\nb")]


def test_cr_at_chunk_end_then_non_lf() -> None:
    events, _ = decode([b"data: a\r", b"data: b\n\n"])
    assert events == [ev("a\nb")]


def test_cr_at_chunk_end_then_empty_chunks_then_lf() -> None:
    events, _ = decode([b"data: a\r", b"", b"\n", b"\n"])
    assert events == [ev("a")]


def test_utf8_character_split_across_three_chunks() -> None:
    euro = "\u20ac".encode()
    events, _ = decode([b"data: ", euro[:1], euro[1:2], euro[2:] + b"\n\n"])
    assert events == [ev("\u20ac")]


def test_bom_split_across_chunks() -> None:
    events, _ = decode([b"\xef", b"\xbb", b"\xbf", b"data: x\n\n"])
    assert events == [ev("x")]


def test_events_are_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b\n\nda") == [ev("a"), ev("b")]
    assert decoder.feed(b"ta: c\n") == []
    assert decoder.feed(b"\n") == [ev("c")]
    assert decoder.close() == []


def test_final_state_exposes_last_event_id_and_retry() -> None:
    # The id of an unterminated final block is never committed; retry takes
    # effect when read.
    events, decoder = decode([b"id: 1\nretry: 300\ndata: a\n\nid: 2\nretry: 400\ndata: b\n"])
    assert events == [ev("a", id="1", retry=300)]
    assert decoder.last_event_id == "1"
    assert decoder.retry == 400


def test_initial_state() -> None:
    decoder = SSEDecoder()
    assert decoder.last_event_id == ""
    assert decoder.retry is None
    assert decoder.feed(b"") == []
    assert decoder.close() == []


def test_close_discards_pending_event_and_is_idempotent() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: pending\n") == []
    assert decoder.close() == []
    assert decoder.close() == []


def test_feed_after_close_raises() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(RuntimeError, match=r"feed\(\) called after close\(\)"):
        decoder.feed(b"data: x\n\n")


def test_huge_line_in_small_chunks_is_linear() -> None:
    # 4 MiB of data in 256-byte pieces: re-joining the pending bytes on every
    # feed would copy ~32 GiB and take minutes; pieces kept in a list take ms.
    payload = b"x" * (4 * 1024 * 1024)
    body = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    started = time.perf_counter()
    for i in range(0, len(body), 256):
        events.extend(decoder.feed(body[i : i + 256]))
    elapsed = time.perf_counter() - started
    assert len(events) == 1
    assert len(events[0].data) == len(payload)
    assert elapsed < 10.0, f"took {elapsed:.1f}s: pending bytes are re-scanned"


def test_many_events_in_one_chunk() -> None:
    body = b"".join(b"data: %d\n\n" % i for i in range(1000))
    events, _ = decode([body])
    assert [e.data for e in events] == [str(i) for i in range(1000)]


def test_server_sent_event_is_a_frozen_value() -> None:
    sse = ServerSentEvent("message", "x")
    assert (sse.event, sse.data, sse.id, sse.retry) == ("message", "x", "", None)
    assert sse == ServerSentEvent("message", "x", "", None)
    assert hash(sse) == hash(ServerSentEvent("message", "x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sse.data = "y"  # type: ignore[misc]
    assert not hasattr(sse, "__dict__")
