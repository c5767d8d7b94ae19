"""The panel's connection (``panel.connection``) alone, and the status line it starts.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel.connection import CLOSED, READY, RECONNECTING, Connection, Revisions
from panel.state import PanelState


def fresh(now=0):
    rev = Revisions()
    return rev, Connection(rev, now, session="t")


def test_requests_wait_for_the_worker_and_go_out_in_order() -> None:
    _, conn = fresh()
    a = conn.request("send", {"type": "chat.send", "text": "a"}, {"n": 1})
    b = conn.request("rename", {"type": "conv.rename"}, {})
    assert conn.take_outbox() == [] and a < b
    conn.connected(None)
    [hello] = conn.take_outbox()
    assert hello["type"] == "hello" and "conversation_id" not in hello
    assert conn.hello({"type": "hello", "id": hello["id"], "v": 1}, conn.answer({"id": hello["id"]}))
    assert conn.ready and [e["msg"]["id"] for e in conn.flush()] == [a, b]
    assert [m["id"] for m in conn.take_outbox()] == [a, b]
    entry = conn.answer({"type": "chat.accepted", "id": a})
    assert entry["data"] == {"n": 1} and conn.answer({"type": "chat.accepted", "id": a}) is None
    assert conn.settled(a) and not conn.settled(b) and not conn.settled(999)


def test_a_restart_posts_again_what_was_not_answered() -> None:
    rev, conn = fresh()
    conn.connected("c1")
    assert conn.take_outbox()[0]["conversation_id"] == "c1"
    conn.hello({"type": "hello", "v": 1}, {"kind": "hello"})
    send = conn.request("send", {"type": "chat.send"})
    conn.request("stop", {"type": "chat.stop"})
    conn.take_outbox()
    conn.disconnected(5000)
    assert conn.phase == RECONNECTING and [e["kind"] for e in conn.requests.values()] == ["send"]
    conn.connected("c1")
    conn.hello({"type": "hello", "v": 1}, {"kind": "hello"})
    assert [e["msg"]["id"] for e in conn.flush()] == [send]
    assert rev.rev["status"] > 0


def test_a_pushed_hello_decides_only_when_we_never_asked() -> None:
    _, conn = fresh()
    conn.connected(None)
    assert not conn.hello({"type": "hello", "v": 1}, None)  # ours is on its way: wait for it
    _, conn = fresh()
    assert conn.hello({"type": "hello", "v": 1}, None)  # nothing asked: the push decides


def test_taking_back_an_unsent_request() -> None:
    _, conn = fresh()
    conn.request("send", {"type": "chat.send", "text": "x"}, {"k": 1})
    [entry] = conn.pending("send", lambda e: not e["sent"])
    conn.forget(entry)
    assert conn.requests == {}


def test_phases_and_their_words() -> None:
    _, conn = fresh(1000)
    assert conn.status_text(1000) == "Starting…"
    conn.boot_status({"type": "boot.status", "state": "starting", "elapsed_ms": 700}, 1100)
    assert conn.status_text(1600) == "Starting…"
    conn.boot_status({"type": "boot.status", "state": "failed", "error": "Python did not start"}, 1700)
    assert conn.status_text(1800) == "Python did not start"
    conn.hello({"type": "hello", "v": 1}, {"kind": "hello"})
    assert conn.phase == READY and conn.status_text(1900) is None
    conn.disconnected(5000)
    assert conn.status_text(5300) == "Reconnecting…" and conn.status_text(8100) == "Reconnecting… 3 s"
    conn.closed("gone")
    conn.disconnected(9000)
    assert conn.phase == CLOSED and conn.status_text(9000) == "gone"


def test_another_protocol_version_closes_the_panel() -> None:
    _, conn = fresh()
    assert not conn.hello({"type": "hello", "v": 2}, {"kind": "hello"})
    assert conn.phase == CLOSED and "reopen the panel" in conn.status_text(0)


def test_the_status_line_through_the_panel() -> None:
    state = PanelState(now=0)
    assert state.status_text(0) == "Starting…" and state.ticking and not state.ready
    state.receive({"type": "hello"}, now=50)
    assert state.status_text(60) == "Ready" and state.ready and not state.ticking
    state.receive({"type": "port.disconnected"}, now=5000)
    assert state.status_text(5300) == "Reconnecting…"
    state.receive({"type": "hello"}, now=6000)
    assert state.status_text(6000) == "Ready"
    state.receive({"type": "port.closed", "reason": "x"}, now=7000)
    state.receive({"type": "port.disconnected"}, now=7001)
    assert "reopen the panel" in state.status_text(7002)
