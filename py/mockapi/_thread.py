"""The mock server on its own thread and event loop, for sync tests and Playwright."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Any

from ._server import MockResponsesServer
from ._state import Controls, RecordedRequest

__all__ = ["MockServerThread"]


class MockServerThread(Controls):
    """:class:`MockResponsesServer` on its own thread and event loop, for sync code.

    ``with MockServerThread(api_key="sk-test") as srv:`` starts on a free port;
    ``srv.base_url``, :meth:`enqueue`, :attr:`requests` work from any thread.
    Takes the same keyword arguments as :class:`MockResponsesServer`.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.server = MockResponsesServer(**kwargs)
        self._state = self.server._state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> MockServerThread:
        """Start the thread and wait until the server listens."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # handed to the starting thread
                errors.append(exc)
                loop.close()
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="mockapi-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("mock server did not start")
        if errors:
            raise errors[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = self._thread = None

    def __enter__(self) -> MockServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    @property
    def root_url(self) -> str:
        """``http://host:port``."""
        return self.server.root_url

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return self.server.base_url

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, ``http://host:port/oauth/token``."""
        return self.server.token_url

    def wait_for_requests(
        self, count: int, *, endpoint: str | None = "responses", timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Block until ``count`` requests to ``endpoint`` (``None``: any) were recorded."""
        deadline = time.monotonic() + timeout
        while len(found := self._filter(self.requests, endpoint)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} requests after {timeout}s")
            time.sleep(0.01)
        return found
