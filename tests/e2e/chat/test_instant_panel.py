"""Open the panel and type at once.

The side panel page draws a placeholder header and composer before the sandboxed UI's
Python is up (sidepanel.html); relay.js hands what was typed there to the UI in
``relay.hello``. Typing is simulated at the panel page's DOMContentLoaded, which always
comes before the UI's Python (that page is still starting in its own process), and each
test checks the placeholder was really there when the text went in. Each test has a
browser of its own: an init script stays with its browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright, expect

from mockapi import MockServerThread, text_reply
from tests.e2e.chatkit import ChatBrowser, Panel, WebServer, chat_browser, open_panel_window

KEY = "sk-instant-panel-0123456789"

TYPE_EARLY = """
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("shell-composer");
  if (!box || window.__typedEarly) return;  // another page, or the UI's frame
  window.__typedEarly = { shell: document.getElementById("shell") !== null };
  box.focus();
  box.value = %s;
  if (%s) box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
});
"""


@pytest.fixture
def fresh(playwright: Playwright, server: MockServerThread, web: WebServer) -> Iterator[ChatBrowser]:
    with chat_browser(playwright, server, KEY, web) as b:
        yield b


def open_typing(browser: ChatBrowser, text: str, *, enter: bool) -> Panel:
    browser.ext.context.add_init_script(TYPE_EARLY % (json.dumps(text), json.dumps(enter)))
    page = open_panel_window(browser.ext)
    assert page.evaluate("window.__typedEarly") == {"shell": True}, "typed before the UI was up"
    return Panel(page)


def test_a_message_sent_before_python_is_up_goes_when_it_is(fresh: ChatBrowser, server: MockServerThread
                                                            ) -> None:
    server.reset()
    server.enqueue(text_reply("Here it is, early bird."))
    panel = open_typing(fresh, "Sent before Python was up", enter=True)
    panel.reply("Here it is, early bird.")
    expect(panel.users.last).to_have_text("Sent before Python was up")
    expect(panel.page.locator("#shell")).to_have_count(0)  # the placeholder gave way to the UI
    bodies = [r.json for r in server.requests_to("responses")]
    assert len(bodies) == 1 and "Sent before Python was up" in json.dumps(bodies[0])
    expect(panel.composer).to_have_value("")
    panel.page.close()


def test_text_typed_before_python_is_up_waits_in_the_composer(fresh: ChatBrowser, server: MockServerThread
                                                              ) -> None:
    server.reset()
    panel = open_typing(fresh, "Still thinking about it", enter=False)
    panel.wait_ready()
    expect(panel.composer).to_have_value("Still thinking about it")
    expect(panel.composer).to_be_focused()
    assert server.requests_to("responses") == []  # nothing was sent
    panel.page.close()
