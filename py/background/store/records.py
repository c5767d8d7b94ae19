"""What the app stores: conversations, their index, partial replies, rate limits.

Every stored object is a pydantic model with ``schema`` (see :mod:`background.store.storage`).
A conversation keeps each message's **raw Responses API items** (the user's
``message`` item as sent; the assistant's output items exactly as the server
finished them: reasoning with its encrypted content, messages, web searches,
tool calls) next to the few fields a view needs (text, reasoning summary,
usage, stopped, error). Nothing the server sent is lost, and the next prompt is
rebuilt from the items alone.

The view helpers turn records into the shapes of docs/protocol.md
(``MessageView``, ``Conversation``, ``ConversationSummary``); optional fields
are left out rather than sent as ``null``/``false``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelclient import TokenUsage

from ..attachments.model import AttachmentRef
from .storage import SCHEMA_VERSION, text_bytes

__all__ = [
    "Advice",
    "ConversationIndex",
    "ErrorInfo",
    "IndexEntry",
    "LimitsRecord",
    "PageContext",
    "PartialReply",
    "StoredConversation",
    "StoredMessage",
    "Usage",
    "attachment_bytes",
    "conversation_view",
    "every_message",
    "message_view",
    "preview_of",
    "summary_view",
]

PREVIEW_CHARS = 120


class _Record(BaseModel):
    # Unknown fields are ignored so an older SidePy reads what a newer one added
    # within the same schema version.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Usage(_Record):
    """Token counts (``Usage`` of docs/protocol.md); mirrors ``modelclient.TokenUsage``."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, usage: TokenUsage) -> Usage:
        """From the client's ``TokenUsage``."""
        return cls(
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_output_tokens=usage.reasoning_output_tokens,
            total_tokens=usage.total_tokens,
        )

    def token_usage(self) -> TokenUsage:
        """Back to the client's ``TokenUsage`` (for the tracker)."""
        return TokenUsage(**self.model_dump())


class Advice(_Record):
    """What to do about a failed turn, in the provider's words (``modelclient.advise_failure``)."""

    reason: str  # modelclient.FailureReason: not_running, origins, unknown_model ...
    text: str


class ErrorInfo(_Record):
    """``{kind, message, retryable, fields, advice?}``: a ``modelclient`` error's ``to_json()`` or an
    app error; ``advice`` when the provider's failure has a sentence that says how to fix it."""

    kind: str
    message: str
    retryable: bool = False
    fields: dict[str, Any] = Field(default_factory=dict)
    advice: Advice | None = None


class PageContext(_Record):
    """Page text attached to a user message (``PageContext`` of docs/protocol.md)."""

    title: str = Field("", max_length=2_000)
    url: str = Field("", max_length=8_000)
    text: str = ""
    selection: str | None = None
    truncated: bool = False
    chars: int = 0
    budget: int = 0
    note: str | None = None


class StoredMessage(_Record):
    """One user message or assistant reply, with the raw items behind it."""

    id: str
    role: Literal["user", "assistant"]
    created_at: int
    client_id: str | None = None  # the panel's id for a user message (resends are recognised)
    text: str = ""
    reasoning: str = ""
    context: PageContext | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    turn_id: str | None = None
    model: str | None = None
    streaming: bool = False
    stopped: bool = False
    error: ErrorInfo | None = None
    usage: Usage | None = None
    searches: list[str] = Field(default_factory=list)
    queued: bool = False  # a user message waiting in the request queue (not sent to the model yet)
    # What the user attached (their bytes are in IndexedDB, background.attachments.store);
    # the request gets them as content parts (background.attachments.items).
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)
    # The other versions of the conversation's tail that starts with this message (an
    # answer written again, a question edited), in writing order without the one on the
    # path, and where that one sits among them (background.store.versions).
    versions: list[list[StoredMessage]] = Field(default_factory=list)
    version: int = 0
    # A user message whose answer is being written again: the earlier answers, kept for the
    # new one (it takes them as its versions when its turn starts, even after a wait).
    next_versions: list[list[StoredMessage]] = Field(default_factory=list)


StoredMessage.model_rebuild()


class StoredConversation(_Record):
    """A conversation record, stored under ``conv.<id>``."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    id: str
    title: str = ""
    title_from_user: bool = False  # renamed by the user: never replaced by the first message
    created_at: int
    updated_at: int
    model: str
    reasoning_effort: str | None = None
    pinned: bool = False
    messages: list[StoredMessage] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class IndexEntry(_Record):
    """What the conversation list needs, without loading conversations."""

    id: str
    title: str
    created_at: int
    updated_at: int
    messages: int = 0
    preview: str = ""
    pinned: bool = False
    bytes: int = 0
    attachment_bytes: int = 0  # its messages' attachments, kept in IndexedDB

    @classmethod
    def of(cls, conversation: StoredConversation, key: str, text: str) -> IndexEntry:
        """The entry of ``conversation``, stored as ``text`` under ``key`` (which ``bytes`` counts)."""
        return cls(
            id=conversation.id,
            title=conversation.title,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            messages=len(conversation.messages),
            preview=preview_of(conversation),
            pinned=conversation.pinned,
            bytes=text_bytes(key, text),
            attachment_bytes=attachment_bytes(conversation),
        )


class ConversationIndex(_Record):
    """The list of conversations, stored under ``conv.index``."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    entries: list[IndexEntry] = Field(default_factory=list)


