"""The mock Responses API server over real sockets: framing, scripts, faults, records.

Also the realism cross-check: the official ``openai`` SDK streams from it and
raises its own error types on its error replies.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import mockapi
from mockapi import MockResponsesServer, MockServerThread
from tests.support.paths import REPO, corpus_dir

SSE_DIR = corpus_dir("responses", "sse")
AUTH = {"Authorization": "Bearer sk-test"}

TEXT_TURN = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
]
TEXT_DONE = [
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


# One pooled client for the module: building an httpx client costs ~20 ms (TLS setup).
HTTP = httpx.Client(timeout=5)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture(scope="module")
def server() -> Iterator[MockServerThread]:
    with MockServerThread() as srv:
        yield srv


@pytest.fixture
def srv(server: MockServerThread) -> MockServerThread:
    server.reset()
    return server


def body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "input": text, "stream": True, **extra}


def parse_sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) per dispatched event; a minimal reader for LF-framed streams."""
    events = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


def payloads(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in parse_sse(raw)]


def post(srv: MockServerThread, payload: Any = None, **kwargs: Any) -> httpx.Response:
    return HTTP.post(srv.base_url + "/responses", json=payload or body(), **kwargs)


# -- the default reply ----------------------------------------------------------------------------


def test_default_stream_is_framed_like_the_api(srv: MockServerThread) -> None:
    resp = post(srv, body("hello there, mock"))

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.headers["x-request-id"].startswith("req_")
    raw = resp.content
    assert raw.endswith(b"}\n\n")
    events = parse_sse(raw)
    evs = [json.loads(data) for _, data in events]
    # Every event: "event: <type>" + one compact data line naming the same type.
    assert all(name == ev["type"] for (name, _), ev in zip(events, evs, strict=True))
    assert all(", " not in data.split('"delta"')[0][:40] for _, data in events)
    assert [ev["sequence_number"] for ev in evs] == list(range(len(evs)))
    types = [ev["type"] for ev in evs]
    n_deltas = types.count("response.output_text.delta")
    assert types == TEXT_TURN + ["response.output_text.delta"] * n_deltas + TEXT_DONE + [
        "response.completed"
    ]
    text = "".join(ev["delta"] for ev in evs if ev["type"] == "response.output_text.delta")
    assert text == "Echo: hello there, mock" and n_deltas == 4
    completed = evs[-1]["response"]
    assert completed["status"] == "completed" and completed["model"] == "gpt-4o-mini"
    assert completed["id"] == evs[0]["response"]["id"]
    assert completed["output"][0]["content"][0]["text"] == text
    u = completed["usage"]
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]
    assert u["input_tokens_details"] == {"cached_tokens": 0}
    assert u["output_tokens_details"] == {"reasoning_tokens": 0}


def test_echo_reads_the_last_user_message_of_an_item_list(srv: MockServerThread) -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]},
    ]
    evs = payloads(post(srv, body(items)).content)
    assert evs[-1]["response"]["output"][0]["content"][0]["text"] == "Echo: second"


@pytest.mark.parametrize("text", ["", "one", "  lead", "trail  ", "a  b\n\nc", "x\n"])
def test_split_deltas_is_lossless(text: str) -> None:
    assert "".join(mockapi.split_deltas(text)) == text


def test_non_stream_request_gets_a_response_object(srv: MockServerThread) -> None:
    resp = post(srv, {"model": "gpt-5", "input": "plain"})
    data = resp.json()
    assert resp.headers["content-type"].startswith("application/json")
    assert data["object"] == "response" and data["status"] == "completed"
    assert data["model"] == "gpt-5"
    assert data["output"][0]["content"][0]["text"] == "Echo: plain"


def test_routes_with_and_without_prefix(srv: MockServerThread) -> None:
    assert HTTP.post(srv.root_url + "/responses", json=body()).status_code == 200
    assert HTTP.post(srv.root_url + "/v1/responses", json=body()).status_code == 200
    with MockServerThread(prefix="/api/openai/v1/") as other:
        assert other.base_url.endswith("/api/openai/v1")
        assert HTTP.post(other.base_url + "/responses", json=body()).status_code == 200


