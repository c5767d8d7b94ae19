"""The composer's attachments: chips, the viewer, sending, refusals, a worker restart.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

from panel import attachments, errors
from panel.attachments import BUSY, MAX_FILE_BYTES, MAX_PER_MESSAGE

try:
    from tests.unit.panel.support import CID, accept, connect, message, only, with_conversation
except ImportError:  # MicroPython: this folder is on sys.path
    from support import CID, accept, connect, message, only, with_conversation

THUMB = "data:image/jpeg;base64,/9j/AA=="


def view(aid="a1", name="screen.png", kind="image", **extra):
    v = {"id": aid, "kind": kind, "mime": "image/png", "name": name, "bytes": 2048, "width": 1686,
         "height": 948, "thumb": THUMB}
    v.update(extra)
    return v


def screenshot(state):
    """The camera button, then the worker's attach.added; returns the request posted."""
    local = state.attachments.screenshot(state.conv.id)
    req = only(state.take_outbox(), "attach.screenshot")
    assert state.attachments.chips[0]["local"] == local and state.attachments.busy
    return req


def test_the_camera_button_makes_a_busy_chip_until_the_worker_has_the_screenshot():
    state = with_conversation()
    req = screenshot(state)
    assert req["conversation_id"] == CID
    state.receive({"type": "attach.added", "id": req["id"], "attachment": view()}, 0)
    [chip] = state.attachments.chips
    assert not chip["busy"] and chip["id"] == "a1" and chip["thumb"] == THUMB
    assert attachments.label(chip) == "screen.png, 2 KB"
    assert attachments.label_parts(chip) == ("screen.png", "2 KB")  # the size is never cut short
    assert attachments.label_parts({"name": "x.png", "busy": True}) == ("x.png", "adding…")
    assert attachments.label({"name": "x.png", "busy": True}) == "x.png (adding…)"
    assert state.attachments.send_ids() == ["a1"]


def test_a_file_from_the_panel_is_posted_without_its_bytes_and_too_large_is_said_at_once():
    state = with_conversation()
    local = state.attachments.add("notes.md", 120, "text/markdown", "drop", CID)
    req = only(state.take_outbox(), "attach.add")
    assert req == {"type": "attach.add", "id": req["id"], "name": "notes.md", "source": "drop",
                   "conversation_id": CID}
    assert state.conn.requests[req["id"]]["data"] == {"local": local}  # how the DOM layer finds the file
    assert state.attachments.chips[0]["kind"] == "file"
    assert state.attachments.add("film.mov", MAX_FILE_BYTES + 1, "video/quicktime", "picker", CID) is None
    banner = state.banners.get("attachments")
    assert banner["text"] == "“film.mov” is 20 MB; SidePy takes files up to 20 MB."
    assert state.take_outbox() == []


def test_at_most_ten_per_message():
    state = with_conversation()
    for n in range(MAX_PER_MESSAGE):
        assert state.attachments.add(str(n) + ".txt", 1, "text/plain", "picker", CID) is not None
    assert state.attachments.add("more.txt", 1, "text/plain", "picker", CID) is None
    assert state.banners.get("attachments")["text"] == "A message can carry up to 10 attachments."


def test_a_refusal_takes_the_chip_away_and_says_why_in_a_sentence():
    state = with_conversation()
    req = screenshot(state)
    sentence = ("To take a screenshot of this tab, open SidePy from it: click the SidePy button in the "
                "toolbar (or press Ctrl+Shift+Y) while the page is in front, then click the camera again.")
    state.receive({"type": "error", "id": req["id"], "code": "screenshot_denied", "message": sentence}, 0)
    assert state.attachments.chips == []
    assert state.banners.get("attachments")["text"] == sentence
    assert not state.banners.has("request")


def test_send_carries_the_ids_and_the_message_shows_the_thumbnails():
    state = with_conversation()
    req = screenshot(state)
    state.receive({"type": "attach.added", "id": req["id"], "attachment": view()}, 0)
    assert state.composer.send("What's wrong with this chart?")
    send = only(state.take_outbox(), "chat.send")
    assert send["attachments"] == ["a1"] and send["text"] == "What's wrong with this chart?"
    assert state.attachments.chips == []  # they went with the message
    local = state.conv.messages[-1]
    assert [a["id"] for a in local.attachments] == ["a1"] and local.attachments[0]["thumb"] == THUMB
    # chat.accepted's view carries no thumbnail: the one the panel has stays.
    user = message("u1", "user", send["text"], client_id=send["client_id"],
                   attachments=[view(thumb=None)])
    state.receive({"type": "chat.accepted", "id": send["id"], "conversation_id": CID, "turn_id": "t1",
                   "user": user}, 0)
    assert state.conv.messages[-1].attachments[0]["thumb"] == THUMB
    tiles = attachments.tiles(state.conv.messages[-1].attachments)
    assert tiles == [{"id": "a1", "kind": "image", "name": "screen.png", "thumb": THUMB,
                      "label": "screen.png, 2 KB"}]