class PartialReply(_Record):
    """A streaming reply's text so far, stored under ``part.<conversation id>`` every ~2 s."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    turn_id: str
    text: str = ""
    reasoning: str = ""
    searches: list[str] = Field(default_factory=list)


class LimitsRecord(_Record):
    """The latest rate-limit snapshot (``RateLimitSnapshot.to_json()``), stored under ``limits``."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    at: int
    limits: dict[str, Any]


# ---------------------------------------------------------------------------
# Views (docs/protocol.md shapes)
# ---------------------------------------------------------------------------


def unfinished_items(items: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The items an unfinished (stopped, failed or interrupted) reply contributes to history.

    It goes back to the model as the text the user saw; its reasoning and any
    partial message item are dropped (the API rejects reasoning without the answer
    item that followed it). Tool calls and searches that completed are kept.
    """
    kept = [item for item in items if item.get("type") not in ("reasoning", "message")]
    if text:
        content = [{"type": "output_text", "text": text}]
        kept.append({"type": "message", "role": "assistant", "content": content})
    return kept


def every_message(messages: list[StoredMessage]) -> Iterator[StoredMessage]:
    """The messages and, depth first, those of every version kept under them."""
    for message in messages:
        yield message
        for tail in (*message.versions, *message.next_versions):
            yield from every_message(tail)


def attachment_bytes(conversation: StoredConversation) -> int:
    """The bytes of every attachment its messages carry, earlier versions' included (each
    counted once)."""
    sizes = {ref.id: ref.bytes for m in every_message(conversation.messages) for ref in m.attachments}
    return sum(sizes.values())


def message_view(
    message: StoredMessage, *, text: str | None = None, reasoning: str | None = None,
    thumbs: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``MessageView``; ``text``/``reasoning`` override the stored ones (a live turn's);
    ``thumbs`` (attachment id -> ``data:`` URL) adds its images' thumbnails."""
    view: dict[str, Any] = {
        "id": message.id,
        "role": message.role,
        "text": message.text if text is None else text,
        "created_at": message.created_at,
    }
    if message.client_id is not None:
        view["client_id"] = message.client_id
    if message.queued:
        view["queued"] = True
    shown_reasoning = message.reasoning if reasoning is None else reasoning
    if shown_reasoning:
        view["reasoning"] = shown_reasoning
    if message.context is not None:
        view["context"] = message.context.model_dump(exclude_none=True)
    if message.attachments:
        shown = thumbs or {}
        view["attachments"] = [ref.view(shown.get(ref.id)) for ref in message.attachments]
    if message.role == "assistant":
        view["streaming"] = message.streaming
        if message.model:
            view["model"] = message.model
    if message.stopped:
        view["stopped"] = True
    if message.error is not None:
        view["error"] = message.error.model_dump(exclude_none=True)
    if message.usage is not None:
        view["usage"] = message.usage.model_dump()
    if message.searches:
        view["searches"] = list(message.searches)
    if message.versions:
        view["versions"] = {"index": message.version + 1, "count": len(message.versions) + 1}
    return view


def conversation_view(
    conversation: StoredConversation, live: dict[str, Any] | None = None, thumbs: dict[str, str] | None = None
) -> dict[str, Any]:
    """``Conversation``; ``live`` = ``{turn_id, seq, text, reasoning}`` of a streaming turn;
    ``thumbs``: its attachments' thumbnails (:func:`message_view`)."""
    messages = []
    for message in conversation.messages:
        if live is not None and message.turn_id == live["turn_id"] and message.streaming:
            messages.append(message_view(message, text=live["text"], reasoning=live["reasoning"]))
        else:
            messages.append(message_view(message, thumbs=thumbs))
    view: dict[str, Any] = {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "model": conversation.model,
        "messages": messages,
        "usage": conversation.usage.model_dump(),
        "pinned": conversation.pinned,
    }
    if conversation.reasoning_effort is not None:
        view["reasoning_effort"] = conversation.reasoning_effort
    if live is not None:
        view["streaming"] = {"turn_id": live["turn_id"], "seq": live["seq"]}
    return view


def summary_view(entry: IndexEntry) -> dict[str, Any]:
    """``ConversationSummary``."""
    return {
        "id": entry.id,
        "title": entry.title,
        "updated_at": entry.updated_at,
        "messages": entry.messages,
        "preview": entry.preview,
        "pinned": entry.pinned,
    }


def preview_of(conversation: StoredConversation) -> str:
    """The last message's first line(s), for the list."""
    for message in reversed(conversation.messages):
        if message.text.strip():
            flat = " ".join(message.text.split())
            return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"
    return ""
