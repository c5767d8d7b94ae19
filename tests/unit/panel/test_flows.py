"""Message flows of docs/protocol.md, from the panel's side.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

try:
    from tests.unit.panel.support import (
        CID,
        accept,
        connect,
        conversation,
        deltas,
        message,
        only,
        push,
        ready,
        settings,
        start_turn,
        summary,
        texts,
        with_conversation,
    )
except ImportError:  # MicroPython: this folder is on sys.path
    from support import (
        CID,
        accept,
        connect,
        conversation,
        deltas,
        message,
        only,
        push,
        ready,
        settings,
        start_turn,
        summary,
        texts,
        with_conversation,
    )

from panel.state import PanelState


def test_the_panel_says_hello_on_connect_with_the_conversation_it_shows() -> None:
    state = PanelState(now=0, session="t")
    state.receive({"type": "port.connected"}, 0)
    assert state.take_outbox() == [{"type": "hello", "v": 1, "id": 1}]
    state = with_conversation()
    state.receive({"type": "port.disconnected"}, 10)
    state.receive({"type": "port.connected"}, 20)
    hello = only(state.take_outbox(), "hello")
    assert hello["conversation_id"] == CID


def test_hello_fills_settings_list_and_the_active_conversation() -> None:
    state = ready(
        conversations=[summary("c1", "Older", 1), summary("c2", "Newer", 5)],
        active=conversation("c2", [message("u", "user", "q"), message("a", "assistant", "**a**")]),
        storage={"used_bytes": 2048, "quota_bytes": 10485760, "conversations": 2, "max_conversations": 200,
                 "policy": "oldest removed first"},
    )
    assert state.status_text(0) == "Ready"
    assert [c["id"] for c in state.convs.visible()] == ["c2", "c1"]
    assert state.conv.id == "c2" and texts(state) == [("user", "q"), ("assistant", "**a**")]
    assert state.turn.header() == {"models": ["gpt-5", "gpt-5-mini"], "model": "gpt-5",
                                   "efforts": ["minimal", "low", "medium", "high"], "effort": "medium",
                                   "reasons": True}
    # Counted from the list itself, not the storage record (which can lag behind it).
    assert state.convs.storage_text() == "2 of 200 conversations · 2 KB of 10 MB"
    assert state.convs.storage_policy == "oldest removed first"


def test_a_different_protocol_version_is_refused() -> None:
    state = PanelState(now=0)
    state.receive({"type": "hello", "v": 2}, 5)
    assert state.status_text(5) == "SidePy was updated: close and reopen the panel."
    assert not state.ready and not state.composer.can_send()


def test_send_accept_stream_done() -> None:
    state = with_conversation()
    assert state.composer.send("Hello")
    req = only(state.take_outbox(), "chat.send")
    assert req == {"type": "chat.send", "text": "Hello", "client_id": "t-1", "conversation_id": CID,
                   "id": req["id"]}
    assert state.conv.messages[0].pending == "sending"
    assert state.conv.busy and not state.composer.can_send()
    accept(state, req)
    assert state.conv.messages[0].pending is None and state.conv.messages[0].id == "u1"
    push(state, "turn.started", assistant=message("a1", "assistant", "", streaming=True))
    deltas(state, ["Hel", "lo **wor", "ld**"])
    assistant = state.conv.messages[-1]
    assert assistant.streaming and assistant.text == "Hello **world**"
    usage = {"input_tokens": 1200, "cached_input_tokens": 0, "output_tokens": 340,
             "reasoning_output_tokens": 0, "total_tokens": 1540}
    push(state, "turn.done", assistant=message("a1", "assistant", "Hello **world**"), usage=usage,
         session_usage=usage, context_left_percent=97.4)
    assert not assistant.streaming and state.composer.can_send()
    assert assistant.usage == usage
    want = "Last turn: 1.2k in · 340 out · Session: 1.5k tokens · 97% context left"
    assert state.usage.text(state.conv) == want


def test_a_new_chat_is_created_by_its_first_message() -> None:
    state = ready()
    assert state.conv.id is None
    state.turn.set_model("gpt-5-mini")
    assert state.take_outbox() == []  # nothing to tell the worker yet
    assert state.composer.send("first")
    req = only(state.take_outbox(), "chat.send")
    assert "conversation_id" not in req and req["model"] == "gpt-5-mini"
    accept(state, req, conversation_id="new1")
    assert state.conv.id == "new1"
    push(state, "turn.started", conversation_id="new1", assistant=message("a1", "assistant", ""))
    push(state, "turn.delta", conversation_id="new1", seq=1, text="ok")
    assert texts(state) == [("user", "first"), ("assistant", "ok")]


def test_pushes_of_another_conversation_are_ignored() -> None:
    state = with_conversation()
    push(state, "turn.started", conversation_id="other", assistant=message("x", "assistant", ""))
    push(state, "turn.delta", conversation_id="other", seq=1, text="nope")
    assert texts(state) == [] and state.take_outbox() == []


def test_stop_keeps_the_partial_reply() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["partial ", "answer"])
    state.stop()
    stop = only(state.take_outbox(), "chat.stop")
    assert stop["conversation_id"] == CID and state.conv.stopping
    state.stop()
    assert state.take_outbox() == []  # once is enough
    state.receive({"type": "chat.stopped", "id": stop["id"], "conversation_id": CID, "turn_id": "t1"}, 0)
    push(state, "turn.stopped", assistant=message("a1", "assistant", "partial answer", stopped=True))
    last = state.conv.messages[-1]
    assert last.stopped and last.text == "partial answer" and not last.streaming
    assert state.composer.can_send() and state.can_regenerate()


def test_regenerate_replaces_the_last_reply() -> None:
    state = with_conversation([message("u1", "user", "q"), message("a1", "assistant", "old")])
    assert state.can_regenerate()
    state.regenerate()
    req = only(state.take_outbox(), "chat.regenerate")
    assert req["conversation_id"] == CID
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": CID, "turn_id": "t2",
                   "user": message("u1", "user", "q")}, 0)
    assert texts(state) == [("user", "q")]
    push(state, "turn.started", turn_id="t2", assistant=message("a2", "assistant", ""))
    push(state, "turn.delta", turn_id="t2", seq=1, text="new")
    assert texts(state) == [("user", "q"), ("assistant", "new")]


def test_edit_and_resend_the_last_user_message() -> None:
    state = with_conversation([message("u1", "user", "helo"), message("a1", "assistant", "?")])
    state.composer.start_edit("u1")
    assert state.turn.editing == "u1" and state.composer.take_fill() == "helo"
    assert state.composer.send("hello")
    req = only(state.take_outbox(), "chat.edit")
    assert req["text"] == "hello" and req["conversation_id"] == CID
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": CID, "turn_id": "t2",
                   "user": message("u2", "user", "hello")}, 0)
    assert texts(state) == [("user", "hello")] and state.turn.editing is None


def test_switch_rename_delete_and_search_conversations() -> None:
    state = ready(conversations=[summary("c1", "Rust", 3, "ownership"), summary("c2", "Python", 2, "slots")])
    state.convs.open("c2")
    req = only(state.take_outbox(), "conv.open")
    assert req["conversation_id"] == "c2" and state.conv.loading and state.conv.title == "Python"
    state.receive({"type": "conv.state", "id": req["id"],
                   "conversation": conversation("c2", [message("u", "user", "hi")])}, 0)
    assert not state.conv.loading and texts(state) == [("user", "hi")]

    state.convs.rename("c2", "  Py  ")
    req = only(state.take_outbox(), "conv.rename")
    assert req["title"] == "Py" and state.conv.title == "Py"

    state.convs.search("own")  # shown at once from titles and previews, then from the worker
    req = only(state.take_outbox(), "conv.list")
    assert req["query"] == "own" and [c["id"] for c in state.convs.visible()] == ["c1"]
    state.receive({"type": "conv.list", "id": req["id"], "conversations": [summary("c2", "Py", 2)]}, 0)
    assert [c["id"] for c in state.convs.visible()] == ["c2"]
    state.convs.search("")
    assert len(state.convs.visible()) == 2

    state.convs.delete("c2")
    assert only(state.take_outbox(), "conv.delete")["conversation_id"] == "c2"
    assert state.conv.id is None and [c["id"] for c in state.convs.visible()] == ["c1"]


def test_a_late_reply_for_a_conversation_left_is_ignored() -> None:
    state = ready(conversations=[summary("c1", "A"), summary("c2", "B")])
    state.convs.open("c1")
    first = only(state.take_outbox(), "conv.open")
    state.convs.open("c2")
    state.take_outbox()
    state.receive({"type": "conv.state", "id": first["id"], "conversation": conversation("c1")}, 0)
    assert state.conv.id == "c2" and state.conv.loading


def test_a_pushed_list_sets_the_title_of_the_open_conversation() -> None:
    state = with_conversation()
    state.receive({"type": "conv.list", "conversations": [summary(CID, "Named by the model")]}, 0)
    assert state.conv.title == "Named by the model"


def test_pickers_switch_model_and_effort_per_conversation() -> None:
    state = with_conversation()
    state.turn.set_model("gpt-5-mini")
    req = only(state.take_outbox(), "conv.settings")
    assert req["model"] == "gpt-5-mini" and state.turn.header()["model"] == "gpt-5-mini"
    state.turn.set_effort("high")
    req = only(state.take_outbox(), "conv.settings")
    assert req["reasoning_effort"] == "high"
    state.receive({"type": "conv.state", "id": req["id"],
                   "conversation": conversation(CID, model="gpt-5-mini", reasoning_effort="high")}, 0)
    assert state.turn.header()["effort"] == "high"


def test_export_as_markdown_downloads_what_the_worker_made() -> None:
    state = with_conversation([message("u1", "user", "q")])
    state.composer.export("download")
    req = only(state.take_outbox(), "conv.export")
    assert req["format"] == "markdown" and req["conversation_id"] == CID
    state.receive({"type": "conv.export", "id": req["id"], "filename": "chat.md", "mime": "text/markdown",
                   "text": "# Chat"}, 0)
    download = state.composer.take_download()
    assert download == {"filename": "chat.md", "mime": "text/markdown", "text": "# Chat",
                        "action": "download"}
    assert state.composer.take_download() is None


def test_export_falls_back_to_the_panels_copy_when_the_worker_cannot() -> None:
    state = with_conversation([message("u1", "user", "q"), message("a1", "assistant", "**a**")])
    state.conv.title = "My chat: notes!"
    state.composer.export("copy")
    req = only(state.take_outbox(), "conv.export")
    state.receive({"type": "error", "id": req["id"], "code": "unknown_type", "message": "unknown"}, 0)
    d = state.composer.take_download()
    assert d["action"] == "copy" and d["filename"] == "my-chat-notes.md"
    assert d["text"] == "# My chat: notes!\n\n## You\n\nq\n\n## Assistant\n\n**a**\n"
    assert state.banners.items == []


def test_copy_a_message_while_it_streams() -> None:
    state = with_conversation()
    start_turn(state)
    deltas(state, ["one ", "two"])
    assert state.conv.find("a1").text == "one two"
    assert state.conv.find("nope") is None



def test_web_search_and_reasoning_show_on_the_streaming_message() -> None:
    state = with_conversation()
    start_turn(state)
    push(state, "turn.reasoning", seq=1, text="**Looking** it up")
    push(state, "turn.search", call_id="ws1")
    push(state, "turn.search", call_id="ws1", query="sidepy release")
    push(state, "turn.delta", seq=2, text="Found it.")
    m = state.conv.messages[-1]
    assert m.reasoning.text() == "**Looking** it up" and m.searches == [["ws1", "sidepy release"]]
    assert m.text == "Found it."


def test_a_conversation_loaded_mid_turn_keeps_streaming_from_the_stored_seq() -> None:
    state = ready(conversations=[summary("c2", "B")])
    state.convs.open("c2")
    req = only(state.take_outbox(), "conv.open")
    messages = [message("u", "user", "q"), message("a", "assistant", "so far", streaming=True)]
    view = conversation("c2", messages, streaming={"turn_id": "t9", "seq": 4})
    state.receive({"type": "conv.state", "id": req["id"], "conversation": view}, 0)
    push(state, "turn.delta", conversation_id="c2", turn_id="t9", seq=4, text=" so far")  # already held
    push(state, "turn.delta", conversation_id="c2", turn_id="t9", seq=5, text=", more")
    assert state.conv.messages[-1].text == "so far, more" and state.conv.busy
    assert state.take_outbox() == []


def test_a_stale_streaming_flag_without_a_live_turn_is_cleared() -> None:
    state = with_conversation([message("u", "user", "q"), message("a", "assistant", "cut", streaming=True)])
    assert not state.conv.messages[-1].streaming and not state.conv.busy


def test_connect_returns_queued_requests_in_order() -> None:
    state = PanelState(now=0, session="t")
    state.convs.search("x")
    state.composer.export("download")  # no conversation: nothing to export
    out = connect(state)
    assert [m["type"] for m in out] == ["conv.list", "models.list"]  # then the picker's refresh


def test_pinned_conversations_come_first() -> None:
    state = ready(conversations=[summary("c1", "Old", 1), summary("c2", "New", 9)])
    state.convs.pin("c1", True)
    req = only(state.take_outbox(), "conv.pin")
    assert req == {"type": "conv.pin", "conversation_id": "c1", "pinned": True, "id": req["id"]}
    assert [c["id"] for c in state.convs.visible()] == ["c1", "c2"]
    state.convs.pin("c1", False)
    assert [c["id"] for c in state.convs.visible()] == ["c2", "c1"]


def test_a_stale_search_reply_is_ignored() -> None:
    state = ready(conversations=[summary("c1", "Alpha"), summary("c2", "Beta")])
    state.convs.search("al")
    first = only(state.take_outbox(), "conv.list")
    state.convs.search("be")
    second = only(state.take_outbox(), "conv.list")
    state.receive({"type": "conv.list", "id": first["id"], "conversations": [summary("c1", "Alpha")]}, 0)
    assert [c["id"] for c in state.convs.visible()] == ["c2"]  # still the local filter for "be"
    state.receive({"type": "conv.list", "id": second["id"], "conversations": [summary("c2", "Beta")]}, 0)
    assert [c["id"] for c in state.convs.visible()] == ["c2"]


def test_reloading_a_conversation_keeps_message_objects_for_the_renderer() -> None:
    state = with_conversation([message("u1", "user", "q"), message("a1", "assistant", "first")])
    before = list(state.conv.messages)
    view = conversation(CID, [message("u1", "user", "q"), message("a1", "assistant", "first")])
    state.receive({"type": "conv.state", "conversation": view}, 0)
    assert state.conv.messages[0] is before[0] and state.conv.messages[1] is before[1]
    assert state.conv.messages[1].body is before[1].body  # same text: nothing to re-render


def test_new_chat_and_deleting_the_open_conversation() -> None:
    state = ready()
    rev = state.rev.rev["messages"]
    state.convs.new_chat()
    assert state.rev.rev["messages"] == rev  # already a new chat
    state = with_conversation([message("u1", "user", "q")])
    state.convs.delete(CID)
    assert state.conv.id is None and state.conv.messages == []


def test_storage_problems_are_shown() -> None:
    damaged = {"kind": "storage_corrupt"}
    storage = {"used_bytes": 10, "quota_bytes": 8388608, "conversations": 1, "max_conversations": 200,
               "policy": "oldest first", "problems": [damaged, damaged]}
    state = ready(storage=storage)
    want = "0 of 200 conversations · 10 B of 8 MB · 2 damaged records skipped"
    assert state.convs.storage_text() == want


def test_cancelling_an_edit_sends_a_normal_message() -> None:
    state = with_conversation([message("u1", "user", "q"), message("a1", "assistant", "a")])
    state.composer.start_edit("u1")
    state.composer.cancel_edit()
    state.composer.send("new question")
    assert only(state.take_outbox(), "chat.send")["text"] == "new question"


def test_a_model_fixed_in_the_settings_is_the_one_try_again_asks() -> None:
    state = with_conversation([message("u1", "user", "q")])
    error = {"kind": "unexpected_status", "message": "404", "retryable": False,
             "fields": {"status": 404, "body": '{"error": {"code": "model_not_found"}}'}}
    state.regenerate()
    req = only(state.take_outbox(), "chat.regenerate")
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": CID, "turn_id": "t9",
                   "user": message("u1", "user", "q")}, 0)
    failed = message("a9", "assistant", "", error=error)
    push(state, "turn.error", turn_id="t9", error=error, assistant=failed)
    assert state.banners.get("turn")["action"] == "model"
    state.receive({"type": "settings", "settings": settings(model="gpt-5-mini")}, 0)
    assert state.banners.get("turn") is None and state.turn.header()["model"] == "gpt-5-mini"
    assert only(state.take_outbox(), "conv.settings")["model"] == "gpt-5-mini"


def test_a_reload_shows_the_conversation_that_was_on_screen() -> None:
    from panel.state import PanelState

    state = PanelState(now=0, session="t")
    state.receive({"type": "relay.hello", "hash": "", "shown": "c2"}, 0)
    assert state.conv.id == "c2" and state.conv.loading and not state.needs_setup  # no empty frame
    hello = only(connect_out(state), "hello")
    assert hello["conversation_id"] == "c2"
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "settings": settings(),
                   "conversations": [summary("c1", "Newer", 9), summary("c2", "Older", 1)],
                   "active": conversation("c2", [message("u", "user", "older question")])}, 0)
    assert state.conv.id == "c2" and texts(state) == [("user", "older question")]
    gone = PanelState(now=0, session="t")
    gone.receive({"type": "relay.hello", "hash": "", "shown": "c-deleted"}, 0)
    hello = only(connect_out(gone), "hello")
    gone.receive({"type": "hello", "id": hello["id"], "v": 1, "settings": settings(), "conversations": []}, 0)
    assert gone.conv.id is None and not gone.conv.loading  # deleted meanwhile: a new chat


def test_a_reload_keeps_the_new_chat_the_user_opened() -> None:
    from panel.state import PanelState

    state = PanelState(now=0, session="t")
    hello = only(connect_out(state), "hello")
    latest = conversation("c1", [message("u", "user", "the latest question")])
    state.receive({"type": "hello", "id": hello["id"], "v": 1, "settings": settings(),
                   "conversations": [summary("c1", "Latest", 1)], "active": latest}, 0)
    assert state.conv.shown() == "c1"
    state.convs.new_chat()
    assert state.conv.id is None and state.conv.shown() == "new"  # what the relay keeps (ui.shown)
    again = PanelState(now=0, session="t")  # the panel reloaded
    again.receive({"type": "relay.hello", "hash": "", "shown": "new"}, 0)
    hello = only(connect_out(again), "hello")
    assert "conversation_id" not in hello
    again.receive({"type": "hello", "id": hello["id"], "v": 1, "settings": settings(),
                   "conversations": [summary("c1", "Latest", 1)], "active": latest}, 0)
    assert again.conv.id is None and texts(again) == [] and not again.conv.loading  # still the new chat
    assert [c["id"] for c in again.convs.conversations] == ["c1"]  # the latest is in the list
    fresh = PanelState(now=0, session="t")  # no new chat was opened: the latest is shown
    hello = only(connect_out(fresh), "hello")
    fresh.receive({"type": "hello", "id": hello["id"], "v": 1, "settings": settings(),
                   "conversations": [summary("c1", "Latest", 1)], "active": latest}, 0)
    assert fresh.conv.id == "c1" and fresh.conv.shown() == "c1"


def connect_out(state):
    state.receive({"type": "port.connected"}, 0)
    return state.take_outbox()


def test_a_reply_failed_on_a_limit_counts_down_the_servers_wait() -> None:
    state = with_conversation([message("u1", "user", "q")])
    state.regenerate()
    req = only(state.take_outbox(), "chat.regenerate")
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": CID, "turn_id": "t5",
                   "user": message("u1", "user", "q")}, 0)
    error = {"kind": "retry_limit", "message": "exceeded retry limit", "retryable": True,
             "fields": {"status": 429}}
    failed = message("a5", "assistant", "", error=error)
    push(state, "turn.error", turn_id="t5", error=error, assistant=failed)
    hold = {"until": 40000, "reason": "rate limit", "source": "rate_limited"}
    state.receive({"type": "queue.state", "items": [], "hold": hold}, 0, wall=10000)
    [view] = state.banners.views(10000)
    assert view["action"] == "retry" and view["text"].endswith("(30 s left)")
