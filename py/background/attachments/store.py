"""Where attachments live, and the library that takes them in, hands them out and lets them go.

The bytes go to IndexedDB, not ``chrome.storage.local``: its 10 MB quota is the
conversations' text, and one screenshot would be a tenth of it. IndexedDB
(database ``sidepy-attachments``, ``extension/bridges/attachments.js``) keeps two
object stores: ``meta`` (the :class:`~background.attachments.model.Attachment`
record as JSON text, indexed by conversation) and ``data`` (the bytes, as a Blob).
A put writes both in one transaction, so a record never exists without its bytes.

:class:`AttachmentStore` is the bridge (``background.browser.IdbAttachments`` in
the worker, :class:`MemoryAttachments` in tests); :class:`AttachmentLibrary` is
what the app calls. Like the conversations, storage is the truth: a worker that
is stopped between attaching and sending finds the attachment again by its id.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from .imaging import BUDGET, ImageBudget, Renderer, prepare_image
from .model import (
    DRAFT,
    LIMITS,
    Attachment,
    AttachmentRef,
    AttachmentRefused,
    Limits,
    Source,
    clean_name,
    megabytes,
    sniff,
)

__all__ = ["DRAFT", "PENDING_TTL_MS", "AttachmentLibrary", "AttachmentStore", "Claim", "MemoryAttachments"]

#: A pending attachment (added to the composer, never sent) is collected after this.
PENDING_TTL_MS = 24 * 3600 * 1000


class AttachmentStore(Protocol):
    """IndexedDB in the worker; memory in tests. Records travel as JSON text."""

    async def put(self, attachment_id: str, conversation_id: str, record: str, data: bytes) -> None:
        """Store a record and its bytes together (one transaction)."""
        ...

    async def update(self, attachment_id: str, conversation_id: str, record: str) -> None:
        """Replace a record, keeping its bytes."""
        ...

    async def records(self, conversation_id: str | None = None) -> list[str]:
        """The records of one conversation (all of them for ``None``)."""
        ...

    async def record(self, attachment_id: str) -> str | None:
        """One record; ``None`` when it is not stored."""
        ...

    async def data(self, attachment_id: str) -> bytes | None:
        """An attachment's bytes; ``None`` when it is not stored."""
        ...

    async def remove(self, attachment_ids: list[str]) -> None:
        """Delete records and bytes (unknown ids are ignored)."""
        ...


class MemoryAttachments:
    """:class:`AttachmentStore` in memory (tests; the same contract as IndexedDB)."""

    def __init__(self) -> None:
        self.meta: dict[str, tuple[str, str]] = {}  # id -> (conversation id, record text)
        self.blobs: dict[str, bytes] = {}

    async def put(self, attachment_id: str, conversation_id: str, record: str, data: bytes) -> None:
        self.meta[attachment_id] = (conversation_id, record)
        self.blobs[attachment_id] = bytes(data)

    async def update(self, attachment_id: str, conversation_id: str, record: str) -> None:
        if attachment_id in self.meta:
            self.meta[attachment_id] = (conversation_id, record)

    async def records(self, conversation_id: str | None = None) -> list[str]:
        return [text for cid, text in self.meta.values() if conversation_id is None or cid == conversation_id]

    async def record(self, attachment_id: str) -> str | None:
        found = self.meta.get(attachment_id)
        return found[1] if found else None

    async def data(self, attachment_id: str) -> bytes | None:
        return self.blobs.get(attachment_id)

    async def remove(self, attachment_ids: list[str]) -> None:
        for attachment_id in attachment_ids:
            self.meta.pop(attachment_id, None)
            self.blobs.pop(attachment_id, None)


@dataclass(frozen=True)
class Claim:
    """What :meth:`AttachmentLibrary.claim` gave a new message: its ``refs``, and the
    attachments it moved out of a composer (id -> the conversation id they waited under),
    so that :meth:`AttachmentLibrary.unclaim` can put them back if the message is not stored."""

    refs: list[AttachmentRef]
    moved: dict[str, str] = field(default_factory=dict)


def new_attachment_id() -> str:
    return "a" + secrets.token_hex(8)


