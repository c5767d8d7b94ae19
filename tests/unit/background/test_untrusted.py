"""The guarded decoder: every JSON that enters the worker, with depth and size limits.

In Pyodide, ``json.loads`` of deeply nested text overflows the C stack: a fatal
error that kills the interpreter. These run inside Pyodide too (``./test.sh pyodide``):
were a path unguarded, that run would die, not fail.
"""

from __future__ import annotations

import json

import pytest

from background.store.records import StoredConversation
from background.store.storage import MemoryStore, Records, StorageProblem
from background.untrusted import MAX_DEPTH, UntrustedInput, decode, decode_message
from tests.support.aio import run_sync
from tests.unit.background.kit import Harness

DEEP = "[" * 100_000 + "]" * 100_000


def test_depth_size_and_constants_are_refused_before_decoding() -> None:
    assert decode("[" * MAX_DEPTH + "]" * MAX_DEPTH, max_chars=1000) is not None
    with pytest.raises(UntrustedInput, match="nested more than 127"):
        decode("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), max_chars=1000)
    with pytest.raises(UntrustedInput, match="nested"):
        decode_message(DEEP)
    with pytest.raises(UntrustedInput, match="too large"):
        decode('"' + "x" * 100 + '"', max_chars=50, what="the file")
    with pytest.raises(UntrustedInput, match="not valid JSON"):
        decode("NaN", max_chars=10)
    with pytest.raises(UntrustedInput, match="not text"):
        decode(None, max_chars=10)


def test_deep_json_from_every_door_is_an_error_reply_and_the_worker_goes_on() -> None:
    h = Harness()
    for sender in ("panel", "options", "content"):
        reply = json.loads(run_sync(h.app.on_runtime_message(DEEP, sender)))
        assert reply["code"] == "malformed" and "nested" in reply["message"]
    h.connect(1)
    h.app.on_port_message(1, DEEP)
    assert h.sent(1, "error")[-1]["code"] == "malformed"
    imported = h.ask({"type": "conv.import", "id": 2, "text": DEEP})
    assert imported["code"] == "bad_import" and "nested" in imported["message"]
    page = {"type": "chat.send", "id": 3, "text": "hi", "context": {"title": "t", "url": "u", "text": "x"}}
    assert h.ask(page)["type"] == "chat.accepted"
    assert h.ask({"type": "ping", "id": 4})["type"] == "pong"


def test_a_deeply_nested_stored_record_is_reported_not_decoded() -> None:
    store = MemoryStore()
    store.data["conv.c1"] = '{"id": "c1", "messages": ' + DEEP + "}"
    records = Records(store)
    with pytest.raises(StorageProblem, match="nested"):
        run_sync(records.read("conv.c1", StoredConversation, "A conversation"))
