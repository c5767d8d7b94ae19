"""The ResponseEvent vocabulary: names, fields, immutability and type guards."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

import pytest

from modelclient import _events
from modelclient._events import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    RateLimits,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ResponseEvent,
    WebSearchCallBegin,
    is_completed,
    is_created,
    is_event,
    is_output_item_added,
    is_output_item_done,
    is_output_text_delta,
    is_rate_limits,
    is_reasoning_content_delta,
    is_reasoning_summary_delta,
    is_reasoning_summary_part_added,
    is_web_search_call_begin,
)
from modelclient._ratelimits import RateLimitSnapshot, RateLimitWindow
from modelclient._usage import TokenUsage

ITEM = {"type": "message", "role": "assistant", "content": []}
SNAPSHOT = RateLimitSnapshot(primary=RateLimitWindow(used_percent=23.0))

# (variant, one instance, its fields in order, its guard)
VARIANTS: list[tuple[type, Any, dict[str, Any], Callable[[object], bool]]] = [
    (Created, Created(), {}, is_created),
    (OutputItemDone, OutputItemDone(ITEM), {"item": ITEM}, is_output_item_done),
    (OutputItemAdded, OutputItemAdded(ITEM), {"item": ITEM}, is_output_item_added),
    (OutputTextDelta, OutputTextDelta("Hi"), {"delta": "Hi"}, is_output_text_delta),
    (
        ReasoningSummaryDelta,
        ReasoningSummaryDelta("s", 0),
        {"delta": "s", "summary_index": 0},
        is_reasoning_summary_delta,
    ),
    (
        ReasoningContentDelta,
        ReasoningContentDelta("t", 1),
        {"delta": "t", "content_index": 1},
        is_reasoning_content_delta,
    ),
    (
        ReasoningSummaryPartAdded,
        ReasoningSummaryPartAdded(2),
        {"summary_index": 2},
        is_reasoning_summary_part_added,
    ),
    (WebSearchCallBegin, WebSearchCallBegin("ws_1"), {"call_id": "ws_1"}, is_web_search_call_begin),
    (RateLimits, RateLimits(SNAPSHOT), {"snapshot": SNAPSHOT}, is_rate_limits),
    (
        Completed,
        Completed("resp_1", TokenUsage(total_tokens=3), "incomplete", "max_output_tokens", 2),
        {
            "response_id": "resp_1",
            "token_usage": TokenUsage(total_tokens=3),
            "status": "incomplete",
            "reason": "max_output_tokens",
            "malformed_events": 2,
        },
        is_completed,
    ),
]
IDS = [v[0].__name__ for v in VARIANTS]


def test_the_union_holds_exactly_the_ten_variants() -> None:
    # A's nine (Created, OutputItemDone, Completed, OutputTextDelta,
    # ReasoningSummaryDelta, ReasoningContentDelta, ReasoningSummaryPartAdded,
    # WebSearchCallBegin, RateLimits) plus B's OutputItemAdded.
    assert isinstance(ResponseEvent, types.UnionType)
    assert set(typing.get_args(ResponseEvent)) == {v[0] for v in VARIANTS}
    assert len(typing.get_args(ResponseEvent)) == 10


@pytest.mark.parametrize(("cls", "instance", "fields", "guard"), VARIANTS, ids=IDS)
def test_variant_fields(
    cls: type, instance: Any, fields: dict[str, Any], guard: Callable[[object], bool]
) -> None:
    assert [f.name for f in dataclasses.fields(cls)] == list(fields)
    assert {f.name: getattr(instance, f.name) for f in dataclasses.fields(cls)} == fields
    match_args: tuple[str, ...] = cls.__match_args__  # type: ignore[attr-defined]
    assert match_args == tuple(fields)
    assert instance == cls(**fields)


@pytest.mark.parametrize(("cls", "instance", "fields", "guard"), VARIANTS, ids=IDS)
def test_variant_is_frozen_with_slots(
    cls: type, instance: Any, fields: dict[str, Any], guard: Callable[[object], bool]
) -> None:
    assert not hasattr(instance, "__dict__")
    # No new attributes either (CPython 3.11's frozen+slots dataclasses raise
    # TypeError here, later versions an AttributeError subclass).
    with pytest.raises((AttributeError, TypeError)):
        instance.extra = 1
    for name in fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(instance, name, None)


@pytest.mark.parametrize(("cls", "instance", "fields", "guard"), VARIANTS, ids=IDS)
def test_variant_docstring_lists_its_fields(
    cls: type, instance: Any, fields: dict[str, Any], guard: Callable[[object], bool]
) -> None:
    doc = cls.__doc__ or ""
    assert "Fields:" in doc
    for name in fields:
        assert f".. attribute:: {name}" in doc


@pytest.mark.parametrize(("cls", "instance", "fields", "guard"), VARIANTS, ids=IDS)
def test_guards_accept_only_their_variant(
    cls: type, instance: Any, fields: dict[str, Any], guard: Callable[[object], bool]
) -> None:
    for other_cls, other, _, _ in VARIANTS:
        assert guard(other) is (other_cls is cls)
        assert is_event(other, cls) is (other_cls is cls)
    assert guard(None) is False
    assert guard({"type": "response.created"}) is False


def test_guard_names_follow_the_variant_names() -> None:
    for cls, _, _, guard in VARIANTS:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in cls.__name__).lstrip("_")
        assert guard.__name__ == f"is_{snake}"


def test_optional_indices_default_to_none() -> None:
    assert ReasoningSummaryDelta("x").summary_index is None
    assert ReasoningContentDelta("x").content_index is None
    assert ReasoningSummaryPartAdded().summary_index is None
    assert Completed("r").token_usage is None


def test_events_compare_by_value_and_hash_when_their_payload_does() -> None:
    assert Created() == Created()
    assert OutputTextDelta("a") != OutputTextDelta("b")
    assert ReasoningSummaryDelta("a", 0) != ReasoningSummaryDelta("a", 1)
    assert hash(OutputTextDelta("a")) == hash(OutputTextDelta("a"))
    assert len({Created(), Created(), WebSearchCallBegin("x")}) == 2
    with pytest.raises(TypeError):
        hash(OutputItemDone(ITEM))  # a dict payload is not hashable


def test_events_work_in_match_statements() -> None:
    def describe(event: ResponseEvent) -> str:
        match event:
            case OutputTextDelta(delta):
                return f"text:{delta}"
            case Completed(response_id, None):
                return f"done:{response_id}:no-usage"
            case Completed(response_id, usage):
                return f"done:{response_id}:{usage.total_tokens if usage else 0}"
            case _:
                return type(event).__name__

    assert describe(OutputTextDelta("x")) == "text:x"
    assert describe(Completed("r")) == "done:r:no-usage"
    assert describe(Completed("r", TokenUsage(total_tokens=9))) == "done:r:9"
    assert describe(Created()) == "Created"


def test_module_exports() -> None:
    assert _events.__all__ == sorted(_events.__all__)
    for name in _events.__all__:
        assert hasattr(_events, name), name
    public = {
        name
        for name, value in vars(_events).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == _events.__name__
        and callable(value)
    }
    assert public <= set(_events.__all__)
