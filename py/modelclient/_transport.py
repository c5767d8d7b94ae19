"""The transport seam: one small protocol, and the in-memory shell.

A transport sends one HTTP request and hands back the status, the headers and an
async iterator over the body's bytes; it knows nothing of SSE, retries or the
Responses API. The client (``_client.py``) owns all of that, so the same client
runs over the browser's ``fetch`` (:class:`~modelclient.FetchTransport`, Pyodide),
``httpx`` (:class:`~modelclient.HttpxTransport`, CPython) and
:class:`MockTransport` (unit tests).

Contract every shell keeps, translating its own foreign errors in one place:

* no response at all (DNS, refused, TLS, aborted before headers) raises
  :class:`~modelclient.ConnectionFailedError`;
* a failure while reading the body raises :class:`~modelclient.StreamError`;
* :meth:`StreamResponse.aclose` releases the connection and, if the body was not
  read to the end, aborts the request (stop = abort the fetch at once);
* the body is handed on **decoded**: a ``Content-Encoding`` (gzip, deflate, br)
  is undone by the shell (httpx) or by the browser (``fetch``); a body that
  fails to decode raises :class:`~modelclient.StreamError`;
* cancelling :meth:`Transport.send` (the client's connect timeout does) aborts
  the request.

The client bounds ``send`` with the provider's connect timeout and every body
read with the idle timeout, the same way on every shell.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ._errors import StreamError
from ._headers import HeadersLike, normalize_headers

__all__ = ["HttpRequest", "MockTransport", "StreamResponse", "Transport"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request, ready to send.

    Fields:
        method: ``"POST"`` for the Responses API.
        url: the full URL.
        headers: header names as the client wrote them.
        body: the encoded body, or ``None``.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


class StreamResponse:
    """A response whose body has not been read yet.

    ``headers`` may be a mapping or ``(name, value)`` pairs; it is kept as one
    ``{lower-case name: first value}`` dict (a repeated header's first value
    wins, as Rust's ``HeaderMap::get``). Iterate :meth:`aiter_bytes` once, or call
    :meth:`aread` for small bodies (error replies).
    """

    def __init__(
        self,
        status: int,
        headers: HeadersLike,
        chunks: AsyncIterator[bytes],
        *,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status = status
        self.headers = normalize_headers(headers)
        self._chunks = chunks
        self._close = close
        self._closed = False

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aread(self) -> bytes:
        parts = [chunk async for chunk in self._chunks]
        await self.aclose()
        return b"".join(parts)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()
        if self._close is not None:
            await self._close()


@runtime_checkable
class Transport(Protocol):
    """Sends requests. Implementations: FetchTransport, HttpxTransport, MockTransport."""

    async def send(self, request: HttpRequest) -> StreamResponse:
        """Send ``request``; return once the status and headers have arrived."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


# A mock handler returns (status, headers, body) where body is bytes or an
# iterable of chunks; an exception instance in the chunks is raised mid-body.
MockBody = bytes | Iterable[bytes | BaseException]
MockReply = tuple[int, Mapping[str, str], MockBody]
MockHandler = Callable[[HttpRequest], MockReply | Awaitable[MockReply]]


class MockTransport:
    """An in-memory transport driven by a plain function (like ``httpx.MockTransport``).

    The handler may also raise to simulate a connection failure. Every request is
    kept in :attr:`requests`, and :attr:`closed_early` counts bodies the client
    abandoned before their end (what an abort would cancel).
    """

    def __init__(self, handler: MockHandler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []
        self.closed_early = 0

    async def send(self, request: HttpRequest) -> StreamResponse:
        self.requests.append(request)
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        status, headers, body = reply
        chunks: Iterable[bytes | BaseException] = [body] if isinstance(body, bytes) else body
        finished = False

        async def stream() -> AsyncIterator[bytes]:
            nonlocal finished
            for chunk in chunks:
                if isinstance(chunk, BaseException):
                    raise chunk if isinstance(chunk, StreamError) else StreamError(str(chunk))
                yield chunk
            finished = True

        async def close() -> None:
            if not finished:
                self.closed_early += 1

        return StreamResponse(status, headers, stream(), close=close)

    async def aclose(self) -> None:
        pass
