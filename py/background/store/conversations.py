"""Conversations: the stored list, the records, the storage bound, search.

Storage layout (``chrome.storage.local``, values are JSON text):

=====================  =====================================================
``conv.index``         :class:`~background.store.records.ConversationIndex`: one entry
                       per conversation (title, times, preview, size, pinned)
``conv.<id>``          :class:`~background.store.records.StoredConversation`: the
                       messages with their raw Responses API items
``part.<id>``          :class:`~background.store.records.PartialReply`: a streaming
                       reply's text, rewritten every ~2 s, removed at the end
``limits``             the latest rate-limit snapshot
``queue``              :class:`~background.chat.queue.QueueRecord`: messages waiting
                       to start (their user messages are stored ``queued``)
``settings``           :class:`~background.settings.model.Settings`
=====================  =====================================================

Bound policy: at most :data:`MAX_CONVERSATIONS` conversations,
:data:`MAX_BYTES` of conversation data and :data:`MAX_ATTACHMENT_BYTES` of
attachments (kept in IndexedDB, counted from the refs the messages hold). After
each save that passes any limit, the least recently updated conversations that
are not pinned (and not streaming) are deleted first, with their attachments
(``on_delete``). The policy text goes to the panel in ``StorageInfo.policy``.

The worker may be stopped at any moment, so memory is only a cache: every
conversation read goes through :meth:`ConversationStore.get`, which also repairs
a reply left ``streaming`` by a worker that died mid-turn (its last partial text
is kept and the reply is marked interrupted). Objects are shared: a live turn
and a rename act on the same in-memory conversation, so neither write undoes
the other.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from .records import (
    ConversationIndex,
    ErrorInfo,
    IndexEntry,
    PartialReply,
    StoredConversation,
    summary_view,
    unfinished_items,
)
from .storage import Records, StorageProblem, text_bytes

__all__ = [
    "INDEX_KEY",
    "MAX_ATTACHMENT_BYTES",
    "MAX_BYTES",
    "MAX_CONVERSATIONS",
    "ConversationStore",
    "conv_key",
    "make_title",
    "part_key",
    "policy_text",
]

INDEX_KEY = "conv.index"
MAX_CONVERSATIONS = 200
MAX_BYTES = 8 * 1024 * 1024  # chrome.storage.local holds 10 MB; the rest is for settings and partials
# IndexedDB has no fixed quota for an extension (a share of the disk): a bound of our own,
# about 250 screenshots at the image budget.
MAX_ATTACHMENT_BYTES = 256 * 1024 * 1024
TITLE_CHARS = 60
_CACHE_SIZE = 8
_MAX_DRAFTS = 20
INTERRUPTED = (
    "The reply was interrupted: the browser stopped SidePy's background worker. "
    "What arrived is kept; regenerate to try again."
)


def conv_key(conversation_id: str) -> str:
    """Storage key of a conversation record."""
    return f"conv.{conversation_id}"


def part_key(conversation_id: str) -> str:
    """Storage key of a conversation's streaming partial reply."""
    return f"part.{conversation_id}"


def policy_text(
    max_conversations: int, max_bytes: int, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES
) -> str:
    """The bound policy, as shown to the user."""
    megabytes, files = max_bytes / (1024 * 1024), max_attachment_bytes / (1024 * 1024)
    return (
        f"SidePy keeps up to {max_conversations} conversations, {megabytes:g} MB of history and "
        f"{files:g} MB of attachments. Past any limit, the oldest conversations that are not pinned "
        "are deleted first, with their attachments."
    )


