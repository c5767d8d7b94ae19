"""What FetchTransport gets from the browser when a server compresses, repeats or keeps silent.

The worker runs a turn (``diag.chat``) through Chromium's ``fetch`` against a
small aiohttp server on loopback that behaves like third-party servers did:
a gzip- or deflate-encoded event stream, repeated rate-limit headers, and a
server that accepts the request and never answers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

from tests.e2e.conftest import Extension

pytestmark = pytest.mark.e2e


def sse(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


STREAM = b"".join([
    sse({"type": "response.created", "response": {"id": "r"}}),
    sse({"type": "response.output_text.delta", "delta": "Decoded "}),
    sse({"type": "response.output_text.delta", "delta": "by the browser"}),
    sse({"type": "response.completed", "response": {"id": "r"}}),
])


class Servers:
    """aiohttp on its own thread: /gzip, /deflate, /silent (a raw socket that never answers)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.silent_accepted = 0
        self.silent_closed_by_client = 0
        self.port = 0
        self.silent_port = 0

    async def _compressed(self, request: web.Request) -> web.StreamResponse:
        encoding = request.match_info["encoding"]
        body = gzip.compress(STREAM) if encoding == "gzip" else zlib.compress(STREAM)
        headers = CIMultiDict([
            ("content-type", "text/event-stream"), ("content-encoding", encoding),
            ("x-ratelimit-limit-requests", "500"), ("x-ratelimit-limit-requests", "9"),
        ])
        return web.Response(body=body, headers=headers)

    async def _silent(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.silent_accepted += 1
        while await reader.read(65536):  # read the request, answer nothing
            pass
        self.silent_closed_by_client += 1  # EOF: the browser aborted the fetch
        writer.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{encoding}/v1/responses", self._compressed)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        silent = await asyncio.start_server(self._silent, "127.0.0.1", 0)
        self.silent_port = silent.sockets[0].getsockname()[1]

    def __enter__(self) -> Servers:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._start())
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with Servers() as s:
        yield s


def chat(extension: Extension, base_url: str, **extra: object) -> dict[str, Any]:
    message = {"type": "diag.chat", "id": 1, "base_url": base_url, "api_key": "sk-e2e", "text": "hi", **extra}
    return extension.send(message)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_fetch_hands_on_a_decoded_stream(extension: Extension, servers: Servers, encoding: str) -> None:
    reply = chat(extension, f"http://127.0.0.1:{servers.port}/{encoding}/v1")
    assert "error" not in reply, reply
    assert reply["text"] == "Decoded by the browser"


def test_fetch_joins_repeated_headers_and_the_first_wins(extension: Extension, servers: Servers) -> None:
    reply = chat(extension, f"http://127.0.0.1:{servers.port}/gzip/v1")
    limits = reply["rate_limits"]
    assert isinstance(limits, dict)
    # The browser's Headers gives "500, 9"; the reader takes the first value, as httpx's pairs do.
    assert limits["requests"]["limit"] == 500


def test_a_silent_server_times_out_and_the_fetch_is_aborted(extension: Extension, servers: Servers) -> None:
    before = servers.silent_accepted
    started = time.monotonic()
    reply = chat(extension, f"http://127.0.0.1:{servers.silent_port}/v1", connect_timeout_ms=500)
    elapsed = time.monotonic() - started
    error = reply["error"]
    assert isinstance(error, dict) and error["kind"] == "connection_failed", reply
    assert "within 0.5 s (connect timeout)" in error["message"]
    assert servers.silent_accepted - before >= 2  # retried per request policy
    assert elapsed < 60
    deadline = time.monotonic() + 10
    while servers.silent_closed_by_client < servers.silent_accepted and time.monotonic() < deadline:
        time.sleep(0.1)
    assert servers.silent_closed_by_client == servers.silent_accepted  # every timed-out fetch was aborted
