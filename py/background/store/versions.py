"""Versions of a conversation's end: regenerated answers and edited questions are kept.

A conversation's ``messages`` are the path on screen, and the one the next prompt is
built from. Where that path was rewritten — an answer written again (regenerate),
a question edited (the conversation branches from there) — the message that heads
the rewritten part keeps the other **tails** that once started at its position:
``versions`` (the inactive tails, in the order they were written) and ``version``
(where the active one sits among all of them). Switching puts another tail on the
path and keeps the one it replaces; nothing is lost. A tail kept aside keeps its own
versions further down, so branches within branches survive a switch.

Pure functions over :class:`~background.store.records.StoredMessage` lists; the
caller persists.
"""

from __future__ import annotations

from .records import StoredMessage

__all__ = ["all_tails", "replace_tail", "retire", "switch", "version_of"]


def _detach(tail: list[StoredMessage]) -> tuple[list[StoredMessage], list[list[StoredMessage]], int]:
    """``tail`` with its head's version list taken off: (tail, versions, version)."""
    head = tail[0]
    versions, version = head.versions, head.version
    bare = [head.model_copy(update={"versions": [], "version": 0}), *tail[1:]]
    return bare, versions, version


def all_tails(tail: list[StoredMessage]) -> list[list[StoredMessage]]:
    """Every version of the tail that ``tail`` heads, in the order they were written."""
    bare, versions, version = _detach(tail)
    return [*versions[:version], bare, *versions[version:]]


def replace_tail(messages: list[StoredMessage], at: int, new: list[StoredMessage]) -> None:
    """``messages[at:] = new``, keeping the old tail (and its versions) as earlier versions of ``new``."""
    tails = all_tails(messages[at:]) if at < len(messages) else []
    new[0].versions = tails
    new[0].version = len(tails)
    messages[at:] = new


def retire(tail: list[StoredMessage]) -> list[list[StoredMessage]]:
    """The versions an answer about to be written again brings to the one that replaces it."""
    return all_tails(tail) if tail else []


def switch(messages: list[StoredMessage], at: int, index: int) -> None:
    """Put version ``index`` (0-based, in writing order) of the tail at ``at`` on the path."""
    tails = all_tails(messages[at:])
    if not 0 <= index < len(tails):
        raise IndexError(f"there is no version {index + 1} here ({len(tails)} in all)")
    chosen = tails.pop(index)
    chosen[0] = chosen[0].model_copy(update={"versions": tails, "version": index})
    messages[at:] = chosen


def version_of(message: StoredMessage) -> tuple[int, int] | None:
    """``(1-based index, count)`` when ``message`` heads a tail with other versions, else None."""
    if not message.versions:
        return None
    return message.version + 1, len(message.versions) + 1
