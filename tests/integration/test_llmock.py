"""ModelClient against llmock, a fault-injecting Responses API server nobody here wrote.

llmock (PyPI, ``llmock serve``) streams ``POST /v1/responses``, takes scripted faults
through ``POST /_llmock/scenario`` and grades the client from its journal of attempts in
``GET /_llmock/verdict``::

    {"passed": bool, "calls": int, "attempts": int, "faults_injected": int,
     "errors": int, "warnings": int,
     "findings": [{"severity": "error" | "warning", "code": str, "title": str, "advice": str,
                   "call": int, "requests": [seq, ...], "path": str}]}

``passed`` is "no error-level finding". Error codes: ``retry_after_ignored``,
``retried_non_retryable``, ``retry_storm`` (more than 10 attempts of one call),
``truncated_stream_accepted``; warning codes: ``no_backoff``, ``gave_up``,
``no_read_timeout``, ``malformed_chunk_ignored``. Attempts belong to one call when they
resend the same body after the previous one failed.

Each test drives the client through one scenario, asserts what our client must do under
the Rust rules it follows (``docs/rust-parity.md``), then asserts llmock's verdict. Where
llmock's grading disagrees with those rules, the test asserts the verdict that our rule
produces and says why in a comment (malformed chunks, nested retry budgets).

What llmock sends, from its source (0.2.2), which the assertions below rely on:

* a Responses stream is one SSE event per body chunk: 0 ``response.created``,
  1 ``response.in_progress``, 2 ``output_item.added``, 3 ``content_part.added``, then one
  ``output_text.delta`` per word, ``output_text.done``, ``content_part.done``,
  ``output_item.done`` and ``response.completed``; a ``stream_fault`` with
  ``after_chunks=N`` hits chunk N (so N=5 lets exactly one word through);
* an error answer carries ``retry-after`` (whole seconds, rounded up) and
  ``retry-after-ms`` when given ``retry_after``, or by default (1 s) for 429/503/504/529,
  and no Retry-After at all for a 500.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelclient import (
    Completed,
    Created,
    HttpxTransport,
    IdleTimeoutError,
    InternalServerError,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    OutputItemDone,
    OutputTextDelta,
    Prompt,
    RateLimits,
    Reconnecting,
    RetryLimitError,
    RetryPolicy,
    StreamError,
)

MODEL = "gpt-4o-mini"
TEXT = "alpha beta gamma delta"
WORDS = ["alpha ", "beta ", "gamma ", "delta"]
# Chunk index of the second text delta (see the module docstring): faults placed here
# let "alpha " through and hit "beta ".
SECOND_DELTA = 5
# RetryPolicy(rand=lambda: 0.0): backoff(n) = 200 ms × 2^(n−1) × 0.9.
BACKOFF_1 = 0.18
BACKOFF_2 = 0.36
START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- server


@dataclass
class Llmock:
    """A running ``llmock serve`` and its control API."""

    url: str
    http: httpx.Client

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def scenario(self, *behaviors: dict[str, Any]) -> None:
        r = self.http.post(f"{self.url}/_llmock/scenario", json={"behaviors": list(behaviors)})
        assert r.status_code == 201, r.text
        assert r.json()["queued"] == len(behaviors)

    def pending(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.url}/_llmock/scenario")
        r.raise_for_status()
        pending: list[dict[str, Any]] = r.json()["pending"]
        return pending

    def requests(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.url}/_llmock/requests")
        r.raise_for_status()
        records: list[dict[str, Any]] = r.json()["requests"]
        return records

    def verdict(self) -> dict[str, Any]:
        r = self.http.get(f"{self.url}/_llmock/verdict")
        r.raise_for_status()
        verdict: dict[str, Any] = r.json()
        return verdict

    def verdict_text(self) -> str:
        return self.http.get(f"{self.url}/_llmock/verdict", params={"format": "text"}).text

    def reset(self) -> None:
        self.http.post(f"{self.url}/_llmock/reset").raise_for_status()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def llmock_server() -> Iterator[Llmock]:
    """``llmock serve`` from this venv on a free port; fails (never skips) if it cannot start."""
    exe = Path(sys.executable).parent / "llmock"
    if not exe.is_file():
        pytest.fail(f"llmock is not installed next to {sys.executable} (expected {exe})")
    port = _free_port()
    # No LLMOCK_* from the caller's environment: random chaos, quotas or latency would
    # make every outcome below non-deterministic.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMOCK_")}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                str(exe),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--tool-mode",
                "off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        url = f"http://127.0.0.1:{port}"
        http = httpx.Client(timeout=10.0)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"llmock serve exited with {proc.returncode}:\n{output()}")
                try:
                    if http.get(f"{url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llmock serve did not answer within {START_TIMEOUT:.0f} s:\n{output()}")
                time.sleep(0.05)
            yield Llmock(url, http)
        finally:
            http.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def llmock(llmock_server: Llmock) -> Iterator[Llmock]:
    """The module's server with an empty journal and no queued behaviours (shadows llmock's own
    pytest fixture of the same name, which runs an in-process server we do not use)."""
    llmock_server.reset()
    yield llmock_server
    llmock_server.reset()


# --------------------------------------------------------------------------- client


def prompt(text: str = "Summarise the Q3 report") -> Prompt:
    return Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": text}])])


async def drive(
    server: Llmock,
    *,
    turn: bool,
    request_max_retries: int = 2,
    stream_max_retries: int = 2,
    stream_idle_timeout_ms: int | None = None,
) -> tuple[list[Any], ModelClientError | None]:
    """Run one prompt through ``stream_turn`` (turn retries) or ``stream``; collect what came out."""
    transport = HttpxTransport()
    client = ModelClient(
        transport,
        settings=ModelSettings(model=MODEL),
        provider=ModelProviderInfo(base_url=server.base_url, stream_idle_timeout_ms=stream_idle_timeout_ms),
        auth="sk-test",
        retry=RetryPolicy(
            request_max_retries=request_max_retries,
            stream_max_retries=stream_max_retries,
            rand=lambda: 0.0,  # shortest backoff: 180 ms, 360 ms, 720 ms ...
        ),
    )
    events: list[Any] = []
    error: ModelClientError | None = None
    try:
        async with client.stream_turn(prompt()) if turn else client.stream(prompt()) as stream:
            async for event in stream:
                events.append(event)
    except ModelClientError as exc:
        error = exc
    finally:
        await transport.aclose()
    return events, error


def run(server: Llmock, **kw: Any) -> tuple[list[Any], ModelClientError | None]:
    return asyncio.run(drive(server, **kw))


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, OutputTextDelta))


def item_texts(events: list[Any]) -> list[str]:
    """The text of every finished message item."""
    return [
        part["text"]
        for e in events
        if isinstance(e, OutputItemDone) and e.item["type"] == "message"
        for part in e.item["content"]
        if part["type"] == "output_text"
    ]


def gaps(records: list[dict[str, Any]]) -> list[float]:
    """How long the client waited between the end of one attempt and the start of the next."""
    return [after["started_at"] - before["ended_at"] for before, after in itertools.pairwise(records)]


def reply(times: int = 1) -> dict[str, Any]:
    return {"type": "reply", "text": TEXT, "times": times}


def fault(kind: str, **fields: Any) -> dict[str, Any]:
    """A one-shot stream fault on the chunk of the second text delta."""
    return {"type": "stream_fault", "kind": kind, "after_chunks": SECOND_DELTA, **fields}


def summary(verdict: dict[str, Any]) -> dict[str, Any]:
    """The verdict's counters, without its findings."""
    return {k: v for k, v in verdict.items() if k != "findings"}


