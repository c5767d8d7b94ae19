"""The panel ⇄ background protocol (docs/protocol.md), background side.

Every request type is a pydantic model; :func:`parse_request` validates an
incoming message and raises :class:`~background.errors.ProtocolError` (code
``bad_request``) with a message naming the field, so a bad message gets an
``error`` reply and never reaches a handler. Unknown fields are ignored
(forward compatibility); unknown types are the router's business.

The builders at the end make the replies and pushes, so their shapes live in one
place next to the requests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .attachments.model import DRAFT, LIMITS
from .errors import ProtocolError
from .store.records import PageContext

__all__ = [
    "PROTOCOL_VERSION",
    "REQUESTS",
    "AttachAdd",
    "AttachGet",
    "AttachRemove",
    "AttachScreenshot",
    "ChatCancelQueued",
    "ChatEdit",
    "ChatRegenerate",
    "ChatSend",
    "ChatStop",
    "ConvDelete",
    "ConvExport",
    "ConvImport",
    "ConvList",
    "ConvNew",
    "ConvOpen",
    "ConvPin",
    "ConvRename",
    "ConvSettings",
    "Hello",
    "KeyClear",
    "KeySet",
    "ModelsList",
    "PageContextRequest",
    "ProfileDelete",
    "ProfileSave",
    "ProfileSelect",
    "QueueConfig",
    "Request",
    "SettingsApprove",
    "SettingsGet",
    "SettingsPreview",
    "SettingsSet",
    "SettingsTest",
    "error_reply",
    "parse_request",
    "reply",
]

PROTOCOL_VERSION = 1
MAX_MESSAGE_CHARS = 100_000
MAX_IMPORT_CHARS = 50_000_000

def _not_reserved(conversation_id: str) -> str:
    if conversation_id == DRAFT:  # where a new chat's attachments wait (background.attachments)
        raise ValueError(f"'{DRAFT}' is reserved")
    return conversation_id


ConversationId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$"), AfterValidator(_not_reserved)]
MessageId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
AttachmentId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
#: The base64 of the largest file ``attach.add`` takes (an image, see background.attachments.model).
MAX_ATTACHMENT_CHARS = (LIMITS.image_bytes + 2) // 3 * 4
# modelclient's ReasoningEffort: ``none`` (gpt-5.1 and later) and ``xhigh`` (codex-max, gpt-5.2 and
# later) too; each model's own choices are ``SettingsView.efforts``.
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class Request(BaseModel):
    """Fields every request has: ``type`` and the ``id`` the reply echoes."""

    model_config = ConfigDict(extra="ignore")
    type: StrictStr
    id: StrictInt | None = None


class Hello(Request):
    """``hello``: the panel (re)connects; ``conversation_id`` is the one it shows."""

    v: StrictInt = PROTOCOL_VERSION
    conversation_id: ConversationId | None = None


class ConvList(Request):
    """``conv.list``: the conversations, optionally searched."""

    query: StrictStr | None = Field(None, max_length=500)


class ConvOpen(Request):
    """``conv.open``."""

    conversation_id: ConversationId


class ConvNew(Request):
    """``conv.new``: an empty conversation, stored with its first message."""


class ConvRename(Request):
    """``conv.rename``."""

    conversation_id: ConversationId
    title: StrictStr = Field(max_length=500)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        title = " ".join(value.split())
        if not title:
            raise ValueError("a title cannot be empty")
        return title[:200]


class ConvDelete(Request):
    """``conv.delete``."""

    conversation_id: ConversationId


class ConvPin(Request):
    """``conv.pin``: pinned conversations are never removed by the storage bound."""

    conversation_id: ConversationId
    pinned: StrictBool = True


class ConvExport(Request):
    """``conv.export``: one conversation, or all when ``conversation_id`` is absent."""

    conversation_id: ConversationId | None = None
    format: Literal["json", "markdown"] = "json"


class ConvImport(Request):
    """``conv.import``: a JSON export."""

    text: StrictStr = Field(max_length=MAX_IMPORT_CHARS)


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


class ConvSettings(Request):
    """``conv.settings``: per-conversation model / reasoning effort (``null`` or ``""`` = default)."""

    conversation_id: ConversationId
    model: StrictStr | None = Field(None, max_length=200)
    reasoning_effort: Effort | None = None

    _effort = field_validator("reasoning_effort", mode="before")(_blank_is_none)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the message is empty")
    return value


class ChatSend(Request):
    """``chat.send``: a user message, in a new conversation if ``conversation_id`` is absent.

    ``client_id`` (the panel's id for the message) makes a resend idempotent;
    ``model`` / ``reasoning_effort`` apply when the message starts a conversation.
    ``attachments``: ids from ``attach.added``, in the order shown; with them
    ``text`` may be empty (``""``).
    """

    conversation_id: ConversationId | None = None
    text: StrictStr = Field(max_length=MAX_MESSAGE_CHARS)
    attachments: list[AttachmentId] = Field(default_factory=list, max_length=LIMITS.per_message)
    context: PageContext | None = None
    client_id: StrictStr | None = Field(None, max_length=100)
    model: StrictStr | None = Field(None, max_length=200)
    reasoning_effort: Effort | None = None
    priority: StrictInt = Field(0, ge=-100, le=100)  # when it has to wait: higher goes first

    _effort = field_validator("reasoning_effort", mode="before")(_blank_is_none)

    @model_validator(mode="after")
    def _something_to_send(self) -> ChatSend:
        if not self.attachments:
            _not_blank(self.text)
        return self


class ChatStop(Request):
    """``chat.stop``."""

    conversation_id: ConversationId


class ChatRegenerate(Request):
    """``chat.regenerate``: drop the last reply and send again."""

    conversation_id: ConversationId


class ChatVersion(Request):
    """``chat.version``: show version ``index`` (from 1) of the answer or branch a message heads."""

    conversation_id: ConversationId
    message_id: MessageId
    index: StrictInt = Field(ge=1, le=1000)


class ChatEdit(Request):
    """``chat.edit``: rewrite a user message (the last one by default) and send again."""

    conversation_id: ConversationId
    text: StrictStr = Field(max_length=MAX_MESSAGE_CHARS)
    message_id: MessageId | None = None

    _text = field_validator("text")(_not_blank)


class ChatCancelQueued(Request):
    """``chat.cancel_queued``: take a waiting message out of the request queue."""

    queue_id: StrictStr = Field(max_length=100)


class QueueConfig(Request):
    """``queue.config``: change the queue's limits (a partial ``QueueLimits``) or drop its holds."""

    limits: dict[str, Any] = Field(default_factory=dict)
    clear_hold: StrictBool = False


class PageContextRequest(Request):
    """``page.context``: read the active tab; ``model`` (the conversation's) sets the budget."""

    include: Literal["page", "selection"] = "page"
    model: StrictStr | None = Field(None, max_length=200)


class SettingsGet(Request):
    """``settings.get``."""


class SettingsSet(Request):
    """``settings.set``: a partial ``SettingsView``; ``active_profile``: the saved provider the
    form was loaded with (refused as ``stale`` if another one was switched to meanwhile)."""

    patch: dict[str, Any]
    active_profile: StrictStr | None = Field(None, max_length=40)


class SettingsPreview(Request):
    """``settings.preview``: what a partial ``SettingsView`` would give, validated, not saved."""

    patch: dict[str, Any] = Field(default_factory=dict)


class SettingsApprove(Request):
    """``settings.approve``: send the API key to ``origin``, the saved base URL's (the user's click)."""

    origin: StrictStr = Field(max_length=300)
    active_profile: StrictStr | None = Field(None, max_length=40)  # as settings.set's


class SettingsTest(Request):
    """``settings.test``: one cheap authenticated call with the saved settings, or with
    ``patch`` applied (not saved), and the stored key or ``key`` (not stored)."""

    patch: dict[str, Any] = Field(default_factory=dict)
    key: StrictStr | None = Field(None, max_length=4096)
    # Also send the one-line turn chat would send (detecting the wire API of a custom server);
    # the options page lets the user leave it out for a paid provider.
    probe: StrictBool = False


class KeySet(Request):
    """``key.set``: store the API key (never echoed back)."""

    key: StrictStr = Field(max_length=4096)
    active_profile: StrictStr | None = Field(None, max_length=40)  # as settings.set's


class KeyClear(Request):
    """``key.clear``: forget the API key."""


ProfileId = Annotated[StrictStr, Field(pattern=r"^p[0-9a-f]{8,32}$")]


class ProfileSelect(Request):
    """``profile.select``: chat uses this saved provider (and its own key) from now on."""

    profile_id: ProfileId


class ProfileSave(Request):
    """``profile.save``: remember the active provider (``new``: as another provider, starting
    from a copy of the active one's settings, without its key)."""

    name: StrictStr | None = Field(None, max_length=60)
    new: StrictBool = False


class ProfileDelete(Request):
    """``profile.delete``: forget a saved provider that is not the active one, and its key."""

    profile_id: ProfileId


class ModelsList(Request):
    """``models.list``: the active provider's ``GET /models``, kept as the settings' model list."""


class AttachAdd(Request):
    """``attach.add``: a file the user gave the panel (pasted, dropped, picked), base64 in
    ``data``; kept for ``conversation_id`` (absent: a new chat's) until the message is sent."""

    conversation_id: ConversationId | None = None
    name: StrictStr = Field("", max_length=1000)
    source: Literal["paste", "drop", "picker"] = "picker"
    data: StrictStr = Field(max_length=MAX_ATTACHMENT_CHARS)


class AttachScreenshot(Request):
    """``attach.screenshot``: capture the visible part of the active tab (see
    background.attachments.capture for the grants this needs)."""

    conversation_id: ConversationId | None = None


class AttachRemove(Request):
    """``attach.remove``: drop an attachment the composer holds (a sent one stays)."""

    attachment_id: AttachmentId


class AttachGet(Request):
    """``attach.get``: one attachment, to show full size."""

    attachment_id: AttachmentId


REQUESTS: dict[str, type[Request]] = {
    "hello": Hello,
    "conv.list": ConvList,
    "conv.open": ConvOpen,
    "conv.new": ConvNew,
    "conv.rename": ConvRename,
    "conv.delete": ConvDelete,
    "conv.pin": ConvPin,
    "conv.export": ConvExport,
    "conv.import": ConvImport,
    "conv.settings": ConvSettings,
    "chat.send": ChatSend,
    "chat.stop": ChatStop,
    "chat.regenerate": ChatRegenerate,
    "chat.edit": ChatEdit,
    "chat.version": ChatVersion,
    "chat.cancel_queued": ChatCancelQueued,
    "queue.config": QueueConfig,
    "page.context": PageContextRequest,
    "settings.get": SettingsGet,
    "settings.set": SettingsSet,
    "settings.preview": SettingsPreview,
    "settings.test": SettingsTest,
    "settings.approve": SettingsApprove,
    "key.set": KeySet,
    "key.clear": KeyClear,
    "profile.select": ProfileSelect,
    "profile.save": ProfileSave,
    "profile.delete": ProfileDelete,
    "models.list": ModelsList,
    "attach.add": AttachAdd,
    "attach.screenshot": AttachScreenshot,
    "attach.remove": AttachRemove,
    "attach.get": AttachGet,
}


def _describe(kind: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "message"
        if error["type"] == "missing":
            parts.append(f"'{where}' is required")
        else:
            parts.append(f"'{where}': {str(error['msg']).removeprefix('Value error, ')}")
    return f"{kind}: " + "; ".join(parts)


def parse_request(message: dict[str, Any]) -> Request:
    """Validate a decoded message whose ``type`` is in :data:`REQUESTS`.

    Raises:
        ProtocolError: ``bad_request`` naming the bad field(s).
    """
    kind = message.get("type")
    model = REQUESTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}")
    try:
        return model.model_validate(message)
    except ValidationError as exc:
        raise ProtocolError("bad_request", _describe(str(kind), exc)) from None


def reply(kind: str, request: Request | None, **fields: Any) -> dict[str, Any]:
    """A direct reply (echoing the request's ``id``) or, without a request, a push."""
    message: dict[str, Any] = {"type": kind}
    if request is not None:
        message["id"] = request.id
    message.update(fields)
    return message


def error_reply(msg_id: object, code: str, message: str, **fields: Any) -> dict[str, Any]:
    """``{"type": "error", "id", "code", "message", ...}``."""
    return {"type": "error", "id": msg_id, "code": code, "message": message, **fields}