class AttachmentLibrary:
    """Takes attachments in (checks, scales images down), hands them out, deletes them.

    Args:
        store: the bridge.
        renderer: decodes and encodes images (:class:`~background.attachments.imaging.Renderer`).
        clock_ms: epoch milliseconds.
        limits, budget: the bounds (defaults: :data:`~background.attachments.model.LIMITS`,
            :data:`~background.attachments.imaging.BUDGET`).
        new_id: makes attachment ids.
    """

    def __init__(
        self,
        store: AttachmentStore,
        renderer: Renderer,
        *,
        clock_ms: Callable[[], int],
        limits: Limits = LIMITS,
        budget: ImageBudget = BUDGET,
        new_id: Callable[[], str] = new_attachment_id,
    ) -> None:
        self._store = store
        self._renderer = renderer
        self._clock_ms = clock_ms
        self.limits = limits
        self.budget = budget
        self._new_id = new_id

    # -- taking in -----------------------------------------------------------

    async def add(
        self, conversation_id: str | None, name: str, data: bytes, source: Source, *, sent: bool = False
    ) -> Attachment:
        """Check ``data``, scale an image to the budget, store it for ``conversation_id``
        (``None``: a new chat's composer, :data:`DRAFT`, until the message is sent).

        Raises:
            AttachmentRefused: its type or size (see :func:`~background.attachments.model.sniff`),
                or the conversation already carries as much as one request may.
        """
        fallback = {"screenshot": "screenshot.png", "paste": "pasted image"}.get(source, "attachment")
        name = clean_name(name, fallback)
        kind, mime = sniff(data, name, self.limits)
        width = height = None
        thumb = None
        if kind == "image":
            image = await prepare_image(data, mime, name, self._renderer, self.budget)
            data, mime, width, height, thumb = image.data, image.mime, image.width, image.height, image.thumb
        stored = await self._collect()
        conversation_id = conversation_id or DRAFT
        if not sent:  # waiting in a composer: no conversation's bound counts it yet
            waiting = sum(a.bytes for a in stored if not a.sent)
            if waiting + len(data) > self.limits.pending_bytes:
                raise AttachmentRefused(
                    "attachment_limit",
                    f"Attachments not sent yet already take {megabytes(waiting)} (SidePy keeps at most "
                    f"{megabytes(self.limits.pending_bytes)}); send or remove some before adding “{name}”.",
                )
        carried = [a for a in stored if a.conversation_id == conversation_id]
        self._check_carried(carried, len(data), f"“{name}”")
        record = Attachment(
            id=self._new_id(), conversation_id=conversation_id, kind=kind, mime=mime, name=name,
            bytes=len(data), width=width, height=height, source=source, created_at=self._clock_ms(),
            sent=sent, thumb=thumb,
        )  # fmt: skip
        await self._store.put(record.id, conversation_id, record.model_dump_json(), data)
        return record

    def _check_carried(self, records: list[Attachment], adding: int, what: str) -> None:
        """Refuse ``adding`` bytes more for a conversation holding ``records``."""
        carried = sum(a.bytes for a in records)
        if carried + adding > self.limits.conversation_bytes:
            raise AttachmentRefused(
                "attachment_limit",
                f"This conversation already carries {megabytes(carried)} of attachments and each request "
                f"takes at most {megabytes(self.limits.conversation_bytes)}; start a new conversation for "
                f"{what}.",
            )

    async def _collect(self) -> list[Attachment]:
        """Forget pending attachments older than :data:`PENDING_TTL_MS` (the composer
        that held them is long gone); the records still stored (one read for the caller)."""
        cutoff = self._clock_ms() - PENDING_TTL_MS
        stored: list[Attachment] = []
        stale: list[Attachment] = []
        for a in await self.all():
            (stale if not a.sent and a.created_at < cutoff else stored).append(a)
        if stale:
            await self._store.remove([a.id for a in stale])
        return stored

    # -- handing out ---------------------------------------------------------

    async def all(self) -> list[Attachment]:
        """Every stored attachment (unreadable records are skipped)."""
        return _parse(await self._store.records(None))

    async def of_conversation(self, conversation_id: str) -> list[Attachment]:
        """The attachments of one conversation, pending ones included."""
        return _parse(await self._store.records(conversation_id))

    async def thumbs(self, conversation_id: str) -> dict[str, str]:
        """``{id: thumbnail data: URL}`` of a conversation's images (for its view)."""
        return {a.id: a.thumb for a in await self.of_conversation(conversation_id) if a.thumb}

    async def data(self, attachment_id: str) -> bytes | None:
        return await self._store.data(attachment_id)

    async def files(self, refs: Iterable[AttachmentRef]) -> dict[str, bytes]:
        """The bytes of the attachments ``refs`` name that are still stored, by id (each read once)."""
        files: dict[str, bytes] = {}
        for attachment_id in dict.fromkeys(ref.id for ref in refs):
            data = await self._store.data(attachment_id)
            if data is not None:
                files[attachment_id] = data
        return files

    async def record(self, attachment_id: str) -> Attachment | None:
        """One record by id (``None``: not stored, or unreadable)."""
        text = await self._store.record(attachment_id)
        found = _parse([text]) if text is not None else []
        return found[0] if found else None

    async def get(self, attachment_id: str) -> tuple[Attachment, bytes]:
        """One attachment and its bytes.

        Raises:
            AttachmentRefused: ``attachment_missing`` — it is not stored (any more).
        """
        record = await self.record(attachment_id)
        data = await self._store.data(attachment_id) if record is not None else None
        if record is None or data is None:
            raise AttachmentRefused("attachment_missing", "That attachment is no longer stored.")
        return record, data

    async def claim(
        self,
        conversation_id: str,
        attachment_ids: list[str],
        check: Callable[[list[AttachmentRef]], None] | None = None,
    ) -> Claim:
        """The refs a new message of ``conversation_id`` keeps, in the order given.

        An attachment still waiting in a composer (any conversation's, or a new chat's)
        moves to this conversation and is marked sent; one already sent in this
        conversation is taken again as it is (an edited message keeps its attachments).

        ``check`` sees the refs before anything is written and may refuse them.

        Raises:
            AttachmentRefused: ``attachment_missing`` for an id that is not stored or was
                sent in another conversation; ``attachment_limit`` for more than a message
                takes, or more than the conversation may carry; whatever ``check`` raises.
        """
        wanted = list(dict.fromkeys(attachment_ids))
        if len(wanted) > self.limits.per_message:
            raise AttachmentRefused(
                "attachment_limit", f"A message can carry up to {self.limits.per_message} attachments."
            )
        records = [await self.record(attachment_id) for attachment_id in wanted]
        if any(r is None or (r.sent and r.conversation_id != conversation_id) for r in records):
            raise AttachmentRefused(
                "attachment_missing",
                "An attachment of this message is no longer stored; remove it and attach it again.",
            )
        found = [record for record in records if record is not None]
        moving = [record for record in found if not record.sent]
        if moving:  # what waited in a composer now counts for this conversation
            sent_here = [a for a in await self.of_conversation(conversation_id) if a.sent]
            self._check_carried(sent_here, sum(r.bytes for r in moving), "these attachments")
        if check is not None:
            check([record.ref() for record in found])
        moved: dict[str, str] = {}
        for record in moving:
            moved[record.id] = record.conversation_id
            record.sent, record.conversation_id = True, conversation_id
            await self._store.update(record.id, conversation_id, record.model_dump_json())
        return Claim([record.ref() for record in found], moved)

    async def unclaim(self, claim: Claim) -> None:
        """Undo :meth:`claim` for a message that was not stored (its send was refused): what
        it moved out of a composer waits there again, so that sending again finds it."""
        for attachment_id, waited_in in claim.moved.items():
            record = await self.record(attachment_id)
            if record is not None:
                record.sent, record.conversation_id = False, waited_in
                await self._store.update(attachment_id, waited_in, record.model_dump_json())

    # -- letting go ----------------------------------------------------------

    async def remove_pending(self, attachment_id: str) -> bool:
        """Delete an attachment the composer holds; a sent one belongs to its message and stays."""
        record = await self.record(attachment_id)
        if record is None or record.sent:
            return False
        await self._store.remove([attachment_id])
        return True

    async def drop_conversations(self, conversation_ids: Iterable[str]) -> None:
        """Delete every attachment of these conversations (they were deleted)."""
        ids = [a.id for cid in set(conversation_ids) for a in await self.of_conversation(cid)]
        if ids:
            await self._store.remove(ids)

    async def drop_unreferenced(self, conversation_id: str, keep: Iterable[str]) -> None:
        """Delete a conversation's *sent* attachments that no message refers to any more
        (``keep``: the ids its messages hold), e.g. after an edit dropped a message."""
        kept = set(keep)
        ids = [a.id for a in await self.of_conversation(conversation_id) if a.sent and a.id not in kept]
        if ids:
            await self._store.remove(ids)

    # -- moving in -----------------------------------------------------------

    async def restore(self, conversation_id: str, ref: AttachmentRef, data: bytes) -> AttachmentRef:
        """Store an imported attachment (checked again, as if the user attached it) under a
        new id; the ref its message should keep.

        Raises:
            AttachmentRefused: the imported bytes are not what SidePy takes.
        """
        record = await self.add(conversation_id, ref.name, data, "import", sent=True)
        return record.ref()


def _parse(texts: list[str]) -> list[Attachment]:
    records = []
    for text in texts:
        try:
            records.append(Attachment.model_validate_json(text))
        except ValidationError:
            continue  # another version's or a damaged record: not ours to use
    records.sort(key=lambda a: a.created_at)
    return records
