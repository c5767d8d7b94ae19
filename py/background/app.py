"""The background app: routes messages from panels and pages to handlers.

Every message is one JSON object with a ``type`` (and usually an ``id`` that the
reply echoes); docs/protocol.md is the contract. Panels talk over a long-lived
port; pages such as the options page use one-shot runtime messages. Malformed
or unknown messages get an ``error`` reply, never a crash. Work that outlives
the call (a reply being written) runs as a task and holds the keep-alive.

The worker can be stopped at any moment, so nothing here is the truth: storage
is. Memory holds the ports and which conversation each panel shows (turn events go
to those panels: :mod:`background.ports`), the live turns, and caches.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from modelclient import Transport

from .accounts import Accounts
from .accounts_app import AccountHandlers
from .chat import ChatService, new_id
from .conntest import AccessProbe
from .conversations import ConversationStore
from .diag import Diagnostics, OpenStream, ProtocolError
from .host import Host, Sleep
from .keepalive import KeepAlive
from .keyvault import KeyVault
from .page_context import PageBridge
from .ports import OPTIONS_PORT, Ports
from .protocol import PROTOCOL_VERSION, REQUESTS, Hello, Request, error_reply, parse_request, reply
from .queue_service import QUEUE_ALARM, QueueService
from .records import LimitsRecord, conversation_view
from .routes import Routes
from .selection import Selections
from .settings import KeySource, MemoryKeySource, SettingsStore
from .settings_push import SettingsPush
from .storage import KeyValueStore, MemoryStore, Records, StorageProblem
from .turns import TurnDeps
from .vault_app import VaultHandlers

__all__ = ["PROTOCOL_VERSION", "App", "Message"]

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message | None]]
Spawn = Callable[[Coroutine[Any, Any, None]], object]

LIMITS_KEY = "limits"

# Per-dispatch context: the port a request came from, and work to run once its reply is posted.
_PORT: ContextVar[int | None] = ContextVar("sidepy_port", default=None)
_AFTER: ContextVar[list[Callable[[], None]] | None] = ContextVar("sidepy_after", default=None)


class App:
    """The app in the service worker. Browser bridges are injected; defaults are in-memory."""

    def __init__(
        self,
        host: Host,
        *,
        version: str,
        keepalive: KeepAlive | None = None,
        open_stream: OpenStream | None = None,
        transport: Callable[[], Transport] | None = None,
        client_options: dict[str, Any] | None = None,
        spawn: Spawn = asyncio.ensure_future,
        store: KeyValueStore | None = None,
        keys: KeySource | None = None,
        pages: PageBridge | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        ids: Callable[[str], str] = new_id,
        vault: KeyVault | None = None,
        access: AccessProbe | None = None,
    ) -> None:
        self.host = host
        self.version = version
        self.keepalive = keepalive or KeepAlive(host.touch)
        self._spawn = spawn
        self._clock = clock
        self.ports = Ports(host.post, self._scrub)
        self.records = Records(store if store is not None else MemoryStore())
        self.conversations = ConversationStore(
            self.records, clock_ms=self.now_ms, on_list_change=self._list_changed
        )
        self.settings = SettingsStore(self.records)
        self.keys: KeySource = keys if keys is not None else MemoryKeySource()
        self.pages = pages
        self.limits: dict[str, Any] | None = None
        self._limits_loaded = False
        self._list_push_pending = False
        self.selections = Selections(pages, broadcast=self.ports.broadcast, spawn_guarded=self.spawn_guarded,
                                     monotonic=monotonic)
        self._secret: str | None = None  # the API key, once read: scrubbed from everything we post
        self.transport = transport
        self.client_options = dict(client_options or {})
        self.access = access  # host permissions and reachability, for settings.test
        # ChatGPT sign-in (background/accounts.py): one AuthManager shared by turns and settings.test.
        bound = dict(client_options or {}).get("with_timeout", asyncio.wait_for)
        self.accounts = Accounts(vault, transport, clock=clock, with_timeout=bound)
        deps = TurnDeps(
            transport=transport, keepalive=self.keepalive, conversations=self.conversations,
            clock_ms=self.now_ms, monotonic=monotonic, sleep=sleep, spawn=spawn,
            save_limits=self._save_limits, client_options=dict(client_options or {}),
            chatgpt_auth=self.accounts.manager,
        )
        self.chat = ChatService(self.conversations, self.settings, self.keys, deps,
                                sink=self.ports.sink, after_reply=self.after_reply, ids=ids)
        # Messages that cannot start at once wait here, persisted (background/queue_service.py).
        self.queue = QueueService(self.records, self.conversations, self.chat, clock_ms=self.now_ms,
                                  spawn=spawn, sleep=sleep, keepalive=self.keepalive,
                                  push=self.ports.broadcast, after_reply=self.after_reply)
        self.diagnostics = Diagnostics(
            self.keepalive, spawn, open_stream=open_stream, transport=transport, client_options=client_options
        )
        self.routes = Routes(self)
        self._handlers: dict[str, Handler] = {"ping": self._ping, **self.diagnostics.handlers()}
        self.vault = vault
        self.diagnostics.keys = self.keys  # diag.chat without an api_key uses the stored key
        if vault is not None:  # the key vault (docs/security.md); some messages never from a panel
            self._handlers.update(VaultHandlers(vault, from_panel=self.from_panel).handlers())
        self._handlers.update(AccountHandlers(self).handlers())  # auth.import / clear / status
        self.settings_push = SettingsPush(self)
        self._typed: dict[str, Callable[[Request], Awaitable[Message]]] = {
            "hello": self._hello, **self.routes.handlers(),
            "chat.send": self._chat_send, "chat.stop": self.chat.stop,
            "chat.regenerate": self._chat_send, "chat.edit": self._chat_send,
            "chat.cancel_queued": self.chat.cancel_queued, "queue.config": self.queue.configure,
        }
        assert set(self._typed) == set(REQUESTS), "every request type of the protocol has a handler"

    def now_ms(self) -> int:
        """Epoch milliseconds (the injected clock)."""
        return int(self._clock() * 1000)

    @property
    def port(self) -> int | None:
        """The port the request being handled came from (``None``: a one-shot message)."""
        return _PORT.get()

    def from_panel(self) -> bool:
        """The request came from a panel's port, not the options page's (nor a one-shot message)."""
        return self.ports.is_panel(self.port)

    # ------------------------------------------------------------- host entry points

    def on_installed(self, reason: str) -> None:
        print(f"SidePy {self.version} installed ({reason})")
        self.selections.install_menu()

    async def on_alarm(self, name: str) -> None:
        """A ``chrome.alarms`` alarm fired (the vault's auto-lock, the request queue's hold)."""
        if name == QUEUE_ALARM:
            await self.queue.resume()
            return
        if self.vault is not None:
            await self.vault.on_alarm(name)
            # An auto-lock shows on open pages. Only then: reading the settings' key counts
            # as a use of it, which must not keep an idle vault open.
            if self.ports and (await self.vault.status()).state == "locked":
                await self.settings_push.push()

    def on_port_connect(self, port_id: int, name: str) -> None:
        self.ports[port_id] = name
        if name == OPTIONS_PORT:  # the options page: settings and vault status, not hello
            self.spawn_guarded(self.settings_push.greet(port_id))
            return

        async def greet() -> None:
            self.ports.post(port_id, await self.hello_message(None, None, port_id))
            selection = self.selections.take()  # the panel a context-menu click is opening
            if selection is not None:
                self.ports.post(port_id, selection)
            await self.queue.resume()  # a restarted worker drains what waited in storage

        self.spawn_guarded(greet())

    def on_port_disconnect(self, port_id: int) -> None:
        self.ports.forget(port_id)

    def on_port_message(self, port_id: int, text: str) -> None:
        """Handle one panel message; the reply (if any) is posted back on the port."""

        async def run() -> None:
            later: list[Callable[[], None]] = []
            token = _AFTER.set(later)
            try:
                message = await self.dispatch(text, port_id)
            finally:
                _AFTER.reset(token)
            if message is not None:
                self.ports.post(port_id, message)
            for start in later:
                start()

        self._spawn(run())

    async def on_runtime_message(self, text: str) -> str:
        """Handle one one-shot message and return the JSON reply."""
        later: list[Callable[[], None]] = []
        token = _AFTER.set(later)
        try:
            message = await self.dispatch(text)
        finally:
            _AFTER.reset(token)
        for start in later:
            start()
        return self._scrub(json.dumps(message if message is not None else {"type": "ok"}))

    def on_menu_click(self, info: str) -> None:
        """"Ask SidePy about selection" was chosen (the JS glue already opened the panel)."""
        self.selections.on_menu_click(info)

    def on_command(self, name: str, info: str) -> None:
        """A keyboard shortcut opened the panel; bring the tab's selection along if there is one."""
        self.selections.on_command(name, info)

    # ---------------------------------------------------------------------- routing

    async def dispatch(self, text: str, port_id: int | None = None) -> Message | None:
        msg_id: object = None
        token = _PORT.set(port_id)
        try:
            msg = parse_message(text)
            msg_id = msg.get("id")
            kind = msg["type"]
            if kind == "heartbeat":
                return None  # its arrival alone kept the worker awake
            typed = self._typed.get(kind)
            handler = self._handlers.get(kind)
            result: Message | None
            if typed is not None:
                result = await typed(parse_request(msg))
            elif handler is not None:
                result = await handler(msg)
            else:
                raise ProtocolError("unknown_type", f"unknown message type {kind!r}")
            self.settings_push.after(kind, result, port_id)
            self.queue.after_request(kind, result)  # new settings may lift a hold
            return result
        except ProtocolError as exc:
            return error_reply(msg_id, exc.code, str(exc))
        except StorageProblem as exc:
            return error_reply(msg_id, "storage_corrupt", str(exc))
        except Exception as exc:  # a handler bug must answer, not kill the worker
            print(f"background: handler failed: {self._scrub(repr(exc))}", file=sys.stderr)
            return error_reply(msg_id, "internal", self._scrub(str(exc)))
        finally:
            _PORT.reset(token)

    def remember_secret(self, key: str) -> None:
        """Scrub ``key`` from everything posted or logged from now on."""
        self._secret = key

    def _scrub(self, text: str) -> str:
        """Never let the API key out: a last line of defence on everything posted or logged."""
        secret = self._secret
        if secret:
            text = text.replace(secret, "…").replace(json.dumps(secret)[1:-1], "…")
        for token in self.accounts.secrets():  # the ChatGPT tokens in use (JWTs: nothing to escape)
            text = text.replace(token, "…")
        return text

    def after_reply(self, start: Callable[[], None]) -> None:
        later = _AFTER.get()
        if later is None:
            start()
        else:
            later.append(start)

    def show(self, conversation_id: str) -> None:
        """Remember that the requesting panel now shows ``conversation_id``."""
        self.ports.show(self.port, conversation_id)

    def spawn_guarded(self, work: Awaitable[None]) -> None:
        """Run ``work`` as a task that logs its failure instead of raising."""
        self._spawn(self._guard(work))

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as exc:  # background work must log, not take the worker down
            print(f"background: task failed: {self._scrub(repr(exc))}", file=sys.stderr)

    # --------------------------------------------------------------------- handlers

    async def _ping(self, msg: Message) -> Message:
        return {
            "type": "pong",
            "id": msg.get("id"),
            "python": sys.version.split()[0],
            "platform": sys.platform,
            "boot": self.host.boot_info(),
        }

    async def _hello(self, request: Request) -> Message:
        assert isinstance(request, Hello)
        self.after_reply(lambda: self.spawn_guarded(self.queue.resume()))
        return await self.hello_message(request, request.conversation_id, self.port)

    async def hello_message(
        self, request: Request | None, conversation_id: str | None, port_id: int | None
    ) -> Message:
        """``hello``: everything a panel needs to (re)build its view from scratch."""
        conversation = None
        try:
            if conversation_id is not None:
                conversation = await self.conversations.get(conversation_id)
            else:
                conversation = await self.conversations.latest()
        except StorageProblem:
            conversation = None  # reported in storage.problems
        message = reply(
            "hello", request, v=PROTOCOL_VERSION, version=self.version, boot=self.host.boot_info(),
            settings=await self.settings_view(), conversations=await self.conversations.summaries(),
            storage=await self.conversations.storage_info(),
        )
        shown = conversation.id if conversation is not None else conversation_id
        if shown is not None:
            self.ports.show(port_id, shown)
        if conversation is not None:
            message["active"] = conversation_view(conversation, self.chat.live(conversation.id))
        limits = await self._load_limits()
        if limits is not None:
            message["limits"] = limits
        await self.queue.load()
        message["queue"] = self.queue.state()
        return message

    async def settings_view(self) -> Message:
        """``SettingsView``; the key appears only as ``{set, masked}``."""
        settings = await self.settings.load()
        key = await self.keys.get()
        if key:
            self._secret = key
        view = settings.view({"set": bool(key), "masked": self.keys.masked()})
        view["auth"] = await self.accounts.view(settings, key_set=bool(key))  # AuthView: never a token
        return view

    async def _chat_send(self, request: Request) -> Message:
        handler = {"chat.send": self.chat.send, "chat.regenerate": self.chat.regenerate,
                   "chat.edit": self.chat.edit}[request.type]
        message = await handler(request)
        self.show(message["conversation_id"])
        return message

    # ---------------------------------------------------------------- background work

    def _list_changed(self) -> None:
        """Push ``conv.list`` to every panel (coalesced: one push per burst of changes)."""
        if self._list_push_pending or not self.ports:
            return
        self._list_push_pending = True

        async def push() -> None:
            self._list_push_pending = False
            self.ports.broadcast({"type": "conv.list", "conversations": await self.conversations.summaries()})

        self.spawn_guarded(push())

    async def _save_limits(self, limits: dict[str, Any]) -> None:
        self.limits = limits
        self._limits_loaded = True
        self.queue.note_limits(limits, self.now_ms())  # a hold may begin or end with it
        try:
            await self.records.write({LIMITS_KEY: LimitsRecord(at=self.now_ms(), limits=limits)})
        except Exception as exc:  # limits are a nicety; never fail a turn over them
            print(f"background: could not save rate limits: {exc}")

    async def _load_limits(self) -> dict[str, Any] | None:
        if not self._limits_loaded:
            self._limits_loaded = True
            try:
                record = await self.records.read(LIMITS_KEY, LimitsRecord, "The saved rate limits")
            except StorageProblem:
                record = None
            if record is not None and self.limits is None:
                self.limits = record.limits
        return self.limits


def parse_message(text: str) -> Message:
    try:
        msg = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProtocolError("malformed", f"message is not JSON: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("malformed", "message must be a JSON object with a string 'type'")
    return msg
