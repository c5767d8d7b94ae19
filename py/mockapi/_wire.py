"""aiohttp plumbing of the mock server: the stream sink and the CORS answers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import NoReturn

from aiohttp import web

from ._payloads import ResponseContext
from ._steps import StreamEnd

__all__ = ["Sink", "add_cors", "control_error", "preflight"]

# Headers a page may read without being told (plus hop-by-hop ones not worth exposing).
_NOT_EXPOSED = {
    "cache-control", "content-language", "content-length", "content-type",
    "expires", "last-modified", "pragma", "connection", "keep-alive", "transfer-encoding",
}


class Sink:
    """The aiohttp side of one open stream (implements ``_steps.Sink``)."""

    def __init__(
        self, request: web.Request, resp: web.StreamResponse, ctx: ResponseContext,
        stopping: asyncio.Event,
    ) -> None:
        self.ctx = ctx
        self._request = request
        self._resp = resp
        self._stopping = stopping
        self._size: int | None = None
        self._delay = 0.0
        self._pending = b""
        self._wrote = False

    async def write(self, data: bytes) -> None:
        if not self._size:
            await self._resp.write(data)
            return
        # Chunking cuts the byte stream itself, across event boundaries: that is what a
        # decoder meets on a real network.
        self._pending += data
        while len(self._pending) >= self._size:
            piece, self._pending = self._pending[: self._size], self._pending[self._size :]
            await self._send_piece(piece)

    async def flush(self) -> None:
        """Send a partial chunk held back by chunking (before pauses and at the end)."""
        if self._pending:
            piece, self._pending = self._pending, b""
            await self._send_piece(piece)

    async def _send_piece(self, piece: bytes) -> None:
        if self._wrote and self._delay:
            await self._pause(self._delay)
        await self._resp.write(piece)
        self._wrote = True

    async def sleep(self, seconds: float) -> None:
        await self.flush()
        await self._pause(seconds)

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
            await self._drop()

    async def set_chunking(self, size: int | None, delay: float) -> None:
        await self.flush()
        self._size, self._delay = size, delay

    async def cut(self) -> NoReturn:
        await self.flush()
        await self._drop()

    async def _drop(self) -> NoReturn:
        transport = self._request.transport
        if transport is not None:
            # abort() drops bytes still in the transport's buffer: let them go out first,
            # so the client sees everything written before the cut.
            while transport.get_write_buffer_size() and not transport.is_closing():
                await asyncio.sleep(0.001)
            transport.abort()
        raise StreamEnd("connection cut")

    async def stall(self) -> NoReturn:
        await self.flush()
        # The handler is cancelled when the client hangs up (handler_cancellation).
        await self._stopping.wait()
        # A server going away mid-stream drops the connection: the client must not
        # mistake the end of the body for a complete one.
        await self._drop()


def control_error(message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "mock_error"}}, status=400)


def preflight(request: web.Request) -> web.Response:
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        # A "*" here would not cover Authorization, so echo what was asked for.
        "Access-Control-Allow-Headers": request.headers.get(
            "Access-Control-Request-Headers", "*"
        ),
        "Access-Control-Max-Age": "600",
    }
    if request.headers.get("Access-Control-Request-Private-Network") == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return web.Response(status=204, headers=headers)


async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Access-Control-Allow-Origin", "*")
    exposed = sorted({
        name.lower() for name in headers
        if name.lower() not in _NOT_EXPOSED and not name.lower().startswith("access-control-")
    })
    if exposed:
        headers["Access-Control-Expose-Headers"] = ", ".join(exposed)
