"""Streaming order (seq), gaps, queued sends and rebuilding after the worker restarts.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

try:
    from tests.unit.panel.support import (
        CID,
        accept,
        conversation,
        deltas,
        message,
        only,
        push,
        settings,
        start_turn,
        texts,
        with_conversation,
    )
except ImportError:  # MicroPython: this folder is on sys.path
    from support import (
        CID,
        accept,
        conversation,
        deltas,
        message,
        only,
        push,
        settings,
        start_turn,
        texts,
        with_conversation,
    )

from panel.state import PanelState


def test_duplicate_batches_are_applied_once() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["a", "b"])
    push(state, "turn.delta", seq=2, text="b")
    push(state, "turn.delta", seq=1, text="a")
    assert state.conv.messages[-1].text == "ab" and state.take_outbox() == []


def test_a_gap_asks_conv_open_and_the_stored_state_plus_later_batches_fill_it() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["one ", "two "])
    push(state, "turn.delta", seq=4, text="four ", now=100)  # seq 3 was lost
    req = only(state.take_outbox(), "conv.open")
    assert req["conversation_id"] == CID
    push(state, "turn.delta", seq=5, text="five", now=110)
    assert state.take_outbox() == []  # one resync at a time
    assert state.conv.messages[-1].text == "one two "  # nothing out of order is shown
    stored = conversation(CID, [message("u-t1", "user", "hi"),
                                message("a1", "assistant", "one two three ", streaming=True)],
                          streaming={"turn_id": "t1", "seq": 3})
    state.receive({"type": "conv.state", "id": req["id"], "conversation": stored}, 120)
    assert state.conv.messages[-1].text == "one two three four five"
    push(state, "turn.delta", seq=6, text="!")
    assert state.conv.messages[-1].text == "one two three four five!"


def test_a_resync_reply_after_the_turn_ended_is_ignored() -> None:
    state = with_conversation()
    start_turn(state)
    push(state, "turn.delta", seq=2, text="x")
    req = only(state.take_outbox(), "conv.open")
    push(state, "turn.done", assistant=message("a1", "assistant", "final"))
    stale = conversation(CID, [message("a1", "assistant", "partial", streaming=True)],
                         streaming={"turn_id": "t1", "seq": 1})
    state.receive({"type": "conv.state", "id": req["id"], "conversation": stale}, 0)
    assert texts(state) == [("user", "hi"), ("assistant", "final")] and not state.conv.busy


def test_resyncs_are_spaced_out() -> None:
    state = with_conversation()
    start_turn(state)
    push(state, "turn.delta", seq=3, text="x", now=0)
    req = only(state.take_outbox(), "conv.open")
    messages = [message("u-t1", "user", "hi"), message("a1", "assistant", "", streaming=True)]
    still_gapped = conversation(CID, messages, streaming={"turn_id": "t1", "seq": 1})
    state.receive({"type": "conv.state", "id": req["id"], "conversation": still_gapped}, 10)
    push(state, "turn.delta", seq=4, text="y", now=500)
    assert state.take_outbox() == []
    push(state, "turn.delta", seq=5, text="z", now=2500)
    assert only(state.take_outbox(), "conv.open")


def test_late_pushes_of_a_finished_turn_are_dropped() -> None:
    state = with_conversation()
    start_turn(state)
    push(state, "turn.done", assistant=message("a1", "assistant", "done"))
    push(state, "turn.delta", seq=1, text="late")
    assert texts(state)[-1] == ("assistant", "done") and state.take_outbox() == []


def test_reconnecting_drops_the_partial_text_and_shows_the_attempt() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["half an ans"])
    error = {"kind": "stream", "message": "stream disconnected before completion", "retryable": True,
             "fields": {}}
    push(state, "turn.reconnecting", attempt=2, max_attempts=5, delay_ms=1500, error=error, wall=10000)
    assert state.conv.messages[-1].text == ""
    # The status line says it, not a banner: nothing has failed yet.
    assert state.banners.items == []
    assert state.status_text(0, 10000) == "Connection lost: retrying in 2 s (2 of 5)"
    assert state.status_text(0, 12000) == "Reconnecting…"  # countdown over
    push(state, "turn.delta", seq=7, text="A full answer")  # seq goes on; taken as is
    assert state.conv.messages[-1].text == "A full answer" and state.status_text(0, 12000) == "Writing…"


def test_turn_waiting_counts_down_to_the_retry() -> None:
    state = with_conversation()
    start_turn(state)
    push(state, "turn.waiting", until=70000, reason="Rate limit reached for gpt-5", wall=10000)
    assert state.status_text(0, 10000) == "Waiting 1 min for the rate limit"
    assert state.status_text(0, 65500) == "Waiting 5 s for the rate limit"
    assert state.ticking and state.banners.items == []
    assert not state.turn.stalled(60000)  # waiting on purpose is not silence
    push(state, "turn.started", assistant=message("a1", "assistant", ""))
    assert state.status_text(0, 71000) == "Connecting…"


def test_turn_error_shows_the_message_and_offers_a_retry() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["so "])
    error = {"kind": "usage_limit_reached", "retryable": False, "fields": {},
             "message": "You've hit your usage limit. Try again in 2 hours."}
    push(state, "turn.error", error=error, assistant=message("a1", "assistant", "so ", error=error))
    [view] = state.banners.views(0)
    assert view["key"] == "turn" and view["action"] == "retry" and view["label"] == "Try again"
    assert view["text"] == "You've hit your usage limit. Try again in 2 hours."
    assert "usage_limit_reached" in view["details"]
    assert state.conv.messages[-1].error == error and state.composer.can_send()
    state.regenerate()
    assert only(state.take_outbox(), "chat.regenerate") and state.banners.items == []


def test_an_empty_reply_that_failed_leaves_no_empty_bubble() -> None:
    state = with_conversation()
    start_turn(state)
    push(state, "turn.error", error={"kind": "idle_timeout", "message": "idle timeout waiting for SSE"})
    assert texts(state) == [("user", "hi")]


def test_typing_while_the_worker_boots_is_queued_and_sent_on_hello() -> None:
    state = PanelState(now=0, session="t")
    state.receive({"type": "boot.status", "state": "starting", "elapsed_ms": 300}, 10)
    assert state.composer.send("early bird")
    assert state.take_outbox() == []
    queued = state.conv.messages[0]
    assert queued.pending == "queued"
    assert state.composer.pending_label(queued) == "Queued: sends when SidePy is ready"
    assert not state.composer.send("second")  # one message in flight at a time; the text stays typed
    state.receive({"type": "port.connected"}, 20)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "settings": settings(), "conversations": [],
                   "active": conversation("old", [message("x", "user", "yesterday")])}, 900)
    req = only(state.take_outbox(), "chat.send")
    assert req["text"] == "early bird" and "conversation_id" not in req
    assert state.conv.id is None and texts(state) == [("user", "early bird")]  # stays in the new chat
    assert queued.pending == "sending"
    accept(state, req, conversation_id="n1")
    assert state.conv.id == "n1" and queued.pending is None


def test_the_worker_restart_mid_turn_rebuilds_from_hello() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["alpha ", "beta "])
    state.receive({"type": "port.disconnected"}, 1000)
    assert state.status_text(1300) == "Reconnecting…"
    state.receive({"type": "port.connected"}, 1500)
    hello = only(state.take_outbox(), "hello")
    assert hello["conversation_id"] == CID
    stored = conversation(CID, [message("u-t1", "user", "hi"),
                                message("a1", "assistant", "alpha beta gamma ", streaming=True)],
                          streaming={"turn_id": "t1", "seq": 3})
    reply = {"type": "hello", "id": hello["id"], "v": 1, "settings": settings(), "active": stored}
    state.receive(reply, 1600)
    assert state.status_text(1600) == "Writing…"  # the reply goes on
    assert state.conv.messages[-1].text == "alpha beta gamma "
    push(state, "turn.delta", seq=4, text="delta")
    assert state.conv.messages[-1].text == "alpha beta gamma delta"


def test_an_unanswered_send_is_sent_again_after_a_restart_unless_stored() -> None:
    state = with_conversation()
    state.composer.send("lost?")
    first = only(state.take_outbox(), "chat.send")
    state.receive({"type": "port.disconnected"}, 0)
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "active": conversation(CID, [])}, 20)
    again = only(state.take_outbox(), "chat.send")
    assert again == first  # same id and client_id: a worker that got it once answers without a 2nd turn

    state = with_conversation()
    state.composer.send("kept")
    sent = only(state.take_outbox(), "chat.send")
    state.receive({"type": "port.disconnected"}, 0)
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    stored = conversation(CID, [message("u9", "user", "kept", client_id=sent["client_id"])],
                          streaming={"turn_id": "t5", "seq": 0})
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "active": stored}, 20)
    assert state.take_outbox() == []
    assert texts(state) == [("user", "kept")] and state.conv.messages[0].pending is None
    push(state, "turn.delta", turn_id="t5", seq=1, text="reply")
    assert texts(state) == [("user", "kept"), ("assistant", "reply")]


def test_a_worker_without_client_ids_is_matched_by_text() -> None:
    state = with_conversation()
    state.composer.send("same words")
    state.take_outbox()
    state.receive({"type": "port.disconnected"}, 0)
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    stored = conversation(CID, [message("u9", "user", "same words")])
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "active": stored}, 20)
    assert state.take_outbox() == [] and texts(state) == [("user", "same words")]


def test_requests_made_while_reconnecting_wait_for_hello() -> None:
    state = with_conversation()
    state.receive({"type": "port.disconnected"}, 0)
    state.convs.rename(CID, "New name")
    assert state.take_outbox() == []
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "active": conversation(CID)}, 20)
    assert only(state.take_outbox(), "conv.rename")["title"] == "New name"


def test_a_pushed_hello_before_the_reply_does_not_switch_the_view() -> None:
    state = with_conversation()
    state.receive({"type": "port.disconnected"}, 0)
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "v": 1, "active": conversation("other")}, 15)  # the unasked push
    assert state.conv.id == CID and state.take_outbox() == []
    state.receive({"type": "hello", "id": hello["id"], "v": 1}, 20)  # ours is a draft to the worker
    assert state.conv.id == CID and state.take_outbox() == []  # keep showing it


def test_stop_takes_back_a_send_still_waiting_for_the_worker() -> None:
    state = PanelState(now=0, session="t")
    state.composer.send("never mind")
    state.stop()
    assert state.conv.messages == [] and state.composer.take_fill() == "never mind"
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1}, 20)
    assert [m["type"] for m in state.take_outbox()] == ["models.list"]  # the picker's refresh only


def test_a_refused_send_puts_the_text_and_context_back() -> None:
    state = with_conversation()
    page = {"title": "Page", "url": "https://example.com", "text": "body", "truncated": False}
    state.composer.context = page
    state.composer.send("about this")
    req = only(state.take_outbox(), "chat.send")
    assert req["context"]["title"] == "Page" and state.composer.context is None
    state.receive({"type": "error", "id": req["id"], "code": "no_api_key",
                   "message": "Add an API key in SidePy's options."}, 0)
    assert state.conv.messages == [] and state.composer.take_fill() == "about this"
    assert state.composer.context["title"] == "Page"
    assert state.banners.views(0)[0]["text"] == "Add an API key in SidePy's options."
    state.composer.send("about this")
    assert state.banners.items == []  # the next try clears the old error


def test_one_megabyte_reply_streams_in_and_matches_the_final_text() -> None:
    state = with_conversation()
    start_turn(state)
    chunk = ("word " * 20 + "\n") * 40 + "\n"  # 4 KB: forty lines, then a blank line
    n = 256
    deltas(state, [chunk] * n)
    m = state.conv.messages[-1]
    assert m.body.length == len(chunk) * n
    assert len(m.body.blocks) >= n - 1
    final = chunk * n
    push(state, "turn.done", assistant=message("a1", "assistant", final))
    assert m.text == final


def test_huge_line_reply_is_cut_into_bounded_blocks() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["x" * 1000] * 300)  # one line of 300 KB, no newline
    body = state.conv.messages[-1].body
    assert max(len(b) for b in body.blocks) <= 20000 and len(body.tail()) <= 20000
    assert body.length == 300000


def test_a_pushed_hello_after_the_reply_changes_nothing() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["streaming "])
    state.receive({"type": "hello", "v": 1, "conversations": []}, 50)  # the worker's push on connect, late
    assert state.take_outbox() == [] and state.conv.busy
    push(state, "turn.delta", seq=2, text="on")
    assert state.conv.messages[-1].text == "streaming on"


def test_a_resend_the_worker_already_had_reloads_the_conversation() -> None:
    state = with_conversation()
    state.composer.send("once")
    first = only(state.take_outbox(), "chat.send")
    state.receive({"type": "port.disconnected"}, 0)
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "active": conversation(CID)}, 20)
    again = only(state.take_outbox(), "chat.send")
    assert again["client_id"] == first["client_id"]
    user = message("u1", "user", "once", client_id=first["client_id"])
    state.receive({"type": "chat.accepted", "id": again["id"], "conversation_id": CID, "turn_id": "t1",
                   "user": user, "duplicate": True}, 30)
    req = only(state.take_outbox(), "conv.open")
    assert not state.conv.busy or state.conv.loading
    done = conversation(CID, [user, message("a1", "assistant", "the reply")])
    state.receive({"type": "conv.state", "id": req["id"], "conversation": done}, 40)
    assert texts(state) == [("user", "once"), ("assistant", "the reply")] and state.composer.can_send()


def test_a_message_over_the_limit_stays_in_the_composer() -> None:
    state = with_conversation()
    assert not state.composer.send("x" * 100001)
    assert state.take_outbox() == [] and state.conv.messages == []
    text = state.banners.views(0)[0]["text"]
    assert text == "Messages are limited to 100,000 characters; this one has 100,001."


def test_a_second_answer_to_a_resent_request_is_ignored() -> None:
    state = with_conversation()
    state.convs.delete(CID)
    req = only(state.take_outbox(), "conv.delete")
    state.receive({"type": "conv.list", "id": req["id"], "conversations": []}, 0)
    late = {"type": "error", "id": req["id"], "code": "not_found", "message": "no such conversation"}
    state.receive(late, 0)
    assert state.banners.items == []


def test_a_message_typed_after_a_failed_boot_waits_for_the_retry() -> None:
    state = PanelState(now=0, session="t")
    state.receive({"type": "boot.status", "state": "failed", "error": "Python did not start"}, 10)
    assert state.composer.send("still here?")
    assert state.take_outbox() == [] and state.conv.messages[0].pending == "queued"
    state.receive({"type": "port.connected"}, 20)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1}, 30)
    assert only(state.take_outbox(), "chat.send")["text"] == "still here?"
