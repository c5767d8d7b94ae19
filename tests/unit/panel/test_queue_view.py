"""The request queue in the panel: queued sends, the list, holds with countdowns, cancel.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

try:
    from tests.unit.panel.support import (
        CID,
        conversation,
        deltas,
        message,
        only,
        push,
        ready,
        start_turn,
        summary,
        texts,
        with_conversation,
    )
except ImportError:  # MicroPython: this folder is on sys.path
    from support import (
        CID,
        conversation,
        deltas,
        message,
        only,
        push,
        ready,
        start_turn,
        summary,
        texts,
        with_conversation,
    )

WALL = 1700000000000


def item(qid, text, position=1, cid=CID, mid=None, **extra):
    out = {"queue_id": qid, "conversation_id": cid, "message_id": mid or "m-" + qid, "preview": text,
           "priority": 0, "position": position, "enqueued_at": WALL}
    out.update(extra)
    return out


def queue_state(state, items, hold=None):
    msg = {"type": "queue.state", "items": items, "limits": {"max_queued": 20}}
    if hold is not None:
        msg["hold"] = hold
    state.receive(msg, 0, wall=WALL)


def send_queued(state, text, qid="q1", position=1):
    """Send ``text`` while something else runs; the worker answers that it waits."""
    assert state.composer.send(text)
    req = only(state.take_outbox(), "chat.send")
    user = message("m-" + qid, "user", text, client_id=req["client_id"], queued=True)
    cid = req.get("conversation_id") or CID
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": cid, "user": user,
                   "queued": True, "queue_id": qid, "position": position}, 0, wall=WALL)
    return req


def test_a_message_typed_while_a_reply_streams_is_sent_and_waits_in_the_list() -> None:
    state = with_conversation()
    start_turn(state, "first")
    deltas(state, ["Hel"])
    assert state.composer.can_send()  # the worker queues it
    send_queued(state, "second")
    assert texts(state) == [("user", "first"), ("assistant", "Hel")]  # not in the conversation
    views = state.queue.queue_views(WALL)
    assert [(v["position"], v["text"], v["where"]) for v in views] == [(1, "second", "")]
    assert views[0]["status"] == "Next: sends when the current reply ends"
    queue_state(state, [item("q1", "second"), item("q2", "third", 2)])
    assert [v["status"] for v in state.queue.queue_views(WALL)] == [
        "Next: sends when the current reply ends", "Waiting: 1 message ahead"]
    assert state.conv.busy and not state.can_regenerate()  # regenerate would wait behind it


def test_its_turn_brings_it_into_the_conversation_after_the_first_reply() -> None:
    state = with_conversation()
    start_turn(state, "first")
    send_queued(state, "second")
    queue_state(state, [item("q1", "second")])
    push(state, "turn.done", assistant=message("a1", "assistant", "One"))
    user = message("m-q1", "user", "second", client_id="t-2")
    assistant = message("a2", "assistant", "", streaming=True)
    push(state, "turn.started", turn_id="t2", user=user, assistant=assistant)
    assert state.queue.queue_views(WALL) == []  # before the push: its turn said it left the queue
    deltas(state, ["Two"], turn_id="t2")
    assert texts(state) == [("user", "first"), ("assistant", "One"), ("user", "second"), ("assistant", "Two")]
    assert state.conv.messages[2].pending is None and state.conv.busy


def test_a_hold_shows_a_countdown_until_the_window_resets() -> None:
    state = with_conversation()
    hold = {"until": WALL + 42000, "reason": "Rate limit: no requests left", "source": "requests"}
    queue_state(state, [item("q1", "hello", hold_until=WALL + 42000)], hold)
    assert state.queue.queue_counting
    assert state.queue.queue_views(WALL)[0]["status"] == "Waiting for rate limit — resets in 42 s"
    assert state.queue.queue_views(WALL + 41500)[0]["status"] == "Waiting for rate limit — resets in 1 s"
    assert state.queue.queue_views(WALL + 42000)[0]["status"] == "Next: sends when the current reply ends"
    spacing = {"until": WALL + 3000, "reason": "Spacing requests out", "source": "spacing"}
    queue_state(state, [item("q1", "hello")], spacing)
    assert state.queue.queue_views(WALL)[0]["status"] == "Waiting — sends in 3 s"
    queue_state(state, [])
    assert not state.queue.queue_counting and state.queue.queue_views(WALL) == []


def test_cancel_hides_it_asks_the_worker_and_gives_the_text_back() -> None:
    state = with_conversation()
    start_turn(state, "first")
    send_queued(state, "never mind")
    queue_state(state, [item("q1", "never mind")])
    state.queue.cancel_queued("q1")
    req = only(state.take_outbox(), "chat.cancel_queued")
    assert req["queue_id"] == "q1" and state.queue.queue_views(WALL) == []
    state.queue.cancel_queued("q1")
    assert state.take_outbox() == []  # asked once
    state.receive({"type": "chat.cancelled", "id": req["id"], "queue_id": "q1", "conversation_id": CID,
                   "text": "never mind, the whole text"}, 0, wall=WALL)
    assert state.composer.take_fill() == "never mind, the whole text"
    queue_state(state, [])
    assert state.queue.queue_items == []


def test_a_cancel_too_late_shows_the_item_again_and_says_why() -> None:
    state = with_conversation()
    queue_state(state, [item("q1", "started already")])
    state.queue.cancel_queued("q1")
    req = only(state.take_outbox(), "chat.cancel_queued")
    state.receive({"type": "error", "id": req["id"], "code": "not_found",
                   "message": "That message is no longer waiting: it was sent or cancelled."}, 0, wall=WALL)
    assert [v["text"] for v in state.queue.queue_views(WALL)] == ["started already"]
    assert "no longer waiting" in state.banners.views(WALL)[0]["text"]


def test_a_cancel_made_while_the_worker_restarts_is_sent_after_hello() -> None:
    state = with_conversation()
    queue_state(state, [item("q1", "x")])
    state.receive({"type": "port.disconnected"}, 0)
    state.queue.cancel_queued("q1")
    assert state.take_outbox() == []
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "queue": {"items": [item("q1", "x")]}}, 20)
    assert only(state.take_outbox(), "chat.cancel_queued")["queue_id"] == "q1"
    assert state.queue.queue_views(WALL) == []  # still hidden: the answer is on its way


def test_hello_and_conversations_leave_queued_messages_to_the_list() -> None:
    waiting = message("m-q1", "user", "later", queued=True)
    active = conversation(CID, [message("u1", "user", "q"), message("a1", "assistant", "a"), waiting])
    other = item("q2", "elsewhere", 2, cid="c2")
    state = ready(active=active, conversations=[summary(CID, "Here"), summary("c2", "There")],
                  queue={"items": [item("q1", "later"), other]})
    assert texts(state) == [("user", "q"), ("assistant", "a")]
    shown = [(v["text"], v["where"]) for v in state.queue.queue_views(WALL)]
    assert shown == [("later", ""), ("elsewhere", "There")]
    assert not state.can_regenerate()  # its conversation has a message waiting


def test_a_new_chat_queued_behind_another_conversation_gets_its_id() -> None:
    state = ready()
    assert state.composer.send("a new question")
    req = only(state.take_outbox(), "chat.send")
    assert "conversation_id" not in req
    user = message("m-q1", "user", "a new question", client_id=req["client_id"], queued=True)
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": "c9", "user": user,
                   "queued": True, "queue_id": "q1", "position": 1}, 0, wall=WALL)
    assert state.conv.id == "c9" and texts(state) == [] and state.composer.can_send()
    assert [v["text"] for v in state.queue.queue_views(WALL)] == ["a new question"]
    user = message("m-q1", "user", "a new question")
    push(state, "turn.started", turn_id="t1", conversation_id="c9", user=user,
         assistant=message("a1", "assistant", "", streaming=True))
    assert texts(state) == [("user", "a new question"), ("assistant", "")]


def test_a_queued_regenerate_moves_the_question_to_the_list() -> None:
    state = with_conversation([message("u1", "user", "q"), message("a1", "assistant", "old")])
    state.regenerate()
    req = only(state.take_outbox(), "chat.regenerate")
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": CID, "queued": True,
                   "queue_id": "q1", "position": 1, "user": message("u1", "user", "q", queued=True)}, 0)
    assert texts(state) == [] and [v["text"] for v in state.queue.queue_views(WALL)] == ["q"]


def test_send_now_asks_the_worker_to_drop_a_rate_limit_hold() -> None:
    state = with_conversation()
    hold = {"until": WALL + 90000, "reason": "Usage limit reached", "source": "usage_limit"}
    queue_state(state, [item("q1", "please")], hold)
    assert state.queue.can_send_now(WALL) and not state.queue.can_send_now(WALL + 90000)
    state.queue.send_now()
    req = only(state.take_outbox(), "queue.config")
    assert req["clear_hold"] is True
    state.receive({"type": "queue.state", "id": req["id"], "items": [item("q1", "please")]}, 0, wall=WALL)
    assert state.queue.queue_hold is None and not state.queue.can_send_now(WALL)
    queue_state(state, [item("q1", "please")], {"until": WALL + 5000, "reason": "r", "source": "spacing"})
    state.queue.send_now()
    assert state.take_outbox() == []  # spacing is the user's own setting: no override


def test_a_resent_message_the_worker_had_queued_is_not_left_pending_in_the_log() -> None:
    state = with_conversation()
    start_turn(state, "first")
    assert state.composer.send("typed during the reply")
    sent = only(state.take_outbox(), "chat.send")
    state.receive({"type": "port.disconnected"}, 0)  # the worker stopped before it answered
    state.receive({"type": "port.connected"}, 10)
    hello = only(state.take_outbox(), "hello")
    waiting = message("m-q1", "user", "typed during the reply", client_id=sent["client_id"], queued=True)
    active = conversation(CID, [message("u-t1", "user", "first"), message("a1", "assistant", "x"), waiting])
    queued = {"items": [item("q1", "typed during the reply", client_id=sent["client_id"])]}
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "active": active, "queue": queued}, 20)
    assert state.take_outbox() == []  # not sent twice
    assert texts(state) == [("user", "first"), ("assistant", "x")]
    assert [v["text"] for v in state.queue.queue_views(WALL)] == ["typed during the reply"]
    assert state.composer.can_send()