def clean_verdict(attempts: int, faults: int) -> dict[str, Any]:
    return {
        "passed": True,
        "calls": 1,
        "attempts": attempts,
        "faults_injected": faults,
        "errors": 0,
        "warnings": 0,
        "findings": [],
    }


def assert_complete_answer(events: list[Any]) -> None:
    """One whole answer: RateLimits first, Created, the text word by word, its item, Completed last."""
    assert isinstance(events[0], RateLimits)
    assert isinstance(events[1], Created)
    assert [e.delta for e in events if isinstance(e, OutputTextDelta)] == WORDS
    assert item_texts(events) == [TEXT]
    last = events[-1]
    assert isinstance(last, Completed)
    assert last.response_id.startswith("resp_")
    usage = last.token_usage
    assert usage is not None and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def split_at_reconnect(events: list[Any]) -> tuple[list[Any], Reconnecting, list[Any]]:
    notices = [e for e in events if isinstance(e, Reconnecting)]
    assert len(notices) == 1, notices
    at = events.index(notices[0])
    return events[:at], notices[0], events[at + 1 :]


# --------------------------------------------------------------------------- scenarios


def test_plain_success(llmock: Llmock) -> None:
    llmock.scenario(reply())

    events, error = run(llmock, turn=False)

    assert error is None
    assert_complete_answer(events)
    [record] = llmock.requests()
    assert (record["method"], record["path"], record["status"]) == ("POST", "/v1/responses", 200)
    assert record["completed"] is True and record["fault"] is None
    assert record["stream"] is True and record["model"] == MODEL
    assert record["body"]["stream"] is True and record["body"]["model"] == MODEL
    assert llmock.verdict() == clean_verdict(attempts=1, faults=0), llmock.verdict_text()


