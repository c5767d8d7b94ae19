"""Fixtures shared by the chat e2e modules: one mock model server, one local web site
and one browser per module (each module names its own API key as ``KEY``), and a
panel reset to a new, idle conversation before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright

from mockapi import MockServerThread
from tests.e2e.chatkit import ARTICLE_HTML, ChatBrowser, Panel, WebServer, chat_browser


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[MockServerThread]:
    with MockServerThread(api_key=request.module.KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    site = WebServer({"/article": ARTICLE_HTML})
    yield site
    site.close()


@pytest.fixture(scope="module")
def browser(
    request: pytest.FixtureRequest, playwright: Playwright, server: MockServerThread, web: WebServer
) -> Iterator[ChatBrowser]:
    with chat_browser(playwright, server, request.module.KEY, web) as b:
        yield b


@pytest.fixture
def panel(browser: ChatBrowser, server: MockServerThread) -> Panel:
    server.reset()
    # A 429 holds the request queue until its reset: each test starts without a hold.
    assert browser.send({"type": "queue.config", "id": 7, "clear_hold": True})["type"] == "queue.state"
    browser.panel.wait_ready()
    browser.panel.wait_idle()
    browser.panel.new_chat()
    return browser.panel