def test_unknown_path_and_bad_json_get_api_error_bodies(srv: MockServerThread) -> None:
    resp = HTTP.get(srv.base_url + "/nope")
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Invalid URL (GET /v1/nope)"
    resp = HTTP.post(srv.base_url + "/responses", content=b"{not json")
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_models_list(srv: MockServerThread) -> None:
    data = HTTP.get(srv.base_url + "/models").json()
    assert data["object"] == "list"
    assert "gpt-4o-mini" in [m["id"] for m in data["data"]]
    srv.enqueue(mockapi.http_error("server_error").with_options(endpoint="models"))
    assert post(srv).status_code == 200  # /responses does not take a models script
    assert HTTP.get(srv.base_url + "/models").status_code == 500
    assert [r.endpoint for r in srv.requests] == ["models", "responses", "models"]


# -- auth and recording ---------------------------------------------------------------------------


def test_api_key_is_checked_and_recorded() -> None:
    with MockServerThread(api_key="sk-test") as srv:
        missing = post(srv)
        wrong = post(srv, headers={"Authorization": "Bearer sk-wrong-key-1234"})
        right = post(srv, headers=AUTH)
        models = HTTP.get(srv.base_url + "/models")

        assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
        assert models.status_code == 401
        err = wrong.json()["error"]
        assert err["code"] == "invalid_api_key" and err["type"] == "invalid_request_error"
        assert "sk-wrong-key-1234" not in err["message"]  # redacted like the API does
        assert err["message"].startswith("Incorrect API key provided: sk-")
        assert "didn't provide an API key" in missing.json()["error"]["message"]
        assert [r.bearer for r in srv.requests_to("responses")] == [
            None, "sk-wrong-key-1234", "sk-test"
        ]
        srv.api_key = None
        assert post(srv).status_code == 200


def test_requests_are_recorded_in_order(srv: MockServerThread) -> None:
    post(srv, body("one"), headers={"X-Custom": "a", **AUTH})
    post(srv, body("two"))
    recs = srv.requests_to("responses")

    assert [r.json["input"] for r in recs] == ["one", "two"]
    first = recs[0]
    assert (first.method, first.path, first.index) == ("POST", "/v1/responses", 0)
    assert first.headers["x-custom"] == "a" and first.bearer == "sk-test"
    assert first.headers["content-type"] == "application/json"
    assert json.loads(first.body) == first.json
    assert first.status == 200 and first.script == "default"
    assert recs[0].time <= recs[1].time and recs[0].request_id != recs[1].request_id

    over_http = HTTP.get(srv.root_url + "/_mock/requests", params={"since": 1}).json()
    assert over_http["count"] == 1
    assert over_http["requests"][0]["json"]["input"] == "two"
    assert over_http["requests"][0]["headers"]["content-type"] == "application/json"


# -- scripts: queue, HTTP errors ------------------------------------------------------------------


def test_scripts_answer_in_order_then_the_default(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.http_error("server_error").with_options(times=2), mockapi.text_reply("ok"))
    statuses = [post(srv) for _ in range(4)]

    assert [r.status_code for r in statuses] == [500, 500, 200, 200]
    assert payloads(statuses[2].content)[-1]["response"]["output"][0]["content"][0]["text"] == "ok"
    assert [r.script for r in srv.requests] == [
        "http_error:server_error", "http_error:server_error", "text", "default"
    ]
    srv.enqueue(mockapi.http_error("bad_gateway").with_options(times=None))
    assert {post(srv).status_code for _ in range(3)} == {502}
    srv.reset()
    assert post(srv).status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "type_", "code"),
    [
        ("rate_limit", 429, "requests", "rate_limit_exceeded"),
        ("insufficient_quota", 429, "insufficient_quota", "insufficient_quota"),
        ("invalid_api_key", 401, "invalid_request_error", "invalid_api_key"),
        ("invalid_request", 400, "invalid_request_error", "decimal_below_min_value"),
        ("server_error", 500, "server_error", None),
        ("bad_gateway", 502, "cf_bad_gateway", 502),
        ("service_unavailable", 503, "server_error", None),
        ("server_overloaded", 503, "server_error", "server_is_overloaded"),
    ],
)
def test_http_error_bodies(
    srv: MockServerThread, kind: str, status: int, type_: str, code: object
) -> None:
    srv.enqueue(mockapi.http_error(kind))
    resp = post(srv)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert (err["type"], err["code"]) == (type_, code) and err["message"]


