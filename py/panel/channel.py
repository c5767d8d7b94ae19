# The panel's messages to and from the worker (MicroPython under PyScript; not imported
# by the tests): JSON text over postMessage to the hosting page, whose relay.js carries
# it on the worker's Port.
#
# MicroPython's json module slows down sharply on long strings (a 1 MB reply takes
# seconds): in long messages the browser decodes the long string literals (see
# panel.wire) and writes long outgoing messages.

import json

from pyscript import window
from pyscript.ffi import create_proxy, to_js

from panel.wire import PLACEHOLDER, restore

BIG = 8192
LONG_STRING = window.RegExp.new('"(?:[^"\\\\]|\\\\.){4096,}"', "g")
_literals = []


def _cut(literal, *_):
    _literals.append(literal)
    return '"' + PLACEHOLDER + str(len(_literals) - 1) + '"'


_cut_proxy = create_proxy(_cut)


def decode(text):
    if len(text) < BIG:
        return json.loads(text)
    del _literals[:]
    short = window.String.prototype.replace.call(text, LONG_STRING, _cut_proxy)
    literals = list(_literals)
    del _literals[:]
    return restore(json.loads(short), lambda i: window.JSON.parse(literals[i]))


def post(msg):
    if msg.get("type") == "attach.screenshot":
        # The relay's word: it reaches the worker as a screenshot request only while the
        # user's click is live (extension/relay.js, background.router.GESTURE).
        window.parent.postMessage("ui.screenshot " + json.dumps(msg), "*")
        return
    text = msg.get("text")
    if text is not None and len(text) >= BIG:
        window.parent.postMessage(window.JSON.stringify(to_js(msg)), "*")
    else:
        window.parent.postMessage(json.dumps(msg), "*")
