"""Chunking and replay helpers: the same bytes, cut every way that matters.

h11's ``tr()`` and openai-python's ``test_every_chunk_boundary`` in one place:
every decoder input runs whole, one byte at a time, and split in two at every
offset (sampled evenly above ``EVERY_OFFSET_LIMIT`` bytes, so the 140 kB
conformance case stays fast under Pyodide).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from modelclient._errors import ModelClientError
from modelclient._events import ResponseEvent
from modelclient._sse import ServerSentEvent, SSEDecoder
from modelclient._stream import ResponseStreamParser

EVERY_OFFSET_LIMIT = 8192
SAMPLED_OFFSETS = 257


def split_offsets(size: int, *, limit: int = EVERY_OFFSET_LIMIT, samples: int = SAMPLED_OFFSETS) -> list[int]:
    """Offsets to cut an input of ``size`` bytes at: all of them up to ``limit``
    bytes, else ``samples`` evenly spaced ones plus both ends."""
    if size <= limit:
        return list(range(size + 1))
    step = max(size // samples, 1)
    return sorted({*range(0, size + 1, step), 1, 2, 3, size - 1, size} & set(range(size + 1)))


def chunkings(
    data: bytes,
    *extra: Iterable[int],
    limit: int = EVERY_OFFSET_LIMIT,
    samples: int = SAMPLED_OFFSETS,
) -> Iterator[tuple[str, list[bytes]]]:
    """Yield ``(label, chunks)``: whole, byte by byte, split in two (see
    :func:`split_offsets`), then cut at each list of offsets in ``extra``."""
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    for offset in split_offsets(len(data), limit=limit, samples=samples):
        yield f"split@{offset}", [data[:offset], data[offset:]]
    for cuts in extra:
        points = [0, *cuts, len(data)]
        yield f"cuts{list(cuts)}", [data[a:b] for a, b in itertools.pairwise(points)]


def decode(chunks: Iterable[bytes]) -> tuple[list[ServerSentEvent], SSEDecoder]:
    """Feed ``chunks`` to a fresh decoder, close it, and return the events and the decoder."""
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events, decoder


def decode_every_way(data: bytes, *extra: Iterable[int]) -> list[ServerSentEvent]:
    """Decode ``data`` every way :func:`chunkings` cuts it; fail unless all agree.

    Returns the events of the whole-input run.
    """
    reference: list[ServerSentEvent] | None = None
    for label, chunks in chunkings(data, *extra):
        events, _ = decode(chunks)
        if reference is None:
            reference = events
        else:
            assert events == reference, f"{label}: chunking changed the events"
    assert reference is not None
    return reference


@dataclass
class StreamRun:
    """What decoding + parsing one byte stream gave."""

    events: list[ResponseEvent]
    error: ModelClientError | None
    parser: ResponseStreamParser
    sse_count: int


def run_stream(chunks: Iterable[bytes]) -> StreamRun:
    """Bytes → ``SSEDecoder`` → ``ResponseStreamParser``, as the client shell drives them.

    Every chunk is fed: the parser itself ignores whatever follows ``Completed``.
    """
    decoder, parser = SSEDecoder(), ResponseStreamParser()
    events: list[ResponseEvent] = []
    count = 0
    for chunk in chunks:
        for sse in decoder.feed(chunk):
            count += 1
            events.extend(parser.feed(sse))
    for sse in decoder.close():  # always empty (WHATWG), fed for symmetry
        count += 1
        events.extend(parser.feed(sse))
    error: ModelClientError | None = None
    try:
        parser.close()
    except ModelClientError as exc:
        error = exc
    return StreamRun(events, error, parser, count)
