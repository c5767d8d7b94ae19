"""Every error class a user can meet, as the panel says it: one sentence, the action that fixes it,
the raw facts only behind "Details", and the banner gone once its cause is fixed.

One browser for the module, pointed at the mock Responses server:

* a wrong key (the server's 401): "did not accept your API key" with ``open-settings``;
  storing the right key clears the banner, and "Regenerate" then answers;
* an unknown model (404 ``model_not_found``): names the model and the models the server
  lists, offers "Choose another model"; picking another one in ``model-picker`` clears it;
* a local server that is not running (Ollama's preset, a refused connection): names it and how to
  start it, "Try again"; pointing the settings elsewhere clears it;
* a persistent 500: one banner at the end ("HTTP 500 … did not recover") with "Try
  again", never a flapping "Reconnecting" banner;
* a stream cut mid-answer (no stream retries): the partial answer is kept and marked
  "Answer cut off"; "Try again" writes it in full;
* a stall: the status line says "No data for n s" well before the idle timeout and
  offers Retry, which stops the silent answer and asks again;
* a usage limit (429 ``usage_limit_reached``): the plan and the reset, "Try again".

Each checks that no JSON reaches the visible text, and that Details holds it.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from mockapi import Cut, MockServerThread, Script, Sleep, Turn, http_error, stall_reply, text_reply
from tests.e2e.chatkit import MODEL, TIMEOUT_MS, ChatBrowser, Panel, set_settings
from tests.support.paths import REPO

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-errors-0123456789"
WRONG_KEY = "sk-e2e-wrong-9999999999"
SHOTS = REPO / "build" / "screenshots"  # looked at when a sentence changes


@pytest.fixture
def panel(browser: ChatBrowser, panel: Panel) -> Iterator[Panel]:
    # Few retries: each error reaches the user in a second or two.
    set_settings(browser.ext, request_max_retries=1, stream_max_retries=0)
    yield panel
    set_settings(
        browser.ext, request_max_retries=4, stream_max_retries=5, model=MODEL, idle_timeout_ms=300_000
    )
    expect(panel.status).to_have_text("Ready")  # a fault of the server never takes the worker down


def set_key(browser: ChatBrowser, key: str) -> None:
    reply = browser.send({"type": "key.set", "id": 5, "key": key})
    assert reply["type"] == "settings", reply


def no_raw_text(panel: Panel) -> None:
    """The visible text of the panel holds no JSON, status line or request id."""
    visible = panel.ui.locator("body").inner_text()
    for raw in ("{", '"error"', "request id", "unexpected status", "Unauthorized", "param"):
        assert raw not in visible, (raw, visible[-600:])


def details(panel: Panel) -> str:
    """Open the banner's Details and return them (the raw facts, copyable)."""
    toggle = panel.banner.locator("details.details")
    toggle.locator("summary").click()
    text = toggle.locator("pre").inner_text()
    toggle.locator("summary").click()
    return text


