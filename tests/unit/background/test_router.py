"""The capability table, enforced: every request type from every sender kind, allowed or ``forbidden``.

Each message goes through the whole worker (``App.on_runtime_message`` and over a
port), with a real software vault, so an allowed request reaches its handler (it
may still answer ``bad_request``: these messages carry no fields) and a refused
one never does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from background.compose import Worker, compose
from background.router import (
    CAPABILITIES,
    DEV_CAPABILITIES,
    GESTURE_GRANTS,
    GESTURE_REQUIRED,
    GRANTS,
    SENDER_KINDS,
    Router,
    capability_of,
)
from background.vault.handlers import VaultKeySource
from tests.support.aio import run_sync
from tests.support.vaultkit import Browser
from tests.unit.background.test_app import FakeHost, run_now

KINDS = ("panel", "options", "content", "dev", "unknown", "made-up")
TYPES = sorted(set().union(*CAPABILITIES.values(), *DEV_CAPABILITIES.values()))
SECRET = "sk-payload-0123456789abcdefSECRET"

# The table as the issue states it, written out by hand (not derived from the code under test).
PANEL = {"ping", "hello", "chat.send", "chat.stop", "chat.regenerate", "chat.edit", "chat.version",
         "chat.cancel_queued", "queue.config", "conv.list", "conv.open", "conv.new", "conv.rename",
         "conv.delete", "conv.pin", "conv.export", "conv.settings", "page.context", "settings.get",
         # switching among the providers the user saved, refreshing the active one's models
         "profile.select", "models.list",
         # attachments: files the user gives the panel (a screenshot only from a click: below)
         "attach.add", "attach.remove", "attach.get"}
OPTIONS = {"ping", "settings.get", "settings.set", "settings.preview", "settings.test", "settings.approve",
           "key.set", "key.clear", "conv.import", "vault.status", "vault.set", "vault.reveal", "vault.wipe",
           "vault.lock", "vault.unlock", "vault.passphrase", "auth.import", "auth.clear", "auth.status",
           "profile.select", "models.list", "profile.save", "profile.delete"}
DIAG = {t for t in TYPES if t.startswith("diag.")}
EXPECTED: dict[tuple[str, bool], set[str]] = {}
for dev_build in (False, True):
    EXPECTED["panel", dev_build] = PANEL
    EXPECTED["options", dev_build] = OPTIONS
    EXPECTED["dev", dev_build] = (PANEL | OPTIONS | {"attach.screenshot"} | DIAG) if dev_build else set()
    for kind in ("content", "unknown", "made-up"):
        EXPECTED[kind, dev_build] = set()


def worker(dev: bool) -> tuple[Worker, FakeHost]:
    browser = Browser()
    host = FakeHost()
    built = compose(host, version="1", dev=dev, spawn=run_now, vault=browser.vault,
                    keys=VaultKeySource(browser.vault))
    run_sync(browser.vault.write("api_key", SECRET.replace("payload", "stored")))
    return built, host


@pytest.fixture(scope="module", params=[False, True], ids=["release", "dev"])
def built(request: pytest.FixtureRequest) -> tuple[Worker, FakeHost, bool]:
    w, host = worker(request.param)
    return w, host, request.param


@pytest.mark.parametrize("sender", KINDS)
@pytest.mark.parametrize("kind", TYPES)
def test_every_request_type_from_every_sender(built: tuple[Worker, FakeHost, bool], kind: str,
                                              sender: str, capsys: pytest.CaptureFixture[str]) -> None:
    w, _, dev = built
    # Harmless fields: nothing here could change state if it were wrongly let through
    # (no confirm, no valid key, ids that do not exist).
    # (diag.fatal's depth: shallow enough not to kill the Python running this test.)
    message = {"type": kind, "id": 7, "payload": SECRET, "depth": 2}
    reply = json.loads(run_sync(w.app.on_runtime_message(json.dumps(message), sender)))
    allowed = kind in EXPECTED[sender, dev]
    err = capsys.readouterr().err
    if allowed:
        assert reply.get("code") != "forbidden", reply
    elif not dev and kind in DIAG and sender in ("panel", "options"):
        # A release build has no diag.* at all: to pages that hold capabilities it is unknown.
        assert reply["code"] == "unknown_type", reply
    elif sender == "panel" and kind == "attach.screenshot":
        assert reply == {"type": "error", "id": 7, "code": "gesture_required", "message": GESTURE_REQUIRED}
        assert "without the user's click" in err and kind in err
    else:
        assert reply == {"type": "error", "id": 7, "code": "forbidden",
                         "message": f"{kind} is not accepted from this page"}
        assert "forbidden" in err and kind in err
    assert SECRET not in err  # a refusal is logged without its payload


def test_a_panel_takes_a_screenshot_only_in_the_relay_s_gesture_form() -> None:
    w, host = worker(dev=False)
    w.app.on_port_connect(1, "panel")
    w.app.on_port_connect(2, "content")
    host.sent.clear()
    request = json.dumps({"type": "attach.screenshot", "id": 5})
    w.app.on_port_message(1, request)  # a script in the frame, posting JSON: the relay forwards it
    w.app.on_port_message(1, "ui.nogesture " + request)  # the word without the user's activation
    # The word without activation, wrapped to look like the gesture form after the relay's cut.
    w.app.on_port_message(1, "ui.nogesture ui.screenshot " + request)
    w.app.on_port_message(2, "ui.screenshot " + request)  # a content port holds no gesture grant
    reveal = json.dumps({"type": "vault.reveal", "id": 5, "confirm": True})
    w.app.on_port_message(1, "ui.screenshot " + reveal)  # the gesture grants a screenshot, nothing else
    codes = [m.get("code") for _, m in host.sent if m.get("id") == 5 or m.get("type") == "error"]
    assert codes == ["gesture_required", "gesture_required", "malformed", "forbidden", "forbidden"]
    # One-shot messages never carry the gesture form.
    reply = json.loads(run_sync(w.app.on_runtime_message("ui.screenshot " + request, "panel")))
    assert reply["code"] == "malformed"
    host.sent.clear()
    w.app.on_port_message(1, "ui.screenshot " + request)  # the relay's form: it reaches the handler
    [(_, answer)] = [(p, m) for p, m in host.sent if m.get("id") == 5]
    assert answer["type"] == "error" and answer["code"] == "screenshot_failed", answer  # no browser here


def test_refusals_over_ports_follow_the_port_s_kind_not_its_messages() -> None:
    w, host = worker(dev=False)
    w.app.on_port_connect(1, "content")
    w.app.on_port_connect(2, "panel")
    host.sent.clear()
    for port in (1, 2, 99):  # 99: never connected
        # A self-declared sender inside the message changes nothing.
        w.app.on_port_message(port, json.dumps({"type": "vault.reveal", "id": 3, "confirm": True,
                                                "sender": "options", "from": "options"}))
    codes = [(p, m.get("code")) for p, m in host.sent if m.get("id") == 3]
    assert codes == [(1, "forbidden"), (2, "forbidden"), (99, "forbidden")]
    assert SECRET.replace("payload", "stored") not in json.dumps(host.sent)


def test_content_and_unknown_ports_are_not_greeted_nor_told_anything() -> None:
    w, host = worker(dev=False)
    w.app.on_port_connect(1, "content")
    w.app.on_port_connect(2, "unknown")
    w.app.on_port_connect(3, "panel")
    w.app.on_port_connect(4, "options")
    w.ports.broadcast({"type": "conv.list", "conversations": []})
    ports_told = {p for p, _ in host.sent}
    assert ports_told == {3, 4}
    assert {m["type"] for p, m in host.sent if p == 3} >= {"hello", "conv.list"}


def test_the_table_has_every_request_once_and_the_grants_name_real_capabilities() -> None:
    every = [t for types in (CAPABILITIES | DEV_CAPABILITIES).values() for t in types]
    assert len(every) == len(set(every))
    for kind, caps in GRANTS.items():
        assert kind in SENDER_KINDS and caps <= set(CAPABILITIES) | set(DEV_CAPABILITIES)
    assert GRANTS["content"] == GRANTS["unknown"] == frozenset()
    assert "diag" not in GRANTS["panel"] | GRANTS["options"]
    assert capability_of("vault.reveal") == "vault" and capability_of("nope") is None


def test_a_release_router_grants_the_dev_kind_nothing_and_refuses_to_start_incomplete() -> None:
    w, _ = worker(dev=False)
    assert not any(w.router.allows("dev", t) for t in TYPES)

    async def handler(msg: dict[str, Any]) -> dict[str, Any]:
        return msg

    with pytest.raises(ValueError, match="missing"):
        Router({"ping": handler})
    full = dict.fromkeys(set().union(*CAPABILITIES.values()), handler)
    with pytest.raises(ValueError, match="not in the table"):
        Router({**full, "diag.chat": handler})  # a test hook in a release build
    Router(full)


def test_docs_print_the_same_table() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
    section = doc.split("## Senders and capabilities", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z.]+)` \| ([^|]+) \|(.*)\|$", section, flags=re.M)
    header = re.search(r"^\| capability \| request types \|(.*)\|$", section, flags=re.M)
    assert header is not None
    kinds = [k.strip().strip("`") for k in header.group(1).split("|")]
    assert kinds == ["panel", "options", "content", "dev", "unknown"]
    table = {}
    for capability, types, marks in rows:
        table[capability] = set(re.findall(r"`([a-z_.]+)`", types))
        granted = [m.strip() == "✓" for m in marks.split("|")]
        assert granted == [capability in GRANTS[k] for k in kinds], capability
        on_click = [m.strip() == "click" for m in marks.split("|")]
        assert on_click == [capability in GESTURE_GRANTS.get(k, frozenset()) for k in kinds], capability
    assert table == {k: set(v) for k, v in (CAPABILITIES | DEV_CAPABILITIES).items()}
