"""Providers in the real browser: a server that speaks only Chat Completions, set up from the
options page with a base URL and a key alone; its models in the panel's picker; a reply that
streams with its usage; and two saved providers switched from the panel, each sent its own key.

* server A (``mockapi --wire chat``) offers only ``GET /models`` and ``POST /chat/completions``
  (``/responses`` is a 404), and checks its key;
* server B is a Responses API server with another key.

Screenshots of the options page's provider part (and its effort field) and of the panel's
pickers, at 400 px in the light and the dark scheme, go to ``build/screenshots/`` (looked at
when the change was made).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from mockapi import MockServerThread
from tests.e2e.chatkit import Panel, open_panel_window
from tests.e2e.conftest import Extension
from tests.e2e.test_options import Options
from tests.support.paths import REPO

pytestmark = pytest.mark.e2e

KEY_A = "sk-e2e-chat-only-server-aaaaAAAA"
KEY_B = "sk-e2e-responses-server-bbbbBBBB"
CHAT_MODELS = ("deepseek-chat", "deepseek-reasoner")
TIMEOUT_MS = 30_000
SHOTS = REPO / "build" / "screenshots"


@pytest.fixture(scope="module")
def chat_only() -> Iterator[MockServerThread]:
    with MockServerThread(api_key=KEY_A, wire_apis=("chat",), models=CHAT_MODELS) as srv:
        yield srv


@pytest.fixture(scope="module")
def responses() -> Iterator[MockServerThread]:
    with MockServerThread(api_key=KEY_B, models=("gpt-5-mini", "gpt-4.1")) as srv:
        yield srv


WIDTH = 400  # a side panel's usual width


def shots(page: Page, name: str, *locators: Locator, height: int = 0) -> None:
    """``name-light.png`` and ``name-dark.png``: each locator (or the page's top ``height`` px)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        if height:
            page.screenshot(path=str(SHOTS / f"{name}-{scheme}.png"),
                            clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
        for i, locator in enumerate(locators):
            suffix = f"-{i + 1}" if len(locators) > 1 else ""
            locator.screenshot(path=str(SHOTS / f"{name}{suffix}-{scheme}.png"))
    page.emulate_media(color_scheme="light")


def test_a_chat_only_server_and_two_providers(extension: Extension, chat_only: MockServerThread,
                                              responses: MockServerThread) -> None:
    options = Options(extension)
    # Base URL and key are all it takes: the custom provider, its server, its key.
    options.get("provider").select_option("compatible")
    options.get("base-url").fill(chat_only.base_url)
    options.get("model").fill("deepseek-chat")
    options.get("api-key").fill(KEY_A)
    expect(options.get("wire-api")).to_have_value("auto")
    options.save("Saved · key stored encrypted")

    # Test connection sends the short message chat will send, and finds Chat Completions.
    result = options.test_connection()
    assert result["kind"] == "ok", result
    assert "Chat works: deepseek-chat answered “Echo: OK?” over Chat Completions" in result["text"]
    expect(options.ui.locator("#hint-wire_api")).to_contain_text("found Chat Completions")
    expect(options.get("request-url")).to_have_text(chat_only.base_url + "/chat/completions")
    posts = [(r.method, r.path) for r in chat_only.requests if r.method == "POST"]
    assert posts == [("POST", "/v1/responses"), ("POST", "/v1/chat/completions")]
    # The effort field offers what the model takes: deepseek-chat takes none.
    effort = options.get("reasoning-effort")
    expect(effort).to_be_disabled()
    hint = options.ui.locator("#hint-reasoning_effort")
    expect(hint).to_have_text("deepseek-chat takes no reasoning effort.")

    # Saved as a provider; then a second one, with its own server and key.
    options.get("profile-name").fill("Chat server")
    options.get("profile-save").click()
    expect(options.get("profile")).to_have_count(1, timeout=TIMEOUT_MS)
    options.get("profile-name").fill("Responses server")
    options.get("profile-new").click()
    expect(options.get("profile")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(options.get("key-state")).not_to_contain_text("aaaa")  # the new provider has no key yet
    options.get("base-url").fill(responses.base_url)
    options.get("model").fill("gpt-5.2")  # a later model: "none" instead of "minimal", and "xhigh"
    options.get("api-key").fill(KEY_B)
    options.save("Saved · key stored encrypted")
    expect(effort).to_be_enabled()
    expect(effort.locator("option")).to_have_text(["Model default", "none (no reasoning)", "low", "medium",
                                                   "high", "xhigh (extra high)"])
    options.get("model").fill("gpt-5-mini")
    options.save()
    # (waits for the save: a model the saved view does not cover would offer all seven)
    expect(effort.locator("option")).to_have_text(["Model default", "minimal", "low", "medium", "high"])
    expect(hint).to_have_text("The efforts gpt-5-mini takes.")
    options.get("profile-save").click()
    expect(options.get("settings-status")).to_have_text("Provider saved", timeout=TIMEOUT_MS)
    options.page.set_viewport_size({"width": WIDTH, "height": 2000})  # both sections above the footer
    shots(options.page, "options-providers", options.ui.locator("section[aria-labelledby=h-connection]"),
          options.ui.locator("section[aria-labelledby=h-providers]"),
          options.ui.locator("section[aria-labelledby=h-answers]"))

    # The panel: both providers in the switcher, the active server's models in the picker.
    panel = Panel(open_panel_window(extension, width=WIDTH))
    panel.wait_ready()
    switcher = panel.get("profile-picker")
    expect(switcher).to_be_visible(timeout=TIMEOUT_MS)
    expect(switcher.locator("option")).to_have_text(["Chat server", "Responses server"])
    expect(switcher.locator("option:checked")).to_have_text("Responses server")  # the one in use

    # Switch to the chat-only server: its models, its default model chosen, a streamed reply with
    # usage, its own key.
    switcher.select_option(label="Chat server")
    picker = panel.get("model-picker")
    expect(picker.locator("option")).to_contain_text(list(CHAT_MODELS), timeout=TIMEOUT_MS)
    expect(picker).to_have_value("deepseek-chat")
    expect(panel.get("effort-picker")).to_be_hidden()  # a model that takes no reasoning effort
    shots(panel.page, "panel-pickers", height=160)
    chat_only.reset()
    panel.send("Hello there")
    panel.reply("Echo: Hello there")
    expect(panel.get("usage")).to_be_visible()
    [turn] = [r for r in chat_only.requests if r.path == "/v1/chat/completions"]
    assert turn.bearer == KEY_A and turn.json["stream_options"] == {"include_usage": True}
    assert turn.json["model"] == "deepseek-chat"

    # Switch back, in the same conversation: the next message goes to the Responses server, with
    # its key and its default model (it has no deepseek-chat).
    responses.reset()
    chat_only.reset()
    switcher.select_option(label="Responses server")
    expect(picker.locator("option")).to_contain_text(["gpt-5-mini", "gpt-4.1"], timeout=TIMEOUT_MS)
    expect(picker).to_have_value("gpt-5-mini")
    effort = panel.get("effort-picker")
    expect(effort).to_be_enabled()  # gpt-5-mini takes efforts, from minimal on
    expect(effort.locator("option")).to_have_text(["Default effort", "Minimal", "Low", "Medium", "High"])
    shots(panel.page, "panel-pickers-efforts", height=160)
    panel.send("Second provider")
    panel.reply("Echo: Second provider")
    [turn] = [r for r in responses.requests if r.path == "/v1/responses"]
    assert turn.bearer == KEY_B and turn.json["model"] == "gpt-5-mini"
    assert not [r for r in chat_only.requests if r.method == "POST"]  # nothing went to the other one


def test_test_connection_then_save_chats_on_the_wire_api_it_found(extension: Extension,
                                                                   chat_only: MockServerThread) -> None:
    """The documented order, Test connection first and Save after: the wire API the test found
    is the one chat uses (not the Responses API, which this server answers with a 404)."""
    options = Options(extension)
    options.get("provider").select_option("compatible")
    options.get("base-url").fill(chat_only.base_url)
    options.get("model").fill("deepseek-chat")
    options.get("api-key").fill(KEY_A)
    result = options.test_connection()
    assert result["kind"] == "ok", result
    options.save("Saved · key stored encrypted")
    expect(options.get("request-url")).to_have_text(chat_only.base_url + "/chat/completions")
    chat_only.reset()
    panel = Panel(open_panel_window(extension, width=WIDTH))
    panel.wait_ready()
    panel.send("Hello there")
    panel.reply("Echo: Hello there")
    assert [r.path for r in chat_only.requests if r.method == "POST"] == ["/v1/chat/completions"]


def test_a_chat_only_server_saved_without_test_connection_answers_and_is_remembered(
    extension: Extension
) -> None:
    """Save without Test connection: the first message finds /responses missing (a 404, Test
    connection's rule), goes to /chat/completions in the same turn, and the settings keep that
    wire API: the next message goes straight there."""
    with MockServerThread(api_key=KEY_A, wire_apis=("chat",), models=CHAT_MODELS) as server:
        options = Options(extension)
        options.get("provider").select_option("compatible")
        options.get("base-url").fill(server.base_url)
        options.get("model").fill("deepseek-chat")
        options.get("api-key").fill(KEY_A)
        options.save("Saved · key stored encrypted")
        expect(options.get("request-url")).to_have_text(server.base_url + "/responses")  # a guess
        panel = Panel(open_panel_window(extension, width=WIDTH))
        panel.wait_ready()
        panel.send("Hello untested")
        panel.reply("Echo: Hello untested")
        expect(panel.get("error")).to_be_hidden()
        panel.send("And again")
        panel.reply("Echo: And again")
        posts = [r.path for r in server.requests if r.method == "POST"]
        assert posts == ["/v1/responses", "/v1/chat/completions", "/v1/chat/completions"], posts
        options.page.reload()
        expect(options.get("request-url")).to_have_text(server.base_url + "/chat/completions")
        panel.page.close()
        options.page.close()
