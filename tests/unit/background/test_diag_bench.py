"""diag.bench_sse: the SSE benchmark handler answers with timings of the right shape."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from background.dev.diag import sample_stream, sse_memory
from modelclient import SSEDecoder
from tests.unit.background.test_app import ask, make_app


def bench(**msg: Any) -> dict[str, Any]:
    app, _ = make_app()
    return ask(app, {"type": "diag.bench_sse", "id": 7, **msg})


def test_bench_sse_reports_timings_and_memory() -> None:
    reply = bench(events=50, chunk=7, repeat=2)
    assert (reply["type"], reply["id"]) == ("diag.bench_sse.done", 7)
    body = sample_stream(50)
    assert (reply["events"], reply["bytes"], reply["chunk"]) == (50, len(body), 7)
    assert reply["chunks"] == -(-len(body) // 7)
    assert reply["sha256"] == hashlib.sha256(body).hexdigest()
    assert reply["sse_events"] == reply["response_events"] == 50
    for key in ("decoder_s", "parser_s"):
        assert len(reply[key]) == 2 and all(isinstance(s, float) and s >= 0 for s in reply[key])
    memory = reply["memory"]
    assert memory["tool"] == "tracemalloc" and memory["events"] == 50 and memory["every"] == 5
    assert memory["samples"][-1][0] == 50 and len(memory["samples"]) >= 2
    assert all(isinstance(v, int) for v in (memory["peak_first"], memory["peak_rest"], memory["end"]))
    assert isinstance(reply["wasm_heap"], list)  # filled only in Pyodide
    assert reply["python"].count(".") == 2


def test_bench_sse_can_skip_memory() -> None:
    reply = bench(events=2, chunk=1 << 20, repeat=1, memory=False)
    assert reply["response_events"] == 2 and "memory" not in reply


@pytest.mark.parametrize("bad", [{"events": 1}, {"chunk": 0}, {"repeat": "3"}, {"events": True}])
def test_bench_sse_rejects_bad_arguments(bad: dict[str, Any]) -> None:
    reply = bench(**bad)
    assert (reply["type"], reply["code"]) == ("error", "bad_request")


def test_sample_stream_decodes_to_the_requested_events() -> None:
    events = SSEDecoder().feed(sample_stream(5))
    assert [e.event for e in events] == [
        "response.created", *["response.output_text.delta"] * 3, "response.completed"
    ]


def test_sse_memory_when_already_tracing() -> None:
    import tracemalloc

    body = sample_stream(20)
    tracemalloc.start()
    try:
        memory = sse_memory([body[i : i + 100] for i in range(0, len(body), 100)], every=100)
        assert tracemalloc.is_tracing()  # left as it found it
    finally:
        tracemalloc.stop()
    assert memory["samples"] == [[20, memory["end"]]] and memory["peak_first"] == memory["peak_rest"]
