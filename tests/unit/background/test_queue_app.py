"""The request queue through the App: queued sends, the drain, holds, limits, cancel, worker restarts."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any

from background.chat.scheduler import QUEUE_ALARM
from background.store.storage import MemoryStore
from modelclient import HttpRequest
from tests.support.aio import run_sync
from tests.unit.background.kit import Harness, chunks_then, reply_events


def stored(h: Harness, cid: str) -> list[tuple[str, str, bool]]:
    """(role, text, queued) of each stored message."""
    return [(m["role"], m["text"], m.get("queued", False)) for m in h.stored(f"conv.{cid}")["messages"]]


def queue_record(h: Harness) -> dict[str, Any]:
    return h.stored("queue")  # type: ignore[no-any-return]


def inputs(request: HttpRequest) -> list[tuple[str, str]]:
    """(role, text) of the message items a request sent."""
    body = json.loads(request.body or b"{}")
    out = []
    for item in body["input"]:
        if item.get("type") == "message":
            out.append((item["role"], " ".join(part["text"] for part in item["content"])))
    return out


def pending_harness() -> tuple[Harness, list[Coroutine[Any, Any, None]]]:
    """A harness whose tasks wait until the test runs them (a turn stays "in flight")."""
    spawned: list[Coroutine[Any, Any, None]] = []
    return Harness(spawn=spawned.append), spawned


def run_all(spawned: list[Coroutine[Any, Any, None]]) -> None:
    while spawned:
        run_sync(spawned.pop(0))


def test_a_message_sent_while_a_reply_streams_waits_and_is_answered_after() -> None:
    h = Harness()
    h.connect(1)
    seen: dict[str, Any] = {}

    def second() -> None:
        cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
        h.send(1, {"type": "chat.send", "id": 2, "conversation_id": cid, "text": "and then?",
                   "client_id": "p-2"})
        seen["cid"] = cid
        seen["stored"] = stored(h, cid)
        seen["queue"] = queue_record(h)

    first = reply_events("First", " answer")
    h.replies.append(lambda r: (200, {}, chunks_then(first[:2], second, first[2:])))
    h.replies.append(lambda r: (200, {}, reply_events("Second")))
    h.send(1, {"type": "chat.send", "id": 1, "text": "question"})

    cid = seen["cid"]
    accepted = next(m for m in h.sent(1, "chat.accepted") if m["id"] == 2)
    assert accepted["queued"] is True and accepted["position"] == 1 and "turn_id" not in accepted
    assert accepted["user"]["queued"] is True and accepted["user"]["client_id"] == "p-2"
    # Persisted before the reply, in one write with its queue entry.
    assert seen["stored"] == [
        ("user", "question", False), ("assistant", "", False), ("user", "and then?", True)
    ]
    [item] = seen["queue"]["items"]
    assert item["message_id"] == accepted["user"]["id"] and item["queue_id"] == accepted["queue_id"]
    # It started when the first reply ended, and says which message left the queue.
    kinds = [(m["type"], m.get("turn_id")) for m in h.sent(1) if m["type"] in ("turn.done", "turn.started")]
    assert [k for k, _ in kinds] == ["turn.started", "turn.done", "turn.started", "turn.done"]
    second_start = h.sent(1, "turn.started")[1]
    assert second_start["user"]["id"] == accepted["user"]["id"] and "queued" not in second_start["user"]
    assert inputs(h.transport.requests[1]) == [
        ("user", "question"), ("assistant", "First answer"), ("user", "and then?")
    ]
    assert stored(h, cid) == [
        ("user", "question", False), ("assistant", "First answer", False),
        ("user", "and then?", False), ("assistant", "Second", False),
    ]
    assert queue_record(h)["items"] == []
    states = h.sent(1, "queue.state")
    assert [len(s["items"]) for s in states] == [1, 0]
    assert states[0]["items"][0]["preview"] == "and then?" and states[0]["items"][0]["position"] == 1


def test_one_turn_at_a_time_across_conversations() -> None:
    h, spawned = pending_harness()
    a = h.ask({"type": "chat.send", "id": 1, "text": "in a"})
    b = h.ask({"type": "chat.send", "id": 2, "text": "in b"})  # a new conversation, while a's reply runs
    assert "turn_id" in a and b["queued"] is True and b["conversation_id"] != a["conversation_id"]
    assert h.transport.requests == []
    run_all(spawned)
    assert [inputs(r) for r in h.transport.requests] == [[("user", "in a")], [("user", "in b")]]
    assert stored(h, b["conversation_id"]) == [("user", "in b", False), ("assistant", "Hello world", False)]


def test_max_running_lets_other_conversations_run_at_once() -> None:
    h, spawned = pending_harness()
    h.ask({"type": "queue.config", "id": 1, "limits": {"max_running": 2}})
    a = h.ask({"type": "chat.send", "id": 2, "text": "in a"})
    b = h.ask({"type": "chat.send", "id": 3, "text": "in b"})
    again = h.ask({"type": "chat.send", "id": 4, "conversation_id": a["conversation_id"], "text": "a again"})
    assert "turn_id" in b and again["queued"] is True  # never two turns in one conversation
    run_all(spawned)
    assert stored(h, a["conversation_id"])[-1] == ("assistant", "Hello world", False)
    assert len(h.transport.requests) == 3


def test_priority_orders_the_drain() -> None:
    h, spawned = pending_harness()
    h.ask({"type": "chat.send", "id": 1, "text": "running"})
    h.ask({"type": "chat.send", "id": 2, "text": "low"})
    h.ask({"type": "chat.send", "id": 3, "text": "urgent", "priority": 5})
    state = h.worker.scheduler.state()
    assert [(i["preview"], i["position"]) for i in state["items"]] == [("urgent", 1), ("low", 2)]
    run_all(spawned)
    assert [inputs(r)[-1][1] for r in h.transport.requests] == ["running", "urgent", "low"]


def test_queued_messages_survive_a_worker_restart_and_drain_on_connect() -> None:
    h, spawned = pending_harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one", "client_id": "p-1"})["conversation_id"]
    queued = h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two", "client_id": "p-2"})
    assert queued["queued"] is True
    for coro in spawned:  # the worker is stopped: nothing it was doing runs
        coro.close()
    again = h.restart()
    hello = again.connect(1)
    assert [i["preview"] for i in hello["queue"]["items"]] == ["two"]  # what the panel is told first
    # The drain resumed from storage: "two" got its reply; "one"'s reply was interrupted.
    messages = again.stored(f"conv.{cid}")["messages"]
    assert [(m["role"], m["text"]) for m in messages] == [
        ("user", "one"), ("assistant", ""), ("user", "two"), ("assistant", "Hello world")
    ]
    assert messages[1]["error"]["kind"] == "interrupted" and not messages[2].get("queued")
    assert again.stored("queue")["items"] == []
    assert again.sent(1, "queue.state")[-1]["items"] == []
    # A panel resending the queued message after the restart is told it is already there.
    dup = again.ask({"type": "chat.send", "id": 3, "conversation_id": cid, "text": "two", "client_id": "p-2"})
    assert dup["duplicate"] is True and len(messages) == 4


def test_the_queue_alarm_drains_a_restarted_worker_with_no_panel() -> None:
    h, spawned = pending_harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two"})
    for coro in spawned:
        coro.close()
    again = h.restart()
    run_sync(again.app.on_alarm(QUEUE_ALARM))
    assert stored(again, cid)[-2:] == [("user", "two", False), ("assistant", "Hello world", False)]


def test_cancel_takes_a_message_out_and_gives_its_text_back() -> None:
    h, spawned = pending_harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    queued = h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "never mind"})
    other = h.ask({"type": "chat.send", "id": 3, "text": "fresh chat"})  # queued in a new conversation
    cancelled = h.ask({"type": "chat.cancel_queued", "id": 4, "queue_id": queued["queue_id"]})
    assert cancelled["type"] == "chat.cancelled" and cancelled["text"] == "never mind"
    assert cancelled["conversation_id"] == cid and cancelled["queue_id"] == queued["queue_id"]
    assert [m[1] for m in stored(h, cid)] == ["one", ""]
    assert [i["message_id"] for i in queue_record(h)["items"]] == [other["user"]["id"]]
    again = h.ask({"type": "chat.cancel_queued", "id": 5, "queue_id": queued["queue_id"]})
    assert again["type"] == "error" and again["code"] == "not_found"
    # The only message of a new conversation: nothing is left, the conversation goes too.
    h.ask({"type": "chat.cancel_queued", "id": 6, "queue_id": other["queue_id"]})
    assert f"conv.{other['conversation_id']}" not in h.store.data
    run_all(spawned)
    assert len(h.transport.requests) == 1  # only "one" was sent


def test_queue_state_is_pushed_to_every_panel() -> None:
    h = Harness()
    h.connect(1)
    h.connect(2)  # another panel, showing something else
    seen: dict[str, Any] = {}

    def second() -> None:
        h.send(1, {"type": "chat.send", "id": 2, "text": "two"})
        seen["other"] = [[i["preview"] for i in m["items"]] for m in h.sent(2, "queue.state")]

    body = reply_events("One")
    h.replies.append(lambda r: (200, {}, chunks_then(body[:2], second, body[2:])))
    h.send(1, {"type": "chat.send", "id": 1, "text": "one"})
    assert seen["other"] == [["two"]]  # it saw the message wait...
    assert h.sent(2, "queue.state")[-1]["items"] == []  # ...and leave the queue
    assert h.sent(2, "turn.done") == []  # turn pushes still go only where the conversation is shown


def test_a_full_queue_is_busy() -> None:
    h, spawned = pending_harness()
    h.ask({"type": "queue.config", "id": 1, "limits": {"max_queued": 2, "max_per_conversation": 1}})
    cid = h.ask({"type": "chat.send", "id": 2, "text": "running"})["conversation_id"]
    assert h.ask({"type": "chat.send", "id": 3, "conversation_id": cid, "text": "q1"})["queued"]
    per_conv = h.ask({"type": "chat.send", "id": 4, "conversation_id": cid, "text": "q2"})
    assert per_conv["code"] == "busy" and "this conversation" in per_conv["message"]
    assert h.ask({"type": "chat.send", "id": 5, "text": "elsewhere"})["queued"]
    full = h.ask({"type": "chat.send", "id": 6, "text": "one more"})
    assert full["code"] == "busy" and "full" in full["message"]
    assert [m[1] for m in stored(h, cid)] == ["running", "", "q1"]  # the refused one was not kept
    for coro in spawned:
        coro.close()


def test_queue_config_validates_and_persists() -> None:
    h = Harness()
    bad = h.ask({"type": "queue.config", "id": 1, "limits": {"max_queued": 0}})
    assert bad["code"] == "bad_request" and "max_queued" in bad["message"]
    unknown = h.ask({"type": "queue.config", "id": 2, "limits": {"max_parallel": 3}})
    assert unknown["code"] == "bad_request" and "max_parallel" in unknown["message"]
    ok = h.ask({"type": "queue.config", "id": 3, "limits": {"min_spacing_ms": 2000}})
    assert ok["type"] == "queue.state" and ok["limits"]["min_spacing_ms"] == 2000
    assert ok["limits"]["max_queued"] == 20  # the rest unchanged
    assert h.restart().ask({"type": "queue.config", "id": 4})["limits"]["min_spacing_ms"] == 2000


def test_min_spacing_holds_the_next_send_and_a_timer_sends_it() -> None:
    h = Harness()
    h.ask({"type": "queue.config", "id": 1, "limits": {"min_spacing_ms": 5000}})
    cid = h.ask({"type": "chat.send", "id": 2, "text": "one"})["conversation_id"]  # starts at t
    second = h.ask({"type": "chat.send", "id": 3, "conversation_id": cid, "text": "two"})  # t + 1 s
    assert second["queued"] is True
    hold = h.worker.scheduler.state()["hold"]
    assert hold["source"] == "spacing"
    assert h.timers.delays == [4.0]
    h.clock.advance(3.9)
    assert h.timers.fire() == 0 and len(h.transport.requests) == 1
    h.clock.advance(0.1)
    assert h.timers.fire() == 1
    assert len(h.transport.requests) == 2 and stored(h, cid)[-1] == ("assistant", "Hello world", False)


def test_no_requests_left_in_the_snapshot_holds_until_the_window_resets() -> None:
    h = Harness()
    h.connect(1)
    headers = {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0",
               "x-ratelimit-reset-requests": "6s"}
    h.replies.append(lambda r: (200, headers, reply_events("ok")))
    h.send(1, {"type": "chat.send", "id": 1, "text": "one"})
    at = h.stored("limits")["at"]
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    h.send(1, {"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two"})
    accepted = h.sent(1, "chat.accepted")[-1]
    assert accepted["queued"] is True
    state = h.sent(1, "queue.state")[-1]
    assert state["hold"]["until"] == at + 6000 and state["hold"]["source"] == "requests"
    assert state["items"][0]["hold_until"] == at + 6000
    h.clock.advance(4.9)
    h.timers.fire()
    assert len(h.transport.requests) == 1  # still held
    h.clock.advance(0.1)
    h.timers.fire()
    assert len(h.transport.requests) == 2 and h.sent(1, "queue.state")[-1]["items"] == []


def test_a_429_after_the_retries_holds_the_queue_for_the_servers_retry_after() -> None:
    h = Harness()
    h.ask({"type": "settings.set", "id": 1, "patch": {"request_max_retries": 1, "stream_max_retries": 0}})
    too_many = (429, {"retry-after": "3"}, b'{"error": {"message": "slow down", "type": "requests"}}')
    h.replies.extend([lambda r: too_many, lambda r: too_many])
    failed = h.ask({"type": "chat.send", "id": 2, "text": "one"})
    cid = failed["conversation_id"]
    assert h.stored(f"conv.{cid}")["messages"][-1]["error"]["kind"] == "retry_limit"
    ended = h.clock.now
    hold = h.worker.scheduler.core.hold
    assert hold is not None and hold.source == "rate_limited" and hold.until == int(ended * 1000) + 3000
    queued = h.ask({"type": "chat.send", "id": 3, "conversation_id": cid, "text": "two"})
    assert queued["queued"] is True and h.stored("queue")["hold"]["until"] == hold.until
    h.clock.advance(2)  # ask moved it 1 s already
    h.timers.fire()
    assert stored(h, cid)[-1] == ("assistant", "Hello world", False)


def test_usage_limit_reached_holds_until_its_reset_and_clear_hold_sends_now() -> None:
    h = Harness()
    body = json.dumps({"error": {"type": "usage_limit_reached", "resets_in_seconds": 3600}}).encode()
    h.replies.append(lambda r: (429, {}, body))
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    queued = h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two"})
    hold = h.worker.scheduler.state()["hold"]
    assert queued["queued"] and hold["source"] == "usage_limit"
    assert hold["until"] == int((h.clock.now - 1) * 1000) + 3_600_000
    assert len(h.transport.requests) == 1
    h.ask({"type": "queue.config", "id": 3, "clear_hold": True})  # the user tries now
    assert len(h.transport.requests) == 2 and stored(h, cid)[-1][1] == "Hello world"


def test_regenerate_and_edit_are_busy_while_a_message_waits_in_that_conversation() -> None:
    h, spawned = pending_harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two"})
    for kind in ("chat.regenerate", "chat.edit"):
        refused = h.ask({"type": kind, "id": 3, "conversation_id": cid, "text": "x"})
        assert refused["code"] == "busy"
    for coro in spawned:
        coro.close()


def test_regenerate_in_another_conversation_waits_its_turn() -> None:
    h, spawned = pending_harness()
    b = h.ask({"type": "chat.send", "id": 1, "text": "in b"})["conversation_id"]
    run_all(spawned)
    h.ask({"type": "chat.send", "id": 2, "text": "in a"})  # a's reply is in flight
    again = h.ask({"type": "chat.regenerate", "id": 3, "conversation_id": b})
    assert again["queued"] is True and again["user"]["text"] == "in b"
    assert stored(h, b) == [("user", "in b", True)]  # the old reply went; the question waits
    run_all(spawned)
    assert stored(h, b) == [("user", "in b", False), ("assistant", "Hello world", False)]


def test_deleting_a_conversation_drops_its_queued_messages() -> None:
    h, spawned = pending_harness()
    h.ask({"type": "chat.send", "id": 1, "text": "running"})
    other = h.ask({"type": "chat.send", "id": 2, "text": "waiting"})
    h.ask({"type": "conv.delete", "id": 3, "conversation_id": other["conversation_id"]})
    assert h.worker.scheduler.state()["items"] == []
    run_all(spawned)
    assert queue_record(h)["items"] == []
    assert len(h.transport.requests) == 1


class FakeAlarms:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float | None]] = []

    async def schedule(self, name: str, when_ms: float) -> None:
        self.calls.append(("schedule", name, when_ms))

    async def cancel(self, name: str) -> None:
        self.calls.append(("cancel", name, None))


def test_a_hold_sets_an_alarm_that_wakes_a_stopped_worker_and_it_is_cleared_after() -> None:
    alarms = FakeAlarms()
    h = Harness(alarms=alarms)
    h.ask({"type": "queue.config", "id": 1, "limits": {"min_spacing_ms": 60_000}})
    cid = h.ask({"type": "chat.send", "id": 2, "text": "one"})["conversation_id"]
    started = int((h.clock.now) * 1000)
    h.ask({"type": "chat.send", "id": 3, "conversation_id": cid, "text": "two"})
    assert alarms.calls == [("schedule", QUEUE_ALARM, started + 60_000)]
    h.clock.advance(60)
    h.timers.fire()
    assert alarms.calls[-1] == ("cancel", QUEUE_ALARM, None)


def test_a_send_arriving_while_a_turn_is_being_set_up_waits() -> None:
    """The storage write before a turn starts is an await: a send handled meanwhile must not start too."""
    store = MemoryStore()
    h = Harness(store=store)
    seen: dict[str, Any] = {}
    real_set = store.set

    async def set_and_interleave(items: dict[str, str]) -> None:
        await real_set(items)
        placeholder = any('"streaming":true' in v for k, v in items.items() if k.startswith("conv.c"))
        if placeholder and "other" not in seen:
            seen["other"] = {}  # once
            seen["other"] = h.ask({"type": "chat.send", "id": 9, "text": "meanwhile, elsewhere"})

    store.set = set_and_interleave  # type: ignore[method-assign]
    h.ask({"type": "chat.send", "id": 1, "text": "first"})
    assert seen["other"]["queued"] is True  # not a second turn beside the first
    assert [inputs(r)[-1][1] for r in h.transport.requests] == ["first", "meanwhile, elsewhere"]


def test_a_hold_from_one_server_does_not_hold_another() -> None:
    h = Harness()
    # The key was approved for the other server too, earlier (the options page's click).
    patch = {"provider": "compatible", "base_url": "localhost:8080"}
    h.ask({"type": "settings.get", "id": 6})  # the key is bound to the saved https://api.openai.com
    h.ask({"type": "settings.set", "id": 7, "patch": patch})
    approved = h.ask({"type": "settings.approve", "id": 8, "origin": "http://localhost:8080"})
    assert approved["type"] == "settings"
    h.ask({"type": "settings.set", "id": 9, "patch": {"provider": "openai", "base_url": ""}})
    body = json.dumps({"error": {"type": "usage_limit_reached", "resets_in_seconds": 3600}}).encode()
    h.replies.append(lambda r: (429, {}, body))
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    assert h.worker.scheduler.core.hold is not None and h.stored("queue")["hold"]["scope"]
    held = h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two"})
    assert held["queued"] is True
    # The user points SidePy at another server (say, an API key after a ChatGPT plan ran out).
    h.ask({"type": "settings.set", "id": 3, "patch": patch})
    assert h.worker.scheduler.core.hold is None and h.stored("queue")["hold"] is None
    assert stored(h, cid)[-1] == ("assistant", "Hello world", False)  # "two" went at once
    direct = h.ask({"type": "chat.send", "id": 4, "text": "elsewhere"})
    assert direct["type"] == "chat.accepted" and "turn_id" in direct  # no hold for this server
