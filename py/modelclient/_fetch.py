"""The Pyodide shell: streams over the browser's ``fetch`` (the extension's worker).

Pyodide's own ``pyfetch`` only reads whole bodies, so this reads
``response.body.getReader()`` itself and hands each chunk on as ``bytes``. The
JS modules are imported when the transport is created, so ``import modelclient``
still works on CPython (where this class cannot be used).

What the browser does for us: it decodes ``Content-Encoding`` (gzip, deflate,
br) before the body reaches ``getReader()``, and it joins a repeated header into
one ``"v1, v2"`` value (the header readers take its first element).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from ._errors import ConnectionFailedError, StreamError
from ._transport import HttpRequest, StreamResponse

__all__ = ["FetchTransport"]


class FetchTransport:
    """:class:`~modelclient.Transport` over ``fetch``, with an ``AbortController`` per request.

    ``fetcher`` replaces the global ``fetch`` (tests, or a bridge that adds
    credentials); it takes ``(url, init)`` like ``fetch`` and returns a Response.
    """

    def __init__(self, fetcher: Callable[..., Any] | None = None) -> None:
        import js
        from pyodide.ffi import JsException, to_js

        self._js = js
        self._to_js = to_js
        self._JsException = JsException
        self._fetch = fetcher or js.fetch

    async def send(self, request: HttpRequest) -> StreamResponse:
        js = self._js
        controller = js.AbortController.new()
        init: dict[str, Any] = {
            "method": request.method,
            "headers": dict(request.headers),
            "signal": controller.signal,
        }
        if request.body is not None:
            init["body"] = request.body.decode()
        try:
            response = await self._fetch(request.url, self._to_js(init, dict_converter=js.Object.fromEntries))
        except self._JsException as exc:
            # The browser gives no detail on purpose (CORS, DNS, refused all look alike).
            raise ConnectionFailedError(f"{request.method} {request.url} failed: {exc}") from exc
        except BaseException:
            # Cancelled (the client's connect timeout, or a stop) before the headers:
            # abort, or the browser keeps the request open.
            controller.abort()
            raise

        headers = {str(pair[0]): str(pair[1]) for pair in response.headers.entries()}
        reader = response.body.getReader() if response.body else None
        finished = reader is None

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal finished
            if reader is None:
                return
            try:
                while True:
                    result = await reader.read()
                    if result.done:
                        finished = True
                        return
                    yield result.value.to_bytes()
            except self._JsException as exc:
                raise StreamError(f"error reading the response body: {exc}") from exc

        async def close() -> None:
            if not finished:
                controller.abort()

        return StreamResponse(int(response.status), headers, chunks(), close=close)

    async def aclose(self) -> None:
        pass
