"""Export conversations (JSON, Markdown) and import a JSON export.

JSON export format (``sidepy.conversations`` version 1)::

    {"format": "sidepy.conversations", "version": 1, "exported_at": <epoch ms>,
     "conversations": [<StoredConversation>, ...],
     "attachments": [{"id", "kind", "mime", "name", "bytes", "width"?, "height"?, "data": <base64>}, ...]}

Each conversation is the stored record itself, raw items included, so an
export/import round trip loses nothing. Its messages name their attachments
(``attachments``: refs by id); the bytes are in the top-level ``attachments``
list (an older SidePy that knows no attachments ignores it). Import validates
every conversation on its own (a bad one is skipped and counted, the others
still come in), never overwrites: an id already in use gets a new id, and a
reply that was streaming when exported comes in as stopped. Attachments come in
as if attached again (checked, under new ids: :func:`restore_attachments`); one
whose bytes are missing or refused is dropped from its message and reported.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping

from pydantic import ValidationError

from ..attachments.model import AttachmentRef, AttachmentRefused
from ..chat.service import user_item
from ..page.context import sanitize_context
from ..protocol import MAX_IMPORT_CHARS
from ..store.records import StoredConversation, StoredMessage, every_message
from ..store.storage import SCHEMA_VERSION
from ..untrusted import UntrustedInput, decode

__all__ = [
    "EXPORT_FORMAT",
    "ImportResult",
    "attachment_refs",
    "export_json",
    "export_markdown",
    "filename",
    "parse_import",
    "restore_attachments",
]

EXPORT_FORMAT = "sidepy.conversations"
EXPORT_VERSION = 1


def filename(conversations: list[StoredConversation], extension: str, now_ms: int) -> str:
    """``sidepy-<title>-<date>.<ext>`` for one conversation, ``sidepy-conversations-<date>`` for all."""
    date = time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000))
    if len(conversations) == 1:
        slug = re.sub(r"[^a-z0-9]+", "-", conversations[0].title.lower()).strip("-")[:40] or "conversation"
        return f"sidepy-{slug}-{date}.{extension}"
    return f"sidepy-conversations-{date}.{extension}"


def export_json(conversations: list[StoredConversation], now_ms: int,
                files: Mapping[str, bytes] | None = None) -> str:
    """The JSON export of ``conversations``, with the bytes of their attachments found in
    ``files`` (attachment id -> bytes)."""
    files = files or {}
    attachments: dict[str, dict[str, object]] = {}
    for ref in attachment_refs(conversations):
        if ref.id in files and ref.id not in attachments:
            entry: dict[str, object] = ref.model_dump(mode="json", exclude_none=True)
            entry["data"] = base64.b64encode(files[ref.id]).decode("ascii")
            attachments[ref.id] = entry
    document: dict[str, object] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": now_ms,
        "conversations": [c.model_dump(mode="json", by_alias=True) for c in conversations],
    }
    if attachments:
        document["attachments"] = list(attachments.values())
    return json.dumps(document, ensure_ascii=False, indent=1)


def attachment_refs(conversations: list[StoredConversation]) -> list[AttachmentRef]:
    """Every attachment the conversations' messages refer to, in order."""
    return [ref for c in conversations for m in every_message(c.messages) for ref in m.attachments]


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def export_markdown(conversations: list[StoredConversation]) -> str:
    """A readable Markdown transcript (user, assistant, reasoning folded, page context linked)."""
    parts: list[str] = []
    for conversation in conversations:
        lines = [f"# {conversation.title or 'Untitled conversation'}", ""]
        effort = f" · reasoning {conversation.reasoning_effort}" if conversation.reasoning_effort else ""
        lines += [f"_{conversation.model}{effort} · {_when(conversation.created_at)}_", ""]
        for message in conversation.messages:
            if message.role == "user":
                lines += ["## You", ""]
                if message.context is not None:
                    source = message.context.title or message.context.url or "page"
                    url = message.context.url
                    lines.append(f"> Page: [{source}]({url})" if url else f"> Page: {source}")
                    if message.context.selection:
                        lines += ["> Selection: " + " ".join(message.context.selection.split())[:500]]
                    lines.append("")
                if message.attachments:
                    names = ", ".join(ref.name for ref in message.attachments)
                    lines += [f"> Attached: {names}", ""]
                lines += [message.text, ""]
            else:
                lines += ["## Assistant", ""]
                if message.reasoning:
                    lines += ["<details><summary>Reasoning</summary>", "", message.reasoning, ""]
                    lines += ["</details>", ""]
                lines += [message.text or "_(no text)_", ""]
                if message.stopped:
                    lines += ["_(stopped)_", ""]
                if message.error is not None:
                    lines += [f"_(error: {message.error.message})_", ""]
        parts.append("\n".join(lines).rstrip() + "\n")
    return "\n---\n\n".join(parts)


