"""The panel at panel widths and under the user's hands.

One browser for the module, pointed at the mock Responses server:

* Escape stops a reply that is being written (the partial answer stays, "Stopped");
* at 320 px a table keeps its numbers whole, keeps ``---:`` alignment and scrolls
  sideways in its own box; a display formula shows a placeholder while it streams,
  never raw TeX, and renders once complete;
* reading back while a long answer streams offers "jump to latest";
* reloading the panel shows the conversation that was on screen (not the most recent
  one), without ever showing an empty chat or the setup card meanwhile;
* the conversation list groups by day, previews are plain text, the count is live,
  and the menu exports JSON.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mockapi import MockServerThread, text_reply
from tests.e2e.chatkit import TIMEOUT_MS, ChatBrowser, Panel

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-panel-0123456789"

LONG = " ".join(f"Sentence {i} of a long answer that takes a while to write." for i in range(120))

TABLE = """Here are the figures.

| Item | Description | Q1 | Q2 | Q3 | Q4 |
|:-----|:------------|---:|---:|---:|---:|
| Rent | Monthly rent for the flat on the harbour front | 1234567.89 | 1234567.89 | 1234567.89 | 1234567.89 |
| Food | Groceries | 42.00 | 43.50 | 41.25 | 44.00 |
"""

FORMULA = ["The area is\n\n", "$$\n", "\\int_0^1 x^2", "\\,dx", " = \\frac{1}{3}", "\n$$\n\nas expected."]


def test_escape_stops_the_reply(server: MockServerThread, panel: Panel) -> None:
    server.enqueue(text_reply(LONG, delta_delay_ms=30))
    panel.send("Talk for a while")
    panel.observe(panel.assistants.last, lambda text: len(text.split()) >= 8)
    expect(panel.status).to_have_text("Writing…")
    panel.composer.press("Escape")
    panel.wait_idle()
    expect(panel.meta()).to_contain_text("Stopped", timeout=TIMEOUT_MS)
    kept = panel.assistants.last.inner_text()
    assert LONG.startswith(kept.strip()) and len(kept) < len(LONG)
    expect(panel.status).to_have_text("Ready")


def test_a_table_and_a_formula_at_320_px(server: MockServerThread, panel: Panel) -> None:
    panel.page.set_viewport_size({"width": 320, "height": 700})
    try:
        server.enqueue(text_reply(deltas=FORMULA, delta_delay_ms=700))
        panel.send("What is the area?")
        reply = panel.assistants.last
        expect(reply.locator(".formula-pending")).to_have_text("Writing a formula…", timeout=TIMEOUT_MS)
        assert "\\int" not in reply.inner_text() and "$$" not in reply.inner_text()
        panel.reply_done()
        expect(reply.locator(".katex")).to_have_count(1)
        expect(reply.locator(".formula-pending")).to_have_count(0)
        assert "$$" not in reply.inner_text()

        server.enqueue(text_reply(TABLE))
        panel.send("And the figures?")
        panel.reply_done()
        table = panel.assistants.last.locator("table")
        expect(table).to_have_count(1)
        facts = table.evaluate("""(t) => {
            const cell = [...t.querySelectorAll("td")].find((c) => c.textContent.includes("1234567.89"));
            const range = document.createRange();
            range.selectNodeContents(cell);
            const wrap = t.parentElement;
            return {
                lines: range.getClientRects().length,
                align: getComputedStyle(cell).textAlign,
                head: getComputedStyle(t.querySelector("th:last-child")).textAlign,
                first: getComputedStyle(t.querySelector("td")).textAlign,
                wrapper: wrap.className,
                scrolls: wrap.scrollWidth > wrap.clientWidth,
                pageScrolls: document.scrollingElement.scrollWidth > window.innerWidth,
            };
        }""")
        assert facts["lines"] == 1, facts  # the number is not broken mid-digit
        assert facts["align"] == "right" and facts["head"] == "right", facts  # ---: is kept
        assert facts["first"] == "left", facts  # :--- too
        assert facts["wrapper"] == "table-wrap" and facts["scrolls"], facts  # it scrolls sideways ...
        assert not facts["pageScrolls"], facts  # ... in its own box, not the panel
    finally:
        panel.page.set_viewport_size({"width": 420, "height": 800})


def test_reading_back_offers_a_jump_to_the_latest(server: MockServerThread, panel: Panel) -> None:
    server.enqueue(text_reply(LONG, delta_delay_ms=20))
    panel.send("A long one, please")
    panel.observe(panel.assistants.last, lambda text: len(text.split()) >= 500)  # taller than the panel
    jump = panel.get("jump-latest")
    expect(jump).to_be_hidden()
    panel.ui.locator("#scroller").evaluate("(s) => s.scrollTo(0, 0)")
    expect(jump).to_be_visible()
    time.sleep(0.5)
    assert panel.ui.locator("#scroller").evaluate("(s) => s.scrollTop") == 0  # new text does not pull it down
    jump.click()
    expect(jump).to_be_hidden()
    at_bottom = "(s) => s.scrollHeight - s.scrollTop - s.clientHeight < 48"
    assert panel.ui.locator("#scroller").evaluate(at_bottom)
    panel.reply(LONG, timeout_ms=60_000)


def test_reload_restores_the_conversation_on_screen_without_an_empty_frame(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(text_reply("First answer."))
    panel.send("The older conversation")
    panel.reply("First answer.")
    panel.new_chat()
    server.enqueue(text_reply("Second answer."))
    panel.send("The newer conversation")
    panel.reply("Second answer.")
    panel.open_conversation("The older conversation")
    expect(panel.users).to_have_text(["The older conversation"], timeout=TIMEOUT_MS)

    # Record, from the first moment of the reloaded frame, whether the empty chat or the
    # setup card ever shows.
    page = panel.page
    page.add_init_script("""(() => {
        if (!location.pathname.endsWith("/ui.html")) return;
        window.__flashes = [];
        const check = () => {
            for (const id of ["empty", "onboarding"]) {
                const e = document.getElementById(id);
                if (e && !e.hidden && e.getClientRects().length) window.__flashes.push(id);
            }
        };
        new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
    })()""")
    page.reload()
    expect(panel.users).to_have_text(["The older conversation"], timeout=TIMEOUT_MS)
    expect(panel.ui.locator("#conv-title")).to_have_text("The older conversation")
    assert panel.frame.evaluate("() => window.__flashes") == []


def test_a_new_chat_opened_before_a_reload_is_still_there_after_it(server: MockServerThread,
                                                                    panel: Panel) -> None:
    server.enqueue(text_reply("Stored answer."))
    panel.send("A stored conversation")
    panel.reply("Stored answer.")
    panel.new_chat()
    panel.page.reload()
    panel.wait_ready()
    titles = panel.open_list().locator("li.conv")
    expect(titles.filter(has_text="A stored conversation")).to_have_count(1)  # the worker's hello is in
    expect(panel.ui.locator("article.msg")).to_have_count(0)  # the new chat, not the latest conversation
    panel.send("A second conversation")
    expect(titles.filter(has_text="A second conversation")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(panel.users).to_have_text(["A second conversation"])


def test_the_list_groups_previews_counts_and_exports_json_the_options_page_imports(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    server.enqueue(text_reply("**Bold** and `code` and a [link](https://example.com)."))
    panel.send("Markdown, please")
    panel.reply("Bold and code and a link.")
    listing = panel.open_list()
    expect(listing.locator("li.group").first).to_have_text("Today")
    item = listing.locator("li.conv", has_text="Markdown, please")
    expect(item.locator(".d")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(item.locator(".p")).not_to_contain_text("**")
    expect(item.locator(".p")).not_to_contain_text("](")
    count = len(browser.conversations())
    expect(panel.get("storage")).to_contain_text(f"{count} of ")
    toggle = panel.ui.locator("#list-toggle")
    if toggle.get_attribute("aria-expanded") == "true":
        toggle.click()

    panel.ui.locator("#more").click()
    with panel.page.expect_download() as download:
        panel.get("export-json").click()
    exported = Path(download.value.path())
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert (
        data["format"] == "sidepy.conversations" and data["conversations"][0]["title"] == "Markdown, please"
    )

    # The export comes back through the settings page (importing is its capability alone):
    # added beside what is there, under new ids.
    options = browser.ext.context.new_page()
    options.goto(browser.ext.url("options.html"))
    ui = options.frame_locator("#options-ui")
    expect(ui.get_by_test_id("settings-status")).to_have_text("Ready", timeout=TIMEOUT_MS)
    ui.get_by_test_id("fold-conversations").locator("summary").click()
    ui.get_by_test_id("conv-import").set_input_files(str(exported))
    sent = len(data["conversations"])  # the menu exports the conversation on screen
    expect(ui.get_by_test_id("conv-import-result")).to_have_text(
        f"Imported {sent} conversation{'' if sent == 1 else 's'}: open the panel's list to see them.",
        timeout=TIMEOUT_MS)
    titles = [c["title"] for c in browser.conversations()]
    assert len(titles) == count + sent and titles.count("Markdown, please") == 2, titles
    (exported.parent / "not-an-export.json").write_text('{"hello": "world"}', encoding="utf-8")
    ui.get_by_test_id("conv-import").set_input_files(str(exported.parent / "not-an-export.json"))
    expect(ui.get_by_test_id("conv-import-result")).to_have_text(
        "Import failed: this is not a SidePy conversations export.", timeout=TIMEOUT_MS)
    options.close()


def test_an_earlier_question_can_be_edited_and_answers_keep_their_versions(
    browser: ChatBrowser, server: MockServerThread, panel: Panel
) -> None:
    asked = (("How tall is the lighthouse?", "Forty metres."), ("And how old?", "A century."))
    for question, answer in asked:
        server.enqueue(text_reply(answer))
        panel.send(question)
        panel.reply(answer)

    # Edit the first question: the conversation goes on from it.
    panel.articles("user").first.get_by_test_id("edit-message").click()
    expect(panel.composer).to_have_value("How tall is the lighthouse?")
    server.enqueue(text_reply("Forty-two metres, with the lamp."))
    panel.send("How tall is the lighthouse, lamp included?")
    panel.reply("Forty-two metres, with the lamp.")
    expect(panel.users).to_have_text(["How tall is the lighthouse, lamp included?"])
    sent = [text for text in json.dumps(server.requests_to("responses")[-1].json["input"]).split('"') if text]
    assert "And how old?" not in sent  # only the new branch goes to the model

    # The branch it replaced is a version of it: 2/2, and 1/2 brings it back whole.
    branch = panel.articles("user").first.get_by_test_id("versions")
    expect(branch).to_contain_text("2/2")
    branch.get_by_role("button", name="Previous version").click()
    expect(panel.users).to_have_text(["How tall is the lighthouse?", "And how old?"], timeout=TIMEOUT_MS)
    expect(panel.assistants).to_have_text(["Forty metres.", "A century."])
    expect(panel.articles("user").first.get_by_test_id("versions")).to_contain_text("1/2")

    # Regenerate keeps the answer it replaces.
    server.enqueue(text_reply("About a hundred years."))
    panel.get("regenerate").click()
    panel.reply("About a hundred years.")
    answer = panel.articles("assistant").last.get_by_test_id("versions")
    expect(answer).to_contain_text("2/2")
    answer.get_by_role("button", name="Previous version").click()
    expect(panel.assistants.last).to_have_text("A century.", timeout=TIMEOUT_MS)
    stored = browser.current()
    assert [m["text"] for m in stored["messages"]][-1] == "A century."  # the switch is stored
