"""Decoding long messages in pieces (pure; the browser side is in panel.channel).

MicroPython's ``json`` slows down sharply on long strings (a 1 MB reply takes
seconds), and its JS bridge wraps integers above 2**31, so neither ``json.loads``
of the whole text nor the browser's ``JSON.parse`` handed over as objects works
for a long message. So the page cuts each long string literal out of the JSON text
(the browser decodes those), leaving a placeholder; ``json.loads`` reads the short
rest, numbers intact; ``restore`` puts the strings back.
"""

PLACEHOLDER = "\ue002"


def restore(value, strings):
    """Replace placeholder strings in a decoded JSON value: ``strings(i)`` gives string i."""
    if isinstance(value, str):
        if value.startswith(PLACEHOLDER) and value[1:].isdigit():
            return strings(int(value[1:]))
        return value
    if isinstance(value, list):
        return [restore(v, strings) for v in value]
    if isinstance(value, dict):
        out = {}
        for k in value:
            out[k] = restore(value[k], strings)
        return out
    return value
