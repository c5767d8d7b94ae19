"""Attachments through the worker: attach, send, restart, regenerate, edit, delete, bound, export/import.

The worker is built with :func:`background.compose.compose` over in-memory bridges
(tests/unit/background/kit.py): attachments in IndexedDB's twin, images through a
model of an encoder, the model's server a scripted transport. Runs on CPython and
in Pyodide.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from background.attachments.capture import SCREENSHOT_DENIED, Capture
from background.attachments.model import AttachmentRefused
from background.store.conversations import ConversationStore
from background.store.records import StoredConversation, StoredMessage
from background.store.storage import MemoryStore, Records
from tests.support.aio import run_sync
from tests.support.images import png
from tests.unit.background.kit import Harness


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


SCREEN = png(2560, 1440, b"\x00" * 5000)


def attach(h: Harness, data: bytes, name: str, conversation_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "attach.add", "id": 50, "name": name, "source": "picker",
                               "data": b64(data)}
    if conversation_id:
        message["conversation_id"] = conversation_id
    return h.ask(message)


def exported_screenshot(h: Harness, text: str) -> dict[str, Any]:
    """Send ``text`` with a screenshot attached; that conversation's JSON export, parsed."""
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": text, "attachments": [shot["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    return dict(json.loads(h.ask({"type": "conv.export", "id": 2, "conversation_id": cid})["text"]))


def last_input(h: Harness) -> list[dict[str, Any]]:
    body = json.loads(h.transport.requests[-1].body or b"{}")
    return body["input"]  # type: ignore[no-any-return]


def test_a_screenshot_and_a_file_go_with_the_message_as_input_image_and_input_file() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")
    assert shot["type"] == "attach.added" and shot["id"] == 50
    view = shot["attachment"]
    assert (view["kind"], view["mime"], view["width"], view["height"]) == ("image", "image/png", 1686, 948)
    assert view["thumb"].startswith("data:image/jpeg;base64,")
    notes = attach(h, b"# Notes\nchart is wrong\n", "notes.md")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "what's wrong with this chart?",
               "attachments": [view["id"], notes["id"]]})
    accepted = h.sent(1, "chat.accepted")[0]
    assert [a["id"] for a in accepted["user"]["attachments"]] == [view["id"], notes["id"]]
    [user] = [item for item in last_input(h) if item.get("role") == "user"]
    image, text_file, typed = user["content"]
    assert image["type"] == "input_image" and image["image_url"].startswith("data:image/png;base64,")
    assert base64.b64decode(image["image_url"].split(",", 1)[1]).startswith(b"\x89PNG")
    assert text_file == {"type": "input_file", "filename": "notes.md",
                         "file_data": "data:text/markdown;base64," + b64(b"# Notes\nchart is wrong\n")}
    assert typed == {"type": "input_text", "text": "what's wrong with this chart?"}
    # The stored message keeps refs, never the bytes (those are in IndexedDB).
    stored = h.stored("conv." + accepted["conversation_id"])["messages"][0]
    assert [a["name"] for a in stored["attachments"]] == ["screen.png", "notes.md"]
    assert "base64" not in json.dumps(stored)


def test_a_message_of_attachments_only_and_its_title() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "Quarterly chart.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "", "attachments": [shot["id"]]})
    accepted = h.sent(1, "chat.accepted")[0]
    assert h.stored("conv." + accepted["conversation_id"])["title"] == "Quarterly chart.png"
    [user] = [item for item in last_input(h) if item.get("role") == "user"]
    assert [p["type"] for p in user["content"]] == ["input_image"]


def test_a_worker_restart_between_attaching_and_sending_loses_nothing() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    fresh = h.restart()  # the browser stopped the worker; IndexedDB and storage remain
    fresh.connect(1)
    fresh.send(1, {"type": "chat.send", "id": 1, "text": "and now?", "attachments": [shot["id"]]})
    assert fresh.sent(1, "turn.done")
    [user] = [item for item in last_input(fresh) if item.get("role") == "user"]
    assert user["content"][0]["type"] == "input_image"


