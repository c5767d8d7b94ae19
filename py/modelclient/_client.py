"""The client: glue between the sans-IO core and a transport (Rust ``ModelClient``).

``ModelClient.stream(prompt)`` is Rust A's ``stream_responses``: build the request
and headers, POST it with the request-level retry loop (spec §6.2), emit
``RateLimits`` from the response headers first, then feed the body through the
SSE decoder and ``process_sse`` parser, enforcing the idle timeout between
chunks. ``ModelClient.stream_turn(prompt)`` adds the turn-level retry that Rust
keeps in ``run_turn`` (spec §6.3), announcing each re-send with a
:class:`Reconnecting` notice so a UI can say "Reconnecting… 2/5".

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
from typing import Any, Literal, Protocol, TypeVar

from ._chat_request import ChatCompletionsRequest, build_chat_request
from ._chat_stream import ChatCompletionsStreamParser
from ._errors import ConnectionFailedError, IdleTimeoutError, ModelClientError
from ._events import RateLimits, ResponseEvent
from ._provider import ModelProviderInfo, ModelSettings
from ._ratelimits import parse_rate_limits
from ._request import DEFAULT_ORIGINATOR, Prompt, ResponsesApiRequest, build_request, request_headers
from ._retry import Fatal, RetryableTransport, RetryPolicy
from ._sse import SSEDecoder
from ._stream import ResponseStreamParser
from ._transport import HttpRequest, StreamResponse, Transport

__all__ = ["ApiKeyAuth", "Auth", "ModelClient", "Reconnecting", "ResponseStream"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]


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
    """Turn-level retry notice (spec §6.3); not one of Rust's ``ResponseEvent`` variants.

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


class ResponseStream:
    """The events of one response; an async iterator and an async context manager.

    Leaving the ``async with`` block (or :meth:`aclose`) before the end aborts
    the request.
    """

    def __init__(self, events: AsyncGenerator[Any, None]) -> None:
        self._events = events

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> Any:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> ResponseStream:
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
        provider: base URL, extra headers, retry budgets, idle timeout (defaults: OpenAI).
        auth: an :class:`Auth`, an API key string, or ``None`` (no Authorization header).
        conversation_id: session id and prompt cache key; a new UUID by default.
        base_instructions: the instructions sent unless the prompt overrides them.
        retry: retry budgets and decisions; built from the provider's budgets by default.
        sleep: waits between retries (``asyncio.sleep``).
        with_timeout: applies the idle timeout to each body read (``asyncio.wait_for``).
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

    def stream(self, prompt: Prompt) -> ResponseStream:
        """One request with request-level retries; yields ``ResponseEvent`` values.

        ``RateLimits`` comes first (from the 2xx response's headers), ``Completed``
        last. Errors are raised as :class:`ModelClientError` subclasses.
        """
        return ResponseStream(self._events(prompt))

    def stream_turn(self, prompt: Prompt) -> ResponseStream:
        """Like :meth:`stream`, re-sending the request after retryable stream errors.

        Yields ``ResponseEvent`` values and a :class:`Reconnecting` notice before
        each re-send; raises once the budget is spent or the error is fatal.
        """
        return ResponseStream(self._turn(prompt))

    # ------------------------------------------------------------------ internals

    async def _turn(self, prompt: Prompt) -> AsyncGenerator[ResponseEvent | Reconnecting, None]:
        retries = 0
        while True:
            try:
                async with self.stream(prompt) as events:
                    async for event in events:
                        yield event
                return
            except ModelClientError as error:
                if not self.retry.should_retry_stream(error, retries):
                    raise
                retries += 1
                delay = self.retry.stream_delay(error, retries)
                yield Reconnecting(retries, self.retry.stream_max_retries, delay, error)
                await self._sleep(delay.total_seconds())

    async def _events(self, prompt: Prompt) -> AsyncGenerator[ResponseEvent, None]:
        body = json.dumps(self.build_request(prompt).to_payload(), separators=(",", ":")).encode()
        response = await self._open(body)
        try:
            # A emits a snapshot on every 2xx, even with no rate-limit headers (spec §5.5).
            snapshot = parse_rate_limits(response.headers)
            if snapshot is not None:
                yield RateLimits(snapshot)
            async for event in self._parse(response):
                yield event
        finally:
            await response.aclose()

    async def _parse(self, response: StreamResponse) -> AsyncIterator[ResponseEvent]:
        decoder = SSEDecoder()
        parser: ResponseStreamParser | ChatCompletionsStreamParser
        parser = ChatCompletionsStreamParser() if self.provider.wire_api == "chat" else ResponseStreamParser()
        chunks = response.aiter_bytes()
        idle = self.idle_timeout.total_seconds()
        while not parser.completed:
            try:
                chunk = await self._with_timeout(anext(chunks), idle)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise IdleTimeoutError() from None
            for sse in decoder.feed(chunk):
                for event in parser.feed(sse):
                    yield event
        for sse in decoder.close():
            for event in parser.feed(sse):
                yield event
        # Raises the stream's error unless Completed was produced; a chat stream
        # that ended without [DONE] still owes its items and Completed.
        for event in parser.close() or ():
            yield event

    async def _open(self, body: bytes) -> StreamResponse:
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
            try:
                response = await self.transport.send(HttpRequest("POST", url, headers, body))
            except ConnectionFailedError as error:
                outcome: Any = RetryableTransport(error)
            else:
                if 200 <= response.status < 300:
                    return response
                error_body = await response.aread()
                outcome = self.retry.classify_response(
                    response.status,
                    response.headers,
                    error_body,
                    can_refresh_auth=bool(self.auth and self.auth.can_refresh),
                    plan_type=self.auth.plan_type if self.auth else None,
                )
            if isinstance(outcome, Fatal):
                raise outcome.into_error()
            if getattr(outcome, "refresh_auth", False) and self.auth is not None:
                # Refresh even when no attempt is left (as Rust A does): the next turn
                # then starts with a good token instead of another 401.
                await self.auth.refresh()
            if not self.retry.can_retry_request(attempt):
                raise outcome.into_error()
            await self._sleep(self.retry.request_delay(outcome, attempt).total_seconds())
            attempt += 1