def test_429_rate_limit_with_retry_after(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.http_error("rate_limit", retry_after=2, retry_after_ms=1500))
    resp = post(srv)
    assert resp.headers["retry-after"] == "2" and resp.headers["retry-after-ms"] == "1500"
    assert "Please try again in 20s." in resp.json()["error"]["message"]
    assert "x-codex-primary-used-percent" not in resp.headers


def test_429_usage_limit_reached(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.http_error("usage_limit_reached", plan_type="pro", resets_in_seconds=42))
    before = int(time.time())
    resp = post(srv)
    err = resp.json()["error"]

    assert resp.status_code == 429
    assert err["type"] == "usage_limit_reached" and err["plan_type"] == "pro"
    assert err["resets_in_seconds"] == 42
    assert before + 42 <= err["resets_at"] <= int(time.time()) + 42
    assert resp.headers["x-codex-primary-used-percent"] == "100"
    assert resp.headers["x-codex-active-limit"] == "codex"
    assert resp.headers["x-codex-plan-type"] == "pro"


def test_rate_limit_headers_on_a_stream(srv: MockServerThread) -> None:
    headers = {
        **mockapi.codex_rate_limit_headers(primary_used_percent=23.0, secondary_used_percent=87.5),
        **mockapi.openai_rate_limit_headers(),
        "x-request-id": "req_fixed",
    }
    srv.enqueue(mockapi.text_reply("x").with_options(headers=headers))
    resp = post(srv)
    assert resp.headers["x-codex-primary-used-percent"] == "23"
    assert resp.headers["x-codex-secondary-used-percent"] == "87.5"
    assert resp.headers["x-codex-primary-window-minutes"] == "300"
    assert int(resp.headers["x-codex-primary-reset-at"]) > time.time()
    assert resp.headers["x-codex-credits-has-credits"] == "False"
    assert resp.headers["x-ratelimit-remaining-requests"] == "29999"
    assert resp.headers["x-ratelimit-reset-tokens"] == "0s"
    assert resp.headers["x-request-id"] == "req_fixed"
    assert srv.requests[-1].request_id == "req_fixed"
    exposed = resp.headers["access-control-expose-headers"].split(", ")
    assert {"x-codex-primary-used-percent", "x-ratelimit-limit-tokens", "x-request-id"} <= set(
        exposed
    )


# -- scripts: in-stream failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("rate_limit_exceeded", "Please try again in 1.5s."),
        ("context_length_exceeded", "exceeds the context window"),
        ("insufficient_quota", "exceeded your current quota"),
        ("server_error", "failed to generate"),
    ],
)
def test_response_failed(srv: MockServerThread, code: str, needle: str) -> None:
    srv.enqueue(mockapi.failed_reply(code))
    evs = payloads(post(srv).content)
    assert [e["type"] for e in evs] == [*TEXT_TURN[:2], "response.failed"]
    failed = evs[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == code
    assert needle in failed["error"]["message"]
    assert failed["id"] == evs[0]["response"]["id"]


def test_response_failed_after_partial_text(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.failed_reply("server_error", partial_text="half a"))
    evs = payloads(post(srv).content)
    types = [e["type"] for e in evs]
    assert types == TEXT_TURN + ["response.output_text.delta"] * 2 + ["response.failed"]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))


def test_response_incomplete(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.incomplete_reply(text="cut short"))
    evs = payloads(post(srv).content)
    last = evs[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["status"] == "incomplete"
    assert evs[-2]["item"]["status"] == "incomplete"


def test_an_incomplete_response_inside_response_completed(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.incomplete_reply("content_filter", text="cut short", in_completed=True))
    last = payloads(post(srv).content)[-1]
    assert last["type"] == "response.completed"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "content_filter"}


@pytest.mark.parametrize("shape", ["flat", "nested"])
def test_error_event(srv: MockServerThread, shape: str) -> None:
    srv.enqueue(mockapi.error_event_reply("server_error", message="boom", shape=shape))
    last = payloads(post(srv).content)[-1]
    assert last["type"] == "error"
    err = last if shape == "flat" else last["error"]
    assert (err["code"], err["message"], err["param"]) == ("server_error", "boom", None)


