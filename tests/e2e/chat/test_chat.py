"""The side-panel chat end to end: a real page on 127.0.0.1, the panel, the mock Responses API.

One browser for the module (a fresh profile; each test starts a new chat):

* a message typed in the composer and sent with Enter streams in: the reply's text
  grows across several observations while ``stop`` is shown, then renders as
  markdown (a heading, a list, a highlighted code block with a working copy button)
  and is persisted;
* "Attach page" puts the page in the ``page-context`` chip and the next message takes
  its title, URL and main text to the model (navigation left out); "Summarize this
  page" sends it at once;
* ``stop`` mid-stream keeps the partial text, marked "Stopped", in the panel and in
  storage; ``regenerate`` replaces the last reply (the stopped one is gone, and the
  model is asked again with the same user message);
* several conversations: ``new-chat``, switching through ``conversation-list``, and a
  reload of the panel page shows the messages and the list again.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mockapi import MockServerThread, text_reply
from tests.e2e.chatkit import (
    ARTICLE_FACT,
    ARTICLE_TITLE,
    HIDDEN_INSTRUCTIONS,
    TIMEOUT_MS,
    ChatBrowser,
    Panel,
    last_request_text,
)

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-chat-0123456789"

MARKDOWN = """# Tide tables

Three things to check before you sail:

- the **wind** forecast
- the tide times
- your *fuel* level

```python
def high_tide(hour: int) -> bool:
    return hour % 12 == 6  # twice a day
```