def test_attachments_alone_can_be_sent_but_not_while_one_is_still_being_added():
    state = with_conversation()
    req = screenshot(state)
    assert not state.composer.send("")
    assert not state.composer.send("look")
    assert state.banners.get("composer")["text"] == BUSY
    state.receive({"type": "attach.added", "id": req["id"], "attachment": view()}, 0)
    assert state.composer.send("")
    send = only(state.take_outbox(), "chat.send")
    assert send["text"] == "" and send["attachments"] == ["a1"]


def test_a_refused_message_gives_its_attachments_back():
    state = with_conversation()
    req = screenshot(state)
    state.receive({"type": "attach.added", "id": req["id"], "attachment": view()}, 0)
    state.composer.send("hi")
    send = only(state.take_outbox(), "chat.send")
    state.receive({"type": "error", "id": send["id"], "code": "attachment_wire",
                   "message": "“paper.pdf” cannot be sent: …"}, 0)
    assert [c["id"] for c in state.attachments.chips] == ["a1"]


def test_remove_and_the_viewer():
    state = with_conversation()
    req = screenshot(state)
    state.receive({"type": "attach.added", "id": req["id"], "attachment": view()}, 0)
    local = state.attachments.chips[0]["local"]
    state.attachments.open("a1", "screen.png")
    get = only(state.take_outbox(), "attach.get")
    assert state.attachments.viewer["loaded"] is False
    state.receive({"type": "attach.data", "id": get["id"], "attachment": view(),
                   "data_url": "data:image/png;base64,AA"}, 0)
    assert state.attachments.viewer["url"] == "data:image/png;base64,AA"
    assert attachments.viewer_note(state.attachments.viewer) == ""
    state.attachments.remove(local)
    remove = only(state.take_outbox(), "attach.remove")
    assert remove["attachment_id"] == "a1" and state.attachments.viewer is None
    state.attachments.open("p1", "paper.pdf", "pdf")
    get = only(state.take_outbox(), "attach.get")
    state.receive({"type": "attach.data", "id": get["id"], "attachment": view("p1", "paper.pdf", "pdf",
                                                                                 bytes=3 * 1024 * 1024)}, 0)
    assert attachments.viewer_note(state.attachments.viewer) == (
        "A PDF of 3 MB: it goes to the model as it is; the panel shows no preview of it.")
    state.attachments.close()
    assert state.attachments.viewer is None


def test_a_chip_removed_while_it_was_being_added_is_removed_in_the_worker_too():
    state = with_conversation()
    req = screenshot(state)
    state.attachments.remove(state.attachments.chips[0]["local"])
    assert state.take_outbox() == []  # nothing to remove yet
    state.receive({"type": "attach.added", "id": req["id"], "attachment": view("a9")}, 0)
    assert only(state.take_outbox(), "attach.remove")["attachment_id"] == "a9"


def test_a_worker_restart_before_the_reply_posts_the_request_again():
    state = with_conversation()
    state.attachments.add("notes.md", 10, "text/markdown", "paste", CID)
    req = only(state.take_outbox(), "attach.add")
    state.receive({"type": "port.disconnected"}, 0)
    out = connect(state, 1)
    again = only(out, "attach.add")
    assert again["id"] == req["id"] and state.attachments.busy


def test_a_model_that_cannot_see_offers_models_that_can():
    error = {"kind": "model_cannot_see", "message": "…", "retryable": False,
             "fields": {"model": "gpt-3.5-turbo", "models": ["gpt-4.1", "gpt-5"], "what": "images",
                        "detail": "Invalid image."}}
    n = errors.explain(error, "gpt-3.5-turbo")
    assert n["text"] == ("“gpt-3.5-turbo” cannot read images. Models of this provider that can: gpt-4.1, "
                         "gpt-5. Choose one and try again, or remove the images.")
    assert n["action"] == errors.MODEL and "{" not in n["text"]
    bare = errors.explain({"kind": "model_cannot_see", "fields": {"what": "files"}}, "local")
    assert bare["text"] == ("“local” cannot read files. Choose a model that reads files and try again, or "
                            "remove the files.")


def test_badges_for_files():
    assert attachments.badge({"kind": "pdf", "name": "x"}) == "PDF"
    assert attachments.badge({"kind": "text", "name": "notes.md"}) == "MD"
    assert attachments.badge({"kind": "text", "name": "Makefile"}) == "FILE"


def test_accept_helper_keeps_working_without_attachments():
    state = with_conversation()
    state.composer.send("plain")
    send = only(state.take_outbox(), "chat.send")
    assert "attachments" not in send
    accept(state, send)
    assert state.conv.messages[-1].attachments == []