# -- scripts: transport faults and timing ---------------------------------------------------------


def test_cut_mid_stream(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.cut_reply(2, text="one two three four"))
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        HTTP.stream("POST", srv.base_url + "/responses", json=body()) as resp,
    ):
        for chunk in resp.iter_raw():
            received += chunk
    types = [e["type"] for e in payloads(received)]
    assert types == TEXT_TURN + ["response.output_text.delta"] * 2
    assert post(srv).status_code == 200  # the server is fine afterwards


def raw_http_chunks(srv: MockServerThread, payload: dict[str, Any]) -> list[bytes]:
    """POST over a bare socket and return the chunked body's chunks as framed by the server."""
    data = json.dumps(payload).encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    rest = raw.split(b"\r\n\r\n", 1)[1]
    chunks = []
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return chunks
        chunks.append(rest[:size])
        rest = rest[size + 2 :]


def test_chunking_splits_writes_at_odd_boundaries(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.text_reply("odd boundaries", chunk_size=7))
    chunks = raw_http_chunks(srv, body())
    # The stream itself is cut every 7 bytes, across event boundaries.
    assert all(len(c) == 7 for c in chunks[:-1]) and 1 <= len(chunks[-1]) <= 7
    assert any(b"\n\n" in c and not c.endswith(b"\n\n") for c in chunks)
    evs = payloads(b"".join(chunks))
    assert evs[-1]["type"] == "response.completed"


def test_malformed_json_line(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.malformed_reply(1, text="a b"))
    events = parse_sse(post(srv).content)
    bad = []
    for name, data in events:
        try:
            json.loads(data)
        except ValueError:
            bad.append(name)
    assert bad == ["response.output_text.delta"]
    assert json.loads(events[-1][1])["type"] == "response.completed"


def test_replay_sends_the_fixture_byte_for_byte(srv: MockServerThread) -> None:
    path = SSE_DIR / "pai_text_gpt4o.sse"
    srv.enqueue(mockapi.replay(path), mockapi.replay("aibridge_wrong_format_line.sse"))
    assert post(srv).content == path.read_bytes()
    assert post(srv).content == (SSE_DIR / "aibridge_wrong_format_line.sse").read_bytes()
    assert srv.requests[0].script == "replay:pai_text_gpt4o.sse"


def test_replay_with_event_delay(srv: MockServerThread) -> None:
    path = SSE_DIR / "codex_cut_before_completed.sse"
    srv.enqueue(mockapi.replay(path, event_delay_ms=40))
    started = time.monotonic()
    resp = post(srv)
    n_events = len(parse_sse(path.read_bytes()))
    assert resp.content == path.read_bytes()
    assert time.monotonic() - started >= 0.04 * (n_events - 1) * 0.9


def test_latency_and_delta_pacing(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.text_reply("a b c", delta_delay_ms=30).with_options(delay_ms=100))
    started = time.monotonic()
    arrivals = []
    with HTTP.stream("POST", srv.base_url + "/responses", json=body()) as resp:
        first_byte = time.monotonic() - started
        for line in resp.iter_lines():
            if line.startswith('data: {"type":"response.output_text.delta"'):
                arrivals.append(time.monotonic())
    assert first_byte >= 0.095
    assert [b - a >= 0.025 for a, b in itertools.pairwise(arrivals)] == [True, True]


def test_stall_trips_the_client_read_timeout(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.stall_reply(1, text="x y z"))
    with (
        pytest.raises(httpx.ReadTimeout),
        HTTP.stream(
            "POST", srv.base_url + "/responses", json=body(), timeout=httpx.Timeout(5, read=0.2)
        ) as resp,
    ):
        for _ in resp.iter_raw():
            pass
    assert post(srv).status_code == 200


def test_slow_drip(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.slow_drip(interval_ms=50, duration_ms=200, text="done"))
    started = time.monotonic()
    raw = post(srv).content
    assert time.monotonic() - started >= 0.19
    assert 4 <= raw.count(b": keepalive\n\n") <= 6
    evs = payloads(raw)
    assert evs[0]["type"] == "response.created" and evs[-1]["type"] == "response.completed"


