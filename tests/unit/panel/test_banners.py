"""Banners (``panel.banners``) alone: one per key, cleared by key or by the cause that was fixed.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

from panel import errors
from panel.banners import Banners
from panel.connection import Revisions


def test_one_banner_per_key_and_cleared_by_its_cause() -> None:
    rev = Revisions()
    b = Banners(rev)
    b.show("turn", errors.notice("Key refused.", errors.SETTINGS, "key"))
    b.show("turn", errors.notice("Model missing.", errors.MODEL, "model"))
    b.say("page", "Select some text first.")
    assert [v["text"] for v in b.views(0)] == ["Model missing.", "Select some text first."]
    assert rev.rev["banners"] > 0 and rev.rev["composer"] == rev.rev["banners"]  # its buttons depend on them
    b.clear("key")
    assert b.has("turn")
    b.clear("model", "busy")
    assert not b.has("turn") and b.has("page")
    b.dismiss("page")
    assert b.views(0) == []


def test_views_carry_the_action_label_and_details_and_count_down() -> None:
    b = Banners(Revisions())
    n = errors.explain({"kind": "retry_limit", "message": "exceeded retry limit", "fields": {"status": 429}})
    n["until"] = 10000
    b.show("turn", n)
    [v] = b.views(4000)
    assert v["action"] == "retry" and v["label"] == "Try again" and v["text"].endswith("(6 s left)")
    assert "HTTP status: 429" in v["details"] and b.counting_down
    assert b.views(11000)[0]["text"].endswith("then try again.")  # the wait is over
