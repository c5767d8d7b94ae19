"""The 68 WHATWG framing cases of the test corpus (``sse-conformance/cases.json``).

Each case's input (the UTF-8 encoding of its ``input`` string) is decoded whole,
one byte at a time, at its ``split_at`` cuts, and split in two at every offset;
every run must give the ``expected`` events and the ``final`` stream state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.paths import corpus_dir

from ._chunking import chunkings, decode

CASES: list[dict[str, Any]] = json.loads(
    (corpus_dir("sse-conformance") / "cases.json").read_text(encoding="utf-8")
)


def test_the_corpus_has_all_68_cases() -> None:
    assert len(CASES) == 68
    assert len({case["name"] for case in CASES}) == 68


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    data = case["input"].encode("utf-8")
    extra = [case["split_at"]] if case.get("split_at") else []
    for label, chunks in chunkings(data, *extra):
        events, decoder = decode(chunks)
        got = [{"event": e.event, "data": e.data, "id": e.id, "retry": e.retry} for e in events]
        assert got == case["expected"], f"{case['name']} [{label}]"
        final = {"id": decoder.last_event_id, "retry": decoder.retry}
        assert final == case["final"], f"{case['name']} [{label}] final state"
