"""StreamProcessor (sans-IO) and Pump: batching window, backpressure, order, bounds, memory."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from background.chat.stream_processor import Pump, StreamProcessor
from tests.support.aio import run_sync

BASE = {"conversation_id": "c", "turn_id": "t"}


def drain(p: StreamProcessor, now: float) -> list[dict[str, Any]]:
    out = []
    while (message := p.peek(now)) is not None:
        out.append(message)
        p.commit()
    return out


def text_of(messages: list[dict[str, Any]], kind: str = "turn.delta") -> str:
    return "".join(m["text"] for m in messages if m["type"] == kind)


def test_the_first_delta_leaves_at_once_and_the_rest_of_its_window_as_one_batch() -> None:
    p = StreamProcessor(BASE, window=0.016)
    for i, piece in enumerate(["a", "b", "c"]):
        p.text(piece, 1.0 + i * 0.005)
    # "a" came after a pause (the reply's first words): it did not wait for a window.
    assert drain(p, 1.010) == [{**BASE, "type": "turn.delta", "text": "a", "seq": 1}]
    assert drain(p, 1.015) == []  # the window "a" opened is still open
    assert drain(p, 1.016) == [{**BASE, "type": "turn.delta", "text": "bc", "seq": 2}]


def test_a_steady_stream_makes_one_message_per_window() -> None:
    p = StreamProcessor(BASE, window=0.016)
    sent = []
    for ms in range(0, 160):  # a delta every millisecond for 160 ms, drained as they come
        p.text("x", ms / 1000)
        sent += drain(p, ms / 1000)
    sent += drain(p, 1.0)
    assert text_of(sent) == "x" * 160
    assert len(sent) == 11  # the leading "x" at 0 ms, then one batch per 16 ms window


def test_a_pause_of_a_window_lets_the_next_delta_leave_at_once() -> None:
    p = StreamProcessor(BASE, window=0.016)
    p.text("a", 0.000)
    assert [m["text"] for m in drain(p, 0.000)] == ["a"]
    p.text("b", 0.005)
    assert drain(p, 0.010) == []
    assert [m["text"] for m in drain(p, 0.016)] == ["b"]
    p.text("c", 0.050)  # the model paused 34 ms after the last batch left
    assert [m["text"] for m in drain(p, 0.050)] == ["c"]


def test_a_delta_after_the_window_closes_it_and_opens_the_next() -> None:
    p = StreamProcessor(BASE, window=0.016)
    p.text("a", 0.000)
    p.text("b", 0.020)  # past the first window: "ab" were both pending, the window closes
    p.text("c", 0.021)
    first = drain(p, 0.021)
    assert [m["text"] for m in first] == ["ab"]
    assert drain(p, 0.040) == [{**BASE, "type": "turn.delta", "text": "c", "seq": 2}]


def test_events_keep_their_place_between_batches() -> None:
    p = StreamProcessor(BASE)
    p.text("before ", 0.0)
    p.event({"type": "turn.search", "call_id": "ws"})
    p.text("after", 0.001)
    out = drain(p, 1.0)
    assert [(m["type"], m.get("text")) for m in out] == [
        ("turn.delta", "before "),
        ("turn.search", None),
        ("turn.delta", "after"),
    ]
    assert out[1] == {**BASE, "type": "turn.search", "call_id": "ws"}


def test_reasoning_and_text_are_separate_batches_in_order() -> None:
    p = StreamProcessor(BASE)
    p.reasoning("think", 0.0)
    p.text("say", 0.001)
    p.reasoning("more", 0.002)
    out = drain(p, 1.0)
    assert [(m["type"], m["text"], m["seq"]) for m in out] == [
        ("turn.reasoning", "think", 1),
        ("turn.delta", "say", 2),
        ("turn.reasoning", "more", 3),
    ]


def test_a_slow_panel_gets_fewer_larger_batches_and_no_gap() -> None:
    p = StreamProcessor(BASE, window=0.016)
    accepted: list[dict[str, Any]] = []
    now = 0.0
    for i in range(1000):
        now += 0.001
        p.text(f"{i},", now)
        message = p.peek(now)
        if message is not None and i % 100 == 99:  # the panel takes one message in a hundred
            accepted.append(message)
            p.commit()
    accepted += drain(p, now + 1)
    assert text_of(accepted) == "".join(f"{i}," for i in range(1000))
    assert len(accepted) <= 12
    assert [m["seq"] for m in accepted] == list(range(1, len(accepted) + 1))
    assert p.peak_queue <= 2


def test_the_queue_stays_bounded_when_nothing_is_taken() -> None:
    p = StreamProcessor(BASE, max_queue=8)
    now = 0.0
    for i in range(500):
        now += 0.02
        p.text("x", now)
        p.event({"type": "turn.search", "call_id": f"ws{i}"}, key=f"search:ws{i}")
        p.reasoning("r", now)
        assert p.queued <= 8
    out = drain(p, now + 1)
    assert text_of(out) == "x" * 500 and text_of(out, "turn.reasoning") == "r" * 500
    assert p.peak_queue <= 8


def test_keyed_events_keep_only_their_latest_version() -> None:
    p = StreamProcessor(BASE)
    p.event({"type": "turn.limits", "limits": {"n": 1}}, key="limits")
    p.event({"type": "turn.limits", "limits": {"n": 2}}, key="limits")
    assert [m["limits"] for m in drain(p, 0.0)] == [{"n": 2}]


def test_a_reconnect_voids_queued_text_but_keeps_sticky_events() -> None:
    p = StreamProcessor(BASE)
    p.event({"type": "turn.started"}, sticky=True)
    p.text("failed attempt", 0.0)
    p.event({"type": "turn.limits", "limits": {}}, key="limits", sticky=True)
    p.restart({"type": "turn.reconnecting", "attempt": 1})
    p.text("good", 0.001)
    out = drain(p, 1.0)
    assert [m["type"] for m in out] == ["turn.started", "turn.limits", "turn.reconnecting", "turn.delta"]
    assert p.answer.getvalue() == "good"


def test_the_answer_is_one_builder_and_no_delta_objects_are_kept() -> None:
    p = StreamProcessor(BASE, window=0.016)
    now = 0.0
    for _ in range(10_000):
        now += 0.004
        p.text("token ", now)
        drain(p, now)
        assert len(p._runs) <= 1 and sum(len(run[1]) for run in p._runs) <= 5  # only this window's deltas
    assert p.answer.getvalue() == "token " * 10_000
    assert p.queued == 0


def test_max_queue_must_leave_room() -> None:
    with pytest.raises(ValueError):
        StreamProcessor(BASE, max_queue=2)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["text", "reasoning", "search", "limits"]),
            st.text(max_size=5),
            st.floats(0, 0.05),
            st.booleans(),
        ),
        max_size=80,
    ),
    st.integers(4, 12),
)
def test_no_text_is_lost_and_order_is_kept(steps: list[tuple[str, str, float, bool]], bound: int) -> None:
    p = StreamProcessor(BASE, max_queue=bound)
    now, sent = 0.0, []
    for kind, piece, dt, take in steps:
        now += dt
        if kind == "text":
            p.text(piece, now)
        elif kind == "reasoning":
            p.reasoning(piece, now)
        else:
            p.event({"type": f"turn.{kind}"}, key=kind if kind == "limits" else None)
        assert p.queued <= bound
        if take and (message := p.peek(now)) is not None:
            sent.append(message)
            p.commit()
    sent += drain(p, now + 1)
    assert text_of(sent) == "".join(piece for kind, piece, _, _ in steps if kind == "text")
    assert text_of(sent, "turn.reasoning") == "".join(
        piece for kind, piece, _, _ in steps if kind == "reasoning"
    )
    seqs = [m["seq"] for m in sent if "seq" in m]
    assert seqs == list(range(1, len(seqs) + 1))


# --------------------------------------------------------------------------- Pump


class Loop:
    def __init__(self) -> None:
        self.timers: list[Coroutine[Any, Any, None]] = []
        self.slept: list[float] = []

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.timers.append(coro)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def fire(self) -> None:
        while self.timers:
            run_sync(self.timers.pop(0))


def make_pump(accept: list[bool] | None = None) -> tuple[Pump, list[dict[str, Any]], Loop, list[float]]:
    clock = [0.0]
    sent: list[dict[str, Any]] = []
    loop = Loop()

    def send(message: dict[str, Any]) -> bool:
        if accept and not accept.pop(0):
            return False
        sent.append(message)
        return True

    pump = Pump(StreamProcessor(BASE), send, clock=lambda: clock[0], sleep=loop.sleep, spawn=loop.spawn)
    return pump, sent, loop, clock


def test_the_pump_closes_a_window_with_one_timer_when_the_model_pauses() -> None:
    pump, sent, loop, clock = make_pump()
    pump.text("a")
    assert [m["text"] for m in sent] == ["a"] and loop.timers == []  # the first words go at once
    clock[0] = 0.005
    pump.text("b")
    clock[0] = 0.007
    pump.text("c")
    assert len(sent) == 1 and len(loop.timers) == 1  # one timer for the rest of the window
    loop.fire()
    assert loop.slept == [pytest.approx(0.011)]  # what was left of the window "a" opened
    assert [m["text"] for m in sent] == ["a", "bc"]


def test_the_pump_sends_events_at_once_after_pending_text() -> None:
    pump, sent, loop, _ = make_pump()
    pump.text("a")
    pump.event({"type": "turn.search", "call_id": "x"})
    assert [m["type"] for m in sent] == ["turn.delta", "turn.search"]
    loop.fire()  # the timer finds nothing left
    assert len(sent) == 2


def test_a_refused_send_is_retried_and_text_keeps_growing_the_queued_batch() -> None:
    pump, sent, loop, clock = make_pump(accept=[False, False, True, True, True])
    pump.text("a")
    loop.fire()  # refused
    clock[0] = 0.03
    pump.text("b")  # refused again; "b" joins the queued batch
    clock[0] = 0.06
    pump.text("c")  # closes b's window: b and c join the refused batch, which now goes out
    loop.fire()
    assert [m["text"] for m in sent] == ["abc"]
    assert [m["seq"] for m in sent] == [1]
    clock[0] = 0.1
    pump.text("d")
    loop.fire()
    assert [(m["text"], m["seq"]) for m in sent[1:]] == [("d", 2)]


def test_finish_sends_what_is_left_then_the_final_message() -> None:
    pump, sent, loop, _ = make_pump()
    pump.text("tail")
    pump.finish({"type": "turn.done"})
    assert [m["type"] for m in sent] == ["turn.delta", "turn.done"]
    loop.fire()  # a timer firing after the end sends nothing more
    assert len(sent) == 2
