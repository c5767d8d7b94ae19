"""Builds the worker: every part made once, in dependency order, with what it needs.

The browser's entry (:mod:`background.main`) and the tests call :func:`compose`
with the bridges they have; the defaults are in-memory, so everything also runs
on CPython. Each part receives its collaborators in its constructor: nothing is
attached afterwards, and no part reaches through another to a third.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any

from modelclient import Transport

from .accounts.accounts import Accounts
from .accounts.handlers import AccountHandlers, chatgpt_connection_test
from .app import App, Handler, ping_handler
from .attachments.capture import ALL_URLS, TabCapture
from .attachments.handlers import AttachmentHandlers
from .attachments.imaging import NO_RENDERER, Renderer
from .attachments.store import AttachmentLibrary, AttachmentStore, MemoryAttachments
from .chat.limits import LimitStore
from .chat.scheduler import Scheduler
from .chat.service import ChatService, new_id
from .chat.session import PanelSession
from .chat.turns import TurnDeps
from .context import RequestContext, Tasks
from .conversations.handlers import ConversationHandlers
from .conversations.push import ListPush
from .errors import ProtocolError
from .host import Host, Sleep
from .keepalive import KeepAlive
from .page.context import PageBridge
from .page.handlers import PageHandlers
from .page.selection import Selections
from .ports import Ports
from .router import CAPABILITIES, Router, typed
from .scrub import Scrubber
from .settings.conntest import AccessProbe, ConnectionTest
from .settings.credentials import Keys, guarded
from .settings.handlers import SettingsHandlers
from .settings.model import KeySource, MemoryKeySource, SettingsStore
from .settings.providers import ProviderHandlers
from .settings.push import SettingsPush
from .settings.view import SettingsViews
from .store.conversations import ConversationStore
from .store.storage import KeyValueStore, MemoryStore, Records
from .vault.handlers import VaultHandlers, VaultKeySource, status_message
from .vault.keyvault import KeyVault
from .vault.names import profile_key_record
from .vault.session import Alarms

__all__ = ["Worker", "compose"]

Spawn = Callable[[Coroutine[Any, Any, None]], object]
# open_stream(url, method, body) -> the body's chunks: the developer build's diag.stream
OpenStream = Callable[..., Any]


@dataclass(frozen=True)
class Worker:
    """The built worker: the app the browser calls, and its parts (tests look at them)."""

    app: App
    router: Router
    ports: Ports
    records: Records
    conversations: ConversationStore
    settings: SettingsStore
    keys: Keys
    accounts: Accounts
    scheduler: Scheduler
    chat: ChatService
    keepalive: KeepAlive
    attachments: AttachmentLibrary
    providers: ProviderHandlers | None = None
    diagnostics: Any = None  # background.dev.diag.Diagnostics in a developer build


def compose(
    host: Host,
    *,
    version: str,
    dev: bool = False,
    keepalive: KeepAlive | None = None,
    transport: Callable[[], Transport] | None = None,
    client_options: dict[str, Any] | None = None,
    spawn: Spawn = asyncio.ensure_future,
    store: KeyValueStore | None = None,
    keys: KeySource | None = None,
    vault: KeyVault | None = None,
    pages: PageBridge | None = None,
    access: AccessProbe | None = None,
    attachment_store: AttachmentStore | None = None,
    renderer: Renderer | None = None,
    capture: TabCapture | None = None,
    alarms: Alarms | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    ids: Callable[[str], str] = new_id,
    call_later: Callable[[float, Callable[[], None]], object] | None = None,
    open_stream: OpenStream | None = None,
    vault_lab: Callable[[], Any] | None = None,
    extension_origin: str = "",
) -> Worker:
    """Build the worker. ``dev``: the developer build (``build.py --dev``) with its test hooks;
    ``open_stream`` and ``vault_lab`` are only used there. ``extension_origin``
    (``chrome-extension://<id>``) is named where a local server must allow it (Ollama)."""
    options = dict(client_options or {})
    with_timeout = options.get("with_timeout", asyncio.wait_for)

    def clock_ms() -> int:
        return int(clock() * 1000)

    keepalive = keepalive or KeepAlive(host.touch)
    records = Records(store if store is not None else MemoryStore())
    settings = SettingsStore(records)
    # The API key with the origins the user approved it for (background.settings.credentials).
    # A developer build may send ChatGPT tokens to its mock servers.
    bound = Keys(keys if keys is not None else MemoryKeySource(), settings, chatgpt_anywhere=dev)
    # ChatGPT sign-in (background.accounts): one AuthManager shared by turns and settings.test.
    accounts = Accounts(vault, transport, clock=clock, with_timeout=with_timeout, custom_urls=dev)
    scrub = Scrubber(tokens=accounts.secrets)
    tasks = Tasks(spawn, scrub)
    ports = Ports(host.post, scrub)
    context = RequestContext()

    def show(conversation_id: str) -> None:  # the requesting panel now shows this conversation
        ports.show(context.port(), conversation_id)

    list_push = ListPush(ports.broadcast, has_panels=lambda: bool(ports.of_kind("panel")),
                         spawn_guarded=tasks.guarded)
    # Screenshots, images and files: bytes in IndexedDB, refs in the conversations (background.attachments).
    attachments = AttachmentLibrary(attachment_store if attachment_store is not None else MemoryAttachments(),
                                    renderer or NO_RENDERER, clock_ms=clock_ms)
    conversations = ConversationStore(records, clock_ms=clock_ms, on_list_change=list_push.changed,
                                      on_delete=attachments.drop_conversations)
    limits = LimitStore(records, clock_ms=clock_ms, spawn=spawn)
    selections = Selections(pages, broadcast=ports.broadcast, spawn_guarded=tasks.guarded,
                            monotonic=monotonic)

    deps = TurnDeps(transport=transport, keepalive=keepalive, conversations=conversations, clock_ms=clock_ms,
                    monotonic=monotonic, sleep=sleep, spawn=spawn, client_options=options,
                    chatgpt_auth=accounts.manager, extension_origin=extension_origin,
                    with_timeout=with_timeout, attachments=attachments, keep_wire=settings.keep_detected_wire)
    scheduler = Scheduler(records, conversations, settings, bound, limits, deps, sink=ports.sink,
                          push=ports.broadcast, after_reply=context.after_reply, ids=ids,
                          call_later=call_later, alarms=alarms)
    chat = ChatService(conversations, settings, scheduler, clock_ms=clock_ms, show=show,
                       after_reply=context.after_reply, ids=ids, attachments=attachments)

    async def auth_view(current: Any, key_set: bool) -> dict[str, Any]:
        return await accounts.view(current, key_set=key_set)

    async def key_set() -> bool:
        return bool(await bound.get())

    def tester(allowed: Collection[str]) -> ConnectionTest:  # settings.test: credentials only to ``allowed``
        return ConnectionTest(guarded(transport, lambda: allowed), access, with_timeout=with_timeout,
                              extension_origin=extension_origin)

    async def any_tab() -> bool | None:  # the optional <all_urls>: screenshots of any tab
        return await access.granted(ALL_URLS) if access is not None else None

    views = SettingsViews(settings, bound, auth_view=auth_view, remember_secret=scrub.remember,
                          any_tab=any_tab if access is not None else None)
    vault_status = functools.partial(status_message, vault) if vault is not None else None
    push = SettingsPush(ports, views, vault_status=vault_status, after_reply=context.after_reply,
                        spawn_guarded=tasks.guarded)
    session = PanelSession(conversations, views, scheduler, limits, ports, selections, version=version,
                           boot_info=host.boot_info, port=context.port, after_reply=context.after_reply,
                           spawn_guarded=tasks.guarded, attachments=attachments)
    vault_handlers = VaultHandlers(vault, on_auto_lock=push.vault_locked) if vault is not None else None
    settings_handlers = SettingsHandlers(
        settings, bound, views, tester,
        chatgpt_test=functools.partial(chatgpt_connection_test, accounts),
        key_unavailable=vault_handlers.key_unavailable if vault_handlers is not None else None,
        remember_secret=scrub.remember,
    )

    parked_in_memory: dict[str, KeySource] = {}

    def parked(profile_id: str) -> KeySource:  # a saved provider's own key, while another is active
        if vault is not None:
            return VaultKeySource(vault, profile_key_record(profile_id))
        return parked_in_memory.setdefault(profile_id, MemoryKeySource())

    def provider_transport(allowed: frozenset[str]) -> Transport | None:
        make = guarded(transport, lambda: allowed)
        return make() if make is not None else None

    provider_handlers = ProviderHandlers(
        settings, bound, views, parked, provider_transport, with_timeout=with_timeout,
        extension_origin=extension_origin,
        key_unavailable=vault_handlers.key_unavailable if vault_handlers is not None else None)

    handlers: dict[str, Handler] = {"ping": ping_handler(host.boot_info)}
    conversation_handlers = ConversationHandlers(conversations, chat, clock_ms=clock_ms, show=show,
                                                 attachments=attachments)
    async def known(conversation_id: str) -> bool:
        return conversations.is_draft(conversation_id) or any(
            e.id == conversation_id for e in await conversations.entries())

    for group in (session, chat, conversation_handlers, PageHandlers(pages), settings_handlers,
                  provider_handlers, AttachmentHandlers(attachments, capture, known)):
        handlers.update({kind: typed(handler) for kind, handler in group.handlers().items()})
    handlers.update(AccountHandlers(accounts, settings, key_set=key_set).handlers())
    handlers.update(vault_handlers.handlers() if vault_handlers is not None else _no_vault())
    diagnostics = None
    if dev:  # the developer build's test hooks; the release build has no background.dev
        from .dev.diag import Diagnostics

        # diag.chat talks to the URL it is given: that is its purpose, and why it exists only here.
        diagnostics = Diagnostics(keepalive, spawn, open_stream=open_stream, transport=transport,
                                  client_options=options, keys=bound, vault_lab=vault_lab)
        handlers.update(diagnostics.handlers())
    router = Router(handlers, dev=dev)

    alarm_handlers: list[Callable[[str], Awaitable[None]]] = [scheduler.on_alarm]
    if vault_handlers is not None:
        alarm_handlers.append(vault_handlers.on_alarm)
    app = App(router, ports, context, selections, version=version, tasks=tasks, scrub=scrub,
              greeters={"panel": session.greet, "options": push.greet}, alarms=alarm_handlers,
              after_request=[push.after, scheduler.after_request])
    return Worker(app=app, router=router, ports=ports, records=records, conversations=conversations,
                  settings=settings, keys=bound, accounts=accounts, scheduler=scheduler, chat=chat,
                  keepalive=keepalive, attachments=attachments, providers=provider_handlers,
                  diagnostics=diagnostics)


def _no_vault() -> dict[str, Handler]:
    """Without a vault (tests, a runtime without WebCrypto) the vault's requests say so."""

    async def unavailable(msg: dict[str, Any]) -> dict[str, Any]:
        raise ProtocolError("unavailable", "There is no key vault in this runtime.")

    return dict.fromkeys(CAPABILITIES["vault"], unavailable)
