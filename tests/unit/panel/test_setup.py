"""What the panel knows of the settings (``panel.setup``) alone: the setup card, fixed causes.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel.connection import Revisions
from panel.setup import Setup, reasons

try:
    from tests.unit.panel.support import settings
except ImportError:  # MicroPython: this folder is on sys.path
    from support import settings


def test_the_setup_card_shows_until_there_is_a_way_to_a_model() -> None:
    s = Setup(Revisions())
    assert not s.needs_setup  # nothing known yet: say nothing rather than something wrong
    s.update(settings(key={"set": False}))
    assert s.needs_setup
    s.update(settings(key={"set": True, "masked": "sk-…abcd"}))
    assert not s.needs_setup
    s.update(settings(provider="compatible", base_url="http://127.0.0.1:1234/v1", key={"set": False}))
    assert not s.needs_setup  # a local server may need no key
    s.update(settings(auth_mode="chatgpt", auth={"chatgpt": "none"}, key={"set": True}))
    assert s.needs_setup  # ChatGPT sign-in chosen but not signed in
    s.update(settings(auth_mode="chatgpt", auth={"chatgpt": "signed_in"}))
    assert not s.needs_setup and s.provider_label == "ChatGPT"


def test_a_new_view_says_which_error_causes_it_fixed() -> None:
    s = Setup(Revisions())
    assert s.update(settings()) == []  # the first view fixes nothing: it is where we start
    assert s.update(settings(key={"set": True, "masked": "sk-…wxyz"})) == ["key"]
    assert s.update(settings(key={"set": True, "masked": "sk-…wxyz"}, model="gpt-5-mini")) == ["model"]
    fixed = s.update(settings(key={"set": True, "masked": "sk-…wxyz"}, model="gpt-5-mini",
                              base_url="http://127.0.0.1:9/v1"))
    assert "server" in fixed and "key" in fixed


def test_models_templates_and_reasoning() -> None:
    s = Setup(Revisions())
    s.update(settings())
    assert s.models("gpt-5") == ["gpt-5", "gpt-5-mini"] and s.models("o3") == ["o3", "gpt-5", "gpt-5-mini"]
    assert [t["name"] for t in s.templates] == ["tldr"] and s.idle_timeout_ms == 300000
    assert reasons("gpt-5") and reasons("o4-mini") and reasons("my-local-model")
    assert not reasons("gpt-4o-mini") and not reasons("gpt-4.1") and not reasons("GPT-3.5-turbo")