def test_conversation_views_carry_thumbnails_and_the_viewer_gets_the_image() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "look", "attachments": [shot["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    state = h.ask({"type": "conv.open", "id": 2, "conversation_id": cid})
    [tile] = state["conversation"]["messages"][0]["attachments"]
    assert tile["id"] == shot["id"] and tile["thumb"] == shot["thumb"]
    hello = h.restart().connect(2)
    assert hello["active"]["messages"][0]["attachments"][0]["thumb"] == shot["thumb"]
    got = h.ask({"type": "attach.get", "id": 3, "attachment_id": shot["id"]})
    assert got["type"] == "attach.data" and got["data_url"].startswith("data:image/png;base64,")
    text = attach(h, b"print(1)\n", "a.py")["attachment"]
    assert h.ask({"type": "attach.get", "id": 4, "attachment_id": text["id"]})["text"] == "print(1)\n"


def test_regenerate_and_edit_keep_the_attachments() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "what is this?", "attachments": [shot["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    h.send(1, {"type": "chat.regenerate", "id": 2, "conversation_id": cid})
    [user] = [item for item in last_input(h) if item.get("role") == "user"]
    assert [p["type"] for p in user["content"]] == ["input_image", "input_text"]
    h.send(1, {"type": "chat.edit", "id": 3, "conversation_id": cid, "text": "what is wrong here?"})
    [user] = [item for item in last_input(h) if item.get("role") == "user"]
    assert user["content"][0]["type"] == "input_image"
    assert user["content"][1] == {"type": "input_text", "text": "what is wrong here?"}
    assert len(h.transport.requests) == 3


def test_remove_takes_a_pending_attachment_back_and_a_refused_file_reads_as_a_sentence() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    removed = h.ask({"type": "attach.remove", "id": 5, "attachment_id": shot["id"]})
    assert removed == {"type": "attach.removed", "id": 5, "attachment_id": shot["id"], "removed": True}
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 6, "text": "hi", "attachments": [shot["id"]]})
    [error] = h.sent(1, "error")
    assert error["code"] == "attachment_missing"
    assert error["message"] == ("An attachment of this message is no longer stored; remove it and attach "
                                "it again.")
    refused = attach(h, b"\x7fELF\x02\x01\x01\x00\x00", "tool")
    assert refused == {"type": "error", "id": 50, "code": "attachment_type",
                       "message": "“tool” is not an image, a PDF or a text file SidePy can read "
                                  "(text must be UTF-8)."}


def test_deleting_a_conversation_drops_its_attachments() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "look", "attachments": [shot["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    assert shot["id"] in h.attachments.blobs
    h.ask({"type": "conv.delete", "id": 2, "conversation_id": cid})
    assert h.attachments.blobs == {} and h.attachments.meta == {}


def test_an_attachment_for_an_unknown_conversation_waits_with_a_new_chat_s() -> None:
    h = Harness()
    made_up = [attach(h, b"x", "x.txt", f"x{n}")["attachment"]["id"] for n in range(3)]
    assert {h.attachments.meta[a][0] for a in made_up} == {"draft"}  # bounded together (the library)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "first"})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    kept = attach(h, b"y", "y.txt", cid)["attachment"]["id"]  # an existing conversation keeps its own
    assert h.attachments.meta[kept][0] == cid


def test_the_draft_id_is_reserved() -> None:
    h = Harness()
    waiting = attach(h, b"x", "x.txt")["attachment"]["id"]
    for message in ({"type": "chat.send", "id": 1, "conversation_id": "draft", "text": "hi"},
                    {"type": "conv.delete", "id": 2, "conversation_id": "draft"}):
        refused = h.ask(message)
        assert refused["code"] == "bad_request" and "'draft' is reserved" in refused["message"], refused
    assert waiting in h.attachments.blobs  # a new chat's attachments are still there


def test_a_refused_send_gives_its_attachments_back_for_the_next_try() -> None:
    h = Harness(store=MemoryStore(quota=300))
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    refused = h.ask({"type": "chat.send", "id": 1, "text": "x" * 400, "attachments": [shot["id"]]})
    assert refused["code"] == "storage_full"
    assert h.attachments.meta[shot["id"]][0] == "draft"  # waiting again, with a new chat's
    h.store.quota = None  # the user deleted something
    accepted = h.ask({"type": "chat.send", "id": 2, "text": "look", "attachments": [shot["id"]]})
    assert accepted["type"] == "chat.accepted", accepted
    [user] = [item for item in last_input(h) if item.get("role") == "user"]
    assert user["content"][0]["type"] == "input_image"


def test_a_cancelled_queued_message_takes_its_attachments_with_it() -> None:
    spawned: list[Any] = []
    h = Harness(spawn=spawned.append)  # the first reply stays in flight: the second message waits
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    note = attach(h, b"a note\n", "note.txt", cid)["attachment"]
    queued = h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two",
                    "attachments": [note["id"]]})
    assert queued["queued"] is True
    h.ask({"type": "chat.cancel_queued", "id": 3, "queue_id": queued["queue_id"]})
    assert note["id"] not in h.attachments.blobs
    for coro in spawned:
        coro.close()


class Shots:
    """The browser's capture, scripted: a PNG of the tab, or Chrome's refusal."""

    def __init__(self, error: str | None = None) -> None:
        self.error = error
        self.calls = 0

    async def capture(self) -> Capture:
        self.calls += 1
        if self.error is not None:
            from background.attachments.capture import explain_capture_failure

            raise explain_capture_failure(self.error, "https://example.com/")
        return Capture(SCREEN, "Sales dashboard", "https://example.com/")


def clicked_screenshot(h: Harness) -> dict[str, Any]:
    """The camera button's request as the relay forwards it during the user's click."""
    h.connect(1)
    h.app.on_port_message(1, "ui.screenshot " + json.dumps({"type": "attach.screenshot", "id": 9}))
    [answer] = [m for p, m in h.host.sent if p == 1 and m.get("id") == 9]
    return answer


def test_the_screenshot_button_captures_the_tab() -> None:
    h = Harness(capture=Shots())
    added = clicked_screenshot(h)
    view = added["attachment"]
    assert (view["name"], view["kind"], view["width"]) == ("Sales dashboard.png", "image", 1686)
    denied = Harness(capture=Shots("Either the '<all_urls>' or 'activeTab' permission is required."))
    refused = clicked_screenshot(denied)
    assert refused == {"type": "error", "id": 9, "code": "screenshot_denied", "message": SCREENSHOT_DENIED}


INVALID_IMAGE = b'{"error": {"message": "Invalid image.", "type": "invalid_request_error"}}'


def test_a_server_that_cannot_read_images_gets_a_sentence_and_models_that_can() -> None:
    h = Harness()
    h.ask({"type": "settings.set", "id": 1, "patch": {"models": ["gpt-3.5-turbo", "gpt-4.1", "gpt-5"]}})
    h.replies.append(lambda r: (400, {}, INVALID_IMAGE))
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "what is it?", "attachments": [shot["id"]],
               "model": "gpt-3.5-turbo"})
    [error] = h.sent(1, "turn.error")
    assert error["error"]["kind"] == "model_cannot_see"
    assert error["error"]["message"] == (
        "gpt-3.5-turbo cannot read images, so the server refused this message. Models of this provider "
        "that can: gpt-4.1, gpt-5. Pick one and send again, or remove the images."
    )
    assert error["error"]["fields"]["models"] == ["gpt-4.1", "gpt-5"]
    # In a conversation without attachments the same 400 stays the server's own error.
    h.replies.append(lambda r: (400, {}, INVALID_IMAGE))
    h.send(1, {"type": "chat.send", "id": 3, "text": "plain"})  # no conversation_id: a new conversation
    assert h.sent(1, "turn.error")[-1]["error"]["kind"] == "invalid_request"


