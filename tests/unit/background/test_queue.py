"""The request queue's core: order, priority, limits, holds from every source (no I/O, injected time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from background.chat.queue import (
    Hold,
    QueueLimits,
    QueueRecord,
    RequestQueue,
    error_hold,
    preview_text,
    scope_of,
    snapshot_hold,
)

NOW = 1_700_000_000_000  # epoch ms


def queue_with(*items: tuple[str, str, int], limits: QueueLimits | None = None) -> RequestQueue:
    """(queue_id, conversation_id, priority) in arrival order."""
    q = RequestQueue(QueueRecord(limits=limits or QueueLimits()))
    for qid, cid, priority in items:
        q.add(queue_id=qid, conversation_id=cid, message_id="m" + qid, text="text " + qid,
              priority=priority, now_ms=NOW)
    return q


def ids(q: RequestQueue) -> list[str]:
    return [i.queue_id for i in q.order()]


# ------------------------------------------------------------------ order


def test_fifo_without_priorities() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "b", 0), ("q3", "a", 0))
    assert ids(q) == ["q1", "q2", "q3"]
    assert [q.position(x) for x in ("q1", "q2", "q3")] == [1, 2, 3]


def test_higher_priority_goes_first_across_conversations() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "b", 5), ("q3", "c", -1), ("q4", "d", 5))
    assert ids(q) == ["q2", "q4", "q1", "q3"]  # equal priorities keep their arrival order


def test_a_conversation_is_answered_in_the_order_it_was_written() -> None:
    # q3 is urgent but its conversation's earlier message q1 must be answered first: q1 inherits it.
    q = queue_with(("q1", "a", 0), ("q2", "b", 1), ("q3", "a", 9))
    assert ids(q) == ["q1", "q3", "q2"]


def test_remove_and_remove_conversation() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "b", 0), ("q3", "a", 0))
    assert q.remove("q2") is not None and q.remove("q2") is None
    assert [i.queue_id for i in q.remove_conversation("a")] == ["q1", "q3"]
    assert q.items == []


def test_preview_is_one_short_line() -> None:
    assert preview_text("a\n  b\tc") == "a b c"
    long = preview_text("word " * 100)
    assert len(long) == 80 and long.endswith("…")


# ----------------------------------------------------------------- limits


def test_room_enforces_both_limits() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "a", 0), limits=QueueLimits(max_queued=3, max_per_conversation=2))
    assert q.room("a") is not None and "2 messages" in (q.room("a") or "")
    assert q.room("b") is None
    q.add(queue_id="q3", conversation_id="b", message_id="m3", text="x", priority=0, now_ms=NOW)
    assert "full" in (q.room("c") or "")


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        QueueLimits(max_queued=0)
    with pytest.raises(ValueError):
        QueueLimits(max_running=9)


def test_next_ready_one_at_a_time_by_default() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "b", 0))
    assert q.next_ready(NOW, running={"c"}) is None  # something runs: nothing else starts
    item = q.next_ready(NOW, running=set())
    assert item is not None and item.queue_id == "q1"


def test_next_ready_with_more_running_skips_busy_conversations() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "a", 0), ("q3", "b", 0), limits=QueueLimits(max_running=2))
    item = q.next_ready(NOW, running={"a"})
    assert item is not None and item.queue_id == "q3"  # a's messages wait for a's reply
    assert q.next_ready(NOW, running={"a", "b"}) is None


def test_can_start_now() -> None:
    empty = RequestQueue()
    assert empty.can_start_now("a", NOW, running=set())
    assert not empty.can_start_now("a", NOW, running={"b"})  # one turn at a time
    two = RequestQueue(QueueRecord(limits=QueueLimits(max_running=2)))
    assert two.can_start_now("a", NOW, running={"b"})
    assert not two.can_start_now("b", NOW, running={"b"})  # never two in one conversation
    waiting = queue_with(("q1", "a", 0))
    assert not waiting.can_start_now("b", NOW, running=set())  # q1 goes first
    held = RequestQueue()
    held.hold = Hold(until=NOW + 1, reason="r", source="rate_limited")
    assert not held.can_start_now("b", NOW, running=set())
    assert held.can_start_now("b", NOW + 1, running=set())  # the hold is over


def test_min_spacing_holds_after_a_start() -> None:
    q = queue_with(("q1", "a", 0), limits=QueueLimits(min_spacing_ms=5000))
    q.note_started(NOW)
    hold = q.active_hold(NOW + 1000)
    assert hold is not None and hold.source == "spacing" and hold.until == NOW + 5000
    assert q.next_ready(NOW + 4999, running=set()) is None
    assert q.next_ready(NOW + 5000, running=set()) is not None


def test_record_round_trip_keeps_items_order_hold_and_limits() -> None:
    q = queue_with(("q1", "a", 0), ("q2", "b", 3), limits=QueueLimits(max_queued=7))
    q.hold = Hold(until=NOW + 10, reason="429", source="rate_limited")
    again = RequestQueue(QueueRecord.model_validate_json(q.record().model_dump_json(by_alias=True)))
    assert ids(again) == ["q2", "q1"] and again.limits.max_queued == 7
    assert again.hold is not None and again.hold.until == NOW + 10
    again.add(queue_id="q3", conversation_id="c", message_id="m", text="t", priority=0, now_ms=NOW)
    assert again.items[-1].seq > max(i.seq for i in q.items)  # seq keeps growing after a reload


# ----------------------------------------------------------- snapshot holds


def api(remaining: int, resets_in: float | None = 6.0) -> dict[str, Any]:
    return {"limit": 100, "remaining": remaining, "resets_in_seconds": resets_in}


@pytest.mark.parametrize("family", ["requests", "tokens"])
def test_no_requests_or_tokens_left_holds_until_the_reset(family: str) -> None:
    at = NOW - 2000  # received 2 s ago; the reset counts from then
    hold = snapshot_hold({family: api(0)}, at, NOW)
    assert hold is not None and hold.until == at + 6000 and hold.source == family
    assert snapshot_hold({family: api(1)}, at, NOW) is None  # something left
    assert snapshot_hold({family: api(0)}, at, at + 6000) is None  # already reset
    assert snapshot_hold({family: api(0, None)}, at, NOW) is None  # no reset time: a 429 will say


def test_a_full_codex_window_holds_until_resets_at() -> None:
    resets_at = NOW // 1000 + 300
    limits = {"primary": {"used_percent": 100.0, "window_minutes": 300, "resets_at": resets_at}}
    hold = snapshot_hold(limits, NOW, NOW)
    assert hold is not None and hold.until == resets_at * 1000 and hold.source == "primary"
    limits["primary"]["used_percent"] = 99.5
    assert snapshot_hold(limits, NOW, NOW) is None


def test_a_full_window_with_only_resets_in_seconds_and_the_latest_hold_wins() -> None:
    limits = {
        "primary": {"used_percent": 100, "resets_in_seconds": 30},
        "secondary": {"used_percent": 100, "resets_in_seconds": 3600},
        "requests": api(0, 5),
    }
    hold = snapshot_hold(limits, NOW, NOW)
    assert hold is not None and hold.source == "secondary" and hold.until == NOW + 3_600_000


def test_odd_snapshots_hold_nothing() -> None:
    odd: list[dict[str, Any] | None] = [
        None, {}, {"requests": "x"}, {"primary": {"used_percent": "100"}}, {"tokens": {"remaining": True}},
    ]
    for limits in odd:
        assert snapshot_hold(limits, NOW, NOW) is None


def test_the_queue_uses_its_latest_snapshot() -> None:
    q = queue_with(("q1", "a", 0))
    q.note_snapshot({"requests": api(0, 10)}, NOW)
    assert q.next_ready(NOW + 9_999, running=set()) is None
    view = q.view(NOW)
    assert view["hold"]["until"] == NOW + 10_000 and view["items"][0]["hold_until"] == NOW + 10_000
    q.note_snapshot({"requests": api(50, 10)}, NOW + 1)  # a newer one says there is room again
    assert q.next_ready(NOW + 2, running=set()) is not None


# -------------------------------------------------------------- 429 holds


def test_usage_limit_reached_holds_until_its_reset() -> None:
    resets = datetime.fromtimestamp((NOW + 90_000) / 1000, tz=UTC).isoformat()
    error = {"kind": "usage_limit_reached", "fields": {"resets_at": resets, "resets_in_seconds": None}}
    hold = error_hold(error, NOW, retry_after_ms=None, fallback_ms=30_000)
    assert hold is not None and hold.until == NOW + 90_000 and hold.source == "usage_limit"
    # Both given: the relative one counts on our clock (the absolute one may come from a skewed one).
    error["fields"]["resets_in_seconds"] = 60
    both = error_hold(error, NOW, retry_after_ms=None, fallback_ms=30_000)
    assert both is not None and both.until == NOW + 60_000


def test_usage_limit_reached_with_resets_in_seconds_or_carried_windows_or_nothing() -> None:
    by_secs = error_hold({"kind": "usage_limit_reached", "fields": {"resets_in_seconds": 120}}, NOW,
                         retry_after_ms=None, fallback_ms=30_000)
    assert by_secs is not None and by_secs.until == NOW + 120_000
    carried = {"rate_limits": {"primary": {"used_percent": 100, "resets_in_seconds": 45}}}
    by_windows = error_hold({"kind": "usage_limit_reached", "fields": carried}, NOW, retry_after_ms=None,
                            fallback_ms=30_000)
    assert by_windows is not None and by_windows.until == NOW + 45_000
    bare = error_hold({"kind": "usage_limit_reached", "fields": {}}, NOW, retry_after_ms=None, fallback_ms=7)
    assert bare is not None and bare.until == NOW + 7


def test_a_429_after_the_retries_holds_for_the_servers_last_retry_after() -> None:
    error = {"kind": "retry_limit", "fields": {"status": 429, "request_id": None}}
    hold = error_hold(error, NOW, retry_after_ms=3000, fallback_ms=30_000)
    assert hold is not None and hold.until == NOW + 3000 and hold.source == "rate_limited"
    fallback = error_hold(error, NOW, retry_after_ms=None, fallback_ms=30_000)
    assert fallback is not None and fallback.until == NOW + 30_000


@pytest.mark.parametrize(
    "error",
    [
        None,
        {"kind": "retry_limit", "fields": {"status": 503}},
        {"kind": "quota_exceeded"},
        {"kind": "stream"},
    ],
)
def test_other_errors_hold_nothing(error: dict[str, Any] | None) -> None:
    assert error_hold(error, NOW, retry_after_ms=5000, fallback_ms=30_000) is None


def test_clear_holds_forgets_the_429_and_the_snapshot() -> None:
    q = queue_with(("q1", "a", 0))
    q.hold = Hold(until=NOW + 60_000, reason="429", source="rate_limited")
    q.note_snapshot({"tokens": api(0, 60)}, NOW)
    assert q.next_ready(NOW, running=set()) is None
    q.clear_holds()
    assert q.next_ready(NOW, running=set()) is not None


def test_holds_of_another_server_are_dropped_when_the_settings_change() -> None:
    q = queue_with(("q1", "a", 0))
    here, there = scope_of("openai", "https://api.openai.com/v1"), scope_of("compatible", "http://localhost:1/v1")
    q.hold = Hold(until=NOW + 60_000, reason="429", source="rate_limited", scope=there)
    q.note_snapshot({"tokens": api(0, 60)}, NOW, scope=there)
    assert q.rescope(there) is False and q.next_ready(NOW, running=set()) is None  # same server: held
    assert q.rescope(here) is True and q.next_ready(NOW, running=set()) is not None
    q.hold = Hold(until=NOW + 60_000, reason="429", source="rate_limited")  # an older record: no scope
    assert q.rescope(here) is False and q.active_hold(NOW) is not None
