"""Conformance: recorded Chat Completions streams from real servers → the events they must give.

``tests/fixtures/chat/`` holds streams recorded from llmock's OpenAI, Groq and
Mistral routes and from LiteLLM's proxy (SOURCES.md there), each beside the
``.expect.json`` its recording script wrote from the scripted reply — never from
our parser. Every stream is decoded whole, byte by byte and split at every offset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelclient._events import Completed, Created, OutputItemDone, OutputTextDelta
from tests.support.paths import REPO

from .test_chat_stream import run_every_way

CORPUS = REPO / "tests" / "fixtures" / "chat"
STREAMS = sorted(CORPUS.glob("*.sse"))


def test_the_corpus_is_there() -> None:
    assert len(STREAMS) >= 14
    assert {p.name.split("_")[0] for p in STREAMS} == {"llmock", "litellm"}


@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.stem)
def test_recorded_stream(path: Path) -> None:
    expect: dict[str, Any] = json.loads(path.with_suffix(".expect.json").read_text())
    raw = path.read_bytes()
    result = run_every_way(raw)
    events = result.events
    assert events[0] == Created()
    text = "".join(e.delta for e in events if isinstance(e, OutputTextDelta))
    items = [e.item for e in events if isinstance(e, OutputItemDone)]
    if "error" in expect:
        assert result.error is not None
        assert expect["error"] in str(result.error)
        assert not any(isinstance(e, Completed) for e in events)
    else:
        assert result.error is None
        assert isinstance(events[-1], Completed)
    if expect.get("partial"):
        assert text  # what arrived before the cut was streamed
        return
    assert text == expect["text"]
    assert result.parser.finish_reason == expect["finish"]
    messages = [part["text"] for i in items if i["type"] == "message" for part in i["content"]]
    assert messages == ([expect["text"]] if expect["text"] else [])
    calls = [i for i in items if i["type"] == "function_call"]
    assert [[c["name"], json.loads(c["arguments"])] for c in calls] == expect.get("calls", [])
    assert len({c["call_id"] for c in calls}) == len(calls) and all(c["call_id"] for c in calls)
    assert result.parser.malformed_count == expect.get("malformed", 0)
    if "error" in expect:
        return
    completed = events[-1]
    assert isinstance(completed, Completed)
    assert (completed.status, completed.reason) == (
        ("incomplete", expect["incomplete"]) if "incomplete" in expect else ("completed", None)
    )
    assert completed.malformed_events == expect.get("malformed", 0)
    assert completed.response_id and f'"id":"{completed.response_id}"'.encode() in raw
    usage = expect["usage"]
    if usage is None:
        assert completed.token_usage is None
    else:
        assert completed.token_usage is not None
        got = completed.token_usage
        assert (got.input_tokens, got.output_tokens, got.total_tokens) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
            usage["total_tokens"],
        )