def test_a_refusal_is_blamed_on_images_only_when_the_request_carried_some() -> None:
    h = Harness()
    h.ask({"type": "settings.set", "id": 1, "patch": {"models": ["gpt-3.5-turbo", "gpt-4.1"]}})
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 2, "text": "look", "attachments": [shot["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    del h.attachments.blobs[shot["id"]]  # no longer stored: the request carries a note instead
    h.replies.append(lambda r: (400, {}, INVALID_IMAGE))
    h.send(1, {"type": "chat.send", "id": 3, "conversation_id": cid, "text": "and now?"})
    assert h.sent(1, "turn.error")[-1]["error"]["kind"] == "invalid_request"


def test_carried_kinds_are_what_goes_as_images_or_files() -> None:
    from background.attachments.items import carried_kinds
    from background.attachments.model import AttachmentRef

    kinds = (("a1", "image", "image/png", "s.png"), ("a2", "pdf", "application/pdf", "r.pdf"),
             ("a3", "text", "text/plain", "n.txt"), ("a4", "image", "image/png", "gone.png"))
    refs = [AttachmentRef(id=i, kind=k, mime=m, name=n, bytes=1) for i, k, m, n in kinds]  # type: ignore[arg-type]
    data = {"a1": b"1", "a2": b"2", "a3": b"3"}
    assert carried_kinds(refs, data, "responses") == {"image", "pdf", "text"}
    assert carried_kinds(refs, data, "chat") == {"image"}  # the PDF is a note, the text file inline text
    assert carried_kinds(refs[1:], data, "chat") == set()
    assert carried_kinds(refs[3:], data, "responses") == set()  # not stored: a note


def test_export_and_import_round_trip_with_attachments() -> None:
    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    note = attach(h, b"line one\n", "note.txt")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "both", "attachments": [shot["id"], note["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    exported = h.ask({"type": "conv.export", "id": 2, "conversation_id": cid, "format": "json"})
    document = json.loads(exported["text"])
    assert [a["name"] for a in document["attachments"]] == ["screen.png", "note.txt"]
    assert base64.b64decode(document["attachments"][1]["data"]) == b"line one\n"
    markdown = h.ask({"type": "conv.export", "id": 3, "conversation_id": cid, "format": "markdown"})["text"]
    assert "> Attached: screen.png, note.txt" in markdown

    other = Harness()  # another browser
    result = other.ask({"type": "conv.import", "id": 4, "text": exported["text"]})
    assert result["imported"] == 1 and result["skipped"] == []
    [summary] = result["conversations"]
    imported = other.stored("conv." + summary["id"])["messages"][0]["attachments"]
    assert [a["name"] for a in imported] == ["screen.png", "note.txt"]
    assert other.attachments.blobs[imported[1]["id"]] == b"line one\n"
    assert other.attachments.blobs[imported[0]["id"]] == h.attachments.blobs[shot["id"]]
    # Sending in the imported conversation carries them again.
    other.connect(1)
    other.send(1, {"type": "chat.send", "id": 5, "conversation_id": summary["id"], "text": "again"})
    first_user = next(item for item in last_input(other) if item.get("role") == "user")
    assert [p["type"] for p in first_user["content"]] == ["input_image", "input_file", "input_text"]


def test_an_export_that_could_not_be_imported_again_is_refused_in_a_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from background.conversations import handlers

    h = Harness()
    shot = attach(h, SCREEN, "screen.png")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "look", "attachments": [shot["id"]]})
    cid = h.sent(1, "chat.accepted")[0]["conversation_id"]
    exported = h.ask({"type": "conv.export", "id": 2, "conversation_id": cid, "format": "json"})
    assert exported["type"] == "conv.export"
    # An import takes this much; the file with the screenshot is more.
    monkeypatch.setattr(handlers, "MAX_IMPORT_CHARS", len(exported["text"]) - 1)
    refused = h.ask({"type": "conv.export", "id": 3, "conversation_id": cid, "format": "json"})
    assert refused["type"] == "error" and refused["code"] == "export_too_large"
    assert refused["message"].startswith("This export would be ")
    assert "more than SidePy can import again" in refused["message"] and "Markdown" in refused["message"]
    assert h.ask({"type": "conv.export", "id": 4, "conversation_id": cid, "format": "markdown"})["text"]
    # Several at once: before the file is built, from the attachments' size alone.
    monkeypatch.setattr(handlers, "MAX_IMPORT_CHARS", 1000)
    every = h.ask({"type": "conv.export", "id": 5, "format": "json"})
    assert every["code"] == "export_too_large"
    # The limit is what conv.import takes.
    from background.protocol import MAX_IMPORT_CHARS, ConvImport

    assert ConvImport.model_fields["text"].metadata[0].max_length == MAX_IMPORT_CHARS


def test_an_import_without_the_bytes_or_with_refused_ones_reports_them() -> None:
    h = Harness()
    document = exported_screenshot(h, "x")
    document["attachments"][0]["data"] = b64(b"\x00\x01binary")
    result = Harness().ask({"type": "conv.import", "id": 3, "text": json.dumps(document)})
    assert result["imported"] == 1
    assert result["skipped"] == [
        "x: “screen.png”: “screen.png” is not a PNG, JPEG, WebP or GIF image; save it as PNG or JPEG first."
    ]
    del document["attachments"]
    result = Harness().ask({"type": "conv.import", "id": 4, "text": json.dumps(document)})
    assert result["skipped"] == ["x: “screen.png” is not in the file"]


def test_an_imported_message_of_attachments_only_that_lost_them_still_has_content() -> None:
    h = Harness()
    document = exported_screenshot(h, "")
    document["attachments"][0]["data"] = b64(b"\x00\x01binary")  # refused on the way in
    other = Harness()
    result = other.ask({"type": "conv.import", "id": 3, "text": json.dumps(document)})
    assert result["imported"] == 1 and len(result["skipped"]) == 1
    user = other.stored("conv." + result["conversations"][0]["id"])["messages"][0]
    assert user["attachments"] == []
    assert user["items"][0]["content"] == [{"type": "input_text", "text": ""}]  # never an empty content


# ---------------------------------------------------------------------------
# The storage bound counts attachments
# ---------------------------------------------------------------------------


def conversation_with(cid: str, updated: int, attachment_bytes: int) -> StoredConversation:
    ref = {"id": "a" + cid, "kind": "image", "mime": "image/png", "name": "s.png", "bytes": attachment_bytes}
    user = StoredMessage(id="m" + cid, role="user", created_at=updated, text="hi", attachments=[ref])
    return StoredConversation(id=cid, created_at=updated, updated_at=updated, model="gpt-5", messages=[user])


def test_the_storage_bound_counts_attachments_and_drops_them_with_their_conversation() -> None:
    dropped: list[list[str]] = []

    async def on_delete(ids: list[str]) -> None:
        dropped.append(ids)

    store = ConversationStore(Records(MemoryStore()), clock_ms=lambda: 0, max_attachment_bytes=10_000_000,
                              on_delete=on_delete)
    for n in range(4):
        run_sync(store.save(conversation_with(f"c{n}", updated=n, attachment_bytes=3_000_000)))
    # 12 MB of attachments over a 10 MB bound: the least recently updated goes, with its files.
    assert store.evicted == ["c0"] and dropped == [["c0"]]
    info = run_sync(store.storage_info())
    assert info["attachment_bytes"] == 9_000_000 and info["attachment_quota_bytes"] == 10_000_000
    assert "MB of attachments" in info["policy"]
    run_sync(store.delete("c3"))
    assert dropped[-1] == ["c3"]


def test_a_failing_attachment_store_never_fails_the_delete() -> None:
    async def broken(ids: list[str]) -> None:
        raise AttachmentRefused("attachment_missing", "IndexedDB is gone")

    store = ConversationStore(Records(MemoryStore()), clock_ms=lambda: 0, on_delete=broken)
    run_sync(store.save(conversation_with("c1", updated=1, attachment_bytes=10)))
    run_sync(store.delete("c1"))
    assert run_sync(store.get("c1")) is None


def test_a_pdf_for_a_chat_completions_provider_is_refused_before_anything_is_stored() -> None:
    h = Harness()
    h.ask({"type": "settings.set", "id": 9, "patch": {"preset": "custom", "base_url": "http://127.0.0.1:9/v1",
                                                      "wire_api": "chat"}})  # fmt: skip
    pdf = attach(h, b"%PDF-1.7\n1 0 obj\n", "paper.pdf")["attachment"]
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "summarize", "attachments": [pdf["id"]]})
    [error] = h.sent(1, "error")
    assert error["code"] == "attachment_wire"
    assert error["message"].startswith(
        "“paper.pdf” cannot be sent: this provider speaks the Chat Completions API"
    )
    assert h.transport.requests == [] and not h.sent(1, "chat.accepted")
    record = json.loads(h.attachments.meta[pdf["id"]][1])
    assert record["sent"] is False  # still the composer's: it can be removed, or sent elsewhere


class Granted:
    """The browser's answer to chrome.permissions.contains, scripted."""

    def __init__(self, patterns: set[str]) -> None:
        self.patterns = patterns

    async def granted(self, pattern: str) -> bool | None:
        return pattern in self.patterns

    async def reachable(self, url: str) -> bool | None:
        return True


def test_the_settings_view_says_whether_screenshots_work_on_any_tab() -> None:
    without_browser = Harness().ask({"type": "settings.get", "id": 1})["settings"]
    assert "screenshots" not in without_browser
    view = Harness(access=Granted(set())).ask({"type": "settings.get", "id": 1})["settings"]
    assert view["screenshots"] == {"any_tab": False}
    view = Harness(access=Granted({"<all_urls>"})).ask({"type": "settings.get", "id": 1})["settings"]
    assert view["screenshots"] == {"any_tab": True}
