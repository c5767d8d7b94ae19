"""Who may ask for what: the sender kinds, the capability table, and the router that enforces it.

Every message into the worker arrives with the **kind of its sender**, decided by
``extension/background.js`` from what Chrome says about the sender, never from
anything the sender wrote (a port's name, a field in the message):

==========  ==================================================================
``panel``   the side panel page (``sidepanel.html``, also shown in a popup window
            where the browser has no side panel). Its sandboxed frame renders
            model output and page text, so it is treated as compromisable.
``options`` the options page (``options.html``): renders only our settings form.
``content`` a script running in a web page's tab (what ``chrome.scripting``
            injects, or anything a page could get injected).
``dev``     the test console page of a developer build (``build.py --dev``);
            release builds have neither the page nor this kind.
``unknown`` anything else (another extension page, a sender without a tab).
==========  ==================================================================

:data:`CAPABILITIES` groups the request types; :data:`GRANTS` says which sender
kind holds which capability. docs/protocol.md prints both (a unit test keeps
it in step). Anything not granted is refused with ``forbidden``, and the refusal
is logged with the sender kind and the type only, never the payload.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import ProtocolError
from .protocol import REQUESTS, Request, parse_request
from .untrusted import UntrustedInput, decode_message

__all__ = [
    "CAPABILITIES",
    "DEV_CAPABILITIES",
    "GESTURE",
    "GESTURE_GRANTS",
    "GESTURE_REQUIRED",
    "GRANTS",
    "NO_GESTURE",
    "SENDER_KINDS",
    "Handler",
    "Router",
    "capability_of",
    "typed",
    "unwrap",
]

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message | None]]

SENDER_KINDS = ("panel", "options", "content", "dev", "unknown")

#: Capability -> the request types it covers. Every request type is in exactly one.
CAPABILITIES: dict[str, frozenset[str]] = {
    "ping": frozenset({"ping"}),
    "chat": frozenset({"hello", "chat.send", "chat.stop", "chat.regenerate", "chat.edit", "chat.version",
                       "chat.cancel_queued", "queue.config"}),
    "conversations": frozenset({"conv.list", "conv.open", "conv.new", "conv.rename", "conv.delete",
                                "conv.pin", "conv.export", "conv.settings"}),
    "page": frozenset({"page.context"}),
    "settings.read": frozenset({"settings.get"}),
    # Switch among the providers the user saved, and list the active one's models: each
    # profile's key stays bound to the origins it was approved for, so no credential moves.
    "providers": frozenset({"profile.select", "models.list"}),
    "settings.write": frozenset({"settings.set", "settings.preview", "settings.test", "settings.approve",
                                 "key.set", "key.clear", "profile.save", "profile.delete"}),
    "import": frozenset({"conv.import"}),
    "vault": frozenset({"vault.status", "vault.set", "vault.reveal", "vault.wipe", "vault.lock",
                        "vault.unlock", "vault.passphrase"}),
    "accounts": frozenset({"auth.import", "auth.clear", "auth.status"}),
    "attachments": frozenset({"attach.add", "attach.remove", "attach.get"}),
    "screenshot": frozenset({"attach.screenshot"}),
}

#: The developer build's test hooks (background.dev): present only there.
DEV_CAPABILITIES: dict[str, frozenset[str]] = {
    "diag": frozenset({"diag.stream", "diag.result", "diag.chat", "diag.bench_sse", "diag.vault_vectors",
                       "diag.mark", "diag.marks", "diag.fatal"}),
}

#: Sender kind -> the capabilities it holds.
GRANTS: dict[str, frozenset[str]] = {
    # Chats, manages conversations, reads the page and the settings, attaches files and
    # screenshots of the active tab (only from the user's click: GESTURE_GRANTS; Chrome's
    # activeTab grant decides which tab); no vault, no accounts. It never sets an endpoint or
    # a credential: it may only switch among the providers the user saved (each sent its own
    # key, to the origins approved for that key) and refresh the active one's model list
    # ("providers").
    "panel": frozenset({"ping", "chat", "conversations", "page", "settings.read", "providers",
                        "attachments"}),
    # The user's own settings page: endpoints, credentials, the vault, accounts, imports.
    "options": frozenset({"ping", "settings.read", "providers", "settings.write", "import", "vault",
                          "accounts"}),
    # A web page's script: nothing over messages. Page text comes back as the
    # completion value of the script the worker itself injects (background.browser).
    "content": frozenset(),
    # The developer build's test console: everything, test hooks included.
    "dev": frozenset(CAPABILITIES) | frozenset(DEV_CAPABILITIES),
    "unknown": frozenset(),
}


#: Sender kind -> the capabilities it holds only for a request the relay forwarded while
#: the user's activation was live (their click or key press in the page): a screenshot
#: of the tab they look at. A script in the panel's frame cannot make one on its own.
GESTURE_GRANTS: dict[str, frozenset[str]] = {
    "panel": frozenset({"screenshot"}),
}

#: The relay's forms of the UI's ``ui.screenshot <request>`` word (extension/relay.js):
#: the request follows the prefix. Only the relay writes them: it never forwards a
#: string starting with ``ui.screenshot `` as it came, so a port message that starts
#: with :data:`GESTURE` was made during the user's activation.
GESTURE = "ui.screenshot "
NO_GESTURE = "ui.nogesture "

GESTURE_REQUIRED = ("A screenshot is taken only when you click the screenshot button in the composer; "
                    "click it to take one.")


def unwrap(text: str) -> tuple[str, bool]:
    """A port message without the relay's gesture form: ``(request text, made in a gesture)``."""
    if text.startswith(GESTURE):
        return text[len(GESTURE):], True
    if text.startswith(NO_GESTURE):
        return text[len(NO_GESTURE):], False
    return text, False


