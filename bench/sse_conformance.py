"""How many of the 68 WHATWG event-stream cases each SSE decoder gets right.

    .venv/bin/python bench/sse_conformance.py

Runs ``tests/corpus/sse-conformance/cases.json`` through our ``SSEDecoder`` and the
``openai`` SDK's decoder, each fed whole, one byte at a time, and cut at the case's
``split_at`` offsets; a case passes only if every feeding gives the expected events
(``event``/``data``/``id``/``retry``; an absent event type counts as "message"). The
final last-event-id/retry state is compared for ours (the SDK keeps none public).
Reported, not asserted: our own unit tests assert ours passes them all.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "py"), str(REPO)]

from modelclient import SSEDecoder  # noqa: E402
from tests.support.paths import corpus_dir  # noqa: E402

Event = dict[str, Any]


def feedings(data: bytes, split_at: list[int] | None) -> Iterable[list[bytes]]:
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    if split_at:
        cuts = [0, *split_at, len(data)]
        yield [data[a:b] for a, b in itertools.pairwise(cuts)]


def ours(chunks: list[bytes]) -> tuple[list[Event], dict[str, Any]]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    events += decoder.close()
    out = [{"event": e.event, "data": e.data, "id": e.id, "retry": e.retry} for e in events]
    return out, {"id": decoder.last_event_id, "retry": decoder.retry}


def openai_sdk(chunks: list[bytes]) -> tuple[list[Event], None]:
    from openai._streaming import SSEDecoder as SdkDecoder

    events = SdkDecoder().iter_bytes(iter(chunks))
    return [
        {"event": e.event or "message", "data": e.data, "id": e.id or "", "retry": e.retry} for e in events
    ], None


def passes(decode: Callable[[list[bytes]], tuple[list[Event], Any]], case: dict[str, Any]) -> bool:
    data = case["input"].encode("utf-8")
    for chunks in feedings(data, case.get("split_at")):
        try:
            events, final = decode(chunks)
        except Exception:
            return False
        if events != case["expected"] or (final is not None and final != case["final"]):
            return False
    return True


def main() -> int:
    cases = json.loads((corpus_dir("sse-conformance") / "cases.json").read_text())
    import openai

    rows = [("ours: modelclient.SSEDecoder", ours), (f"openai {openai.__version__} SSEDecoder", openai_sdk)]
    for name, decode in rows:
        failed = [c["name"] for c in cases if not passes(decode, c)]
        print(f"{name}: {len(cases) - len(failed)}/{len(cases)} cases pass")
        for case in failed:
            print(f"    fails {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