def test_stop_ends_a_stalled_stream_promptly() -> None:
    srv = MockServerThread().start()
    srv.enqueue(mockapi.stall_reply(0))
    with HTTP.stream("POST", srv.base_url + "/responses", json=body(), timeout=5) as resp:
        chunks = resp.iter_raw()
        next(chunks)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in chunks:
                pass


# -- CORS -----------------------------------------------------------------------------------------


def test_cors_preflight_and_headers(srv: MockServerThread) -> None:
    resp = HTTP.options(
        srv.base_url + "/responses",
        headers={
            "Origin": "chrome-extension://abc",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "POST" in resp.headers["access-control-allow-methods"]
    assert resp.headers["access-control-allow-private-network"] == "true"
    srv.enqueue(mockapi.http_error("rate_limit", retry_after=1))
    err = post(srv, headers={"Origin": "http://page.test"})
    assert err.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in err.headers["access-control-expose-headers"]
    assert [r.method for r in srv.requests] == ["OPTIONS", "POST"]


# -- HTTP control endpoints -----------------------------------------------------------------------


def control(srv: MockServerThread, name: str, payload: Any) -> httpx.Response:
    return HTTP.post(f"{srv.root_url}/_mock/{name}", json=payload)


def test_control_endpoints_queue_presets_and_steps(srv: MockServerThread) -> None:
    scripts = [
        {"preset": "http_error", "kind": "rate_limit", "retry_after": 1, "times": 2},
        {"preset": "text", "text": "from json", "codex_rate_limits": True},
        {"steps": [
            {"op": "event", "data": {"type": "response.created", "response": {"id": "r1"}}},
            {"op": "raw", "base64": base64.b64encode(b": hello\n\n").decode()},
            {"op": "turn", "text": "p q", "end": "open",
             "interleave": {"1": [{"op": "sleep", "ms": 1}]}},
            {"op": "failed", "code": "context_length_exceeded"},
        ]},
        {"status": 503, "body": {"error": {"message": "busy", "type": "server_error"}}},
        {"preset": "replay", "path": "pai_text_gpt4o.sse"},
    ]
    assert control(srv, "script", {"scripts": scripts}).json() == {"queued": 5, "pending": 5}
    got = [post(srv) for _ in range(6)]

    assert [r.status_code for r in got] == [429, 429, 200, 200, 503, 200]
    assert got[0].headers["retry-after"] == "1"
    assert got[2].headers["x-codex-primary-used-percent"] == "23"
    assert "from json" in got[2].text
    assert got[3].content.startswith(b'event: response.created\ndata: {"type":"response.created"')
    assert b": hello\n\n" in got[3].content
    assert payloads(got[3].content)[-1]["response"]["error"]["code"] == "context_length_exceeded"
    assert got[4].json()["error"]["message"] == "busy"
    assert got[5].content == (SSE_DIR / "pai_text_gpt4o.sse").read_bytes()


def test_control_reset_config_and_health(srv: MockServerThread) -> None:
    control(srv, "script", {"preset": "http_error", "times": None})
    assert post(srv).status_code == 500
    assert control(srv, "reset", {}).json() == {"ok": True}
    assert srv.requests == [] and srv.pending == 0
    assert post(srv).status_code == 200

    control(srv, "config", {"api_key": "sk-e2e", "default": {"preset": "text", "text": "fixed"}})
    assert post(srv).status_code == 401
    resp = post(srv, headers={"Authorization": "Bearer sk-e2e"})
    assert b"fixed" in resp.content and post(srv, headers={"Authorization": "Bearer sk-e2e"})
    control(srv, "reset", {})
    assert post(srv).status_code == 200 and b"Echo: hi" in post(srv).content

    health = HTTP.get(srv.root_url + "/_mock/health").json()
    assert health == {"ok": True, "base_url": srv.base_url, "pending": 0}


@pytest.mark.parametrize(
    "payload",
    [
        {"preset": "nope"},
        {"preset": "http_error", "kind": "teapot"},
        {"preset": "text", "bogus": 1},
        {"steps": [{"op": "warp"}]},
        {"steps": [{"op": "sleep"}]},
        {"preset": "text", "times": "2"},
        {"preset": "replay", "path": "/etc/passwd"},
        {"preset": "replay", "path": "../../../../etc/passwd"},
        {"steps": [{"op": "replay", "path": str(REPO / "pyproject.toml")}]},
        [1],
    ],
)
def test_control_rejects_bad_scripts(srv: MockServerThread, payload: Any) -> None:
    resp = control(srv, "script", payload)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"]
    assert srv.pending == 0


# -- in-process async use and the CLI -------------------------------------------------------------


def test_async_context_manager() -> None:
    async def scenario() -> list[int]:
        async with MockResponsesServer(api_key="sk-a") as srv:
            srv.enqueue(mockapi.http_error("rate_limit"))
            headers = {"Authorization": "Bearer sk-a"}
            async with httpx.AsyncClient(base_url=srv.base_url, headers=headers) as client:
                first = await client.post("/responses", json=body())
                second = await client.post("/responses", json=body("again"))
            recs = await srv.wait_for_requests(2)
            assert b"Echo: again" in second.content
            return [first.status_code, second.status_code, len(recs)]

    assert asyncio.run(scenario()) == [429, 200, 2]


def test_cli_serves_a_fixture() -> None:
    fixture = SSE_DIR / "aibridge_simple_gpt4o_mini.sse"
    with subprocess.Popen(
        [sys.executable, "-m", "mockapi", "--port", "0", "--fixture", str(fixture)],
        cwd=REPO, env={"PYTHONPATH": str(REPO / "py")}, stdout=subprocess.PIPE, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("mockapi listening on http://127.0.0.1:")
            resp = HTTP.post(line.split()[-1] + "/responses", json=body())
            assert resp.content == fixture.read_bytes()
        finally:
            proc.terminate()
            assert proc.wait(timeout=5) == 0


# -- realism cross-check: the official SDK --------------------------------------------------------


def sdk(srv: MockServerThread, key: str = "sk-test", retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=srv.base_url, max_retries=retries)


def test_openai_sdk_streams_the_default_reply(srv: MockServerThread) -> None:
    with sdk(srv) as client:
        events = list(client.responses.create(model="gpt-4o-mini", input="sdk check", stream=True))
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == "Echo: sdk check"
    assert final.response.usage is not None and final.response.usage.output_tokens == 3
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Echo: sdk check"
    assert srv.requests[-1].bearer == "sk-test"
    assert srv.requests[-1].json["stream"] is True


@pytest.mark.parametrize("name", ["pai_text_gpt4o.sse", "aibridge_simple_gpt4o_mini.sse"])
def test_openai_sdk_streams_a_replayed_fixture(srv: MockServerThread, name: str) -> None:
    expect = json.loads((SSE_DIR / name).with_suffix(".expect.json").read_text())["summary"]
    srv.enqueue(mockapi.replay(SSE_DIR / name))
    with sdk(srv) as client, client.responses.stream(model="gpt-4o-mini", input="r") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == expect["final_text"]
    assert len(deltas) == expect["text_delta_count"]
    assert final.usage is not None
    assert final.usage.input_tokens == expect["usage"]["input_tokens"]
    assert final.usage.total_tokens == expect["usage"]["total_tokens"]


def test_openai_sdk_reads_the_mock_failure_events(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.failed_reply("rate_limit_exceeded", partial_text="so far"))
    with sdk(srv) as client:
        events = list(client.responses.create(model="gpt-4o-mini", input="x", stream=True))
        assert events[-1].type == "response.failed"
        assert events[-1].response.error is not None
        assert events[-1].response.error.code == "rate_limit_exceeded"
        srv.enqueue(mockapi.incomplete_reply())
        events = list(client.responses.create(model="gpt-4o-mini", input="x", stream=True))
        assert events[-1].type == "response.incomplete"


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (mockapi.http_error("rate_limit", retry_after=1), openai.RateLimitError),
        (mockapi.http_error("usage_limit_reached"), openai.RateLimitError),
        (mockapi.http_error("invalid_api_key"), openai.AuthenticationError),
        (mockapi.http_error("invalid_request"), openai.BadRequestError),
        (mockapi.http_error("bad_gateway"), openai.InternalServerError),
    ],
)
def test_openai_sdk_raises_its_error_types(
    srv: MockServerThread, script: mockapi.Script, error: type[openai.APIStatusError]
) -> None:
    srv.enqueue(script)
    with sdk(srv) as client, pytest.raises(error) as info:
        client.responses.create(model="gpt-4o-mini", input="x", stream=True)
    assert isinstance(info.value.body, dict) and info.value.body["message"]
    assert info.value.request_id == srv.requests[-1].request_id


def test_openai_sdk_raises_authentication_error_on_a_wrong_key() -> None:
    with (
        MockServerThread(api_key="sk-right") as srv,
        sdk(srv, key="sk-wrong-123456") as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.responses.create(model="m", input="x", stream=True)


def test_openai_sdk_retries_are_recorded_with_their_timing(srv: MockServerThread) -> None:
    srv.enqueue(mockapi.http_error("server_error", retry_after_ms=50))
    with sdk(srv, retries=1) as client:
        events = list(client.responses.create(model="m", input="retry", stream=True))
    assert events[-1].response.output_text == "Echo: retry"
    first, second = srv.requests_to("responses")
    assert (first.status, second.status) == (500, 200)
    assert second.time - first.time >= 0.045
    assert second.headers.get("x-stainless-retry-count") == "1"


def test_fixture_default_serves_every_request(tmp_path: Path) -> None:
    fixture = tmp_path / "one.sse"
    fixture.write_bytes((SSE_DIR / "codex_failed_rate_limit.sse").read_bytes())
    with MockServerThread(fixture=fixture) as srv:
        assert post(srv).content == post(srv).content == fixture.read_bytes()
        # The fixture's folder becomes a replay folder for the control API.
        assert control(srv, "script", {"preset": "replay", "path": "one.sse"}).status_code == 200


# -- ChatGPT sign-in: the OAuth token endpoint and the backend's token check ----------------------


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def refresh(srv: MockServerThread, token: str | None, **overrides: Any) -> httpx.Response:
    payload = {"client_id": mockapi.CLIENT_ID, "grant_type": "refresh_token", "refresh_token": token,
               "scope": "openid profile email", **overrides}
    return HTTP.post(srv.token_url, json=payload)


def chatgpt_headers(srv: MockServerThread, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or srv.oauth.access_token}",
            "chatgpt-account-id": srv.oauth.account_id}


def test_oauth_sign_in_gives_a_codex_auth_json(srv: MockServerThread) -> None:
    auth = srv.oauth.sign_in(last_refresh="2025-10-16T18:04:11.123456Z")
    assert auth["OPENAI_API_KEY"] is None and auth["last_refresh"] == "2025-10-16T18:04:11.123456Z"
    tokens = auth["tokens"]
    assert tokens["access_token"] == srv.oauth.access_token
    assert tokens["refresh_token"] == srv.oauth.refresh_token
    assert tokens["account_id"] == srv.oauth.account_id
    id_claims = claims(tokens["id_token"])
    assert id_claims["email"] == "user@example.com"
    assert id_claims["https://api.openai.com/auth"] == {
        "chatgpt_account_id": srv.oauth.account_id, "chatgpt_plan_type": "plus"}
    assert claims(tokens["access_token"])["exp"] > time.time()
    expired = srv.oauth.sign_in(access_expired=True)["tokens"]["access_token"]
    assert claims(expired)["exp"] < time.time()


def test_oauth_token_endpoint_rotates_and_spends_refresh_tokens(srv: MockServerThread) -> None:
    first = srv.oauth.sign_in()["tokens"]
    resp = refresh(srv, first["refresh_token"])
    assert resp.status_code == 200
    new = resp.json()
    assert set(new) == {"id_token", "access_token", "refresh_token", "token_type", "expires_in"}
    assert new["access_token"] == srv.oauth.access_token != first["access_token"]
    assert new["refresh_token"] == srv.oauth.refresh_token != first["refresh_token"]
    assert srv.oauth.refreshes == 1
    # The spent refresh token is refused as "reused"; an unknown one as an unknown 401.
    reused = refresh(srv, first["refresh_token"])
    assert (reused.status_code, reused.json()["error"]["code"]) == (401, "refresh_token_reused")
    assert refresh(srv, "rt-nope").json()["error"]["code"] == "token_expired"
    [ok, *_] = srv.requests_to("oauth")
    assert ok.json["refresh_token"] == first["refresh_token"] and ok.script == "oauth:tokens"
    assert [r.status for r in srv.requests_to("oauth")] == [200, 401, 401]


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "someone-else"}, {"grant_type": "authorization_code"}, {"refresh_token": 5}],
)
def test_oauth_token_endpoint_checks_the_request(srv: MockServerThread, overrides: dict[str, Any]) -> None:
    srv.oauth.sign_in()
    resp = refresh(srv, srv.oauth.refresh_token, **overrides)
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "invalid_request")
    assert HTTP.post(srv.token_url, content=b"nope").status_code == 400


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        ("expired", 401, "refresh_token_expired"),
        ("reused", 401, "refresh_token_reused"),
        ("invalidated", 401, "refresh_token_invalidated"),
        ("unknown", 401, "token_expired"),
        ("server_error", 500, None),
    ],
)
def test_oauth_enqueued_failures(srv: MockServerThread, outcome: str, status: int, code: str | None) -> None:
    token = srv.oauth.sign_in()["tokens"]["refresh_token"]
    srv.oauth.enqueue(outcome)
    resp = refresh(srv, token)
    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code)
    assert resp.json()["error"]["message"]
    assert srv.oauth.refresh_token == token and srv.oauth.pending == []
    assert refresh(srv, token).status_code == 200  # the failure did not spend it


