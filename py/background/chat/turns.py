"""One turn: build the prompt, stream it through ``modelclient``, forward, persist.

A :class:`Turn` owns one assistant reply from ``turn.started`` to its final
message (``turn.done`` / ``turn.stopped`` / ``turn.error``). It holds the
keep-alive while it runs, so a reply keeps the worker alive with the panel
closed, and it persists its outcome whether or not a panel is listening:

* the text so far goes to ``part.<id>`` at least every :data:`PERSIST_EVERY_S`
  seconds while it streams (a worker stopped mid-reply loses at most that);
* the final reply, with the raw output items, usage, ``stopped`` or ``error``,
  is saved in the conversation before the final message is sent.

**Stop** is immediate: :meth:`Turn.stop` cancels the task, so the pending
``fetch`` read raises at once and leaving the client's ``async with`` aborts
the request; a flag also ends the loop at the next event where no task can be
cancelled (tests). The partial reply is kept and marked stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from modelclient import (
    Auth,
    Completed,
    Created,
    ModelClient,
    ModelClientError,
    OutputItemDone,
    OutputTextDelta,
    Probe,
    RateLimits,
    RateLimitSnapshot,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    Reconnecting,
    TokenUsage,
    TokenUsageTracker,
    Transport,
    WebSearchCallBegin,
    WireApi,
    endpoint_missing,
)

from ..accounts.accounts import AccountUnavailable
from ..attachments.items import carried_kinds
from ..attachments.model import AttachmentRef
from ..attachments.store import AttachmentLibrary
from ..attachments.vision import cannot_see
from ..keepalive import KeepAlive
from ..settings.model import Settings
from ..store.conversations import ConversationStore
from ..store.records import (
    ErrorInfo,
    PartialReply,
    StoredConversation,
    StoredMessage,
    Usage,
    message_view,
    unfinished_items,
)
from .advice import advise
from .request import build_prompt, context_window, model_settings, provider_info, redact
from .stream_processor import Pump, Send, StreamProcessor

__all__ = ["PERSIST_EVERY_S", "Turn", "TurnDeps"]

PERSIST_EVERY_S = 2.0
NO_API_KEY = (
    "No API key is available. Open SidePy's settings (the gear in the panel header) to paste your "
    "API key, or unlock your key vault."
)


@dataclass
class TurnDeps:
    """What a turn needs from the app (real in the worker, fakes in tests)."""

    transport: Callable[[], Transport] | None
    keepalive: KeepAlive
    conversations: ConversationStore
    clock_ms: Callable[[], int]
    monotonic: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    spawn: Callable[[Coroutine[Any, Any, None]], object]
    client_options: dict[str, Any] = field(default_factory=dict)
    # The shared ChatGPT AuthManager when settings.auth_mode is "chatgpt" (background.accounts);
    # raises AccountUnavailable. None: API keys only.
    chatgpt_auth: Callable[[Settings], Awaitable[Auth]] | None = None
    # chrome-extension://<id>: the origin a local server must allow (Ollama's OLLAMA_ORIGINS advice).
    extension_origin: str = ""
    # Bounds the worker's own short requests around a turn (the model list a failure's advice
    # names): asyncio.wait_for, or a test's.
    with_timeout: Callable[[Awaitable[Any], float], Awaitable[Any]] = asyncio.wait_for
    # Where the attachments' bytes are (background.attachments.store); None: no attachments.
    attachments: AttachmentLibrary | None = None
    # Keeps the wire API a turn's reply came on when it was a guess (a custom server no test
    # had detected) for the saved provider the turn's settings are (SettingsStore.keep_detected_wire).
    keep_wire: Callable[[Settings, WireApi], Awaitable[None]] | None = None


Outcome = Literal["done", "stopped", "error"]
# What a request carries of the conversation's attachments: their bytes by id, and every ref.
Attached = tuple[dict[str, bytes], list[AttachmentRef]]


class Turn:
    """One assistant reply being written (see the module docstring)."""

    def __init__(self, conversation: StoredConversation, assistant: StoredMessage, *, settings: Settings,
                 api_key: str | None, deps: TurnDeps, send: Send,
                 on_end: Callable[[Turn], None] = lambda turn: None,
                 on_limits: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
                 refused: dict[str, Any] | None = None,
                 user: StoredMessage | None = None) -> None:
        assert assistant.turn_id is not None
        self.id = assistant.turn_id
        self.conversation = conversation
        self.assistant = assistant
        self.settings = settings
        self._key = api_key
        self.deps = deps
        self._on_end = on_end
        self._on_limits = on_limits  # each rate-limit snapshot, to keep (background.chat.limits)
        self._refused = refused  # ErrorInfo: the credential may not go where the settings point
        self.user = user  # a queued message this turn answers: turn.started says it left the queue
        self.retry_after_ms: int | None = None  # the server's last requested wait (a 429's hold)
        base = {"conversation_id": conversation.id, "turn_id": self.id}
        self.processor = StreamProcessor(base)
        self.pump = Pump(self.processor, send, clock=deps.monotonic, sleep=deps.sleep, spawn=deps.spawn)
        self.items: list[dict[str, Any]] = []
        self.searches: list[str] = []
        self.usage: TokenUsage | None = None
        self.error: dict[str, Any] | None = None
        self.incomplete: str | None = None  # why a completed response is incomplete
        self._stop = False
        self._task: object = None
        self._streaming = False
        self._reconnect_sleep = False
        self._text_in_item = False
        self._reasoning_in_item = False
        self._kinds: set[str] = set()  # what the request carried that a server could refuse
        # The settings while their wire API is a guess (see _missing); None once it is known.
        self._guess: Settings | None = settings if settings.wire_guessed else None
        self._began = False  # the server began this reply (more than rate limits or a re-send notice)
        self._last_persist = deps.monotonic()

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Run the turn as a task."""
        self._task = self.deps.spawn(self.run())

    def stop(self) -> None:
        """Stop now: abort the request, keep the partial reply (marked stopped)."""
        self._stop = True
        cancel = getattr(self._task, "cancel", None)
        if self._streaming and callable(cancel):
            cancel()

    def live(self) -> dict[str, Any]:
        """``{turn_id, seq, text, reasoning}`` as the panel has it once pending text is sent."""
        self.pump.flush()
        return {
            "turn_id": self.id,
            "seq": self.processor.seq,
            "text": self.processor.answer.getvalue(),
            "reasoning": self.processor.reasoning_text.getvalue(),
        }

    # -------------------------------------------------------------------- the run

    async def run(self) -> None:
        """Stream, forward, persist; never raises (the outcome is a message)."""
        self.deps.conversations.hold(self.conversation.id)
        try:
            async with self.deps.keepalive.hold():
                started = {"type": "turn.started", "assistant": message_view(self.assistant)}
                if self.user is not None:
                    started["user"] = message_view(self.user)
                self.pump.event(started, sticky=True)
                outcome = await self._stream()
                await self._finish(outcome)
        finally:
            self.deps.conversations.release(self.conversation.id)
            self._on_end(self)

    async def _stream(self) -> Outcome:
        auth: Auth | str | None = self._key
        if self._refused is not None:  # nothing is sent: the user must approve the server first
            self.error = dict(self._refused)
            return "error"
        if self.settings.auth_mode == "chatgpt" and self.deps.chatgpt_auth is not None:
            try:
                auth = await self.deps.chatgpt_auth(self.settings)
            except AccountUnavailable as exc:  # not signed in, or the vault is locked / damaged
                self.error = exc.info()
                return "error"
        elif self._key is None and self.settings.provider != "compatible":
            self.error = {"kind": "no_api_key", "message": NO_API_KEY, "retryable": False, "fields": {}}
            return "error"
        if self.deps.transport is None:
            self.error = {"kind": "unavailable", "message": "No network transport in this runtime.",
                          "retryable": False, "fields": {}}
            return "error"
        self._streaming = True
        try:
            attached = await self._files()
            try:
                await self._run(auth, attached)
            except ModelClientError as error:
                chat = self._chat_instead(error)
                if chat is None:
                    raise
                await self._run_on_chat(auth, attached, chat, error)
        except asyncio.CancelledError:
            _uncancel()
            return "stopped"
        except ModelClientError as error:
            if self._stop:
                return "stopped"
            self.error = redact(error.to_json(), self._key)
            # A server that refuses the images or files: say so, and name models that read them;
            # else the provider's advice (a server not running, a model it does not have ...).
            model, models = self.conversation.model, self.settings.models
            unseen = cannot_see(self.error, model=model, models=models, kinds=self._kinds)
            if unseen is not None:
                self.error = unseen
            else:
                advice = await self._advice(error)
                if advice is not None:
                    self.error["advice"] = redact(advice, self._key)
            snapshot = getattr(error, "rate_limits", None)
            if isinstance(snapshot, RateLimitSnapshot):
                # A 429 usage limit carries the exhausted windows (Rust publishes them
                # before the error): show and keep them like a 2xx's RateLimits.
                await self._limits(snapshot)
            return "error"
        except Exception as exc:  # a bug must end the turn visibly, not hang it
            print(f"background: turn {self.id} failed: {redact(repr(exc), self._key)}")
            self.error = {"kind": "internal", "message": redact(f"SidePy failed: {exc}", self._key),
                          "retryable": True, "fields": {}}
            return "error"
        finally:
            self._streaming = False
        return "stopped" if self._stop else "done"

    async def _run(self, auth: Auth | str | None, attached: Attached) -> None:
        """Stream the reply on ``self.settings``' wire API into the pump (``attached``:
        :meth:`_files`)."""
        client = self._client(auth)
        files, refs = attached
        wire = self.settings.wire
        self._kinds = carried_kinds(refs, files, wire)  # what the server could refuse as images or files
        prompt = build_prompt(self.conversation, self.settings, files, wire)
        async with client.stream_turn(prompt) as events:
            async for event in events:
                if self._stop:
                    break  # leaving the block aborts the request
                if isinstance(event, Reconnecting) and self._missing(event.error, wire):
                    raise event.error  # not sent again: leaving the block aborts the re-send
                await self._on_event(event)

    # A custom server saved without Test connection (``Settings.wire_guessed``) is sent the
    # Responses API as a guess. Test connection's rule (``modelclient.endpoint_missing``)
    # tells, from the first failure and before any of the reply came, that the server has no
    # such endpoint: the turn then runs again on Chat Completions. The wire API the reply
    # came on is kept for that saved server at its first event (``TurnDeps.keep_wire``), so
    # the guess is made once.

    def _missing(self, error: ModelClientError, wire: WireApi) -> bool:
        """``error`` says the guessed server has no endpoint for ``wire`` (nothing came yet)."""
        if self._guess is None or self._began:
            return False
        return endpoint_missing(Probe(wire, False, error=error))

    def _chat_instead(self, error: ModelClientError) -> Settings | None:
        """The settings to run this turn again with on Chat Completions, or None."""
        if self._stop or self.settings is not self._guess or not self._missing(error, "responses"):
            return None
        return self.settings.model_copy(update={"detected_wire": "chat"})

    async def _run_on_chat(self, auth: Auth | str | None, attached: Attached,
                           chat: Settings, missing: ModelClientError) -> None:
        """The turn again on Chat Completions. If that endpoint is missing too, the server
        speaks neither: the first error stands (with what the first request carried)."""
        guessed, kinds, self.settings = self.settings, self._kinds, chat
        try:
            await self._run(auth, attached)
        except ModelClientError as error:
            if self._missing(error, "chat"):
                self.settings, self._kinds = guessed, kinds
                raise missing from None
            raise

    async def _keep_wire(self, found_on: Settings, wire: WireApi) -> None:
        """The reply began on a guessed server: keep the wire API it came on for that server."""
        if self.deps.keep_wire is None:
            return
        try:
            await self.deps.keep_wire(found_on, wire)
        except Exception as exc:  # storage full, say: the reply goes on; the next turn finds it again
            print(f"background: could not keep the wire API found: {exc}")

    async def _advice(self, error: ModelClientError) -> dict[str, str] | None:
        """What to do about ``error`` (``background.chat.advice``), or None: the error goes to
        the user whatever happens while looking for better words."""
        try:
            return await advise(error, self.settings, model=self.conversation.model, key=self._key,
                                transport=self.deps.transport, extension_origin=self.deps.extension_origin,
                                with_timeout=self.deps.with_timeout)
        except Exception as exc:
            print(f"background: turn {self.id}: no advice: {redact(repr(exc), self._key)}")
            return None

    async def _files(self) -> Attached:
        """The bytes of every attachment the prompt carries (the whole conversation's: each
        request sends them all), and their refs."""
        sent = [m for m in self.conversation.messages if not (m.streaming or m.queued)]
        refs = [ref for message in sent for ref in message.attachments]
        files = await self.deps.attachments.files(refs) if self.deps.attachments is not None else {}
        return files, refs

    async def _limits(self, snapshot: RateLimitSnapshot) -> None:
        limits = snapshot.to_json()
        self.pump.event({"type": "turn.limits", "limits": limits}, key="limits", sticky=True)
        if self._on_limits is not None:
            await self._on_limits(limits)

    def _client(self, auth: Auth | str | None) -> ModelClient:
        assert self.deps.transport is not None
        options = {**self.deps.client_options, "sleep": self._sleep}
        return ModelClient(
            self.deps.transport(),
            settings=model_settings(self.conversation, self.settings),
            provider=provider_info(self.settings, auth if isinstance(auth, str) else None),
            auth=auth,
            conversation_id=self.conversation.id,
            product="SidePy",  # named in the errors where Codex names itself
            **options,
        )

    async def _sleep(self, seconds: float) -> None:
        # The client sleeps before a re-sent stream (announced by Reconnecting) and
        # between request retries (429/5xx): announce the latter as a countdown.
        if self._reconnect_sleep:
            self._reconnect_sleep = False
        else:
            self.retry_after_ms = int(seconds * 1000)  # if the retries run out on a 429, hold this long
            if seconds >= 1:
                until = self.deps.clock_ms() + int(seconds * 1000)
                reason = "The server is busy or rate-limited; SidePy will retry."
                self.pump.event({"type": "turn.waiting", "until": until, "reason": reason}, key="waiting")
        await self.deps.client_options.get("sleep", self.deps.sleep)(seconds)

    async def _on_event(self, event: object) -> None:
        if not self._began and not isinstance(event, RateLimits | Reconnecting):
            self._began = True
            if self._guess is not None:  # kept behind the stream: the first words do not wait on it
                found_on, self._guess = self._guess, None
                self.deps.spawn(self._keep_wire(found_on, self.settings.wire))
        pump = self.pump
        if isinstance(event, Created):
            # The server took the request and is working on it: the panel says "Thinking"
            # (until then, "Connecting") — waiting on the server is not waiting on the network.
            pump.event({"type": "turn.progress", "stage": "thinking"}, key="progress")
        elif isinstance(event, OutputTextDelta):
            if not self._text_in_item and self.processor.answer.tell():
                pump.text("\n\n")  # a second message item in one reply
            self._text_in_item = True
            pump.text(event.delta)
            await self._persist_partial()
        elif isinstance(event, ReasoningSummaryDelta | ReasoningContentDelta):
            self._reasoning_in_item = True
            pump.reasoning(event.delta)
            await self._persist_partial()
        elif isinstance(event, ReasoningSummaryPartAdded):
            if self.processor.reasoning_text.tell():
                pump.reasoning("\n\n")
        elif isinstance(event, WebSearchCallBegin):
            pump.event({"type": "turn.search", "call_id": event.call_id}, key=f"search:{event.call_id}")
        elif isinstance(event, OutputItemDone):
            self._on_item(event.item)
        elif isinstance(event, RateLimits):
            await self._limits(event.snapshot)
        elif isinstance(event, Completed):
            self.usage = event.token_usage
            self.incomplete = event.reason if event.incomplete else None
        elif isinstance(event, Reconnecting):
            self.items.clear()
            self.searches.clear()
            self._text_in_item = self._reasoning_in_item = False
            self._reconnect_sleep = True
            pump.restart({
                "type": "turn.reconnecting",
                "attempt": event.attempt,
                "max_attempts": event.max_attempts,
                "delay_ms": int(event.delay.total_seconds() * 1000),
                "error": redact(event.error.to_json(), self._key),
            })

    def _on_item(self, item: dict[str, Any]) -> None:
        self.items.append(item)
        kind = item.get("type")
        if kind == "message" and item.get("role") == "assistant":
            if not self._text_in_item:  # a server that sends whole items without deltas
                text = _texts(item.get("content"), "output_text")
                if text:
                    if self.processor.answer.tell():
                        self.pump.text("\n\n")
                    self.pump.text(text)
            self._text_in_item = False
        elif kind == "reasoning":
            if not self._reasoning_in_item:
                summary = _texts(item.get("summary"), "summary_text", sep="\n\n")
                if summary:
                    self.pump.reasoning(("\n\n" if self.processor.reasoning_text.tell() else "") + summary)
            self._reasoning_in_item = False
        elif kind == "web_search_call":
            action = item.get("action")
            query = action.get("query") if isinstance(action, dict) else None
            call_id = str(item.get("id") or "")
            if isinstance(query, str) and query:
                self.searches.append(query)
                search = {"type": "turn.search", "call_id": call_id, "query": query}
                self.pump.event(search, key=f"search:{call_id}")

    async def _persist_partial(self) -> None:
        now = self.deps.monotonic()
        if now - self._last_persist < PERSIST_EVERY_S:
            return
        self._last_persist = now
        partial = PartialReply(
            turn_id=self.id, text=self.processor.answer.getvalue(),
            reasoning=self.processor.reasoning_text.getvalue(), searches=list(self.searches),
        )
        try:
            await self.deps.conversations.save_partial(self.conversation.id, partial)
        except Exception as exc:  # a full disk must not stop the reply on screen
            print(f"background: could not save the partial reply: {exc}")

    # ---------------------------------------------------------------- the outcome

    async def _finish(self, outcome: Outcome) -> None:
        conversation, message = self.conversation, self.assistant
        message.text = self.processor.answer.getvalue()
        if outcome == "done":
            # The finished items are the answer the model gave (and what goes back
            # to it); a skipped malformed delta must not lose words on screen.
            message.text = _answer_text(self.items) or message.text
        message.reasoning = self.processor.reasoning_text.getvalue()
        message.searches = list(self.searches)
        message.streaming = False
        message.items = self.items if outcome == "done" else unfinished_items(self.items, message.text)
        message.stopped = outcome == "stopped"
        message.error = ErrorInfo.model_validate(self.error) if outcome == "error" and self.error else None
        if outcome == "done" and self.incomplete is not None:
            message.error = ErrorInfo(kind="incomplete", message=incomplete_text(self.incomplete),
                                      fields={"reason": self.incomplete})
        window = context_window(conversation.model)
        tracker = TokenUsageTracker(model_context_window=window)
        if conversation.usage.total_tokens:
            tracker.record(conversation.usage.token_usage())
        if self.usage is not None:
            message.usage = Usage.of(self.usage)
            tracker.record(self.usage)
        conversation.usage = Usage.of(tracker.total)
        conversation.updated_at = self.deps.clock_ms()
        saved_error = await self._save()
        view = message_view(message)
        final: dict[str, Any]
        if outcome == "done" and saved_error is None:
            final = {"type": "turn.done", "assistant": view, "session_usage": conversation.usage.model_dump()}
            if message.usage is not None:
                final["usage"] = message.usage.model_dump()
                if window is not None and self.usage is not None:
                    final["context_left_percent"] = self.usage.percent_of_context_window_remaining(window)
        elif outcome == "stopped":
            final = {"type": "turn.stopped", "assistant": view}
        else:
            error = message.error.model_dump(exclude_none=True) if message.error else saved_error
            final = {"type": "turn.error", "error": error, "assistant": view}
        self.pump.finish({**self.processor.base, **final})

    async def _save(self) -> dict[str, Any] | None:
        try:
            await self.deps.conversations.save(self.conversation)
            await self.deps.conversations.clear_partial(self.conversation.id)
        except Exception as exc:
            print(f"background: could not save the reply: {exc}")
            return {"kind": "storage_full", "retryable": False, "fields": {},
                    "message": "The reply could not be saved: browser storage is full. Delete or export old "
                               "conversations to make room."}
        return None


_INCOMPLETE_REASONS = {
    "max_output_tokens": "the model reached its output limit",
    "content_filter": "the content filter stopped it",
}


def incomplete_text(reason: str) -> str:
    """What the panel says under an answer the server marked incomplete or failed."""
    why = _INCOMPLETE_REASONS.get(reason, reason)
    return f"The answer is incomplete: {why}. Send a message to continue, or regenerate."


def _answer_text(items: list[dict[str, Any]]) -> str:
    """The text of the finished assistant message items, as the turn shows them."""
    texts = [
        _texts(item.get("content"), "output_text")
        for item in items
        if item.get("type") == "message" and item.get("role") == "assistant"
    ]
    return "\n\n".join(t for t in texts if t)


def _texts(parts: object, kind: str, sep: str = "") -> str:
    """The ``text`` of every ``kind`` part of an item's content (whatever shape a server sent)."""
    if not isinstance(parts, list):
        return ""
    texts = [p.get("text") for p in parts if isinstance(p, dict) and p.get("type") == kind]
    return sep.join(t for t in texts if isinstance(t, str) and t)


def _uncancel() -> None:
    """We handled the cancellation (it was a stop): let the task await again cleanly."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: driven by hand in tests
        return
    if task is not None:
        task.uncancel()
