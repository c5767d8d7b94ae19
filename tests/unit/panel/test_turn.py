"""The conversation on screen and its reply (``panel.turn``) alone, built from its parts.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel.conversation import Conversation

try:
    from tests.unit.panel.support import CID, Parts, conversation, message, settings
except ImportError:  # MicroPython: this folder is on sys.path
    from support import CID, Parts, conversation, message, settings


def shown(messages=None):
    p = Parts()
    turn = p.turn()
    turn.show(Conversation(CID))
    turn.load(conversation(CID, messages or []))
    return p, turn


def started(p, turn, now=0):
    """A regenerate accepted and its reply started."""
    turn.regenerate()
    [req] = p.sent()
    turn.accepted(
        {
            "type": "chat.accepted",
            "turn_id": "t1",
            "conversation_id": CID,
            "user": message("u1", "user", "q"),
        },
        p.reply(req),
        now,
    )
    turn.push(
        {
            "type": "turn.started",
            "conversation_id": CID,
            "turn_id": "t1",
            "assistant": message("a2", "assistant", "", streaming=True),
        },
        now,
        now,
    )


def test_the_status_follows_the_turn() -> None:
    p, turn = shown([message("u1", "user", "q"), message("a1", "assistant", "a")])
    assert turn.status_text(0, 0) is None
    turn.regenerate()
    [req] = p.sent()
    assert req["type"] == "chat.regenerate"
    turn.accepted(
        {
            "type": "chat.accepted",
            "turn_id": "t1",
            "conversation_id": CID,
            "user": message("u1", "user", "q"),
        },
        p.reply(req),
        0,
    )
    assert turn.status_text(0, 0) == "Connecting…"
    push = {"conversation_id": CID, "turn_id": "t1"}
    turn.push(dict(push, type="turn.started", assistant=message("a2", "assistant", "")), 100, 100)
    turn.push(dict(push, type="turn.reasoning", seq=1, text="hmm"), 200, 200)
    assert turn.status_text(300, 300) == "Thinking…"
    turn.push(dict(push, type="turn.delta", seq=2, text="An"), 400, 400)
    assert turn.status_text(500, 500) == "Writing…"
    turn.push(dict(push, type="turn.done", assistant=message("a2", "assistant", "An")), 600, 600)
    assert turn.status_text(700, 700) is None and turn.stage is None


def test_silence_is_named_and_offers_retry_well_before_the_idle_timeout() -> None:
    p, turn = shown([message("u1", "user", "q"), message("a1", "assistant", "a")])
    started(p, turn, now=1000)
    turn.push(
        {"type": "turn.delta", "conversation_id": CID, "turn_id": "t1", "seq": 1, "text": "Once"}, 2000, 2000
    )
    assert turn.stall_ms == 15000  # a quarter of... the 300 s default is more: 15 s at most
    assert not turn.stalled(16000) and turn.status_text(16000, 16000) == "Writing…"
    assert turn.stalled(17000) and turn.status_text(17000, 17000) == "No data for 15 s"
    turn.retry()  # Retry on a stalled reply: stop it, then ask again
    [stop] = p.sent()
    assert stop["type"] == "chat.stop" and turn.status_text(17000, 17000) == "No data for 15 s"
    turn.push(
        {
            "type": "turn.stopped",
            "conversation_id": CID,
            "turn_id": "t1",
            "assistant": message("a2", "assistant", "Once", stopped=True),
        },
        17500,
        17500,
    )
    [again] = p.sent()
    assert again["type"] == "chat.regenerate"


def test_a_short_idle_timeout_brings_the_offer_sooner() -> None:
    p, turn = shown()
    p.setup.update(dict(p.setup.settings, idle_timeout_ms=20000))
    assert turn.stall_ms == 5000


def test_a_failed_reply_is_explained_once_and_cleared_by_its_fix() -> None:
    p, turn = shown([message("u1", "user", "q"), message("a1", "assistant", "a")])
    started(p, turn)
    error = {
        "kind": "unauthorized",
        "message": "unexpected status 401 Unauthorized: {...}",
        "retryable": False,
        "fields": {"body": "{}", "request_id": "req_9"},
    }
    turn.push(
        {
            "type": "turn.error",
            "conversation_id": CID,
            "turn_id": "t1",
            "error": error,
            "assistant": message("a2", "assistant", "", error=error, model="gpt-5"),
        },
        0,
        0,
    )
    [view] = p.banners.views(0)
    assert view["action"] == "settings" and "did not accept your API key" in view["text"]
    assert "req_9" in view["details"] and "{" not in view["text"]
    p.banners.clear(*p.setup.update(dict(p.setup.settings, key={"set": True, "masked": "sk-…new1"})))
    assert p.banners.views(0) == []


def test_loading_a_conversation_whose_last_reply_failed_says_why() -> None:
    error = {"kind": "interrupted", "message": "The reply was interrupted", "retryable": True, "fields": {}}
    p, turn = shown([message("u1", "user", "q"), message("a1", "assistant", "half", error=error)])
    [view] = p.banners.views(0)
    assert "cut off" in view["text"] and view["action"] == "retry"
    turn.show(Conversation())
    assert p.banners.views(0) == []  # another conversation: not its banner


def test_any_user_message_can_be_edited_and_the_conversation_continues_from_it() -> None:
    p, turn = shown(
        [
            message("u1", "user", "first"),
            message("a1", "assistant", "one"),
            message("u2", "user", "second"),
            message("a2", "assistant", "two"),
        ]
    )
    assert turn.start_edit("u2") == "second" and turn.editing == "u2"
    turn.cancel_edit()
    assert turn.editing is None
    if turn.can_edit(turn.conv.find("u1")):  # the worker keeps branches: an earlier one too
        assert turn.start_edit("u1") == "first"
        assert turn.edit("First, again")
        [req] = p.sent()
        assert req["type"] == "chat.edit" and req["message_id"] == "u1" and req["text"] == "First, again"
        turn.accepted(
            {
                "type": "chat.accepted",
                "turn_id": "t3",
                "conversation_id": CID,
                "user": message("u3", "user", "First, again"),
            },
            p.reply(req),
            0,
        )
        assert [(m.role, m.text) for m in turn.conv.messages] == [("user", "First, again")]


def test_stop_asks_once() -> None:
    p, turn = shown([message("u1", "user", "q"), message("a1", "assistant", "a")])
    started(p, turn)
    assert turn.stop() and not turn.stop()
    assert [m["type"] for m in p.sent()] == ["chat.stop"]
    assert turn.status_text(0, 0) == "Stopping…"


def test_the_model_picker_belongs_to_the_conversation() -> None:
    p, turn = shown()
    p.setup.update(settings(models=["gpt-5", "gpt-5-mini", "gpt-4o"]))  # the provider offers gpt-4o
    assert turn.header()["model"] == "gpt-5" and turn.header()["reasons"]
    turn.set_model("gpt-4o")
    assert turn.header()["model"] == "gpt-4o" and not turn.header()["reasons"]
    [req] = p.sent()
    assert req == {"type": "conv.settings", "conversation_id": CID, "model": "gpt-4o", "id": req["id"]}


def test_a_reply_found_under_way_counts_its_silence_from_when_it_was_found() -> None:
    p = Parts()
    turn = p.turn()
    turn.clock = 50000  # the worker's message that shows it arrives now
    turn.show(Conversation(CID))
    messages = [message("u1", "user", "q"), message("a1", "assistant", "par", streaming=True)]
    turn.load(conversation(CID, messages, streaming={"turn_id": "t1", "seq": 1}))
    assert turn.status_text(51000, 51000) == "Writing…" and not turn.stalled(51000)
