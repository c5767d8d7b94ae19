"""The ``ResponseEvent`` vocabulary: what one model turn streams to its consumer.

Each class mirrors one variant of Codex's Rust ``enum ResponseEvent``
and keeps its name. We follow version A (Oct 2025: nine variants, including
``WebSearchCallBegin`` and ``RateLimits``) and add ``OutputItemAdded`` from
version B, so a consumer of either era finds what it expects. The reasoning
variants carry B's ``summary_index`` / ``content_index`` as optional fields:
``None`` when the server left them out (A never dropped such events; B did).

Events are small frozen ``slots`` dataclasses (h11's ``_events.py`` style): cheap
to build on the hot path, immutable, comparable, and usable in ``match``
statements. JSON payloads (``OutputItemDone.item`` ...) are kept as the decoded
``dict``; such an event is therefore not hashable. ``ResponseEvent`` is the
union of all variants; the ``is_*`` guards narrow a value to one of them.

``RateLimits`` is produced from HTTP response headers by the client, never by
the SSE stream parser; ``RateLimitSnapshot`` lives in ``_ratelimits`` and is
imported for type checking only, so this module has no import-time dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard, TypeVar

if TYPE_CHECKING:
    from ._ratelimits import RateLimitSnapshot
    from ._usage import TokenUsage

__all__ = [
    "Completed",
    "Created",
    "JsonObject",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "RateLimits",
    "ReasoningContentDelta",
    "ReasoningSummaryDelta",
    "ReasoningSummaryPartAdded",
    "ResponseEvent",
    "WebSearchCallBegin",
    "is_completed",
    "is_created",
    "is_event",
    "is_output_item_added",
    "is_output_item_done",
    "is_output_text_delta",
    "is_rate_limits",
    "is_reasoning_content_delta",
    "is_reasoning_summary_delta",
    "is_reasoning_summary_part_added",
    "is_web_search_call_begin",
]

#: A JSON object as decoded by ``json.loads`` (e.g. one ``ResponseItem``).
JsonObject: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Created:
    """The server accepted the request (SSE ``response.created``).

    Fields: none. Rust emits it only when the event carries a ``response``.
    """


@dataclass(frozen=True, slots=True)
class OutputItemDone:
    """One output item is finished (SSE ``response.output_item.done``).

    Fields:

    .. attribute:: item

       The finished ``ResponseItem`` as its JSON object (``{"type": "message",
       ...}``, ``{"type": "function_call", ...}``, ``{"type": "reasoning", ...}``
       ...). Codex forwards items only from ``response.output_item.done``; we
       also forward, just before ``Completed``, the items that
       ``response.completed.output`` lists and no ``output_item.done``
       announced (some servers send items only there).
    """

    item: JsonObject


@dataclass(frozen=True, slots=True)
class OutputItemAdded:
    """An output item has started (SSE ``response.output_item.added``; Rust version B+).

    Fields:

    .. attribute:: item

       The item as first announced, usually incomplete (empty ``content``,
       ``arguments: ""``, ``status: "in_progress"``).
    """

    item: JsonObject


@dataclass(frozen=True, slots=True)
class OutputTextDelta:
    """A piece of assistant text (SSE ``response.output_text.delta``).

    Fields:

    .. attribute:: delta

       The text to append, as sent.
    """

    delta: str


@dataclass(frozen=True, slots=True)
class ReasoningSummaryDelta:
    """A piece of reasoning summary (SSE ``response.reasoning_summary_text.delta``).

    Fields:

    .. attribute:: delta

       The summary text to append.

    .. attribute:: summary_index

       Which summary part it belongs to (Rust B+), or ``None`` if not sent.
    """

    delta: str
    summary_index: int | None = None


@dataclass(frozen=True, slots=True)
class ReasoningContentDelta:
    """A piece of raw reasoning text (SSE ``response.reasoning_text.delta``).

    Fields:

    .. attribute:: delta

       The reasoning text to append.

    .. attribute:: content_index

       Which content part it belongs to (Rust B+), or ``None`` if not sent.
    """

    delta: str
    content_index: int | None = None


@dataclass(frozen=True, slots=True)
class ReasoningSummaryPartAdded:
    """A new reasoning summary part begins (SSE ``response.reasoning_summary_part.added``).

    Fields:

    .. attribute:: summary_index

       The index of the new part (Rust B+), or ``None`` if not sent.
    """

    summary_index: int | None = None


@dataclass(frozen=True, slots=True)
class WebSearchCallBegin:
    """The model started a web search (``output_item.added`` of a ``web_search_call``).

    Fields:

    .. attribute:: call_id

       The item's ``id``; ``""`` when the server sent none (as Rust A).
    """

    call_id: str


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Rate-limit state read from the HTTP response headers.

    The client emits it once, before any SSE-derived event, on every 2xx
    response (Rust A/B), even when no rate-limit header was present.

    Fields:

    .. attribute:: snapshot

       The parsed ``RateLimitSnapshot``.
    """

    snapshot: RateLimitSnapshot


