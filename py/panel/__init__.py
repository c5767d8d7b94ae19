"""The side-panel UI logic: MicroPython in the sandboxed ui.html (started by panel-boot.js).

Pure modules (no DOM; they run and are tested on CPython and on MicroPython):

* ``state``: ``PanelState``, worker messages and user intents in, view state out; a
  thin router over parts that own their state and are given what they need:
  ``connection`` (phase, requests, ``hello``; the sections' revisions), ``banners``
  (what went wrong and what to do), ``setup`` (the settings as the panel needs them,
  the setup card), ``usage`` (tokens, rate limits), ``turn`` (the conversation shown,
  the reply, stop / regenerate / edit, the status line), ``conv_list`` (the list and
  conversation intents), ``composer`` (send, templates, page context, export) and
  ``queue_view`` (the worker's request queue);
* ``errors``: every error a user can meet, mapped in one place to a sentence, an action
  and the raw details;
* ``conversation``: the messages on screen and the turn streaming into them (``seq``);
* ``blocks``: reply text cut into markdown blocks as it streams (render only the tail);
* ``mdprep``: math taken out before markdown and put back after (and held back while
  a display formula is still streaming);
* ``templates``, ``fmt``, ``wire``: ``/name`` templates, numbers and times, long messages;
* the options page: ``settings_state`` routes to ``options_link`` (requests, status
  line), ``form_state`` (the form), ``vault_state`` (the key and its vault),
  ``account_state`` (ChatGPT sign-in) and ``diagnostics`` (ping); ``settings_form``
  holds the form's pure helpers.

Browser-only modules (they import ``pyscript``, see ``py/pyscript``): ``main`` wires
events and messages, ``channel`` carries messages to and from the worker (the browser
decodes long strings),
``render`` paints the state by keyed, incremental updates, ``message_dom`` one
message and its streaming markdown, ``md`` turns markdown into sanitized DOM
(marked, DOMPurify, highlight.js, KaTeX), ``dom`` holds the small DOM helpers both
pages use. The options page: ``options`` (events), ``options_dom`` (the form) and
``options_view`` (painting).

Written for MicroPython: no typing, dataclasses, enum, ``from __future__``, ``*x`` in
list displays, ``str.ljust``; its dicts do not keep insertion order.
"""