def make_title(text: str) -> str:
    """A title from the first user message: one line, at most ~60 characters, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat[:TITLE_CHARS].rsplit(" ", 1)[0] or flat[:TITLE_CHARS]
    return cut.rstrip(" ,.;:") + "…"


class ConversationStore:
    """The conversations of one app; storage is the truth, memory a cache.

    Args:
        records: typed storage.
        clock_ms: epoch milliseconds.
        on_list_change: called with the store after the list changed (panels get ``conv.list``).
        on_delete: called with the ids of deleted conversations (by the user or the bound)
            to drop what is kept elsewhere for them (their attachments).
    """

    def __init__(
        self,
        records: Records,
        *,
        clock_ms: Callable[[], int],
        on_list_change: Callable[[ConversationStore], None] = lambda store: None,
        max_conversations: int = MAX_CONVERSATIONS,
        max_bytes: int = MAX_BYTES,
        max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
        on_delete: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.records = records
        self._clock_ms = clock_ms
        self._on_list_change = on_list_change
        self.max_conversations = max_conversations
        self.max_bytes = max_bytes
        self.max_attachment_bytes = max_attachment_bytes
        self._on_delete = on_delete
        self._index: dict[str, IndexEntry] | None = None
        self._index_bytes = 0
        self._cache: OrderedDict[str, StoredConversation] = OrderedDict()
        self._drafts: dict[str, StoredConversation] = {}
        self._held: dict[str, int] = {}
        self._deleted: set[str] = set()
        self.evicted: list[str] = []  # ids removed by the bound, for tests and logs

    # ------------------------------------------------------------------ reading

    async def entries(self) -> list[IndexEntry]:
        """Index entries: pinned first, then most recently updated first."""
        index = await self._load_index()
        return sorted(index.values(), key=lambda e: (not e.pinned, -e.updated_at, e.id))

    async def summaries(self, query: str | None = None) -> list[dict[str, Any]]:
        """``ConversationSummary`` list, filtered by ``query`` (every word, in title or text)."""
        entries = await self.entries()
        words = (query or "").lower().split()
        if words:
            texts = await self._texts([e.id for e in entries])
            haystacks = {e.id: f"{e.title.lower()}\n{texts.get(e.id, '')}" for e in entries}
            entries = [e for e in entries if all(w in haystacks[e.id] for w in words)]
        return [summary_view(e) for e in entries]

    async def get(self, conversation_id: str) -> StoredConversation | None:
        """A conversation (a draft, cached or stored); raises :class:`StorageProblem`."""
        if conversation_id in self._drafts:
            return self._drafts[conversation_id]
        if conversation_id in self._cache:
            self._cache.move_to_end(conversation_id)
            return self._cache[conversation_id]
        key, pkey = conv_key(conversation_id), part_key(conversation_id)
        found = await self.records.store.get([key, pkey])
        if key not in found:
            return None
        conversation = self.records.parse(key, found[key], StoredConversation, "A saved conversation")
        self._remember(conversation)
        await self._recover(conversation, found.get(pkey))
        return conversation

    async def latest(self) -> StoredConversation | None:
        """The most recently updated readable conversation (what a fresh panel shows)."""
        for entry in sorted((await self._load_index()).values(), key=lambda e: -e.updated_at):
            try:
                conversation = await self.get(entry.id)
            except StorageProblem:
                continue
            if conversation is not None:
                return conversation
        return None

    async def storage_info(self) -> dict[str, Any]:
        """``StorageInfo``: what conversations use, the bound, the policy, read problems."""
        index = await self._load_index()
        return {
            "used_bytes": sum(e.bytes for e in index.values()) + self._index_bytes,
            "quota_bytes": self.max_bytes,
            "attachment_bytes": sum(e.attachment_bytes for e in index.values()),
            "attachment_quota_bytes": self.max_attachment_bytes,
            "conversations": len(index),
            "max_conversations": self.max_conversations,
            "policy": policy_text(self.max_conversations, self.max_bytes, self.max_attachment_bytes),
            "problems": [problem.info() for problem in self.records.problems.values()],
        }

    # ------------------------------------------------------------------ writing

    def draft(self, conversation: StoredConversation) -> None:
        """Keep a new, empty conversation in memory until its first message is saved."""
        self._deleted.discard(conversation.id)  # an id chosen again on purpose is live again
        self._drafts[conversation.id] = conversation
        while len(self._drafts) > _MAX_DRAFTS:  # "new chat" clicked over and over: keep the latest
            del self._drafts[next(iter(self._drafts))]

    def is_draft(self, conversation_id: str) -> bool:
        """Whether the conversation exists only in memory (no message yet)."""
        return conversation_id in self._drafts

    def draft_ids(self) -> set[str]:
        """Ids of the unsaved drafts (taken, for imports)."""
        return set(self._drafts)

    def hold(self, conversation_id: str) -> None:
        """Protect a conversation (a live turn) from cache and bound eviction."""
        self._held[conversation_id] = self._held.get(conversation_id, 0) + 1

    def release(self, conversation_id: str) -> None:
        """Undo one :meth:`hold`."""
        count = self._held.get(conversation_id, 0) - 1
        if count > 0:
            self._held[conversation_id] = count
        else:
            self._held.pop(conversation_id, None)

    async def save(self, conversation: StoredConversation, extra: dict[str, BaseModel] | None = None) -> None:
        """Write a conversation and the index in one operation, then apply the bound.

        ``extra`` records go in the same write (the request queue: a queued message and
        its queue entry are stored together or not at all).
        """
        if conversation.id in self._deleted:
            return  # deleted while a turn was finishing: do not bring it back
        index = await self._load_index()
        self._drafts.pop(conversation.id, None)
        self._remember(conversation)
        key = conv_key(conversation.id)
        text = conversation.model_dump_json(by_alias=True)
        index[conversation.id] = IndexEntry.of(conversation, key, text)
        evicted = self._evict(index, protect={conversation.id})
        if evicted:
            await self.records.remove([k for cid in evicted for k in (conv_key(cid), part_key(cid))])
        await self._write({key: text, **(extra or {})})
        if evicted:
            await self._dropped(evicted)
        self._on_list_change(self)

    async def save_partial(self, conversation_id: str, partial: PartialReply) -> None:
        """Write a streaming reply's text so far (small: one key, no index)."""
        if conversation_id not in self._deleted:
            await self.records.write({part_key(conversation_id): partial})

    async def clear_partial(self, conversation_id: str) -> None:
        """Drop the partial once the reply is saved in the conversation."""
        await self.records.remove([part_key(conversation_id)])

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation (also a damaged one: its key is removed)."""
        index = await self._load_index()
        index.pop(conversation_id, None)
        self._cache.pop(conversation_id, None)
        self._drafts.pop(conversation_id, None)
        self._deleted.add(conversation_id)
        await self.records.remove([conv_key(conversation_id), part_key(conversation_id)])
        await self._write({})
        await self._dropped([conversation_id])
        self._on_list_change(self)

    # ---------------------------------------------------------------- internals

    async def _dropped(self, conversation_ids: list[str]) -> None:
        if self._on_delete is None:
            return
        try:
            await self._on_delete(conversation_ids)
        except Exception as exc:  # the conversations are gone either way: never fail the save for this
            count = len(conversation_ids)
            print(f"background: could not delete the attachments of {count} conversation(s): {exc!r}")

    def _remember(self, conversation: StoredConversation) -> None:
        self._cache[conversation.id] = conversation
        self._cache.move_to_end(conversation.id)
        for cid in list(self._cache):
            if len(self._cache) <= _CACHE_SIZE:
                break
            if cid not in self._held and cid != conversation.id:
                del self._cache[cid]

    def _evict(self, index: dict[str, IndexEntry], protect: set[str]) -> list[str]:
        """Drop the oldest unpinned conversations until the index is within the bound."""
        victims = sorted(
            (e for e in index.values() if not e.pinned and e.id not in protect and e.id not in self._held),
            key=lambda e: (e.updated_at, e.id),
        )
        used = sum(e.bytes for e in index.values())
        files = sum(e.attachment_bytes for e in index.values())
        evicted: list[str] = []
        for entry in victims:
            within = used <= self.max_bytes and files <= self.max_attachment_bytes
            if len(index) <= self.max_conversations and within:
                break
            del index[entry.id]
            self._cache.pop(entry.id, None)
            used -= entry.bytes
            files -= entry.attachment_bytes
            evicted.append(entry.id)
        if evicted:
            self.evicted.extend(evicted)
            print(f"background: storage bound reached; removed {len(evicted)} old conversation(s)")
        return evicted

    async def _write(self, items: dict[str, BaseModel | str]) -> None:
        index = ConversationIndex(entries=list((await self._load_index()).values()))
        sizes = await self.records.write({**items, INDEX_KEY: index})
        self._index_bytes = sizes[INDEX_KEY]

    async def _load_index(self) -> dict[str, IndexEntry]:
        if self._index is not None:
            return self._index
        found = await self.records.store.get([INDEX_KEY])
        if INDEX_KEY in found:
            try:
                index = self.records.parse(
                    INDEX_KEY, found[INDEX_KEY], ConversationIndex, "The conversation list"
                )
            except StorageProblem:
                return await self._rebuild_index(damaged=found[INDEX_KEY])
            self._index = {e.id: e for e in index.entries}
            self._index_bytes = text_bytes(INDEX_KEY, found[INDEX_KEY])
            return self._index
        return await self._rebuild_index(damaged=None)

    async def _rebuild_index(self, damaged: str | None) -> dict[str, IndexEntry]:
        """Rebuild a missing or damaged index from the records; keep a damaged copy aside."""
        self._index = {}
        keys = [k for k in await self.records.store.keys() if k.startswith("conv.") and k != INDEX_KEY]
        found = await self.records.store.get(keys) if keys else {}
        for key, text in found.items():
            try:
                conversation = self.records.parse(key, text, StoredConversation, "A saved conversation")
            except StorageProblem:
                continue  # reported; the key stays untouched
            self._index[conversation.id] = IndexEntry.of(conversation, key, text)
        if damaged is None and not self._index:
            return self._index  # a fresh install: nothing to write
        backup_key = f"corrupt.{INDEX_KEY}.{self._clock_ms()}"
        await self._write({backup_key: damaged} if damaged is not None else {})
        if damaged is not None:
            self.records.problems.pop(INDEX_KEY, None)
            self.records.problems[backup_key] = StorageProblem(
                backup_key,
                f"The conversation list was damaged and has been rebuilt from {len(self._index)} saved "
                f"conversation(s). The damaged copy was kept as '{backup_key}'.",
                "index rebuilt",
            )
        return self._index

    async def _recover(self, conversation: StoredConversation, partial_text: str | None) -> None:
        """Finish replies left ``streaming`` by a worker that stopped mid-turn."""
        orphans = [m for m in conversation.messages if m.streaming]
        if not orphans:
            if partial_text is not None:
                await self.clear_partial(conversation.id)  # saved reply wins; drop the stale partial
            return
        partial = None
        if partial_text is not None:
            try:
                key = part_key(conversation.id)
                partial = self.records.parse(key, partial_text, PartialReply, "A partial reply")
            except StorageProblem:
                partial = None
        for message in orphans:
            if partial is not None and partial.turn_id == message.turn_id:
                message.text, message.reasoning = partial.text, partial.reasoning
                message.searches = list(partial.searches)
            message.streaming = False
            message.stopped = True
            message.error = ErrorInfo(kind="interrupted", message=INTERRUPTED, retryable=True)
            # What the user saw goes back to the model, as for a reply they stopped.
            message.items = unfinished_items(message.items, message.text)
        await self.save(conversation)
        await self.clear_partial(conversation.id)

    async def _texts(self, ids: list[str]) -> dict[str, str]:
        """Lower-cased message text of each conversation, for search (damaged ones skipped)."""
        texts: dict[str, str] = {}
        missing = []
        for cid in ids:
            cached = self._cache.get(cid)
            if cached is not None:
                texts[cid] = "\n".join(m.text for m in cached.messages).lower()
            else:
                missing.append(cid)
        found = await self.records.store.get([conv_key(cid) for cid in missing]) if missing else {}
        for cid in missing:
            try:
                data = json.loads(found.get(conv_key(cid), "{}"))
                texts[cid] = "\n".join(str(m.get("text", "")) for m in data.get("messages", [])).lower()
            except (ValueError, AttributeError, TypeError):
                continue
        return texts
