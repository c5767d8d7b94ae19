"""Long messages decoded in pieces (panel.wire).

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

import json

from panel.wire import PLACEHOLDER, restore


def test_placeholders_are_replaced_wherever_they_are() -> None:
    literals = [json.dumps("long " * 3), json.dumps('quote " and \\ and é')]
    short = json.dumps({"type": "turn.done", "until": 1795632330000,
                        "assistant": {"text": PLACEHOLDER + "0", "searches": ["q", PLACEHOLDER + "1"]}})
    msg = restore(json.loads(short), lambda i: json.loads(literals[i]))
    assert msg == {"type": "turn.done", "until": 1795632330000,
                   "assistant": {"text": "long long long ", "searches": ["q", 'quote " and \\ and é']}}


def test_other_strings_are_left_alone() -> None:
    value = {"a": PLACEHOLDER, "b": PLACEHOLDER + "x", "c": [1, None, True, 2.5]}
    assert restore(value, lambda i: "never") == value
