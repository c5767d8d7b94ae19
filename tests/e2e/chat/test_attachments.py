"""Attachments in Chromium: the screenshot grant, the canvas pipeline, IndexedDB across a restart.

The screenshot needs Chrome's activeTab grant on the tab, which the user gives by
invoking SidePy there (the toolbar button). The tests invoke it the way a user's
click does, through DevTools' ``Extensions.triggerAction`` on the article's tab:
Chrome runs the action (``action.onClicked``, which opens the side panel) and grants
activeTab. The messages go from the panel page (``sidepanel.html``, sender kind
``panel``), as the panel's own requests do.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

from playwright.sync_api import Page

from background.attachments.capture import SCREENSHOT_DENIED
from background.attachments.imaging import BUDGET
from mockapi import MockServerThread, http_error
from tests.e2e.chatkit import ChatBrowser, Panel, stop_worker

KEY = "sk-attach-0123456789abcdefWXYZ"


def from_panel(panel: Panel, message: dict[str, Any]) -> dict[str, Any]:
    """A request from the panel page (sender kind ``panel``); the worker's reply."""
    reply = panel.page.evaluate("(m) => chrome.runtime.sendMessage(JSON.stringify(m))", message)
    return json.loads(reply)  # type: ignore[no-any-return]


def invoke_on(browser: ChatBrowser, page: Page) -> None:
    """What the user's click on the toolbar button does on ``page``'s tab (activeTab)."""
    assert browser.ext.context.browser is not None
    cdp = browser.ext.context.browser.new_browser_cdp_session()
    try:
        targets = cdp.send("Target.getTargets", {"filter": [{"type": "tab"}]})["targetInfos"]
        [tab] = [t for t in targets if t["url"] == page.url]
        cdp.send("Extensions.triggerAction", {"id": browser.ext.id, "targetId": tab["targetId"]})
    finally:
        cdp.detach()


def png_size(data_url: str) -> tuple[int, int]:
    data = base64.b64decode(data_url.split(",", 1)[1])
    assert data.startswith(b"\x89PNG"), data[:8]
    return struct.unpack(">II", data[16:24])  # type: ignore[return-value]


def wait_for_request(server: MockServerThread, count: int, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        requests = server.requests_to("responses")
        if len(requests) >= count:
            assert requests[count - 1].json is not None
            return requests[count - 1].json
        time.sleep(0.1)
    raise AssertionError("the model server got no request")


def user_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    users = [item for item in body["input"] if item.get("role") == "user"]
    return users[-1]["content"]  # type: ignore[no-any-return]


def test_without_the_grant_the_screenshot_says_how_to_allow_it(browser: ChatBrowser, panel: Panel) -> None:
    fresh = browser.ext.context.new_page()  # a tab SidePy was never invoked on
    try:
        fresh.goto(browser.article.url + "?fresh")
        reply = from_panel(panel, {"type": "attach.screenshot", "id": 1})
    finally:
        fresh.close()
    assert reply == {"type": "error", "id": 1, "code": "screenshot_denied", "message": SCREENSHOT_DENIED}


def test_the_screenshot_of_the_tab_reaches_the_model_as_input_image_with_the_text(
    browser: ChatBrowser, panel: Panel, server: MockServerThread
) -> None:
    browser.article.bring_to_front()
    invoke_on(browser, browser.article)
    added = from_panel(panel, {"type": "attach.screenshot", "id": 2})
    assert added["type"] == "attach.added", added
    view = added["attachment"]
    assert view["kind"] == "image" and view["thumb"].startswith("data:image/jpeg;base64,")
    assert view["width"] <= BUDGET.max_side and view["width"] * view["height"] <= BUDGET.max_pixels
    sent = from_panel(panel, {"type": "chat.send", "id": 3, "text": "What's wrong with this chart?",
                              "attachments": [view["id"]], "client_id": "e2e-shot"})
    assert sent["type"] == "chat.accepted", sent
    parts = user_parts(wait_for_request(server, 1))
    image, typed = parts[0], parts[-1]
    assert image["type"] == "input_image" and image["image_url"].startswith("data:image/")
    assert typed == {"type": "input_text", "text": "What's wrong with this chart?"}
    if image["image_url"].startswith("data:image/png"):
        assert png_size(image["image_url"]) == (view["width"], view["height"])
    assert len(base64.b64decode(image["image_url"].split(",", 1)[1])) <= BUDGET.max_bytes


def test_a_worker_restart_between_attaching_and_sending_loses_nothing(
    browser: ChatBrowser, panel: Panel, server: MockServerThread
) -> None:
    text = "line 1: total = 41\nline 2: total = 42\n"
    added = from_panel(panel, {"type": "attach.add", "id": 4, "name": "totals.csv", "source": "drop",
                               "data": base64.b64encode(text.encode()).decode()})
    assert added["type"] == "attach.added", added
    stop_worker(browser.ext)  # Chrome stops the idle worker; the panel keeps the id
    sent = from_panel(panel, {"type": "chat.send", "id": 5, "text": "Which total is right?",
                              "attachments": [added["attachment"]["id"]], "client_id": "e2e-restart"})
    assert sent["type"] == "chat.accepted", sent
    parts = user_parts(wait_for_request(server, 1))
    assert parts[0] == {"type": "input_file", "filename": "totals.csv",
                        "file_data": "data:text/csv;base64," + base64.b64encode(text.encode()).decode()}


def test_a_model_that_cannot_read_images_reads_as_a_sentence(
    browser: ChatBrowser, panel: Panel, server: MockServerThread
) -> None:
    server.enqueue(http_error("invalid_request", message="Invalid image."))
    png = base64.b64encode(_tiny_png()).decode()
    added = from_panel(panel, {"type": "attach.add", "id": 6, "name": "dot.png", "source": "paste",
                               "data": png})
    assert added["type"] == "attach.added", added
    sent = from_panel(panel, {"type": "chat.send", "id": 7, "text": "What is this?",
                              "attachments": [added["attachment"]["id"]], "client_id": "e2e-blind"})
    conversation = browser.conversation(sent["conversation_id"])
    deadline = time.monotonic() + 30
    while not conversation["messages"][-1].get("error") and time.monotonic() < deadline:
        time.sleep(0.2)
        conversation = browser.conversation(sent["conversation_id"])
    error = conversation["messages"][-1]["error"]
    assert error["kind"] == "model_cannot_see", error
    assert error["message"].startswith("mock-model cannot read images, so the server refused this message.")


def _tiny_png() -> bytes:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
