"""The side-panel UI logic: MicroPython in the sandboxed ui.html (started by panel-boot.js).

Pure modules (no DOM; they run and are tested on CPython and on MicroPython):

* ``state``: the state machine, worker messages and user intents in, view state out;
  one ``PanelState`` split by responsibility into ``connection`` (requests, ``hello``),
  ``conv_list`` (the list and conversation intents), ``turn`` (streaming, stop,
  regenerate, edit), ``composer`` (send, templates, page context, export), ``banners``
  (banners, usage, rate limits) and ``queue_view`` (the worker's request queue);
* ``conversation``: the messages on screen and the turn streaming into them (``seq``);
* ``blocks``: reply text cut into markdown blocks as it streams (render only the tail);
* ``mdprep``: math taken out before markdown and put back after;
* ``templates``, ``fmt``, ``wire``: ``/name`` templates, numbers and times, long messages.

Browser-only modules (they import ``pyscript``, see ``py/pyscript``): ``main`` wires
events and messages, ``channel`` carries messages to and from the worker (the browser decodes long strings),
``render`` paints the state by keyed, incremental updates, ``message_dom`` one
message and its streaming markdown, ``md`` turns markdown into sanitized DOM
(marked, DOMPurify, highlight.js, KaTeX), ``dom`` holds the small DOM helpers both
pages use. The options page: ``options`` (events), ``options_dom`` (the form) and
``options_view`` (painting).

Written for MicroPython: no typing, dataclasses, enum, ``from __future__``, ``*x`` in
list displays, ``str.ljust``; its dicts do not keep insertion order.
"""
