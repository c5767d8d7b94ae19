"""Chat turns end to end through the App: send, stream, persist, stop, regenerate, edit, restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import pytest

from background.store.storage import MemoryStore
from modelclient import HttpRequest, StreamError
from tests.support.aio import run_sync
from tests.unit.background.kit import KEY, KEY_VIEW, Clock, Harness, chunks_then, reply_events, sse


def conversation_of(h: Harness, cid: str) -> dict[str, Any]:
    return h.stored(f"conv.{cid}")  # type: ignore[no-any-return]


def test_send_streams_and_persists_the_reply() -> None:
    h = Harness()
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "Say hello"})
    kinds = [m["type"] for m in h.sent(1) if m["type"] not in ("hello", "conv.list")]
    assert kinds[0] == "chat.accepted"
    assert kinds[1] == "turn.started"
    assert kinds[-1] == "turn.done"
    accepted = h.sent(1, "chat.accepted")[0]
    cid, tid = accepted["conversation_id"], accepted["turn_id"]
    assert accepted["id"] == 1 and accepted["user"]["text"] == "Say hello"
    text = "".join(m["text"] for m in h.sent(1, "turn.delta"))
    assert text == "Hello world"
    done = h.sent(1, "turn.done")[0]
    assert done["conversation_id"] == cid and done["turn_id"] == tid
    assert done["assistant"]["text"] == "Hello world" and done["assistant"]["streaming"] is False
    assert done["usage"]["total_tokens"] == 25 and done["session_usage"]["total_tokens"] == 25
    assert 0 <= done["context_left_percent"] <= 100  # gpt-5-mini: a known window
    stored = conversation_of(h, cid)
    assert stored["title"] == "Say hello"
    user, assistant = stored["messages"]
    assert user["items"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}
    ]
    assert assistant["text"] == "Hello world" and not assistant["streaming"]
    assert assistant["items"][-1]["id"] == "msg_1"  # the raw item, id included
    assert "part." + cid not in h.store.data


def test_user_message_is_persisted_before_accepted_and_the_turn_starts_after() -> None:
    spawned: list[Coroutine[Any, Any, None]] = []
    h = Harness(spawn=spawned.append)
    reply = h.ask({"type": "chat.send", "id": 3, "text": "hi"})
    assert reply["type"] == "chat.accepted"
    stored = conversation_of(h, reply["conversation_id"])
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["messages"][1]["streaming"] is True
    assert h.transport.requests == []  # the turn has not run yet
    turn = [c for c in spawned if c.cr_code.co_name == "run"]
    run_sync(turn[0])
    for coro in spawned:
        coro.close()
    assert conversation_of(h, reply["conversation_id"])["messages"][1]["text"] == "Hello world"


def test_a_new_app_over_the_same_storage_sees_everything() -> None:
    h = Harness()
    first = h.ask({"type": "chat.send", "id": 1, "text": "one"})
    h.ask({"type": "chat.send", "id": 2, "conversation_id": first["conversation_id"], "text": "two"})
    other = h.ask({"type": "chat.send", "id": 3, "text": "elsewhere"})
    again = h.restart()
    hello = again.connect(7)
    assert {c["id"] for c in hello["conversations"]} == {first["conversation_id"], other["conversation_id"]}
    assert hello["active"]["id"] == other["conversation_id"]  # the latest one
    opened = again.ask({"type": "conv.open", "id": 4, "conversation_id": first["conversation_id"]})
    texts = [m["text"] for m in opened["conversation"]["messages"]]
    assert texts == ["one", "Hello world", "two", "Hello world"]
    assert opened["conversation"]["usage"]["total_tokens"] == 50


def test_the_prompt_is_the_whole_history_with_raw_items() -> None:
    h = Harness()
    h.replies.append(lambda r: (200, {}, reply_events("Sure.", reasoning=["Think", "ing"])))
    first = h.ask({"type": "chat.send", "id": 1, "text": "one"})
    h.ask({"type": "chat.send", "id": 2, "conversation_id": first["conversation_id"], "text": "two"})
    body = json.loads(h.transport.requests[-1].body or b"{}")
    kinds = [(i["type"], i.get("role")) for i in body["input"]]
    assert kinds == [("message", "user"), ("reasoning", None), ("message", "assistant"), ("message", "user")]
    assert body["input"][1]["encrypted_content"] == "opaque"
    assert body["model"] == "gpt-5-mini" and body["prompt_cache_key"] == first["conversation_id"]
    assert h.transport.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


def test_reasoning_and_search_are_forwarded() -> None:
    h = Harness()
    events = [
        sse({"type": "response.created", "response": {"id": "r"}}),
        sse({"type": "response.output_item.added", "item": {"type": "web_search_call", "id": "ws_1"}}),
        sse(
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "weather"},
                },
            }
        ),
        sse({"type": "response.reasoning_summary_text.delta", "delta": "Looking"}),
        sse({"type": "response.output_text.delta", "delta": "Sunny"}),
        sse({"type": "response.completed", "response": {"id": "r"}}),
    ]
    h.replies.append(lambda r: (200, {}, events))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "weather?"})
    searches = h.sent(1, "turn.search")
    assert searches[0]["call_id"] == "ws_1" and searches[-1]["query"] == "weather"
    assert [m["text"] for m in h.sent(1, "turn.reasoning")] == ["Looking"]
    done = h.sent(1, "turn.done")[0]
    assert done["assistant"]["searches"] == ["weather"] and done["assistant"]["reasoning"] == "Looking"
    assert "usage" not in done  # the server sent none


def test_seq_counts_every_batch_without_gaps() -> None:
    h = Harness()
    h.replies.append(lambda r: (200, {}, reply_events("a", "b", "c", reasoning=["x", "y"])))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "go"})
    seqs = [m["seq"] for m in h.sent(1) if m["type"] in ("turn.delta", "turn.reasoning")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_stop_mid_stream_keeps_the_partial_reply_marked_stopped() -> None:
    h = Harness()
    holder: dict[str, Any] = {}

    def stop() -> None:
        holder["stopped"] = h.ask({"type": "chat.stop", "id": 9, "conversation_id": holder["cid"]})

    def handler(request: HttpRequest) -> Any:
        body = reply_events("Partial", " answer", " never")
        return 200, {}, chunks_then(body[:3], stop, body[3:])

    first = h.ask({"type": "chat.send", "id": 1, "text": "hello"})  # completes normally
    holder["cid"] = first["conversation_id"]
    h.replies.append(handler)
    aborted_before = h.transport.closed_early
    h.connect(1)
    h.send(1, {"type": "conv.open", "id": 2, "conversation_id": holder["cid"]})
    h.send(1, {"type": "chat.send", "id": 3, "conversation_id": holder["cid"], "text": "and then?"})
    assert holder["stopped"]["type"] == "chat.stopped" and holder["stopped"]["turn_id"]
    stopped = h.sent(1, "turn.stopped")
    assert len(stopped) == 1 and stopped[0]["assistant"]["stopped"] is True
    assert stopped[0]["assistant"]["text"] == "Partial answer"
    assert h.transport.closed_early == aborted_before + 1  # the request was aborted
    last = conversation_of(h, holder["cid"])["messages"][-1]
    assert (last["text"], last["stopped"], last["streaming"]) == ("Partial answer", True, False)
    # The partial text goes back to the model as an assistant message next time.
    assert last["items"] == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Partial answer"}],
        }
    ]


def test_stop_cancels_the_task_at_once() -> None:
    """In the worker, stop cancels the task: the pending read raises CancelledError."""
    cancelled = {"now": False}

    class Task:
        def cancel(self) -> None:
            cancelled["now"] = True

    def spawn(coro: Coroutine[Any, Any, None]) -> Task:
        run_sync(coro)
        return Task()

    h = Harness(spawn=spawn)

    async def with_timeout(awaitable: Any, seconds: float) -> Any:
        if cancelled["now"]:
            awaitable.close()
            raise asyncio.CancelledError
        return await awaitable

    h.worker.scheduler.deps.client_options["with_timeout"] = with_timeout
    turn_box: dict[str, Any] = {}

    def stop() -> None:
        turn = next(iter(h.worker.scheduler.turns.values()))
        turn._task = Task()  # what spawn() returned in the worker
        turn.stop()
        turn_box["turn"] = turn

    body = reply_events("Half", " way", " there")
    h.replies.append(lambda r: (200, {}, chunks_then(body[:2], stop, body[2:])))
    reply = h.ask({"type": "chat.send", "id": 1, "text": "go"})
    last = conversation_of(h, reply["conversation_id"])["messages"][-1]
    assert last["stopped"] and last["text"] == "Half"
    assert h.transport.closed_early == 1


def test_regenerate_drops_the_last_reply_and_sends_again() -> None:
    h = Harness()
    first = h.ask({"type": "chat.send", "id": 1, "text": "question"})
    cid = first["conversation_id"]
    h.replies.append(lambda r: (200, {}, reply_events("Second", " try")))
    again = h.ask({"type": "chat.regenerate", "id": 2, "conversation_id": cid})
    assert again["type"] == "chat.accepted" and again["user"]["text"] == "question"
    messages = conversation_of(h, cid)["messages"]
    assert [(m["role"], m["text"]) for m in messages] == [("user", "question"), ("assistant", "Second try")]
    body = json.loads(h.transport.requests[-1].body or b"{}")
    assert [i["role"] for i in body["input"]] == ["user"]  # the dropped reply is not sent


def test_edit_replaces_the_last_user_message_and_what_follows() -> None:
    h = Harness()
    first = h.ask({"type": "chat.send", "id": 1, "text": "frist"})
    cid = first["conversation_id"]
    edited = h.ask({"type": "chat.edit", "id": 2, "conversation_id": cid, "text": "first"})
    assert edited["type"] == "chat.accepted" and edited["user"]["text"] == "first"
    assert edited["user"]["id"] != first["user"]["id"]
    stored = conversation_of(h, cid)
    assert [(m["role"], m["text"]) for m in stored["messages"]] == [
        ("user", "first"),
        ("assistant", "Hello world"),
    ]
    assert stored["title"] == "first"  # the title follows an edited first message
    body = json.loads(h.transport.requests[-1].body or b"{}")
    assert body["input"][0]["content"][0]["text"] == "first"


def test_edit_keeps_a_title_the_user_chose() -> None:
    h = Harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "a"})["conversation_id"]
    h.ask({"type": "conv.rename", "id": 2, "conversation_id": cid, "title": "Mine"})
    h.ask({"type": "chat.edit", "id": 3, "conversation_id": cid, "text": "b"})
    assert conversation_of(h, cid)["title"] == "Mine"


@pytest.mark.parametrize("kind", ["chat.regenerate", "chat.edit"])
def test_regenerate_and_edit_need_a_user_message(kind: str) -> None:
    h = Harness()
    cid = h.ask({"type": "conv.new", "id": 1})["conversation"]["id"]
    reply = h.ask({"type": kind, "id": 2, "conversation_id": cid, "text": "x"})
    assert reply["type"] == "error" and reply["code"].startswith("nothing_to")


def test_a_second_send_while_streaming_waits_in_the_queue() -> None:
    spawned: list[Coroutine[Any, Any, None]] = []
    h = Harness(spawn=spawned.append)
    cid = h.ask({"type": "chat.send", "id": 1, "text": "one"})["conversation_id"]
    queued = h.ask({"type": "chat.send", "id": 2, "conversation_id": cid, "text": "two"})
    # Not busy any more (that is left for a full queue): see test_queue_app.py.
    assert queued["type"] == "chat.accepted" and queued["queued"] is True and queued["position"] == 1
    for coro in spawned:
        coro.close()


def test_no_api_key_gives_a_turn_error_that_says_where_to_set_it() -> None:
    h = Harness(key=None)
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [error] = h.sent(1, "turn.error")
    assert error["error"]["kind"] == "no_api_key" and "settings" in error["error"]["message"]
    assert h.transport.requests == []
    cid = error["conversation_id"]
    assert conversation_of(h, cid)["messages"][0]["text"] == "hi"  # what was typed is kept


def test_compatible_servers_need_no_key() -> None:
    h = Harness(key=None)
    h.ask(
        {"type": "settings.set", "id": 1, "patch": {"provider": "compatible", "base_url": "localhost:11434"}}
    )
    reply = h.ask({"type": "chat.send", "id": 2, "text": "hi"})
    assert conversation_of(h, reply["conversation_id"])["messages"][1]["text"] == "Hello world"
    request = h.transport.requests[0]
    assert request.url == "http://localhost:11434/v1/responses" and "Authorization" not in request.headers


def test_server_errors_become_turn_errors_and_are_persisted() -> None:
    h = Harness()
    h.replies.append(
        lambda r: (400, {}, b'{"error": {"message": "Unsupported model", "type": "invalid_request"}}')
    )
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [error] = h.sent(1, "turn.error")
    assert error["error"]["kind"] == "invalid_request" and "Unsupported model" in error["error"]["message"]
    assert error["assistant"]["error"]["kind"] == "invalid_request"
    stored = conversation_of(h, error["conversation_id"])["messages"][-1]
    assert stored["error"]["kind"] == "invalid_request" and not stored["streaming"]


def test_reconnecting_drops_the_partial_and_the_retry_completes() -> None:
    h = Harness()
    broken = [
        sse({"type": "response.created", "response": {"id": "r0"}}),
        sse({"type": "response.output_text.delta", "delta": "lost"}),
        StreamError("connection reset"),
    ]
    h.replies.append(lambda r: (200, {}, broken))
    h.replies.append(lambda r: (200, {}, reply_events("kept")))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    kinds = [m["type"] for m in h.sent(1) if m["type"].startswith("turn.")]
    assert kinds.index("turn.reconnecting") < len(kinds) - 1
    [notice] = h.sent(1, "turn.reconnecting")
    assert (notice["attempt"], notice["max_attempts"]) == (1, 5) and notice["error"]["kind"] == "stream"
    assert h.sent(1, "turn.done")[0]["assistant"]["text"] == "kept"


def test_request_retries_show_a_waiting_countdown() -> None:
    h = Harness()
    h.replies.append(lambda r: (429, {"retry-after": "3"}, b'{"error": {"message": "slow down"}}'))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [waiting] = h.sent(1, "turn.waiting")
    assert waiting["until"] == int(h.clock.now * 1000) + 3000
    assert h.sent(1, "turn.done")


def test_rate_limits_are_pushed_and_kept_for_hello() -> None:
    h = Harness()
    headers = {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "42",
        "x-ratelimit-reset-requests": "6s",
    }
    h.replies.append(lambda r: (200, headers, reply_events("ok")))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [limits] = h.sent(1, "turn.limits")
    assert limits["limits"]["requests"]["remaining"] == 42
    assert h.restart().connect(2)["limits"]["requests"]["remaining"] == 42


def test_a_usage_limit_shows_the_exhausted_windows() -> None:
    h = Harness()
    headers = {
        "x-codex-primary-used-percent": "100.0",
        "x-codex-primary-window-minutes": "300",
        "x-codex-secondary-used-percent": "87.5",
    }
    body = b'{"error": {"type": "usage_limit_reached", "plan_type": "plus", "resets_in_seconds": 600}}'
    h.replies.append(lambda r: (429, headers, body))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [error] = h.sent(1, "turn.error")
    assert error["error"]["kind"] == "usage_limit_reached"
    [limits] = h.sent(1, "turn.limits")
    assert limits["limits"]["primary"]["used_percent"] == 100.0
    assert limits["limits"]["secondary"]["used_percent"] == 87.5
    assert h.restart().connect(2)["limits"]["primary"]["used_percent"] == 100.0


def test_partial_text_is_persisted_every_two_seconds() -> None:
    h = Harness()
    seen: list[str] = []

    def tick() -> None:
        h.clock.advance(2.5)

    def peek() -> None:
        cid = next(iter(h.worker.scheduler.turns))
        seen.append(h.stored(f"part.{cid}")["text"])

    body = reply_events("one", " two", " three")
    stream = [*body[:2], None, *body[2:3], None, *body[3:]]

    def chunks() -> Any:
        for chunk in stream:
            if chunk is None:
                tick()
                continue
            yield chunk
            if chunk is body[2]:
                peek()

    h.replies.append(lambda r: (200, {}, chunks()))
    reply = h.ask({"type": "chat.send", "id": 1, "text": "count"})
    assert seen == ["one two"]
    assert f"part.{reply['conversation_id']}" not in h.store.data  # removed once the reply is saved


def test_a_worker_stopped_mid_turn_leaves_a_recoverable_reply() -> None:
    spawned: list[Coroutine[Any, Any, None]] = []
    h = Harness(spawn=spawned.append)
    cid = h.ask({"type": "chat.send", "id": 1, "text": "long question"})["conversation_id"]
    # The worker dies after persisting some partial text (the turn never finishes).
    h.store.data[f"part.{cid}"] = json.dumps(
        {
            "schema": 1,
            "turn_id": conversation_of(h, cid)["messages"][1]["turn_id"],
            "text": "What arrived",
            "reasoning": "",
            "searches": [],
        }
    )
    for coro in spawned:
        coro.close()
    again = h.restart()
    hello = again.connect(1)
    reply = hello["active"]["messages"][-1]
    assert reply["text"] == "What arrived" and reply["stopped"] and reply["error"]["kind"] == "interrupted"
    assert conversation_of(again, cid)["messages"][1]["streaming"] is False
    assert f"part.{cid}" not in again.store.data
    regenerated = again.ask({"type": "chat.regenerate", "id": 2, "conversation_id": cid})
    assert regenerated["type"] == "chat.accepted"


def test_events_go_to_every_panel_showing_the_conversation_and_only_those() -> None:
    h = Harness()
    cid = h.ask({"type": "chat.send", "id": 1, "text": "first"})["conversation_id"]
    other = h.ask({"type": "chat.send", "id": 2, "text": "other"})["conversation_id"]
    for port, shown in ((1, cid), (2, cid), (3, other)):
        h.connect(port)
        h.send(port, {"type": "conv.open", "id": 1, "conversation_id": shown})
    h.send(1, {"type": "chat.send", "id": 5, "conversation_id": cid, "text": "again"})
    assert len(h.sent(1, "turn.done")) == len(h.sent(2, "turn.done")) == 1
    assert h.sent(3, "turn.done") == []
    assert h.sent(2, "conv.list")  # the list changed for everyone


def test_the_outcome_is_persisted_with_no_panel_connected() -> None:
    h = Harness()
    h.connect(1)
    h.host.closed.add(1)  # the panel was closed
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [conversation] = [json.loads(v) for k, v in h.store.data.items() if k.startswith("conv.c")]
    assert conversation["messages"][-1]["text"] == "Hello world"


def test_conv_open_mid_turn_has_the_text_so_far_and_its_seq() -> None:
    h = Harness()
    seen: dict[str, Any] = {}

    def open_now() -> None:
        cid = next(iter(h.worker.scheduler.turns))
        seen["state"] = h.ask({"type": "conv.open", "id": 4, "conversation_id": cid})

    body = reply_events("Hel", "lo", " there")
    h.replies.append(lambda r: (200, {}, chunks_then(body[:3], open_now, body[3:])))
    h.ask({"type": "chat.send", "id": 1, "text": "hi"})
    conversation = seen["state"]["conversation"]
    assert conversation["messages"][-1]["text"] == "Hello"
    assert conversation["messages"][-1]["streaming"] is True
    assert conversation["streaming"]["seq"] >= 1


def test_storage_full_refuses_the_message_and_saves_nothing() -> None:
    h = Harness(store=MemoryStore(quota=300))
    reply = h.ask({"type": "chat.send", "id": 1, "text": "x" * 400})
    assert reply["type"] == "error" and reply["code"] == "storage_full"
    assert "Delete or export" in reply["message"]
    assert not any(k.startswith("conv.c") for k in h.store.data)


def test_the_api_key_never_leaves_the_worker(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    h = Harness(key=None, clock=clock)
    h.connect(1)
    h.ask({"type": "key.set", "id": 1, "key": KEY})  # from the options page
    # A hostile or buggy server echoes the key in its error body.
    h.replies.append(lambda r: (401, {}, json.dumps({"error": {"message": f"bad key {KEY}"}}).encode()))
    h.send(1, {"type": "chat.send", "id": 2, "text": "hi"})
    h.send(1, {"type": "settings.get", "id": 3})
    h.send(1, {"type": "hello", "id": 4, "v": 1})
    h.send(1, {"type": "conv.export", "id": 5, "format": "json"})
    out = capsys.readouterr()
    everything = json.dumps(h.host.sent) + out.out + out.err + json.dumps(h.store.data)
    assert KEY not in everything
    assert h.sent(1, "turn.error")[0]["error"]["kind"] == "unauthorized"
    settings = h.sent(1, "settings")[-1]["settings"]
    assert settings["key"] == KEY_VIEW
    assert h.transport.requests[0].headers["Authorization"] == f"Bearer {KEY}"  # it did go to the server


def test_a_crashing_turn_ends_with_an_internal_error() -> None:
    h = Harness()

    def broken_transport() -> Any:
        raise RuntimeError("no fetch here")

    h.worker.scheduler.deps.transport = broken_transport
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [error] = h.sent(1, "turn.error")
    assert error["error"]["kind"] == "internal" and "no fetch here" in error["error"]["message"]
    assert not h.worker.scheduler.turns and not error["assistant"]["streaming"]


def test_odd_items_from_a_server_do_not_break_the_turn() -> None:
    h = Harness()
    events = [
        sse({"type": "response.created", "response": {"id": "r"}}),
        sse({"type": "response.output_item.done", "item": {"type": "reasoning", "summary": "not a list"}}),
        sse(
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [5, {"type": "output_text", "text": "Whole"}],
                },
            }
        ),
        sse({"type": "response.output_item.done", "item": {"type": "web_search_call", "action": None}}),
        sse({"type": "response.completed", "response": {"id": "r"}}),
    ]
    h.replies.append(lambda r: (200, {}, events))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    assert h.sent(1, "turn.done")[0]["assistant"]["text"] == "Whole"  # no deltas: the item's text


def test_a_resent_message_is_recognised_by_its_client_id() -> None:
    h = Harness()
    first = h.ask({"type": "chat.send", "id": 1, "text": "hi", "client_id": "p1-1"})
    assert first["user"]["client_id"] == "p1-1"
    again = h.restart()  # the worker stopped before the panel saw the reply; the panel resends
    for message in (
        {"type": "chat.send", "id": 1, "text": "hi", "client_id": "p1-1"},
        {
            "type": "chat.send",
            "id": 1,
            "text": "hi",
            "client_id": "p1-1",
            "conversation_id": first["conversation_id"],
        },
    ):
        reply = again.ask(message)
        assert reply["type"] == "chat.accepted" and reply["duplicate"] is True
        assert reply["conversation_id"] == first["conversation_id"] and reply["turn_id"] == first["turn_id"]
    assert len(conversation_of(again, first["conversation_id"])["messages"]) == 2
    assert again.transport.requests == []
    other = again.ask({"type": "chat.send", "id": 2, "text": "hi", "client_id": "p1-2"})
    assert other["conversation_id"] != first["conversation_id"]  # a new message starts a new conversation


def test_a_first_message_can_choose_the_model_and_effort() -> None:
    h = Harness()
    reply = h.ask({"type": "chat.send", "id": 1, "text": "hi", "model": "o4-mini", "reasoning_effort": "low"})
    body = json.loads(h.transport.requests[0].body or b"{}")
    assert body["model"] == "o4-mini" and body["reasoning"]["effort"] == "low"
    stored = conversation_of(h, reply["conversation_id"])
    assert (stored["model"], stored["reasoning_effort"]) == ("o4-mini", "low")
    h.ask(
        {
            "type": "chat.send",
            "id": 2,
            "conversation_id": reply["conversation_id"],
            "text": "more",
            "model": "gpt-4.1",
        }
    )
    assert conversation_of(h, reply["conversation_id"])["model"] == "o4-mini"  # only for a new conversation


def test_an_incomplete_answer_is_kept_with_its_reason() -> None:
    h = Harness()
    body = [
        sse({"type": "response.output_text.delta", "delta": "Half an ans"}),
        sse({"type": "response.completed", "response": {
            "id": "r1", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}),
    ]
    h.replies.append(lambda r: (200, {"content-type": "text/event-stream"}, body))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "Half an ans"
    error = done["assistant"]["error"]
    assert error["kind"] == "incomplete" and error["fields"] == {"reason": "max_output_tokens"}
    assert error["message"] == (
        "The answer is incomplete: the model reached its output limit. "
        "Send a message to continue, or regenerate."
    )
    stored = conversation_of(h, done["conversation_id"])["messages"][-1]
    assert stored["error"]["kind"] == "incomplete" and stored["text"] == "Half an ans"


def test_items_only_in_completed_output_are_stored_and_shown() -> None:
    h = Harness()
    item = {"type": "message", "role": "assistant", "id": "msg_9",
            "content": [{"type": "output_text", "text": "From output only"}]}
    body = [sse({"type": "response.completed", "response": {"id": "r1", "output": [item]}})]
    h.replies.append(lambda r: (200, {"content-type": "text/event-stream"}, body))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "From output only"
    stored = conversation_of(h, done["conversation_id"])["messages"][-1]
    assert stored["items"] == [item]  # the next prompt sends the answer back


def test_a_skipped_malformed_delta_does_not_lose_words() -> None:
    h = Harness()
    item = {"type": "message", "role": "assistant", "id": "msg_1",
            "content": [{"type": "output_text", "text": "one two three"}]}
    body = [
        sse({"type": "response.output_text.delta", "delta": "one "}),
        b'data: {"type": "response.output_text.delta", "delta": "two \n\n',
        sse({"type": "response.output_text.delta", "delta": "three"}),
        sse({"type": "response.output_item.done", "item": item}),
        sse({"type": "response.completed", "response": {"id": "r1"}}),
    ]
    h.replies.append(lambda r: (200, {"content-type": "text/event-stream"}, body))
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    assert "".join(m["text"] for m in h.sent(1, "turn.delta")) == "one three"  # as streamed
    [done] = h.sent(1, "turn.done")
    assert done["assistant"]["text"] == "one two three"  # from the finished item
    assert conversation_of(h, done["conversation_id"])["messages"][-1]["text"] == "one two three"


def test_the_server_taking_the_request_is_pushed_before_the_answer() -> None:
    h = Harness()
    h.connect(1)
    h.send(1, {"type": "chat.send", "id": 1, "text": "hi"})
    kinds = [m["type"] for m in h.sent(1) if m["type"].startswith("turn.")]
    assert kinds.index("turn.started") < kinds.index("turn.progress") < kinds.index("turn.delta")
    assert h.sent(1, "turn.progress")[0]["stage"] == "thinking"