@pytest.mark.parametrize(
    ("retry_after", "header_seconds"),
    [
        pytest.param(1, 1, id="whole-seconds"),
        # llmock sends `retry-after: 1` (rounded up) and `retry-after-ms: 400`. A/B read
        # only the whole-second header and never `retry-after-ms` (parity row 15), so we
        # wait 1 s where 0.4 s would do: slower than asked, which llmock accepts.
        pytest.param(0.4, 1, id="sub-second"),
    ],
)
def test_429_waits_retry_after_then_succeeds(llmock: Llmock, retry_after: float, header_seconds: int) -> None:
    llmock.scenario({"type": "fail", "status": 429, "retry_after": retry_after, "times": 1}, reply())

    events, error = run(llmock, turn=False)

    assert error is None
    assert_complete_answer(events)
    first, second = llmock.requests()
    assert (first["status"], first["retry_after"], first["fault"]) == (429, retry_after, "scenario:429")
    assert second["status"] == 200 and second["fingerprint"] == first["fingerprint"]
    [waited] = gaps([first, second])
    assert header_seconds <= waited < header_seconds + 0.5
    # No `retry_after_ignored`: we waited at least what the server asked.
    assert llmock.verdict() == clean_verdict(attempts=2, faults=1), llmock.verdict_text()


def test_500_backs_off_exponentially_then_succeeds(llmock: Llmock) -> None:
    # llmock's 500 has no Retry-After, so the request loop waits backoff(1), backoff(2).
    llmock.scenario({"type": "fail", "status": 500, "times": 2}, reply())

    events, error = run(llmock, turn=False, request_max_retries=2)

    assert error is None
    assert_complete_answer(events)
    records = llmock.requests()
    assert [r["status"] for r in records] == [500, 500, 200]
    assert [r["retry_after"] for r in records] == [None, None, None]
    assert len({r["fingerprint"] for r in records}) == 1
    first, second = gaps(records)
    assert BACKOFF_1 <= first < BACKOFF_2
    assert BACKOFF_2 <= second < BACKOFF_2 + 0.18
    # No `no_backoff` warning: llmock saw the waits grow.
    assert llmock.verdict() == clean_verdict(attempts=3, faults=2), llmock.verdict_text()


