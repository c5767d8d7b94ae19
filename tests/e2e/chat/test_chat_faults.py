"""Server faults in the panel: each shows the right banner (``error``) and leaves the right state.

One browser for the module; the worker stays up throughout (``status`` "Ready"):

* 429 ``usage_limit_reached``: the banner says the usage limit was hit, the plan's way
  out and when it resets, with "Try again"; it is not retried (one request); the next
  message waits in the request queue (``queue``: "rate limit") until "Send now"; the
  rate-limit windows show 100 % used;
* a 500 then success: retried by itself, the reply arrives, no banner left, and the
  public API's ``x-ratelimit-*`` headers of the success show in ``rate-limits``;
* idle timeout (``idle_timeout_ms`` 5 s, the smallest allowed; no stream retries): the
  partial text is kept and marked cut, the banner says the server stopped sending and
  offers "Try again", which regenerates the reply;
* a connection cut mid-stream: the status line says it is reconnecting (1 of 5) while
  the request is re-sent — no banner: nothing has failed — then the whole reply arrives;
* a ``response.completed`` that says ``incomplete`` (a bridge cutting the answer at the
  output limit): the partial answer stays, with the reason under it, not sent twice.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mockapi import (
    MockServerThread,
    cut_reply,
    http_error,
    incomplete_reply,
    openai_rate_limit_headers,
    stall_reply,
    text_reply,
)
from tests.e2e.chatkit import (
    TIMEOUT_MS,
    ChatBrowser,
    Panel,
    set_settings,
)

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-faults-0123456789"
SHOTS = Path(tempfile.gettempdir()) / "sidepy-e2e-shots"
SHOTS.mkdir(exist_ok=True)


@pytest.fixture
def panel(panel: Panel) -> Iterator[Panel]:
    yield panel
    expect(panel.status).to_have_text("Ready")  # a fault of the server never takes the worker down


def test_usage_limit_shows_the_plan_and_reset_and_is_not_retried(
    server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(http_error("usage_limit_reached", plan_type="plus", resets_in_seconds=5400))
    panel.send("Anything left this month?")
    banner = panel.banner
    expect(banner).to_be_visible(timeout=TIMEOUT_MS)
    expect(banner).to_contain_text("You've hit your usage limit.")
    expect(banner).to_contain_text("Upgrade to Pro")
    expect(banner).to_contain_text("try again in 1 hour 30 minutes")
    expect(banner.get_by_role("button", name="Try again")).to_be_visible()
    panel.wait_idle()
    expect(panel.meta()).to_contain_text("No answer")  # a mark; the banner says why, once
    time.sleep(1.5)  # a retry would have gone out by now
    assert len(server.requests_to("responses")) == 1
    expect(panel.users).to_have_text(["Anything left this month?"])  # the message is kept
    expect(panel.composer).to_be_enabled()

    # Until the reset the queue holds what is sent next, visibly; "Send now" overrides it.
    server.enqueue(text_reply("Squeezed in."))
    panel.send("One more?")
    queue = panel.get("queue")
    expect(queue).to_be_visible(timeout=TIMEOUT_MS)
    expect(queue).to_contain_text("One more?")
    expect(queue).to_contain_text("rate limit")
    time.sleep(1.0)
    assert len(server.requests_to("responses")) == 1  # held, not sent
    panel.get("queue-send-now").click()
    panel.reply("Squeezed in.")
    expect(queue).to_be_hidden()
    assert len(server.requests_to("responses")) == 2


def test_usage_limit_shows_the_exhausted_rate_limit_window(server: MockServerThread, panel: Panel) -> None:
    server.enqueue(http_error("usage_limit_reached", plan_type="plus", resets_in_seconds=5400))
    panel.send("And now?")
    expect(panel.banner).to_contain_text("You've hit your usage limit.", timeout=TIMEOUT_MS)
    limits = panel.get("rate-limits")
    expect(limits).to_be_visible()
    expect(limits).to_contain_text("100% used")


def test_a_server_error_is_retried_and_the_reply_arrives(server: MockServerThread, panel: Panel) -> None:
    headers = openai_rate_limit_headers(limit_requests=500, remaining_requests=123)
    server.enqueue(http_error("server_error"), text_reply("Back on my feet.").with_options(headers=headers))
    panel.send("Are you there?")
    panel.reply("Back on my feet.")
    expect(panel.banner).to_be_hidden()
    limits = panel.get("rate-limits")
    expect(limits).to_be_hidden()  # plenty left: the compact footer keeps them behind "Limits"
    panel.ui.locator("#limits-toggle").click()
    expect(limits).to_contain_text("123 of 500 left")  # the public API's headers
    expect(panel.meta()).not_to_contain_text("No answer")
    assert [r.status for r in server.requests_to("responses")] == [500, 200]


def test_an_idle_stream_times_out_with_a_banner_and_try_again_works(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    set_settings(browser.ext, idle_timeout_ms=5_000, stream_max_retries=0)
    try:
        server.enqueue(stall_reply(after_deltas=3, text="Waiting on the tide, then silence forever"))
        panel.send("Tell me a long story")
        expect(panel.assistants.last).to_have_text("Waiting on the", timeout=TIMEOUT_MS)
        expect(panel.get("stop")).to_be_visible()
        started = time.monotonic()
        banner = panel.banner
        expect(banner).to_contain_text("The server stopped sending", timeout=TIMEOUT_MS)
        waited = time.monotonic() - started
        assert 3 < waited < 15, waited
        panel.wait_idle()
        expect(panel.assistants.last).to_have_text("Waiting on the")  # the partial text is kept
        expect(panel.meta()).to_contain_text("Answer cut off")
        assert len(server.requests_to("responses")) == 1

        server.enqueue(text_reply("Once upon a time."))
        banner.get_by_role("button", name="Try again").click()
        panel.reply("Once upon a time.")
        expect(banner).to_be_hidden()
        expect(panel.assistants).to_have_count(1)
    finally:
        set_settings(browser.ext, idle_timeout_ms=300_000, stream_max_retries=5)


def test_a_cut_connection_shows_reconnecting_then_the_reply(server: MockServerThread, panel: Panel) -> None:
    text = "The ferry leaves at nine and returns at five."
    # The re-sent request waits 2 s before answering, so the notice can be seen.
    server.enqueue(cut_reply(after_deltas=3, text=text), text_reply(text).with_options(delay_ms=2_000))
    panel.send("When is the ferry?")
    retrying = re.compile(r"^(Connection lost: retrying in .*\(1 of 5\)|Reconnecting…)$")
    expect(panel.status).to_have_text(retrying, timeout=TIMEOUT_MS)
    expect(panel.banner).to_be_hidden()  # nothing has failed: the status line says what happens
    expect(panel.get("stop")).to_be_visible()  # still the same turn
    panel.reply(text)
    expect(panel.banner).to_be_hidden()
    expect(panel.assistants).to_have_count(1)
    expect(panel.meta()).not_to_contain_text("cut off")
    assert len(server.requests_to("responses")) == 2


def test_an_incomplete_answer_is_kept_with_its_reason(server: MockServerThread, panel: Panel) -> None:
    cut = incomplete_reply("max_output_tokens", text="The first half of the answer", in_completed=True)
    server.enqueue(cut)
    panel.send("Tell me everything")
    panel.reply("The first half of the answer")
    expect(panel.meta()).to_contain_text(
        "The answer is incomplete: the model reached its output limit. "
        "Send a message to continue, or regenerate."
    )
    expect(panel.meta()).not_to_contain_text("Failed")
    expect(panel.banner).to_be_hidden()
    panel.page.screenshot(path=str(SHOTS / "incomplete-answer.png"))
    assert len(server.requests_to("responses")) == 1  # an incomplete answer is not re-sent
