"""The protocol: every request validated, clear errors, and the documented shapes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from background.errors import ProtocolError
from background.protocol import REQUESTS, ChatSend, ConvSettings, parse_request
from background.router import CAPABILITIES
from tests.unit.background.kit import Harness

DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"type": "chat.send", "id": 1}, "'text' is required"),
        ({"type": "chat.send", "id": 1, "text": "   "}, "the message is empty"),
        ({"type": "chat.send", "id": 1, "text": 5}, "'text'"),
        ({"type": "chat.send", "id": "1", "text": "hi"}, "'id'"),
        ({"type": "chat.send", "id": 1, "text": "x" * 100_001}, "'text'"),
        ({"type": "chat.send", "id": 1, "text": "hi", "conversation_id": "../etc"}, "'conversation_id'"),
        ({"type": "chat.send", "id": 1, "text": "hi", "context": {"title": 3}}, "'context.title'"),
        ({"type": "conv.open", "id": 1}, "'conversation_id' is required"),
        ({"type": "conv.rename", "id": 1, "conversation_id": "c1", "title": "  "}, "a title cannot be empty"),
        ({"type": "conv.export", "id": 1, "format": "pdf"}, "'format'"),
        ({"type": "conv.pin", "id": 1, "conversation_id": "c1", "pinned": "yes"}, "'pinned'"),
        (
            {"type": "conv.settings", "id": 1, "conversation_id": "c1", "reasoning_effort": "max"},
            "'reasoning_effort'",
        ),
        ({"type": "page.context", "id": 1, "include": "everything"}, "'include'"),
        ({"type": "settings.set", "id": 1, "patch": []}, "'patch'"),
        ({"type": "key.set", "id": 1}, "'key' is required"),
        ({"type": "hello", "id": 1, "v": "1"}, "'v'"),
    ],
)
def test_malformed_requests_get_a_bad_request_error_naming_the_field(
    message: dict[str, Any], says: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_request(message)
    assert caught.value.code == "bad_request"
    assert says in str(caught.value) and str(caught.value).startswith(message["type"])
    reply = Harness().ask(message)
    assert reply == {
        "type": "error",
        "id": message["id"],
        "code": "bad_request",
        "message": str(caught.value),
    }


def test_unknown_fields_are_ignored() -> None:
    request = parse_request({"type": "chat.send", "id": 1, "text": "hi", "future": True})
    assert isinstance(request, ChatSend) and request.text == "hi"


def test_unknown_types_are_refused() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_request({"type": "chat.fly"})
    assert caught.value.code == "unknown_type"


def test_explicit_null_differs_from_absent() -> None:
    request = parse_request(
        {"type": "conv.settings", "id": 1, "conversation_id": "c1", "reasoning_effort": None}
    )
    assert isinstance(request, ConvSettings)
    assert request.model_fields_set >= {"reasoning_effort"} and "model" not in request.model_fields_set


def test_every_request_type_is_documented_and_every_documented_request_is_handled() -> None:
    doc = DOC.read_text()
    documented = set(re.findall(r"^\| `([a-z]+(?:\.[a-z_]+)?)` \| `id`", doc, flags=re.M))
    # vault.* and auth.* check their own fields (background.vault, background.accounts): untyped.
    untyped = {t for t in documented if t.startswith(("vault.", "auth."))}
    assert documented - {"ping"} - untyped == set(REQUESTS)
    # The router refuses to start unless every type in the capability table has a handler.
    assert documented == set().union(*CAPABILITIES.values())
    assert Harness().worker.router is not None


def test_hello_carries_everything_a_panel_needs() -> None:
    h = Harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "hi"})["conversation_id"]
    hello = h.ask({"type": "hello", "id": 2, "v": 1, "conversation_id": cid})
    assert hello["id"] == 2 and hello["v"] == 1 and hello["version"] == "9.9.9"
    assert hello["settings"]["model"] and hello["settings"]["key"]["set"] is True
    assert hello["conversations"][0]["id"] == cid and hello["conversations"][0]["messages"] == 2
    assert hello["active"]["id"] == cid and len(hello["active"]["messages"]) == 2
    storage = hello["storage"]
    assert storage["conversations"] == 1 and storage["max_conversations"] == 200
    assert storage["used_bytes"] > 0 and "oldest" in storage["policy"] and storage["problems"] == []
    assert hello["boot"]["state"] == "ready"


def test_hello_for_an_unsaved_draft_has_no_active_conversation() -> None:
    h = Harness()
    h.ask({"type": "chat.send", "id": 1, "text": "hi"})
    hello = h.ask({"type": "hello", "id": 2, "v": 1, "conversation_id": "cGone"})
    assert "active" not in hello