def capability_of(kind: str) -> str | None:
    """The capability a request type belongs to (None: not a request type)."""
    for name, types in (CAPABILITIES | DEV_CAPABILITIES).items():
        if kind in types:
            return name
    return None


def typed(handler: Callable[[Request], Awaitable[Message]]) -> Handler:
    """A handler of a typed request (:mod:`background.protocol`): the message is validated first."""

    async def run(msg: Message) -> Message:
        return await handler(parse_request(msg))

    return run


class Router:
    """Owns the capability table: checks the sender, then calls the request type's handler.

    Args:
        handlers: request type -> handler, for every type in :data:`CAPABILITIES`
            (and :data:`DEV_CAPABILITIES` in a developer build: ``dev=True``).
        dev: the developer build; without it the ``dev`` kind holds nothing.
        log: where refusals are written (the worker's console).
    """

    def __init__(self, handlers: Mapping[str, Handler], *, dev: bool = False,
                 log: Callable[[str], None] | None = None) -> None:
        groups = CAPABILITIES | (DEV_CAPABILITIES if dev else {})
        expected = frozenset().union(*groups.values())
        missing, extra = expected - set(handlers), set(handlers) - expected
        if missing or extra:  # a handler outside the table could never be reached, or be reached by all
            raise ValueError(f"handlers do not match the capability table: missing {sorted(missing)}, "
                             f"not in the table {sorted(extra)}")
        assert set(REQUESTS) <= expected, "every typed request is in the capability table"
        self._handlers = dict(handlers)
        self._capability = {kind: name for name, types in groups.items() for kind in types}
        self._grants = {kind: caps for kind, caps in GRANTS.items() if dev or kind != "dev"}
        self._gesture_grants = dict(GESTURE_GRANTS)
        self._log = log or (lambda line: print(line, file=sys.stderr))

    def allows(self, sender: str, kind: str, *, gesture: bool = False) -> bool:
        """Whether a ``sender`` kind may send requests of type ``kind`` (``gesture``: the
        relay forwarded it during the user's activation, see :data:`GESTURE_GRANTS`)."""
        capability = self._capability.get(kind)
        if capability is None:
            return False
        held = self._grants.get(sender, frozenset())
        if gesture:
            held = held | self._gesture_grants.get(sender, frozenset())
        return capability in held

    def check(self, sender: str, kind: str, *, gesture: bool = False) -> None:
        """Raise unless ``sender`` may send ``kind``: ``gesture_required`` (a screenshot
        asked for without the user's click), ``forbidden`` (logged, without the payload),
        or ``unknown_type`` for a sender that holds capabilities."""
        if self.allows(sender, kind, gesture=gesture):
            return
        shown = kind[:64] if kind[:64].isprintable() else kind[:64].encode("unicode_escape").decode()
        if kind not in self._capability and self._grants.get(sender):
            raise ProtocolError("unknown_type", f"unknown message type {shown!r}")
        who = sender if sender in SENDER_KINDS else "unknown"
        if self.allows(sender, kind, gesture=True):
            self._log(f"background: refused: {shown!r} from a {who} sender without the user's click")
            raise ProtocolError("gesture_required", GESTURE_REQUIRED)
        self._log(f"background: forbidden: {shown!r} from a {who} sender")
        raise ProtocolError("forbidden", f"{shown} is not accepted from this page")

    async def handle(self, sender: str, msg: Message, *, gesture: bool = False) -> Message | None:
        """Check and handle one decoded message (see :func:`parse_message`).

        Raises:
            ProtocolError: forbidden, gesture_required, unknown, or the handler's own refusal.
        """
        kind: str = msg["type"]
        self.check(sender, kind, gesture=gesture)
        return await self._handlers[kind](msg)


def parse_message(text: object) -> Message:
    """One message: a JSON object with a string ``type``, through the guarded decoder."""
    try:
        msg = decode_message(text)
    except UntrustedInput as exc:
        raise ProtocolError("malformed", f"message is not usable: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("malformed", "message must be a JSON object with a string 'type'")
    return msg