def test_a_wrong_key_says_so_and_opens_the_settings(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    set_key(browser, WRONG_KEY)
    try:
        panel.send("Hello?")
        banner = panel.banner
        expect(banner).to_contain_text("The server did not accept your API key", timeout=TIMEOUT_MS)
        action = banner.get_by_test_id("open-settings")
        expect(action).to_have_text("Open settings")
        expect(banner.get_by_role("button", name="Try again")).to_have_count(0)  # it cannot work
        expect(banner).to_have_count(1)
        expect(panel.meta()).to_have_text(re.compile(r"^No answer"))  # a mark; the banner explains once
        no_raw_text(panel)
        raw = details(panel)
        assert "401" in raw and "invalid_api_key" in raw
        with browser.ext.context.expect_page() as opened:
            action.click()
        opened.value.close()
    finally:
        set_key(browser, KEY)
    expect(panel.banner).to_be_hidden(timeout=TIMEOUT_MS)  # its cause is fixed
    server.enqueue(text_reply("Now I can hear you."))
    panel.get("regenerate").click()
    panel.reply("Now I can hear you.")


def test_an_unknown_model_offers_another(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(http_error("model_not_found", model=MODEL).with_options(times=None))
    panel.send("Which model are you?")
    banner = panel.banner
    # The worker asked the server which models it has (GET /models): the sentence names them.
    expect(banner).to_contain_text(f"has no model “{MODEL}”. It has: gpt-4o-mini,", timeout=TIMEOUT_MS)
    expect(banner.get_by_role("button", name="Choose another model")).to_be_visible()
    no_raw_text(panel)
    assert "model_not_found" in details(panel)
    server.reset()
    # "Choose another model" opens the picker on the models the server lists now.
    banner.get_by_role("button", name="Choose another model").click()
    picker = panel.get("model-picker")
    expect(picker.locator("option")).to_contain_text(["gpt-4o-mini", "gpt-4o", "gpt-5"], timeout=TIMEOUT_MS)
    picker.select_option("gpt-4o-mini")
    expect(banner).to_be_hidden(timeout=TIMEOUT_MS)  # another model: the cause is gone
    server.enqueue(text_reply("I am the mini one."))
    panel.get("regenerate").click()
    panel.reply("I am the mini one.")
    assert server.requests_to("responses")[-1].json["model"] == "gpt-4o-mini"  # type: ignore[index]


def test_a_local_server_that_is_not_running_is_named_with_how_to_start_it(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = len(server.requests_to("responses"))
    set_settings(browser.ext, preset="ollama", base_url=f"http://127.0.0.1:{port}/v1")
    try:
        panel.send("Anyone home?")
        banner = panel.banner
        expect(banner).to_contain_text(f"Ollama is not running at http://127.0.0.1:{port}: start Ollama",
                                       timeout=TIMEOUT_MS)
        expect(banner).to_contain_text("then try again.")
        expect(banner.get_by_role("button", name="Try again")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        panel.page.screenshot(path=str(SHOTS / "error-local-server-not-running.png"))
        no_raw_text(panel)
        assert "connection_failed" in details(panel)
    finally:
        set_settings(browser.ext, provider="compatible", preset="custom", base_url=server.base_url)
    expect(panel.banner).to_be_hidden(timeout=TIMEOUT_MS)  # another server: its cause is gone
    assert len(server.requests_to("responses")) == before  # nothing went to the server that is running


def test_a_persistent_server_error_ends_in_one_banner(server: MockServerThread, panel: Panel) -> None:
    server.enqueue(http_error("server_error").with_options(times=None))
    panel.send("Are you up?")
    seen = panel.observe(panel.banner, lambda text: "did not recover" in text, timeout_s=60)
    assert not any("Reconnecting" in text or "busy" in text for text in seen), seen
    banner = panel.banner
    expect(banner).to_contain_text("The server had an error (HTTP 500) and did not recover.")
    expect(banner.get_by_role("button", name="Try again")).to_be_visible()
    no_raw_text(panel)
    assert "500" in details(panel)
    server.reset()
    server.enqueue(text_reply("Back again."))
    banner.get_by_role("button", name="Try again").click()
    panel.reply("Back again.")
    expect(banner).to_be_hidden()


def test_a_cut_stream_keeps_the_partial_answer_marked_as_cut(server: MockServerThread, panel: Panel) -> None:
    text = "The ferry leaves at nine and returns at five."
    # The first words arrive, then the connection drops (a moment later, as a network does:
    # a cut in the same packet as the words would take them with it).
    server.enqueue(Script((Turn(text, interleave={3: (Sleep(500), Cut())}),), label="cut"))
    panel.send("When is the ferry?")
    banner = panel.banner
    expect(banner).to_contain_text("The connection dropped in the middle of the answer.", timeout=TIMEOUT_MS)
    panel.wait_idle()
    partial = panel.assistants.last.inner_text()
    assert partial and text.startswith(partial.strip()) and partial.strip() != text, partial
    expect(panel.meta()).to_contain_text("Answer cut off")
    expect(panel.articles("assistant").last).to_have_class(re.compile(r"\bcut\b"))
    no_raw_text(panel)
    server.enqueue(text_reply(text))
    banner.get_by_role("button", name="Try again").click()
    panel.reply(text)
    expect(banner).to_be_hidden()


def test_a_stall_says_no_data_and_offers_retry_before_the_idle_timeout(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    set_settings(browser.ext, idle_timeout_ms=30_000)  # the offer comes at a quarter of it
    server.enqueue(stall_reply(after_deltas=2, text="Waiting on the tide, then silence"))
    panel.send("Tell me a story")
    expect(panel.status).to_have_text(re.compile(r"^(Connecting|Thinking|Writing)…$"), timeout=TIMEOUT_MS)
    started = time.monotonic()
    expect(panel.status).to_have_text(re.compile(r"^No data for \d+ s$"), timeout=TIMEOUT_MS)
    waited = time.monotonic() - started
    assert 5 <= waited < 15, waited  # 7.5 s of silence: well under the 30 s idle timeout
    retry = panel.get("stall-retry")
    expect(retry).to_be_visible()
    expect(panel.get("stop")).to_be_visible()
    expect(panel.banner).to_be_hidden()  # nothing has failed yet
    server.enqueue(text_reply("Once upon a time."))
    retry.click()
    panel.reply("Once upon a time.")
    expect(retry).to_be_hidden()
    expect(panel.assistants).to_have_count(1)


def test_a_usage_limit_names_the_plan_and_the_reset(server: MockServerThread, panel: Panel) -> None:
    server.enqueue(http_error("usage_limit_reached", plan_type="plus", resets_in_seconds=5400))
    panel.send("Anything left this month?")
    banner = panel.banner
    expect(banner).to_contain_text("You've hit your usage limit.", timeout=TIMEOUT_MS)
    expect(banner).to_contain_text("try again in 1 hour 30 minutes")
    expect(banner.get_by_role("button", name="Try again")).to_be_visible()
    no_raw_text(panel)
    assert "usage_limit_reached" in details(panel)