def test_500_beyond_the_request_budget_is_internal_server_error(llmock: Llmock) -> None:
    llmock.scenario({"type": "fail", "status": 500, "times": 3}, reply())

    events, error = run(llmock, turn=False, request_max_retries=2)

    assert isinstance(error, InternalServerError)
    assert events == []
    assert [r["status"] for r in llmock.requests()] == [500, 500, 500]
    # The reply was never consumed: it waits for a request that gets through.
    assert [b["type"] for b in llmock.pending()] == ["reply"]
    # Giving up after bounded retries is fine for llmock (`gave_up` only flags a client
    # that never retried); the call simply did not succeed.
    assert llmock.verdict() == clean_verdict(attempts=3, faults=3), llmock.verdict_text()


def test_truncated_stream_is_an_error_and_the_turn_resends(llmock: Llmock) -> None:
    # The response ends cleanly after "alpha ": no response.completed, no error.
    llmock.scenario(fault("truncate"), reply(times=2))

    events, error = run(llmock, turn=True)

    assert error is None
    before, notice, after = split_at_reconnect(events)
    assert text_of(before) == "alpha "
    assert not any(isinstance(e, Completed) for e in before)
    assert type(notice.error) is StreamError
    assert notice.error.message == "stream closed before response.completed"
    assert (notice.attempt, notice.max_attempts, notice.delay) == (1, 2, timedelta(milliseconds=180))
    assert_complete_answer(after)
    first, second = llmock.requests()
    assert first["fault"] == f"stream:truncate@{SECOND_DELTA}" and first["completed"] is False
    assert first["chunks_sent"] == SECOND_DELTA
    assert second["completed"] is True and second["fingerprint"] == first["fingerprint"]
    assert gaps([first, second])[0] >= BACKOFF_1
    # No `truncated_stream_accepted`: the last attempt of the call is a complete one.
    assert llmock.verdict() == clean_verdict(attempts=2, faults=1), llmock.verdict_text()


def test_disconnect_mid_stream_is_an_error_and_the_turn_resends(llmock: Llmock) -> None:
    llmock.scenario(fault("disconnect"), reply(times=2))

    events, error = run(llmock, turn=True)

    assert error is None
    before, notice, after = split_at_reconnect(events)
    assert text_of(before) == "alpha "
    assert type(notice.error) is StreamError
    assert notice.error.message.startswith("error reading the response body")
    assert (notice.attempt, notice.delay) == (1, timedelta(milliseconds=180))
    assert_complete_answer(after)
    first, second = llmock.requests()
    assert first["fault"] == f"stream:disconnect@{SECOND_DELTA}" and first["completed"] is False
    assert second["completed"] is True and second["fingerprint"] == first["fingerprint"]
    assert gaps([first, second])[0] >= BACKOFF_1
    # No `gave_up`: the dropped connection was retried.
    assert llmock.verdict() == clean_verdict(attempts=2, faults=1), llmock.verdict_text()


def test_malformed_chunk_is_skipped_and_the_stream_completes(llmock: Llmock) -> None:
    # The "beta " delta arrives with its JSON cut in half.
    llmock.scenario(fault("malformed"), reply())

    events, error = run(llmock, turn=True)

    assert error is None
    assert not any(isinstance(e, Reconnecting) for e in events)
    # Rust's process_sse skips an event it cannot parse and reads on (parity row 38):
    # the delta is lost, the finished item still carries the whole text, the turn completes.
    assert text_of(events) == "alpha gamma delta"
    assert item_texts(events) == [TEXT]
    assert isinstance(events[-1], Completed)
    [record] = llmock.requests()
    assert record["fault"] == f"stream:malformed@{SECOND_DELTA}" and record["completed"] is True
    # DISAGREEMENT: llmock warns `malformed_chunk_ignored` for a client that "neither
    # retried nor stopped reading" after a corrupted chunk. Skipping it is exactly the
    # Rust rule we follow (a malformed event is never fatal), so the warning stays: the
    # verdict still passes (warnings are not errors) and this is the only finding.
    verdict = llmock.verdict()
    assert summary(verdict) == {
        "passed": True,
        "calls": 1,
        "attempts": 1,
        "faults_injected": 1,
        "errors": 0,
        "warnings": 1,
    }
    [finding] = verdict["findings"]
    assert (finding["severity"], finding["code"]) == ("warning", "malformed_chunk_ignored")
    assert finding["requests"] == [1]