@dataclass(frozen=True, slots=True)
class Completed:
    """The turn finished (SSE ``response.completed``).

    Emitted as soon as ``response.completed`` arrives (Rust C behaviour);
    nothing after it is read. The fields after ``token_usage`` are ours: Rust's
    ``Completed`` has only the first two and reports a truncated answer as a
    clean success.

    Fields:

    .. attribute:: response_id

       The ``response.id`` of the finished response.

    .. attribute:: token_usage

       ``TokenUsage`` from ``response.usage``, or ``None`` when the server sent
       no usage (absent or ``null``).

    .. attribute:: status

       ``"completed"``, or ``"incomplete"`` / ``"failed"`` when the response
       says so (cut at the output limit, stopped by a content filter…).

    .. attribute:: reason

       Why it is incomplete or failed (``incomplete_details.reason`` such as
       ``"max_output_tokens"`` or ``"content_filter"``, else the error's
       message or code, else ``"unknown"``); ``None`` when completed.

    .. attribute:: malformed_events

       How many events of this response were skipped as malformed (bad JSON, a
       non-string ``delta`` …). When it is not 0 the streamed deltas may miss
       text: take the final text from the ``OutputItemDone`` items.
    """

    response_id: str
    token_usage: TokenUsage | None = None
    status: str = "completed"
    reason: str | None = None
    malformed_events: int = 0

    @property
    def incomplete(self) -> bool:
        """Whether the response ended ``incomplete`` or ``failed`` (see :attr:`reason`)."""
        return self.status != "completed"


ResponseEvent: TypeAlias = (
    Created
    | OutputItemDone
    | OutputItemAdded
    | OutputTextDelta
    | ReasoningSummaryDelta
    | ReasoningContentDelta
    | ReasoningSummaryPartAdded
    | WebSearchCallBegin
    | RateLimits
    | Completed
)

_E = TypeVar("_E", bound=ResponseEvent)


def is_event(event: object, cls: type[_E]) -> TypeGuard[_E]:
    """Return whether ``event`` is an instance of the variant ``cls``.

    ``is_event(ev, OutputTextDelta)`` narrows ``ev`` to ``OutputTextDelta``.
    """
    return isinstance(event, cls)


def is_created(event: object) -> TypeGuard[Created]:
    """Return whether ``event`` is a ``Created``."""
    return isinstance(event, Created)


def is_output_item_done(event: object) -> TypeGuard[OutputItemDone]:
    """Return whether ``event`` is an ``OutputItemDone``."""
    return isinstance(event, OutputItemDone)


def is_output_item_added(event: object) -> TypeGuard[OutputItemAdded]:
    """Return whether ``event`` is an ``OutputItemAdded``."""
    return isinstance(event, OutputItemAdded)


def is_output_text_delta(event: object) -> TypeGuard[OutputTextDelta]:
    """Return whether ``event`` is an ``OutputTextDelta``."""
    return isinstance(event, OutputTextDelta)


def is_reasoning_summary_delta(event: object) -> TypeGuard[ReasoningSummaryDelta]:
    """Return whether ``event`` is a ``ReasoningSummaryDelta``."""
    return isinstance(event, ReasoningSummaryDelta)


def is_reasoning_content_delta(event: object) -> TypeGuard[ReasoningContentDelta]:
    """Return whether ``event`` is a ``ReasoningContentDelta``."""
    return isinstance(event, ReasoningContentDelta)


def is_reasoning_summary_part_added(event: object) -> TypeGuard[ReasoningSummaryPartAdded]:
    """Return whether ``event`` is a ``ReasoningSummaryPartAdded``."""
    return isinstance(event, ReasoningSummaryPartAdded)


def is_web_search_call_begin(event: object) -> TypeGuard[WebSearchCallBegin]:
    """Return whether ``event`` is a ``WebSearchCallBegin``."""
    return isinstance(event, WebSearchCallBegin)


def is_rate_limits(event: object) -> TypeGuard[RateLimits]:
    """Return whether ``event`` is a ``RateLimits``."""
    return isinstance(event, RateLimits)


def is_completed(event: object) -> TypeGuard[Completed]:
    """Return whether ``event`` is a ``Completed``."""
    return isinstance(event, Completed)