def test_oauth_reply_without_id_token(srv: MockServerThread) -> None:
    token = srv.oauth.sign_in()["tokens"]["refresh_token"]
    srv.oauth.enqueue("tokens_without_id_token")
    assert "id_token" not in refresh(srv, token).json()
    with pytest.raises(ValueError, match="unknown refresh outcome"):
        srv.oauth.enqueue("teapot")


def test_chatgpt_backend_checks_the_access_token_and_account(srv: MockServerThread) -> None:
    assert post(srv).status_code == 200  # signed out: no check
    srv.oauth.sign_in()
    missing = post(srv)
    assert (missing.status_code, missing.json()) == (401, {"detail": "Unauthorized"})
    assert post(srv, headers=chatgpt_headers(srv)).status_code == 200
    wrong = post(srv, headers={**chatgpt_headers(srv), "chatgpt-account-id": "other"})
    assert wrong.status_code == 403
    assert HTTP.get(srv.base_url + "/models", headers=chatgpt_headers(srv)).status_code == 200
    # Expired: refused until a refresh issues a new token.
    old = srv.oauth.access_token
    srv.oauth.expire_access_token()
    assert post(srv, headers=chatgpt_headers(srv)).status_code == 401
    refresh(srv, srv.oauth.refresh_token)
    assert post(srv, headers=chatgpt_headers(srv, old)).status_code == 401
    assert post(srv, headers=chatgpt_headers(srv)).status_code == 200
    assert srv.requests_to("responses")[1].script == "builtin:chatgpt_auth"
    # An access token issued already expired is refused too.
    srv.oauth.sign_in(access_expired=True)
    assert post(srv, headers=chatgpt_headers(srv)).status_code == 401


def test_oauth_control_endpoint_and_reset(srv: MockServerThread) -> None:
    got = control(srv, "oauth", {"sign_in": {"access_expired": True}, "enqueue": ["reused"]}).json()
    assert got["auth_json"]["tokens"]["access_token"] == srv.oauth.access_token == got["access_token"]
    assert (got["backend_check"], got["pending"], got["refreshes"]) == (True, ["reused"], 0)
    got = control(srv, "oauth", {"expire_access_token": True, "backend_check": False}).json()
    assert "auth_json" not in got and got["backend_check"] is False
    assert post(srv).status_code == 200
    bad_bodies = [{"nope": 1}, {"enqueue": "reused"}, {"enqueue": ["teapot"]}, {"sign_in": {"x": 1}},
                  {"sign_in": {"last_refresh": 5}}, [1]]
    for bad in bad_bodies:
        resp = control(srv, "oauth", bad)
        assert resp.status_code == 400 and resp.json()["error"]["message"], bad
    srv.oauth.sign_in()
    control(srv, "reset", {})
    assert (srv.oauth.backend_check, srv.oauth.access_token, srv.oauth.pending) == (False, None, [])
