"""The options page's port: what it may do that a panel may not, what it is told, what others are told.

Ports carry the sender kind the JS glue decided (``panel``, ``options``, ...), never their name."""

from __future__ import annotations

import base64
import json
from typing import Any

from background.app import App
from background.compose import compose
from background.vault.handlers import VaultKeySource
from tests.support.aio import run_sync
from tests.support.vaultkit import Browser
from tests.unit.background.kit import KEY_VIEW
from tests.unit.background.test_app import FakeHost, run_now

KEY = "sk-options-0123456789abcdWXYZ"
PASS = "correct horse battery staple"
PANEL, OPTIONS, OTHER = 1, 2, 3
OPTIONS_PORT = "options"


def make() -> tuple[App, FakeHost, Browser]:
    browser = Browser()
    host = FakeHost()
    worker = compose(host, version="1", spawn=run_now, vault=browser.vault,
                     keys=VaultKeySource(browser.vault))
    return worker.app, host, browser


def over(app: App, host: FakeHost, port: int, **msg: Any) -> dict[str, Any]:
    """Send on ``port``; the direct reply (the one echoing the id)."""
    host.sent.clear()
    app.on_port_message(port, json.dumps({"id": 9, **msg}))
    [reply] = [m for p, m in host.sent if p == port and m.get("id") == 9]
    return reply


def pushed(host: FakeHost, port: int) -> list[dict[str, Any]]:
    return [m for p, m in host.sent if p == port and "id" not in m]


def test_the_options_port_may_reveal_wipe_and_change_the_passphrase() -> None:
    app, host, _ = make()
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    assert over(app, host, OPTIONS, type="vault.set", secret=KEY)["state"] == "ready"
    revealed = over(app, host, OPTIONS, type="vault.reveal", confirm=True)
    assert base64.b64decode(revealed["secret_b64"]).decode() == KEY
    assert over(app, host, OPTIONS, type="vault.passphrase", passphrase=PASS)["mode"] == "passphrase"
    assert over(app, host, OPTIONS, type="vault.wipe", confirm=True)["state"] == "empty"


def test_panels_content_scripts_and_unknown_ports_may_not_touch_the_vault() -> None:
    app, host, _ = make()
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    over(app, host, OPTIONS, type="vault.set", secret=KEY)
    app.on_port_connect(PANEL, "panel")
    app.on_port_connect(OTHER, "content")
    for port in (PANEL, OTHER, 99):  # 99: a port the app never saw connect
        for kind in ("vault.reveal", "vault.wipe", "vault.passphrase", "vault.set", "vault.status"):
            reply = over(app, host, port, type=kind, confirm=True, passphrase=PASS,
                         secret="sk-other-0123456789")
            assert reply["code"] == "forbidden", (port, reply)
            assert KEY not in json.dumps(host.sent)
    assert over(app, host, OPTIONS, type="vault.status")["state"] == "ready"  # nothing was changed


def test_an_options_port_is_told_the_settings_and_vault_state_not_hello() -> None:
    app, host, _ = make()
    run_sync(app.on_runtime_message(json.dumps({"type": "vault.set", "id": 1, "secret": KEY}), "options"))
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    kinds = [m["type"] for m in pushed(host, OPTIONS)]
    assert kinds == ["settings", "vault.status"]
    settings, status = pushed(host, OPTIONS)
    assert settings["settings"]["key"] == KEY_VIEW
    assert status["state"] == "ready" and status["records"] == {"api_key": "sk-…WXYZ"}
    assert KEY not in json.dumps(host.sent)


def test_a_pending_selection_waits_for_a_panel_not_the_options_page() -> None:
    app, host, _ = make()
    app.on_menu_click(json.dumps({"selection": "some text", "title": "t", "url": "https://e.com"}))
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    app.on_port_connect(PANEL, "panel")
    assert [m["type"] for m in pushed(host, OPTIONS)] == ["settings", "vault.status"]
    assert "page.selection" in [m["type"] for m in pushed(host, PANEL)]


def test_a_change_on_one_port_is_pushed_to_the_others() -> None:
    app, host, _ = make()
    app.on_port_connect(PANEL, "panel")
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    over(app, host, OPTIONS, type="key.set", key=KEY)
    assert [m["type"] for m in pushed(host, PANEL)] == ["settings"]
    assert pushed(host, PANEL)[0]["settings"]["key"] == KEY_VIEW
    assert pushed(host, OPTIONS) == []  # its own reply says it all
    app.on_port_connect(OTHER, OPTIONS_PORT)  # a second options tab
    over(app, host, OTHER, type="vault.lock")  # device mode: a no-op, still a change request
    assert [m["type"] for m in pushed(host, OPTIONS)] == ["settings", "vault.status"]
    assert [m["type"] for m in pushed(host, PANEL)] == ["settings"]
    assert KEY not in json.dumps(host.sent)


def test_a_refused_change_pushes_nothing_and_conversation_lists_skip_options() -> None:
    app, host, _ = make()
    app.on_port_connect(PANEL, "panel")
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    reply = over(app, host, OPTIONS, type="settings.set", patch={"base_url": "ftp://nowhere"})
    assert reply["code"] == "invalid_settings" and host.sent == [(OPTIONS, reply)]
    host.sent.clear()
    app.ports.broadcast({"type": "conv.list", "conversations": []})
    assert [p for p, _ in host.sent] == [PANEL]


def test_an_auto_lock_is_pushed_to_open_pages() -> None:
    app, host, browser = make()
    run_sync(app.on_runtime_message(json.dumps({"type": "vault.set", "id": 1, "secret": KEY}), "options"))
    run_sync(app.on_runtime_message(json.dumps(
        {"type": "vault.passphrase", "id": 2, "passphrase": PASS, "auto_lock_minutes": 1}), "options"))
    app.on_port_connect(OPTIONS, OPTIONS_PORT)
    host.sent.clear()
    browser.clock.advance(0.5)  # not idle long enough: nothing to tell, and no use of the key
    run_sync(app.on_alarm("sidepy.vault.autolock"))
    assert host.sent == []
    browser.clock.advance(2)
    run_sync(app.on_alarm("sidepy.vault.autolock"))
    status = [m for m in pushed(host, OPTIONS) if m["type"] == "vault.status"]
    assert status and status[-1]["state"] == "locked"