class ImportResult:
    """Conversations ready to save, and what was skipped (with why)."""

    def __init__(self) -> None:
        self.conversations: list[StoredConversation] = []
        self.skipped: list[str] = []
        self.files: dict[str, bytes] = {}  # attachment id in the export -> its bytes


def parse_import(text: str, *, taken: set[str], new_id: Callable[[str], str]) -> ImportResult:
    """Validate a JSON export; give conflicting ids new ones.

    Raises:
        ValueError: not a SidePy export at all (the message says what it is not).
    """
    try:
        data = decode(text, max_chars=MAX_IMPORT_CHARS, what="this file")
    except UntrustedInput as exc:
        raise ValueError(str(exc)) from None
    if isinstance(data, dict) and data.get("format") != EXPORT_FORMAT and "messages" in data:
        data = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "conversations": [data]}
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ValueError("this is not a SidePy conversations export")
    version = data.get("version")
    if not isinstance(version, int) or version > EXPORT_VERSION:
        raise ValueError(f"this export was made by a newer SidePy (version {version}); update SidePy first")
    raw = data.get("conversations")
    if not isinstance(raw, list):
        raise ValueError("the export has no 'conversations' list")
    result = ImportResult()
    seen = set(taken)
    for number, item in enumerate(raw, 1):
        schema = item.get("schema") if isinstance(item, dict) else None
        if isinstance(schema, int) and schema > SCHEMA_VERSION:
            result.skipped.append(f"conversation {number}: saved by a newer SidePy (schema {schema})")
            continue
        try:
            conversation = StoredConversation.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            result.skipped.append(f"conversation {number}: {where}: {first['msg']}")
            continue
        if conversation.id in seen or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", conversation.id):
            conversation.id = new_id("c")
        seen.add(conversation.id)
        for message in conversation.messages:
            if message.streaming:
                message.streaming = False
                message.stopped = True
            message.queued = False  # this worker's queue does not hold it: a plain message
            visible_items(message)
        result.conversations.append(conversation)
    result.files = _files(data.get("attachments"), result.skipped)
    return result


def _files(raw: object, skipped: list[str]) -> dict[str, bytes]:
    """The export's attachment bytes by id (an entry that does not read is reported)."""
    files: dict[str, bytes] = {}
    for number, entry in enumerate(raw if isinstance(raw, list) else [], 1):
        readable = isinstance(entry, dict) and isinstance(entry.get("id"), str)
        if not readable or not isinstance(entry.get("data"), str):
            skipped.append(f"attachment {number}: not an attachment entry")
            continue
        try:
            files[entry["id"]] = base64.b64decode(entry["data"], validate=True)
        except (binascii.Error, ValueError):
            skipped.append(f"attachment {number}: its data is not base64")
    return files


async def restore_attachments(
    conversation: StoredConversation,
    files: Mapping[str, bytes],
    restore: Callable[[str, AttachmentRef, bytes], Awaitable[AttachmentRef]],
    skipped: list[str],
) -> None:
    """Bring an imported conversation's attachments in under new ids (``restore`` stores one
    and returns its new ref); a ref whose bytes are missing or refused leaves its message."""
    renamed: dict[str, AttachmentRef | None] = {}
    for message in every_message(conversation.messages):
        kept = []
        for ref in message.attachments:
            if ref.id not in renamed:
                renamed[ref.id] = None
                data = files.get(ref.id)
                where = f"{conversation.title or conversation.id}: “{ref.name}”"
                if data is None:
                    skipped.append(f"{where} is not in the file")
                else:
                    try:
                        renamed[ref.id] = await restore(conversation.id, ref, data)
                    except AttachmentRefused as refused:
                        skipped.append(f"{where}: {refused}")
            new = renamed[ref.id]
            if new is not None:
                kept.append(new)
        lost = len(kept) < len(message.attachments)
        message.attachments = kept
        if lost:
            visible_items(message)  # made again: a message of attachments only must not go empty


def visible_items(message: StoredMessage) -> None:
    """Rebuild what an imported message sends to the model from what the user can see.

    An export is a file anyone can hand over: its raw ``items`` could carry a
    hidden ``developer`` / ``system`` message, tool calls, or text that differs
    from the shown text, and would go into every later prompt of the conversation.
    So the items are dropped and made again from the shown text (and, for a user
    message, its shown page context, trimmed as a new one would be): a user
    message becomes one user ``message`` item, a reply one assistant ``message``
    item; reasoning (encrypted, not shown) does not survive.
    """
    if message.role == "user":
        context = sanitize_context(message.context) if message.context is not None else None
        message.context = context
        message.items = [user_item(message.text, context, attachments=bool(message.attachments))]
    elif message.text:
        message.items = [{"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": message.text}]}]
    else:
        message.items = []
