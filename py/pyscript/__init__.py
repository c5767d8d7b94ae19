"""The two names the panel uses from PyScript's API, over MicroPython's own modules.

The sandboxed pages run MicroPython directly (extension/panel-boot.js) instead of
through PyScript: PyScript's start-up (its JavaScript, config and plugin handling) cost
more than the panel's own Python on every open. Keeping PyScript's module names means
the panel's code reads as PyScript code and would still run under it.
"""

import js

window = js  # PyScript's ``window`` on the main thread is the JavaScript global scope
document = js.document
