"""The client: glue between the sans-IO core and a transport (Rust ``ModelClient``).

``ModelClient.stream(prompt)`` is Rust A's ``stream_responses``: build the request
and headers, POST it with the request-level retry loop (each attempt bounded by
the connect timeout), emit ``RateLimits`` from the response headers first, then
feed the body through the SSE decoder and ``process_sse`` parser, enforcing the
idle timeout between chunks. ``ModelClient.stream_turn(prompt)`` adds the
turn-level retry that Rust keeps in ``run_turn``, announcing each re-send with a
:class:`Reconnecting` notice so a UI can say "Reconnecting… 2/5". Both layers
draw on one per-turn budget of HTTP requests (``RetryPolicy.max_attempts_per_turn``).

A 2xx whose body is JSON rather than an event stream (``{"error": {...}}``, as
some compatible servers answer) raises the server's own error instead of
"stream closed before response.completed".

Stopping is cancelling: leave the ``async with`` block (or call ``aclose()``) and
the transport aborts the request at once.

Clock, sleep and timeout are injected so the unit tests drive the whole client
without an event loop (they run on CPython and inside Pyodide under Node).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, TypeVar

from ._chat_request import ChatCompletionsRequest, build_chat_request
from ._chat_stream import ChatCompletionsStreamParser
from ._errors import ConnectionFailedError, IdleTimeoutError, ModelClientError, StreamError
from ._events import RateLimits, ResponseEvent
from ._json import loads_untrusted
from ._provider import ModelProviderInfo, ModelSettings
from ._ratelimits import parse_rate_limits
from ._request import DEFAULT_ORIGINATOR, Prompt, ResponsesApiRequest, build_request, request_headers
from ._retry import Fatal, RetryableTransport, RetryPolicy
from ._sse import SSEDecoder
from ._stream import ResponseStreamParser, classify_error_event
from ._transport import HttpRequest, StreamResponse, Transport

__all__ = ["ApiKeyAuth", "Auth", "ModelClient", "Reconnecting", "ResponseStream"]

T = TypeVar("T")
E_co = TypeVar("E_co", covariant=True)

Sleep = Callable[[float], Awaitable[None]]
WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]

#: How much of a 2xx body is kept while no SSE event has been seen, to read a
#: JSON error sent in place of the stream. Real streams dispatch an event within
#: the first few hundred bytes, so this costs nothing once they flow.
_JSON_SNIFF_BYTES = 64 * 1024


class Auth(Protocol):
    """Where the bearer token comes from (an API key, or ChatGPT tokens that refresh)."""

    @property
    def mode(self) -> Literal["apikey", "chatgpt"]: ...

    @property
    def account_id(self) -> str | None:
        """ChatGPT account id, sent as ``chatgpt-account-id``."""
        ...

    @property
    def plan_type(self) -> str | None:
        """The plan from the id token; names the plan in usage-limit messages."""
        ...

    @property
    def can_refresh(self) -> bool:
        """Whether a 401 is worth a token refresh and another attempt."""
        ...

    async def token(self) -> str | None:
        """The bearer token for the next attempt (fetched fresh each attempt, as Rust)."""
        ...

    async def refresh(self) -> None:
        """Refresh after a 401; raise a :class:`ModelClientError` if it cannot."""
        ...


class ApiKeyAuth:
    """An API key: never refreshed, so a 401 is final."""

    mode: Literal["apikey"] = "apikey"
    account_id = None
    plan_type = None
    can_refresh = False

    def __init__(self, key: str) -> None:
        self._key = key

    async def token(self) -> str | None:
        return self._key

    async def refresh(self) -> None:  # pragma: no cover - never called (can_refresh is False)
        raise AssertionError("API keys are not refreshed")

    def __repr__(self) -> str:
        return "ApiKeyAuth(…)"  # never print the key


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """Turn-level retry notice; not one of Rust's ``ResponseEvent`` variants.

    The stream failed with ``error``; after ``delay`` the whole request is sent
    again, and its events start over — a UI should drop the partial answer.

    Fields:
        attempt: the re-send about to happen, 1-based.
        max_attempts: the stream retry budget.
        delay: the wait before the re-send.
        error: why the previous attempt failed.
    """

    attempt: int
    max_attempts: int
    delay: timedelta
    error: ModelClientError

    @property
    def message(self) -> str:
        # Rust's wording since late Oct 2025 ("Re-connecting..." before).
        return f"Reconnecting... {self.attempt}/{self.max_attempts}"


class ResponseStream(Generic[E_co]):
    """The events of one response; an async iterator and an async context manager.

    ``ResponseStream[ResponseEvent]`` from :meth:`ModelClient.stream`,
    ``ResponseStream[ResponseEvent | Reconnecting]`` from
    :meth:`ModelClient.stream_turn`. Leaving the ``async with`` block (or
    :meth:`aclose`) before the end aborts the request.
    """

    def __init__(self, events: AsyncGenerator[E_co, None]) -> None:
        self._events = events

    def __aiter__(self) -> ResponseStream[E_co]:
        return self

    async def __anext__(self) -> E_co:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> ResponseStream[E_co]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ModelClient:
    """Streams Responses API turns over a :class:`~modelclient.Transport`.

    Args:
        transport: FetchTransport (browser), HttpxTransport (CPython) or MockTransport.
        settings: model, reasoning effort/summary, verbosity.
        provider: base URL, extra headers, retry budgets, connect and idle timeouts
            (defaults: OpenAI).
        auth: an :class:`Auth`, an API key string, or ``None`` (no Authorization header).
        conversation_id: session id and prompt cache key; a new UUID by default.
        base_instructions: the instructions sent unless the prompt overrides them.
        retry: retry budgets and decisions; built from the provider's budgets by default.
        originator: the ``originator`` header (default ``sidepy``).
        user_agent: the ``User-Agent`` header, if any.
        product: the product named in error texts where Codex names itself
            ("SidePy ran out of room…"); ``None`` words them without a name.
        sleep: waits between retries (``asyncio.sleep``).
        with_timeout: bounds each send (connect timeout) and body read (idle
            timeout) (``asyncio.wait_for``).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        settings: ModelSettings,
        provider: ModelProviderInfo | None = None,
        auth: Auth | str | None = None,
        conversation_id: str | None = None,
        base_instructions: str = "",
        retry: RetryPolicy | None = None,
        originator: str = DEFAULT_ORIGINATOR,
        user_agent: str | None = None,
        product: str | None = None,
        sleep: Sleep = asyncio.sleep,
        with_timeout: WithTimeout = asyncio.wait_for,
    ) -> None:
        self.transport = transport
        self.settings = settings
        self.provider = provider or ModelProviderInfo()
        self.auth: Auth | None = ApiKeyAuth(auth) if isinstance(auth, str) else auth
        self.conversation_id = conversation_id or str(uuid.uuid4())
        self.base_instructions = base_instructions
        self.retry = retry or RetryPolicy(
            request_max_retries=self.provider.effective_request_max_retries(),
            stream_max_retries=self.provider.effective_stream_max_retries(),
        )
        self.originator = originator
        self.user_agent = user_agent
        self.product = product
        self._sleep = sleep
        self._with_timeout = with_timeout

    @property
    def idle_timeout(self) -> timedelta:
        return self.provider.stream_idle_timeout()

    def build_request(self, prompt: Prompt) -> ResponsesApiRequest | ChatCompletionsRequest:
        """The request body :meth:`stream` sends for ``prompt``, in the provider's wire API."""
        if self.provider.wire_api == "chat":
            return build_chat_request(
                prompt, self.settings, base_instructions=self.base_instructions, provider=self.provider
            )
        return build_request(
            prompt,
            self.settings,
            base_instructions=self.base_instructions,
            conversation_id=self.conversation_id,
            provider=self.provider,
        )

    def stream(self, prompt: Prompt) -> ResponseStream[ResponseEvent]:
        """One request with request-level retries; yields ``ResponseEvent`` values.

        ``RateLimits`` comes first (from the 2xx response's headers), ``Completed``
        last. Errors are raised as :class:`ModelClientError` subclasses.
        """
        return ResponseStream(self._events(prompt, _Attempts()))

    def stream_turn(self, prompt: Prompt) -> ResponseStream[ResponseEvent | Reconnecting]:
        """Like :meth:`stream`, re-sending the request after retryable stream errors.

        Yields ``ResponseEvent`` values and a :class:`Reconnecting` notice before
        each re-send (after the server's requested delay, when it gave one);
        raises once a budget is spent (``stream_max_retries`` re-sends, or
        ``max_attempts_per_turn`` HTTP requests over both layers) or the error
        is fatal.
        """
        return ResponseStream(self._turn(prompt))

    # ------------------------------------------------------------------ internals

    async def _turn(self, prompt: Prompt) -> AsyncGenerator[ResponseEvent | Reconnecting, None]:
        retries = 0
        attempts = _Attempts()
        while True:
            try:
                async with ResponseStream(self._events(prompt, attempts)) as events:
                    async for event in events:
                        yield event
                return
            except ModelClientError as error:
                if not self.retry.should_retry_stream(error, retries, attempts.sent):
                    raise
                retries += 1
                delay = self.retry.stream_delay(error, retries)
                yield Reconnecting(retries, self.retry.stream_max_retries, delay, error)
                await self._sleep(delay.total_seconds())

    async def _events(self, prompt: Prompt, attempts: _Attempts) -> AsyncGenerator[ResponseEvent, None]:
        body = json.dumps(self.build_request(prompt).to_payload(), separators=(",", ":")).encode()
        response = await self._open(body, attempts)
        try:
            # A emits a snapshot on every 2xx, even with no rate-limit headers.
            snapshot = parse_rate_limits(response.headers)
            if snapshot is not None:
                yield RateLimits(snapshot)
            async for event in self._parse(response):
                yield event
        finally:
            await response.aclose()

    async def _next_chunk(self, chunks: AsyncIterator[bytes]) -> bytes | None:
        """The next body chunk within the idle timeout; ``None`` at the end."""
        try:
            chunk: bytes = await self._with_timeout(anext(chunks), self.idle_timeout.total_seconds())
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise IdleTimeoutError() from None
        return chunk

    async def _parse(self, response: StreamResponse) -> AsyncIterator[ResponseEvent]:
        decoder = SSEDecoder()
        parser: ResponseStreamParser | ChatCompletionsStreamParser
        if self.provider.wire_api == "chat":
            parser = ChatCompletionsStreamParser(product=self.product)
        else:
            parser = ResponseStreamParser(product=self.product)
        chunks = response.aiter_bytes()
        if _is_json(response.headers.get("content-type")):
            raise await self._json_body_error(chunks, b"")
        # Kept until the first event: a JSON error sent as `text/event-stream`.
        sniffed: list[bytes] | None = []
        while not parser.completed:
            chunk = await self._next_chunk(chunks)
            if chunk is None:
                break
            if sniffed is not None:
                if parser.saw_event or sum(map(len, sniffed)) > _JSON_SNIFF_BYTES:
                    sniffed = None
                else:
                    sniffed.append(chunk)
            for sse in decoder.feed(chunk):
                for event in parser.feed(sse):
                    yield event
        for sse in decoder.close():
            for event in parser.feed(sse):
                yield event
        if sniffed and not parser.saw_event and b"".join(sniffed).lstrip().startswith(b"{"):
            raise await self._json_body_error(chunks, b"".join(sniffed))
        # Raises the stream's error unless Completed was produced; a chat stream
        # that ended without [DONE] still owes its items and Completed.
        for event in parser.close() or ():
            yield event

    async def _json_body_error(self, chunks: AsyncIterator[bytes], head: bytes) -> ModelClientError:
        """The error a 2xx JSON body (not an event stream) stands for.

        ``{"error": …}`` gives the server's own error, classified as an ``error``
        event; anything else says what came instead of the stream.
        """
        parts = [head]
        size = len(head)
        while size <= _JSON_SNIFF_BYTES:
            chunk = await self._next_chunk(chunks)
            if chunk is None:
                break
            parts.append(chunk)
            size += len(chunk)
        text = b"".join(parts).decode("utf-8", errors="replace")
        try:
            parsed = loads_untrusted(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "error" in parsed:
            return classify_error_event(parsed, text, self.product)
        shown = " ".join(text.split())[:200] or "an empty body"
        return StreamError(f"expected an event stream, got JSON: {shown}")

    async def _send(self, request: HttpRequest) -> StreamResponse:
        """One attempt, bounded by the connect timeout (no headers in time = no response)."""
        timeout = self.provider.connect_timeout().total_seconds()
        try:
            response: StreamResponse = await self._with_timeout(self.transport.send(request), timeout)
        except TimeoutError:
            raise ConnectionFailedError(
                f"no response from {request.url} within {timeout:g} s (connect timeout)"
            ) from None
        return response

    async def _read_error_body(self, response: StreamResponse) -> bytes:
        """A failed response's body within the idle timeout (a stall reads as empty)."""
        try:
            body: bytes = await self._with_timeout(response.aread(), self.idle_timeout.total_seconds())
        except TimeoutError:
            await response.aclose()
            return b""
        except StreamError:
            return b""
        return body

    async def _open(self, body: bytes, attempts: _Attempts) -> StreamResponse:
        """POST with the request-level retry loop; return the 2xx response."""
        chatgpt = self.auth is not None and self.auth.mode == "chatgpt"
        url = self.provider.stream_url(chatgpt_auth=chatgpt)
        attempt = 0
        while True:
            token = await self.auth.token() if self.auth else None
            headers = request_headers(
                self.conversation_id,
                provider=self.provider,
                bearer_token=token,
                chatgpt_account_id=self.auth.account_id if chatgpt and self.auth else None,
                originator=self.originator,
                user_agent=self.user_agent,
            )
            attempts.sent += 1
            try:
                response = await self._send(HttpRequest("POST", url, headers, body))
            except ConnectionFailedError as error:
                outcome: Any = RetryableTransport(error)
            else:
                if 200 <= response.status < 300:
                    return response
                error_body = await self._read_error_body(response)
                outcome = self.retry.classify_response(
                    response.status,
                    response.headers,
                    error_body,
                    can_refresh_auth=bool(self.auth and self.auth.can_refresh),
                    plan_type=self.auth.plan_type if self.auth else None,
                    url=url,
                    product=self.product,
                )
            if isinstance(outcome, Fatal):
                raise outcome.into_error()
            if getattr(outcome, "refresh_auth", False) and self.auth is not None:
                # Refresh even when no attempt is left (as Rust A does): the next turn
                # then starts with a good token instead of another 401.
                await self.auth.refresh()
            if not self.retry.can_retry_request(attempt) or not self.retry.may_attempt(attempts.sent):
                raise outcome.into_error()
            await self._sleep(self.retry.request_delay(outcome, attempt).total_seconds())
            attempt += 1


class _Attempts:
    """The HTTP requests one turn has sent, over both retry layers."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = 0


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or any ``+json`` type (an error body, not an event stream)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