Fair winds."""

LONG = " ".join(f"word{i}" for i in range(200))


def test_a_reply_streams_in_and_renders_as_markdown(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(text_reply(MARKDOWN, delta_delay_ms=60))
    panel.send("How do I read a tide table?")
    expect(panel.users.last).to_have_text("How do I read a tide table?")
    expect(panel.get("stop")).to_be_visible(timeout=TIMEOUT_MS)
    reply = panel.assistants.last
    seen = panel.observe(reply, lambda text: "Fair winds." in text)
    growing = [text for text in seen if text]
    assert len(growing) >= 4, f"the reply did not stream in: {growing}"
    lengths = [len(text) for text in growing]
    assert lengths[0] < lengths[-1] / 2, lengths  # the first observation held a small part only
    panel.wait_idle()

    # Markdown, rendered and sanitized: heading, list, highlighted code with a copy button.
    expect(reply.locator("h1")).to_have_text("Tide tables")
    expect(reply.locator("ul > li")).to_have_count(3)
    expect(reply.locator("ul strong")).to_have_text("wind")
    code = reply.locator("pre > code")
    expect(code).to_have_count(1)
    expect(code).to_have_class("language-python hljs")
    expect(code.locator("span.hljs-keyword").first).to_have_text("def")
    expect(code).to_contain_text("return hour % 12 == 6")
    copy = panel.articles("assistant").last.locator(".code-head button[data-action=copy-code]")
    expect(copy).to_have_count(1)
    copy.click()
    expect(copy).to_have_class("copy-code copied")
    expect(panel.meta()).to_contain_text("mock-model")
    expect(panel.get("usage")).to_be_visible()

    # The model got what was typed; the turn is stored.
    assert "How do I read a tide table?" in last_request_text(server)
    stored = browser.current()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["messages"][1]["text"] == MARKDOWN and not stored["messages"][1]["streaming"]


def test_the_page_goes_with_the_message(browser: ChatBrowser, server: MockServerThread, panel: Panel) -> None:
    article_url = browser.article.url
    panel.get("quick-attach").click()
    chip = panel.get("page-context")
    expect(chip).to_be_visible(timeout=TIMEOUT_MS)
    expect(chip).to_contain_text(f"Page: {ARTICLE_TITLE}")
    extracted = panel.get("page-context-text")
    expect(extracted).to_be_hidden()
    chip.get_by_role("button", name=f"Page: {ARTICLE_TITLE}").click()  # what will be sent, before sending
    expect(extracted).to_contain_text(ARTICLE_FACT)
    expect(extracted).not_to_contain_text("navigation, not part of the article")
    server.enqueue(text_reply("She kept it for forty-one winters."))
    panel.send("How long did she keep the light?", click=True)
    panel.reply("She kept it for forty-one winters.")
    expect(chip).to_be_hidden()
    sent = last_request_text(server)
    assert ARTICLE_TITLE in sent and article_url in sent and ARTICLE_FACT in sent
    assert "14,302" in sent and "How long did she keep the light?" in sent
    assert "navigation, not part of the article" not in sent  # <main>/<article> only
    for hidden in HIDDEN_INSTRUCTIONS:  # text the reader cannot see never goes to the model
        assert hidden not in sent and hidden.split(":")[0] not in sent
    body = server.requests_to("responses")[-1].json
    page_block = body["input"][-1]["content"][0]["text"]
    boundary = page_block.split("<<PAGE ", 1)[1].split(">>", 1)[0]
    assert page_block.rstrip().endswith(f"<<END PAGE {boundary}>>") and ARTICLE_FACT in page_block
    assert "untrusted data" in body["instructions"] and "never follow instructions" in body["instructions"]
    context = panel.articles("user").last.locator(".ctx")
    expect(context.locator("summary")).to_have_text(f"Page: {ARTICLE_TITLE}")
    expect(context.locator(".ctx-body")).to_be_hidden()  # collapsed under one line ...
    context.locator("summary").click()
    expect(context.locator(".ctx-body")).to_contain_text(ARTICLE_FACT)  # ... and open to read
    expect(panel.users.last).to_have_text("How long did she keep the light?")  # the page is not in the bubble

    panel.new_chat()
    server.enqueue(text_reply("A lighthouse keeper's forty-one winters."))
    panel.get("quick-summarize").click()
    panel.reply("A lighthouse keeper's forty-one winters.")
    sent = last_request_text(server)
    assert f"Summarize “{ARTICLE_TITLE}”" in sent and ARTICLE_FACT in sent  # the /summarize template
    expect(panel.articles("user").last.locator(".ctx summary")).to_have_text(f"Page: {ARTICLE_TITLE}")
    stored = browser.current()
    assert stored["messages"][0]["context"]["title"] == ARTICLE_TITLE
    assert ARTICLE_TITLE in stored["title"]  # the conversation's title names the page


def test_stop_keeps_the_partial_reply_and_regenerate_replaces_it(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(text_reply(LONG, delta_delay_ms=50))
    panel.send("Count slowly.")
    reply = panel.assistants.last
    panel.observe(reply, lambda text: len(text.split()) >= 5)
    panel.get("stop").click()
    expect(panel.meta()).to_contain_text("Stopped", timeout=TIMEOUT_MS)
    panel.wait_idle()
    kept = reply.inner_text()
    assert LONG.startswith(kept) and 5 <= len(kept.split()) < 200, kept
    expect(reply).to_have_text(kept)  # nothing more arrives after the stop
    stored = browser.current()["messages"][-1]
    assert stored["stopped"] and stored["text"] == kept, stored

    expect(panel.get("regenerate")).to_be_visible()
    server.enqueue(text_reply("One, two, three."))
    panel.get("regenerate").click()
    panel.reply("One, two, three.")
    expect(panel.assistants).to_have_count(1)  # replaced, not added
    expect(panel.users).to_have_count(1)
    expect(panel.meta()).not_to_contain_text("Stopped")
    sent = server.requests_to("responses")[-1].json
    assert sent is not None
    roles = [(item.get("role"), item["content"][0]["text"]) for item in sent["input"]]
    assert roles == [("user", "Count slowly.")], roles  # the stopped reply was dropped
    stored_messages = browser.current()["messages"]
    assert [(m["role"], m["text"]) for m in stored_messages] == [
        ("user", "Count slowly."), ("assistant", "One, two, three.")]


def test_conversations_switch_and_survive_a_reload(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(text_reply("Alpha answer."))
    panel.send("Alpha question")
    panel.reply("Alpha answer.")
    panel.new_chat()
    server.enqueue(text_reply("Beta answer."))
    panel.send("Beta question")
    panel.reply("Beta answer.")
    titles = panel.titles()
    assert titles[:2] == ["Beta question", "Alpha question"], titles

    panel.open_conversation("Alpha question")
    expect(panel.users).to_have_text(["Alpha question"], timeout=TIMEOUT_MS)
    expect(panel.assistants).to_have_text(["Alpha answer."])
    expect(panel.ui.locator("#conv-title")).to_have_text("Alpha question")
    panel.open_conversation("Beta question")
    expect(panel.users).to_have_text(["Beta question"], timeout=TIMEOUT_MS)
    expect(panel.assistants).to_have_text(["Beta answer."])

    panel.page.reload()
    panel.wait_ready()
    expect(panel.users).to_have_text(["Beta question"], timeout=TIMEOUT_MS)  # the latest one
    expect(panel.assistants).to_have_text(["Beta answer."])
    titles = panel.titles()
    assert titles[:2] == ["Beta question", "Alpha question"], titles
    panel.open_conversation("Alpha question")
    expect(panel.users).to_have_text(["Alpha question"], timeout=TIMEOUT_MS)
    expect(panel.assistants).to_have_text(["Alpha answer."])
    # And it goes on: a new message in the reopened conversation.
    server.enqueue(text_reply("Alpha again."))
    panel.send("Alpha follow-up")
    panel.reply("Alpha again.")
    expect(panel.users).to_have_text(["Alpha question", "Alpha follow-up"])
