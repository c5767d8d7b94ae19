"""Versions: regenerated answers and edited questions are kept, and can be put back on the path.

The pure functions (background.store.versions) first, then through the worker: regenerate,
edit of an earlier message, ``chat.version``, and what goes to the model (the path only).
"""

from __future__ import annotations

import json
from typing import Any

from background.store import versions
from background.store.records import StoredMessage
from tests.unit.background.kit import reply_events
from tests.unit.background.test_chat import Harness, conversation_of


def msg(mid: str, role: str = "assistant") -> StoredMessage:
    return StoredMessage(id=mid, role=role, created_at=1, text=mid)  # type: ignore[arg-type]


def view_of(h: Harness, cid: str) -> dict[str, Any]:
    """The conversation as a panel sees it (``conv.open``)."""
    return h.ask({"type": "conv.open", "id": 99, "conversation_id": cid})["conversation"]  # type: ignore[no-any-return]


def ids(messages: list[StoredMessage]) -> list[str]:
    return [m.id for m in messages]


def test_a_replaced_tail_is_kept_and_can_come_back() -> None:
    path = [msg("u1", "user"), msg("a1")]
    versions.replace_tail(path, 1, [msg("a2")])
    versions.replace_tail(path, 1, [msg("a3")])
    assert ids(path) == ["u1", "a3"] and versions.version_of(path[1]) == (3, 3)
    versions.switch(path, 1, 0)
    assert ids(path) == ["u1", "a1"] and versions.version_of(path[1]) == (1, 3)
    assert [ids(t) for t in path[1].versions] == [["a2"], ["a3"]]


def test_a_branch_keeps_the_versions_inside_it() -> None:
    path = [msg("u1", "user"), msg("a1")]
    versions.replace_tail(path, 1, [msg("a2")])  # two answers to u1
    versions.replace_tail(path, 0, [msg("u2", "user")])  # then u1 edited: the branch u1.. is kept
    assert ids(path) == ["u2"] and versions.version_of(path[0]) == (2, 2)
    versions.switch(path, 0, 0)
    assert ids(path) == ["u1", "a2"] and versions.version_of(path[1]) == (2, 2)  # still two answers
    assert versions.version_of(msg("x")) is None


def test_a_switch_out_of_range_changes_nothing() -> None:
    path = [msg("u1", "user"), msg("a1")]
    versions.replace_tail(path, 1, [msg("a2")])
    try:
        versions.switch(path, 1, 5)
    except IndexError:
        pass
    else:
        raise AssertionError("no error")
    assert ids(path) == ["u1", "a2"]


def test_regenerate_keeps_the_old_answer_as_a_version() -> None:
    h = Harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "question"})["conversation_id"]
    h.replies.append(lambda r: (200, {}, reply_events("Second", " try")))
    h.ask({"type": "chat.regenerate", "id": 2, "conversation_id": cid})
    [_, answer] = view_of(h, cid)["messages"]
    assert answer["text"] == "Second try" and answer["versions"] == {"index": 2, "count": 2}
    body = json.loads(h.transport.requests[-1].body or b"{}")
    assert [i["role"] for i in body["input"]] == ["user"]  # only the path goes to the model
    back = h.ask(
        {"type": "chat.version", "id": 3, "conversation_id": cid, "message_id": answer["id"], "index": 1}
    )
    assert back["type"] == "conv.state"
    [_, first] = back["conversation"]["messages"]
    assert first["text"] == "Hello world" and first["versions"] == {"index": 1, "count": 2}
    assert [m["text"] for m in conversation_of(h, cid)["messages"]] == ["question", "Hello world"]  # stored


def test_an_earlier_question_can_be_edited_and_the_conversation_branches() -> None:
    h = Harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "first"})["conversation_id"]
    h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "second"})
    stored = conversation_of(h, cid)["messages"]
    assert [m["text"] for m in stored] == ["first", "Hello world", "second", "Hello world"]
    edited = h.ask(
        {
            "type": "chat.edit",
            "id": 3,
            "conversation_id": cid,
            "text": "First, again",
            "message_id": stored[0]["id"],
        }
    )
    assert edited["type"] == "chat.accepted"
    now = view_of(h, cid)
    assert [m["text"] for m in now["messages"]] == ["First, again", "Hello world"]
    assert now["messages"][0]["versions"] == {"index": 2, "count": 2}
    body = json.loads(h.transport.requests[-1].body or b"{}")
    assert len(body["input"]) == 1 and body["input"][0]["content"][0]["text"] == "First, again"
    back = h.ask(
        {
            "type": "chat.version",
            "id": 4,
            "conversation_id": cid,
            "message_id": now["messages"][0]["id"],
            "index": 1,
        }
    )
    assert [m["text"] for m in back["conversation"]["messages"]] == [
        "first",
        "Hello world",
        "second",
        "Hello world",
    ]


def test_version_requests_are_checked() -> None:
    h = Harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "q"})["conversation_id"]
    answer = view_of(h, cid)["messages"][1]
    none = h.ask(
        {"type": "chat.version", "id": 2, "conversation_id": cid, "message_id": answer["id"], "index": 1}
    )
    assert none["type"] == "error" and none["code"] == "bad_request"  # it has no other version
    gone = h.ask(
        {"type": "chat.version", "id": 3, "conversation_id": cid, "message_id": "m-nope", "index": 1}
    )
    assert gone["type"] == "error" and gone["code"] == "not_found"
    edit = h.ask(
        {"type": "chat.edit", "id": 4, "conversation_id": cid, "text": "x", "message_id": answer["id"]}
    )
    assert edit["type"] == "error" and edit["code"] == "not_found"  # only a question can be edited
