"""Open the panel and type at once.

The side panel page draws a placeholder header and composer before the sandboxed UI's
Python is up (sidepanel.html); relay.js hands what was typed there to the UI in
``relay.hello``, and what was pasted or dropped there in ``relay.files``. Typing (and
giving files) is simulated at the panel page's DOMContentLoaded, which always comes
before the UI's Python (that page is still starting in its own process), and each test
checks the placeholder was really there when the text went in. Each test has a browser
of its own: an init script stays with its browser.
"""

from __future__ import annotations

import base64
import json
import time
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

# A file dropped (a DragEvent holding a real File, as a drop from the desktop gives) and,
# when asked, one pasted, into the placeholder; then Enter if asked.
GIVE_EARLY = """
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("shell-composer");
  if (!box || window.__givenEarly) return;
  const drop = new DataTransfer();
  drop.items.add(new File([%s], %s, { type: "text/plain" }));
  const event = new DragEvent("drop", { dataTransfer: drop, bubbles: true, cancelable: true });
  box.dispatchEvent(event);
  let pasted = true;
  if (%s) {
    const paste = new DataTransfer();
    paste.items.add(new File([%s], %s, { type: "text/plain" }));
    pasted = box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: paste, bubbles: true,
                                                             cancelable: true }));
  }
  box.value = %s;
  window.__givenEarly = { shell: document.getElementById("shell") !== null, dropTaken: event.defaultPrevented,
                          pasteTaken: !pasted, status: document.querySelector(".shell-status").textContent };
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


def open_giving(browser: ChatBrowser, text: str, files: list[tuple[str, str]], *, enter: bool) -> Panel:
    (name, body), pasted = files[0], files[1] if len(files) > 1 else ("", "")
    browser.ext.context.add_init_script(GIVE_EARLY % (
        json.dumps(body), json.dumps(name), json.dumps(len(files) > 1), json.dumps(pasted[1]),
        json.dumps(pasted[0]), json.dumps(text), json.dumps(enter)))
    page = open_panel_window(browser.ext)
    given = page.evaluate("window.__givenEarly")
    assert given["shell"] and given["dropTaken"], given  # the page took the drop: it was not left to navigate
    assert given["pasteTaken"] == (len(files) > 1), given
    assert name in given["status"], given  # the placeholder says the file will be attached
    return Panel(page)


def input_files(server: MockServerThread) -> tuple[dict[str, object], list[dict[str, object]]]:
    deadline = time.monotonic() + 30
    while not server.requests_to("responses") and time.monotonic() < deadline:
        time.sleep(0.1)
    [request] = server.requests_to("responses")
    assert request.json is not None
    user = [item for item in request.json["input"] if item.get("role") == "user"][-1]
    return request.json, [part for part in user["content"] if part["type"] == "input_file"]


def test_files_given_before_python_is_up_go_with_the_message_sent_there(fresh: ChatBrowser,
                                                                        server: MockServerThread) -> None:
    server.reset()
    server.enqueue(text_reply("Read both."))
    panel = open_giving(fresh, "Compare these", [("a.txt", "alpha notes\n"), ("b.txt", "beta notes\n")],
                        enter=True)
    panel.reply("Read both.")
    body, parts = input_files(server)
    assert [(p["filename"], p["file_data"]) for p in parts] == [
        ("a.txt", "data:text/plain;base64," + base64.b64encode(b"alpha notes\n").decode()),
        ("b.txt", "data:text/plain;base64," + base64.b64encode(b"beta notes\n").decode()),
    ]
    assert "Compare these" in json.dumps(body)
    expect(panel.get("attachment-chip")).to_have_count(0)  # they went with the message
    panel.page.close()


def test_a_file_dropped_before_python_is_up_waits_in_the_composer(fresh: ChatBrowser,
                                                                  server: MockServerThread) -> None:
    server.reset()
    panel = open_giving(fresh, "", [("draft.md", "# Draft\n")], enter=False)
    panel.wait_ready()
    panel.attachments_ready()
    expect(panel.get("attachment-chip")).to_contain_text("draft.md")
    assert server.requests_to("responses") == []  # nothing was sent
    panel.page.close()
