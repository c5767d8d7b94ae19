"""``loads_untrusted``: the one decoder for server JSON, and every place that uses it.

In Pyodide, ``json.loads`` of a deeply nested array does not raise: it overflows
the WebAssembly stack and kills the interpreter. This file also runs inside
Pyodide (``tests/pyodide/run.py tests/unit/modelclient/test_json.py``), so each
"refused without crashing" test below proves exactly that there.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from modelclient._classify import classify_http_error
from modelclient._errors import (
    InvalidRequestError,
    RetryLimitError,
    StreamError,
    UnauthorizedError,
    UnexpectedStatusError,
)
from modelclient._json import MAX_DEPTH, loads_untrusted, too_deep
from modelclient._retry import Fatal, RetryableHttp, RetryPolicy
from modelclient._sse import ServerSentEvent
from modelclient._stream import ResponseStreamParser

HOSTILE = "[" * 100_000 + "]" * 100_000
HOSTILE_OBJECTS = '{"error":' * 100_000 + "1" + "}" * 100_000
# Shaped like a real error body, with the bomb one field down.
HOSTILE_ERROR = (
    '{"error":{"code":"rate_limit_exceeded","message":"Please try again in 20s.","x":' + HOSTILE + "}}"
)
HOSTILE_BODIES = [HOSTILE, HOSTILE_OBJECTS, HOSTILE_ERROR, "[" * 100_000]
HOSTILE_IDS = ["arrays", "objects", "inside-an-error", "unclosed"]
RATE_LIMIT = "Please try again in 20s."


def arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth + isinstance(value, list)


def rate_limit_body(depth: int) -> str:
    """A 429 body with a "try again in" hint, nesting ``depth`` levels in all."""
    filler = arrays(depth - 2)  # the body object and `error` are two levels
    return f'{{"error":{{"code":"rate_limit_exceeded","message":"{RATE_LIMIT}","x":{filler}}}}}'


# -- the decoder -------------------------------------------------------------


def test_the_limit_is_serde_json_s() -> None:
    assert MAX_DEPTH == 127


def test_depth_127_is_accepted() -> None:
    assert depth_of(loads_untrusted(arrays(127))) == 127
    objects = '{"a":' * 127 + "1" + "}" * 127
    assert loads_untrusted(objects) is not None
    mixed = '{"a":' * 63 + "[" * 64 + "]" * 64 + "}" * 63
    assert loads_untrusted(mixed) is not None


@pytest.mark.parametrize(
    "text",
    [arrays(128), '{"a":' * 128 + "1" + "}" * 128, '{"a":' * 64 + "[" * 64 + "]" * 64 + "}" * 64],
    ids=["arrays", "objects", "mixed"],
)
def test_depth_128_is_refused(text: str) -> None:
    assert too_deep(text)
    with pytest.raises(ValueError, match="nested deeper than 127"):
        loads_untrusted(text)


@pytest.mark.parametrize("text", HOSTILE_BODIES, ids=HOSTILE_IDS)
def test_100000_deep_is_refused_without_crashing(text: str) -> None:
    with pytest.raises(ValueError):
        loads_untrusted(text)


@pytest.mark.parametrize(
    "text",
    ["NaN", "[NaN]", '{"a": Infinity}', "[-Infinity]", '{"error": {"code": NaN}}'],
)
def test_nan_and_infinity_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid JSON constant"):
        loads_untrusted(text)


@pytest.mark.parametrize("text", ["", "not json", "{", "[1,]", '{"a" 1}', "[1] x", "'a'"])
def test_invalid_json_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        loads_untrusted(text)


def test_ordinary_json_decodes_as_json_loads_does() -> None:
    text = '{"a": [1, 2.5, -3e2, "x\\u00e9", true, false, null], "b": {}}'
    assert loads_untrusted(text) == json.loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["[{" * 500, '\\"[' * 500, "}]" * 500])
    assert not too_deep(text)
    assert loads_untrusted(text) == ["[{" * 500, '\\"[' * 500, "}]" * 500]


def test_an_unterminated_string_is_scanned_once() -> None:
    # A string that never closes hides what follows from the decoder too. The
    # scan stays linear: the former per-quote rescan took minutes on this.
    text = "[" * 200 + '"' + '\\"' * 200_000
    start = time.monotonic()
    assert too_deep(text)
    assert not too_deep('"' + '\\"' * 200_000 + "[" * 200)
    assert not too_deep('"abc\\')
    assert time.monotonic() - start < 5
    with pytest.raises(ValueError):
        loads_untrusted('"' + '\\"' * 200_000 + "[" * 200)


# -- call site 1: classify_http_error (_classify) ------------------------------


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=HOSTILE_IDS)
def test_classify_400_with_a_hostile_body_keeps_the_raw_body(body: str) -> None:
    got = classify_http_error(400, {}, body)
    assert type(got) is InvalidRequestError
    assert got.body == body
    # The message quotes at most 1000 bytes of it (C's trim), never the whole body.
    assert got.message == body[:1000].strip() + "..."


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=HOSTILE_IDS)
def test_classify_other_statuses_with_a_hostile_body(body: str) -> None:
    got = classify_http_error(404, {"cf-ray": "r"}, body.encode())
    assert type(got) is UnexpectedStatusError
    assert (got.status, got.body, got.request_id) == (404, body, "r")
    assert type(classify_http_error(429, {}, body)) is RetryLimitError
    assert type(classify_http_error(401, {}, body)) is UnauthorizedError


def test_classify_reads_a_nan_body_as_text() -> None:
    body = '{"error":{"message":"m","code":NaN}}'
    got = classify_http_error(400, {}, body)
    assert isinstance(got, InvalidRequestError)
    assert got.message == body


def test_classify_reads_a_body_at_the_limit() -> None:
    body = '{"error":{"message":"deep","x":' + arrays(125) + "}}"  # 127 levels
    got = classify_http_error(400, {}, body)
    assert isinstance(got, InvalidRequestError)
    assert got.message == "deep"


# -- call site 2: the body's retry hint (_retry) --------------------------------


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=HOSTILE_IDS)
def test_retry_policy_with_a_hostile_body_falls_back_to_backoff(body: str) -> None:
    for status in (429, 503):
        got = RetryPolicy().classify_response(status, {}, body)
        assert isinstance(got, RetryableHttp)
        assert got.retry_after is None
    assert isinstance(RetryPolicy().classify_response(400, {}, body), Fatal)


def test_the_retry_hint_is_read_up_to_the_limit() -> None:
    at_limit, beyond = rate_limit_body(127), rate_limit_body(128)
    assert depth_of(json.loads(at_limit)["error"]["x"]) == 125
    got = RetryPolicy().classify_response(429, {}, at_limit)
    assert isinstance(got, RetryableHttp)
    assert got.retry_after is not None
    assert got.retry_after.total_seconds() == 20
    got = RetryPolicy().classify_response(429, {}, beyond)
    assert isinstance(got, RetryableHttp)
    assert got.retry_after is None


# -- call site 3: SSE event data (_stream) -------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        HOSTILE,
        '{"type":"error","error":{"type":"invalid_request_error","message":"m","x":' + HOSTILE + "}}",
        '{"type":"response.failed","response":{"error":' + HOSTILE + "}}",
    ],
    ids=["bare", "error-event", "response-failed"],
)
def test_a_hostile_event_is_malformed_not_a_crash(data: str) -> None:
    parser = ResponseStreamParser()
    assert parser.feed(ServerSentEvent("error", data)) == []
    assert parser.malformed_count == 1
    assert parser.error is None
    with pytest.raises(StreamError, match=r"^stream disconnected before completion: stream closed"):
        parser.close()
