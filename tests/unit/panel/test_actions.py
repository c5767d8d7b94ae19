"""Templates, quick actions, page context and banners.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

try:
    from tests.unit.panel.support import CID, only, push, ready, settings, start_turn, with_conversation
except ImportError:  # MicroPython: this folder is on sys.path
    from support import CID, only, push, ready, settings, start_turn, with_conversation

from panel import templates

TEMPLATES = [
    {"name": "tldr", "prompt": "Summarize in 3 bullets:\n\n{input}"},
    {"name": "/translate", "prompt": "Translate to French."},
    {"name": "tone", "prompt": "Rewrite politely: {input}"},
    {"name": "bad name", "prompt": "ignored"},
    {"name": "empty", "prompt": ""},
]

PAGE = {"title": "Example Domain", "url": "https://example.com/", "text": "This domain is for use...",
        "truncated": True, "chars": 12000, "budget": 12000}


def test_template_suggestions_follow_the_typed_prefix() -> None:
    names = [t["name"] for t in templates.suggestions("/", TEMPLATES)]
    assert names == ["tldr", "tone", "translate"]
    assert [t["name"] for t in templates.suggestions("/T", TEMPLATES)] == ["tldr", "tone", "translate"]
    assert [t["name"] for t in templates.suggestions("/tr", TEMPLATES)] == ["translate"]
    assert templates.suggestions("/tldr now", TEMPLATES) == []
    assert templates.suggestions("tldr", TEMPLATES) == []
    assert templates.suggestions("/x", None) == []


def test_template_expansion() -> None:
    assert templates.expand("/tldr the text", TEMPLATES) == "Summarize in 3 bullets:\n\nthe text"
    assert templates.expand("/translate\nBonjour?", TEMPLATES) == "Translate to French.\n\nBonjour?"
    assert templates.expand("/translate", TEMPLATES) == "Translate to French."
    assert templates.expand("/TONE  hey you ", TEMPLATES) == "Rewrite politely: hey you"
    assert templates.expand("/unknown x", TEMPLATES) is None
    assert templates.expand("no slash", TEMPLATES) is None


def test_sending_a_template_shortcut_sends_its_prompt() -> None:
    state = with_conversation()
    assert state.composer.send("/tldr long article")
    req = only(state.take_outbox(), "chat.send")
    assert req["text"] == "Summarize in 3 bullets:\n\nlong article"


def test_templates_come_from_settings_and_follow_changes() -> None:
    state = ready()
    assert [t["name"] for t in templates.suggestions("/", state.setup.templates)] == ["tldr"]
    state.receive({"type": "settings", "settings": settings(templates=TEMPLATES)}, 0)
    assert len(templates.suggestions("/t", state.setup.templates)) == 3


def test_summarize_this_page_asks_for_the_page_then_sends_with_it() -> None:
    state = with_conversation()
    state.composer.quick_action("summarize")
    req = only(state.take_outbox(), "page.context")
    assert req["include"] == "page"
    state.receive({"type": "page.context", "id": req["id"], "context": PAGE}, 0)
    send = only(state.take_outbox(), "chat.send")
    assert send["text"] == "Summarize “Example Domain”." and send["context"] == PAGE  # the title names it
    assert state.conv.messages[-1].context == PAGE


def test_explain_selection_needs_a_selection() -> None:
    state = with_conversation()
    state.composer.quick_action("explain")
    req = only(state.take_outbox(), "page.context")
    assert req["include"] == "selection"
    state.receive({"type": "page.context", "id": req["id"], "context": PAGE}, 0)
    assert state.take_outbox() == []
    assert state.banners.views(0)[0]["text"] == "Select some text on the page first, then try again."
    state.composer.quick_action("explain")
    req = only(state.take_outbox(), "page.context")
    with_selection = dict(PAGE)
    with_selection["selection"] = "monads"
    state.receive({"type": "page.context", "id": req["id"], "context": with_selection}, 0)
    # The selection waits in the composer for an instruction ...
    assert state.take_outbox() == [] and state.banners.items == []
    assert state.composer.context["selection"] == "monads" and "selection" in state.composer.placeholder
    assert state.composer.send("Translate it into French")
    send = only(state.take_outbox(), "chat.send")
    assert send["text"] == "Translate it into French" and send["context"]["selection"] == "monads"
    # ... and Enter alone explains it.
    state = with_conversation()
    state.composer.selection_pushed(with_selection)
    assert state.composer.send("")
    assert only(state.take_outbox(), "chat.send")["text"] == "Explain the selected text."


def test_a_page_that_cannot_be_read_says_why() -> None:
    state = with_conversation()
    state.composer.quick_action("summarize")
    req = only(state.take_outbox(), "page.context")
    error = {"kind": "page_unavailable", "message": "Chrome does not let extensions read chrome:// pages."}
    state.receive({"type": "page.context", "id": req["id"], "error": error}, 0)
    assert state.take_outbox() == []
    [view] = state.banners.views(0)
    assert view["key"] == "page" and view["action"] is None
    assert view["text"] == "Chrome does not let extensions read chrome:// pages."
    state.banners.dismiss("page")
    assert state.banners.items == []


def test_attach_the_page_to_the_composer_and_remove_it() -> None:
    state = with_conversation()
    state.composer.quick_action("attach")
    req = only(state.take_outbox(), "page.context")
    state.receive({"type": "page.context", "id": req["id"], "context": PAGE}, 0)
    assert state.composer.context == PAGE
    state.composer.clear_context()
    assert state.composer.context is None


def test_a_selection_pushed_from_the_context_menu_lands_in_the_composer() -> None:
    state = with_conversation()
    ctx = dict(PAGE)
    ctx["selection"] = "the selected words"
    state.receive({"type": "page.selection", "context": ctx}, 0)
    assert state.composer.context["selection"] == "the selected words"
    state.composer.send("What does this mean?")
    assert only(state.take_outbox(), "chat.send")["context"] == ctx and state.composer.context is None


def test_quick_actions_during_a_reply_are_sent_for_the_worker_to_queue() -> None:
    state = with_conversation()
    start_turn(state)
    state.composer.quick_action("summarize")
    assert only(state.take_outbox(), "page.context")["include"] == "page"


def test_quick_actions_wait_while_a_message_is_still_being_sent() -> None:
    state = with_conversation()
    assert state.composer.send("first")
    state.take_outbox()
    state.composer.quick_action("summarize")
    assert state.take_outbox() == []
    assert state.banners.views(0)[0]["text"] == "Wait a moment: your last message is still being sent."


def test_quick_actions_before_the_worker_is_ready_are_queued() -> None:
    from panel.state import PanelState

    try:
        from tests.unit.panel.support import connect
    except ImportError:
        from support import connect
    state = PanelState(now=0, session="t")
    state.composer.quick_action("summarize")
    out = connect(state)
    req = only(out, "page.context")
    state.receive({"type": "page.context", "id": req["id"], "context": PAGE}, 0)
    assert only(state.take_outbox(), "chat.send")["text"] == "Summarize “Example Domain”."


def test_an_error_without_a_request_is_a_banner() -> None:
    state = ready()
    state.receive({"type": "error", "code": "internal", "message": "boom"}, 0)
    [view] = state.banners.views(0)
    assert view["text"] == "Something went wrong inside SidePy. Details says what failed."
    assert "boom" in view["details"]  # the worker's own words, behind the Details toggle
    assert state.status_text(0) == "Ready"


def test_rate_limits_from_hello_and_turns() -> None:
    state = ready(limits={"primary": {"used_percent": 10, "window_minutes": 300, "resets_in_seconds": 60}})
    assert state.usage.rows(30000)[0]["text"] == "10% used · resets in 30 s"
    push(state, "turn.limits", limits={"tokens": {"limit": 1000, "remaining": 250, "resets_in_seconds": 2}},
         wall=50000)
    assert state.usage.rows(50000) == [
        {"label": "Tokens", "used_percent": 75.0, "text": "250 of 1k left · resets in 2 s"}
    ]


def test_per_turn_and_session_usage_on_load() -> None:
    usage = {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 5, "reasoning_output_tokens": 0,
             "total_tokens": 15}
    from panel.state import PanelState

    try:
        from tests.unit.panel.support import connect, conversation, message
    except ImportError:
        from support import connect, conversation, message
    state = PanelState(now=0)
    view = conversation(CID, [message("u", "user", "q"), message("a", "assistant", "r", usage=usage)],
                        usage={"total_tokens": 2500})
    connect(state, active=view)
    assert state.usage.text(state.conv) == "Last turn: 10 in · 5 out · Session: 2.5k tokens"
    state.convs.new_chat()
    assert state.usage.text(state.conv) == ""


def test_the_quick_actions_use_the_users_summarize_and_explain_templates() -> None:
    own = [{"name": "summarize", "prompt": "Three bullets on “{input}”, please."},
           {"name": "explain", "prompt": "Explain this like I'm ten."}]
    state = with_conversation()
    state.receive({"type": "settings", "settings": settings(templates=own)}, 0)
    state.composer.quick_action("summarize")
    req = only(state.take_outbox(), "page.context")
    state.receive({"type": "page.context", "id": req["id"], "context": PAGE}, 0)
    assert only(state.take_outbox(), "chat.send")["text"] == "Three bullets on “Example Domain”, please."
    state = with_conversation()
    state.receive({"type": "settings", "settings": settings(templates=own)}, 0)
    with_selection = dict(PAGE)
    with_selection["selection"] = "monads"
    state.composer.selection_pushed(with_selection)
    assert state.composer.send("")
    assert only(state.take_outbox(), "chat.send")["text"] == "Explain this like I'm ten."
    assert templates.prompt_of("nope", own) is None
