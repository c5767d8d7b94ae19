"""The first five minutes, in a fresh profile, as a new user meets SidePy.

* Installing opens the welcome page: the settings, with how to start.
* The panel shows the setup card (``onboarding``) with the provider choices and
  ``open-settings`` instead of an empty chat; its status is "Ready" (the worker is up).
* The header's settings button (a gear, ``settings``) opens the options page; a
  provider choice in the card opens it with that provider picked.
* Filling in the options page (provider, URL, key) and saving makes the card go away in
  the open panel, and the first message gets its answer.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from mockapi import MockServerThread, text_reply
from tests.e2e.chatkit import MODEL, TIMEOUT_MS, Panel, open_panel_window
from tests.e2e.conftest import Extension

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-first-run-0123456789"


def options_ui(page: Page) -> FrameLocator:
    return page.frame_locator("#options-ui")


def opened(extension: Extension, url: str, timeout_s: float = 30) -> None:
    """Wait until a tab shows ``url``.

    Chrome opens the settings in a new tab or in the blank one, and Playwright does not
    follow a tab an extension navigated: the browser's own list of tabs (CDP) is asked.
    """
    cdp = extension.context.new_cdp_session(extension.context.pages[0])
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            urls = [t["url"] for t in cdp.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
            if url in urls:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not open; tabs: {urls}")
            time.sleep(0.05)
    finally:
        cdp.detach()


def test_install_opens_the_welcome_page(first_run: Extension) -> None:
    extension = first_run
    assert extension.welcome_tab() is not None
    welcome = options_ui(extension.page("options.html#welcome"))
    expect(welcome.get_by_test_id("welcome")).to_be_visible(timeout=TIMEOUT_MS)
    expect(welcome.get_by_test_id("welcome")).to_contain_text("Paste the key")
    plain = options_ui(extension.page("options.html"))  # opened later from the panel: no welcome
    expect(plain.get_by_test_id("settings-status")).to_have_text("Ready", timeout=TIMEOUT_MS)
    expect(plain.get_by_test_id("welcome")).to_be_hidden()


def test_a_new_user_gets_from_the_setup_card_to_a_first_answer(extension: Extension) -> None:
    panel = Panel(open_panel_window(extension, 400, 800))
    panel.wait_ready()
    card = panel.get("onboarding")
    expect(card).to_be_visible(timeout=TIMEOUT_MS)
    expect(card).to_contain_text("Connect SidePy to a model")
    expect(card.get_by_role("button", name="Set up OpenAI API key")).to_be_visible()
    expect(card.get_by_role("button", name="Set up ChatGPT plan")).to_be_visible()
    expect(card.get_by_test_id("open-settings")).to_be_visible()
    expect(panel.ui.locator("#empty")).to_be_hidden()

    # The gear opens the settings.
    gear = panel.get("settings")
    expect(gear).to_have_attribute("aria-label", "Settings")
    gear.click()
    opened(extension, extension.url("options.html"))

    # A provider choice opens them at that provider, not saved yet.
    card.get_by_role("button", name="Set up Another server").click()
    opened(extension, extension.url("options.html#provider=compatible"))
    ui = options_ui(extension.page("options.html#provider=compatible"))  # the same page, to fill in
    expect(ui.get_by_test_id("provider")).to_have_value("compatible", timeout=TIMEOUT_MS)
    expect(ui.get_by_test_id("welcome")).to_be_visible()
    expect(card).to_be_visible()  # nothing saved: still not set up

    with MockServerThread(api_key=KEY) as server:
        ui.get_by_test_id("base-url").fill(server.base_url)
        ui.get_by_test_id("model").fill(MODEL)
        ui.get_by_test_id("api-key").fill(KEY)
        ui.get_by_test_id("save").click()
        expect(ui.get_by_test_id("settings-status")).to_contain_text("Saved", timeout=TIMEOUT_MS)
        expect(card).to_be_hidden(timeout=TIMEOUT_MS)  # the open panel heard of it
        expect(panel.ui.locator("#empty")).to_be_visible()
        server.enqueue(text_reply("Hello! I'm here."))
        panel.send("Hi, are you there?")
        panel.reply("Hello! I'm here.")
        expect(panel.banner).to_be_hidden()
