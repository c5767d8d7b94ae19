"""The side-panel UI logic: MicroPython (PyScript) in the sandboxed ui.html.

``state`` is a pure state machine (messages in, view state out) that also runs and
is tested on CPython; ``main`` is the thin DOM layer that only runs in the page.
Written for MicroPython: no typing, dataclasses or f-string format specs beyond
the basics.
"""
