"""Banners: the panel's one place for what went wrong and what to do about it.

A part of :class:`panel.state.PanelState`. A banner is a notice of ``panel.errors``
(``text``, ``action``, ``cause``, ``detail``, ``until``) shown under a ``key``;
showing one replaces the banner with the same key, so each thing is said once:

===============  =================================================================
``turn``         the reply of the conversation shown failed (cleared by the next
                 attempt, by opening another conversation, or when its cause is fixed)
``request``      a request the worker refused (cleared by the next action)
``page``         the page could not be read
``composer``     what was typed cannot be sent as is
``attachments``  a screenshot or file that could not be attached (cleared by the next one)
``worker``       SidePy's background itself (failed start, an error without a request)
===============  =================================================================

``clear(cause)`` drops every banner whose cause was fixed: a new key or sign-in
(``key``), another server (``server``), another model (``model``), a reply that went
through (``busy``, ``reply``, ``context`` and the rest of a turn's). ``views(wall)``
is what the renderer shows; a banner with ``until`` counts down each second
(``counting_down``).
"""

from panel import errors, fmt


class Banners:
    def __init__(self, rev):
        self.rev = rev  # panel.connection.Revisions
        self.items = []

    def show(self, key, n):
        """Show notice ``n`` (``panel.errors.notice``) under ``key``."""
        self.dismiss(key)
        item = dict(n)
        item["key"] = key
        self.items.append(item)
        self.rev.touch("banners", "composer")

    def say(self, key, text, level="error"):
        self.show(key, errors.notice(text, level=level))

    def has(self, key):
        return any(b["key"] == key for b in self.items)

    def get(self, key):
        for b in self.items:
            if b["key"] == key:
                return b
        return None

    def dismiss(self, key):
        kept = [b for b in self.items if b["key"] != key]
        if len(kept) != len(self.items):
            self.items = kept
            self.rev.touch("banners", "composer")

    def clear(self, *causes):
        """The causes were fixed: their banners go."""
        kept = [b for b in self.items if b.get("cause") not in causes]
        if len(kept) != len(self.items):
            self.items = kept
            self.rev.touch("banners", "composer")

    @property
    def counting_down(self):
        return any(b.get("until") is not None for b in self.items)

    def views(self, wall):
        """``[{"key", "level", "text", "action", "label", "details"}]`` as shown at ``wall``."""
        out = []
        for b in self.items:
            text = b["text"]
            until = b.get("until")
            if until is not None:
                left = fmt.countdown(until, wall)
                if left > 0:
                    text += " (%s left)" % fmt.duration(left)
            action = b.get("action")
            out.append({"key": b["key"], "level": b.get("level") or "error", "text": text, "action": action,
                        "label": errors.LABELS.get(action, ""),
                        "details": errors.detail_text(b.get("detail"))})
        return out
