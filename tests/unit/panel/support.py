"""Helpers for the panel tests (plain functions: they run on MicroPython too).

Test files import this module as ``tests.unit.panel.support`` on CPython and as
``support`` on MicroPython, where tests/micropython/runner.py puts this folder on
``sys.path``.
"""

from panel.state import PanelState

CID = "c1"


def settings(**extra):
    s = {
        "provider": "openai",
        "model": "gpt-5",
        "models": ["gpt-5", "gpt-5-mini"],
        "reasoning_effort": "medium",
        "templates": [{"name": "tldr", "prompt": "Summarize in 3 bullets:\n\n{input}"}],
        "key": {"set": True},
    }
    s.update(extra)
    return s


def message(mid, role, text, **extra):
    m = {"id": mid, "role": role, "text": text, "created_at": 1}
    m.update(extra)
    return m


def conversation(cid=CID, messages=None, **extra):
    c = {"id": cid, "title": "Chat " + cid, "created_at": 1, "updated_at": 2, "model": "gpt-5",
         "messages": messages or [], "usage": None}
    c.update(extra)
    return c


def summary(cid, title, updated_at=1, preview=""):
    return {"id": cid, "title": title, "updated_at": updated_at, "messages": 2, "preview": preview}


def connect(state, now=0, **hello):
    """port.connected, then the worker's reply to the panel's hello; returns what was posted."""
    state.receive({"type": "port.connected"}, now)
    out = state.take_outbox()
    hello_req = [m for m in out if m["type"] == "hello"][-1]
    reply = {"type": "hello", "id": hello_req["id"], "v": 1, "version": "0.1.0",
             "boot": {"python": "3.14.2"}, "settings": settings(), "conversations": []}
    reply.update(hello)
    state.receive(reply, now, wall=now)
    return [m for m in out if m["type"] != "hello"] + state.take_outbox()


def ready(now=0, **hello):
    state = PanelState(now=now, session="t")
    connect(state, now, **hello)
    return state


def with_conversation(messages=None, **hello):
    """A ready panel showing conversation c1."""
    return ready(active=conversation(CID, messages or []), **hello)


def only(out, kind):
    found = [m for m in out if m["type"] == kind]
    assert len(found) == 1, out
    return found[0]


def accept(state, req, turn_id="t1", user_id="u1", conversation_id=CID):
    user = message(user_id, "user", req.get("text") or "", client_id=req.get("client_id"))
    state.receive({"type": "chat.accepted", "id": req["id"], "conversation_id": conversation_id,
                   "turn_id": turn_id, "user": user}, 0)


def push(state, kind, turn_id="t1", conversation_id=CID, now=0, wall=0, **fields):
    msg = {"type": kind, "conversation_id": conversation_id, "turn_id": turn_id}
    msg.update(fields)
    state.receive(msg, now, wall=wall)


def start_turn(state, text="hi", turn_id="t1", assistant_id="a1"):
    """Send ``text`` in c1 and let the worker accept it and start the reply."""
    assert state.composer.send(text)
    req = only(state.take_outbox(), "chat.send")
    accept(state, req, turn_id=turn_id, user_id="u-" + turn_id)
    assistant = message(assistant_id, "assistant", "", streaming=True)
    push(state, "turn.started", turn_id=turn_id, assistant=assistant)
    return req


def deltas(state, texts, turn_id="t1", first_seq=1):
    for i, text in enumerate(texts):
        push(state, "turn.delta", turn_id=turn_id, seq=first_seq + i, text=text)


def texts(state):
    return [(m.role, m.text) for m in state.conv.messages]


class Parts:
    """The parts a panel part is built from, ready as after ``hello`` (for testing one part alone)."""

    def __init__(self, view=None):
        from panel.banners import Banners
        from panel.connection import Connection, Revisions
        from panel.setup import Setup
        from panel.usage import Usage

        self.rev = Revisions()
        self.conn = Connection(self.rev, 0, session="t")
        self.conn.hello({"type": "hello", "v": 1}, {"kind": "hello"})
        self.banners = Banners(self.rev)
        self.setup = Setup(self.rev)
        self.setup.update(settings() if view is None else view)
        self.usage = Usage(self.rev)

    def turn(self):
        from panel.turn import Turn

        return Turn(self.conn, self.rev, self.banners, self.setup, self.usage)

    def sent(self):
        return self.conn.take_outbox()

    def reply(self, msg, **fields):
        """The entry the router would hand the part with the reply to ``msg``."""
        answer = {"type": "x", "id": msg["id"]}
        answer.update(fields)
        return self.conn.answer(answer)
