"""The CPython shell: streams over ``httpx`` (tests, benchmarks, a CLI).

``httpx`` is imported when the transport is created, so ``import modelclient``
works where httpx is absent (Pyodide); install it with the ``httpx`` extra.

httpx advertises ``Accept-Encoding: gzip, deflate`` (plus ``br`` when a Brotli
package is installed, which the extra brings), so a server may compress the
event stream or an error body: the body is read decoded (``aiter_bytes``), never
raw. Repeated headers are passed on as pairs, so their first value wins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ._errors import ConnectionFailedError, StreamError
from ._transport import HttpRequest, StreamResponse

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpxTransport"]


class HttpxTransport:
    """:class:`~modelclient.Transport` over an ``httpx.AsyncClient``.

    There is no read timeout here on purpose: the client enforces the connect
    (headers) and stream idle timeouts itself, the same way on every transport;
    ``connect_timeout`` only bounds the TCP/TLS connect of the client it creates.
    """

    def __init__(self, client: httpx.AsyncClient | None = None, *, connect_timeout: float = 30.0) -> None:
        import httpx

        self._httpx = httpx
        self._owned = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(connect=connect_timeout, read=None, write=connect_timeout, pool=None)
        )

    async def send(self, request: HttpRequest) -> StreamResponse:
        httpx = self._httpx
        req = self._client.build_request(
            request.method, request.url, headers=dict(request.headers), content=request.body
        )
        try:
            response = await self._client.send(req, stream=True)
        except httpx.TransportError as exc:
            raise ConnectionFailedError(_describe(exc)) from exc

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            except httpx.DecodingError as exc:
                encoding = response.headers.get("content-encoding", "")
                raise StreamError(f"could not decode the {encoding} response body: {_describe(exc)}") from exc
            except httpx.TransportError as exc:
                raise StreamError(f"error reading the response body: {_describe(exc)}") from exc

        headers = response.headers.multi_items()  # pairs: a repeated header's first value wins
        return StreamResponse(response.status_code, headers, chunks(), close=response.aclose)

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