def test_stalled_stream_hits_the_idle_timeout(llmock: Llmock) -> None:
    llmock.scenario(fault("stall", stall_seconds=5), reply())

    started = time.monotonic()
    events, error = run(llmock, turn=False, stream_idle_timeout_ms=300)
    elapsed = time.monotonic() - started

    assert isinstance(error, IdleTimeoutError)
    assert text_of(events) == "alpha "
    assert 0.3 <= elapsed < 2.0  # not the 5 s stall
    [record] = llmock.requests()
    assert record["fault"] == f"stream:stall@{SECOND_DELTA}" and record["completed"] is False
    # llmock measured how long we sat in the stall before hanging up.
    assert record["stall_waited"] is not None and 0.25 <= record["stall_waited"] < 1.0
    # No `no_read_timeout` (we did not sit through the stall). No `gave_up` either: llmock
    # does not count a stall as retryable, so a plain stream() that raises is not flagged.
    assert llmock.verdict() == clean_verdict(attempts=1, faults=1), llmock.verdict_text()


def test_stalled_stream_is_resent_by_the_turn_retry(llmock: Llmock) -> None:
    llmock.scenario(fault("stall", stall_seconds=5), reply(times=2))

    started = time.monotonic()
    events, error = run(llmock, turn=True, stream_idle_timeout_ms=300)
    elapsed = time.monotonic() - started

    assert error is None
    assert elapsed < 2.5
    before, notice, after = split_at_reconnect(events)
    assert text_of(before) == "alpha "
    assert isinstance(notice.error, IdleTimeoutError)
    assert notice.delay == timedelta(milliseconds=180)
    assert_complete_answer(after)
    first, second = llmock.requests()
    assert first["fault"] == f"stream:stall@{SECOND_DELTA}" and first["completed"] is False
    assert second["completed"] is True and second["fingerprint"] == first["fingerprint"]
    assert llmock.verdict() == clean_verdict(attempts=2, faults=1), llmock.verdict_text()


def test_an_outage_stops_at_the_per_turn_attempt_cap_within_llmocks_storm_limit(llmock: Llmock) -> None:
    # A permanent 503 (llmock's `outage()`), with `retry-after: 0` to keep the test fast.
    llmock.scenario({"type": "fail", "status": 503, "retry_after": 0, "times": None})

    events, error = run(llmock, turn=True, request_max_retries=2, stream_max_retries=3)

    # Rust A nests its two retry loops: each turn attempt runs the whole request loop
    # (here 3 attempts), ends in RetryLimit, and run_turn re-sends: (2 + 1) × (3 + 1) = 12
    # requests, 30 with the default budgets. We cap the requests of one user message at
    # 10 (RetryPolicy.max_attempts_per_turn), and the turn-level waits are the server's
    # Retry-After (0 s here) carried on RetryLimitError, not backoff.
    assert isinstance(error, RetryLimitError) and error.status == 503
    notices = [e for e in events if isinstance(e, Reconnecting)]
    assert [(n.attempt, n.delay.total_seconds()) for n in notices] == [(1, 0.0), (2, 0.0), (3, 0.0)]
    assert all(isinstance(n.error, RetryLimitError) for n in notices)
    records = llmock.requests()
    assert [r["status"] for r in records] == [503] * 10
    assert [r["retry_after"] for r in records] == [0.0] * 10
    # llmock's `retry_storm` finding fires above 10 attempts for one call; with Rust's
    # uncapped nesting a long outage always tripped it. The cap keeps the client
    # within it, Retry-After was honoured and the call was retried: a clean verdict.
    assert llmock.verdict() == clean_verdict(attempts=10, faults=10), llmock.verdict_text()
