"""Banners (errors, warnings, countdowns), token usage and rate limits.

Part of :class:`panel.state.PanelState` (a mixin). A banner has a ``key``: showing
one replaces the banner with the same key, so a retry countdown updates in place.
Keys: ``turn`` (the reply's errors, reconnects and waits), ``req-<id>`` (a request's
error, cleared by the next send), ``busy``, ``page``, ``error``. A banner with
``until`` shows a countdown (``banner_views`` at the wall clock); ``counting_down``
tells the page to repaint each second.
"""

from panel import fmt


class Banners:
    """Banners, usage and rate limits (see the module docstring)."""

    def _init_banners(self):
        self.banners = []
        self.limits = None
        self.limits_at = 0
        self.last_usage = None  # usage of the last completed turn shown

    # ----------------------------------------------------------------- banners

    def _banner(self, key, level, text, detail=None, until=None, action=None, prefix="retry in "):
        self._dismiss(key)
        self.banners.append(
            {"key": key, "level": level, "text": text, "detail": detail, "until": until,
             "action": action, "prefix": prefix}
        )
        self._touch("banners")

    def _has_banner(self, key):
        return any(b["key"] == key for b in self.banners)

    def _dismiss(self, key):
        kept = [b for b in self.banners if b["key"] != key]
        if len(kept) != len(self.banners):
            self.banners = kept
            self._touch("banners")

    def _dismiss_requests(self):
        kept = [b for b in self.banners if not b["key"].startswith("req-") and b["key"] != "busy"]
        if len(kept) != len(self.banners):
            self.banners = kept
            self._touch("banners")

    def dismiss(self, key):
        self._dismiss(key)

    def banner_views(self, wall):
        """Banners as shown at ``wall``: ``[{"key", "level", "text", "action"}]``."""
        out = []
        for b in self.banners:
            text = b["text"]
            if b["detail"]:
                text += " · " + b["detail"]
            if b["until"] is not None:
                left = fmt.countdown(b["until"], wall)
                if left > 0:
                    text += " · " + b["prefix"] + fmt.duration(left)
            out.append({"key": b["key"], "level": b["level"], "text": text, "action": b["action"]})
        return out

    @property
    def counting_down(self):
        return any(b["until"] is not None for b in self.banners)

    # ------------------------------------------------------- usage and limits

    def usage_text(self):
        return fmt.usage_line(self.last_usage, self.conv.usage, self.conv.context_left)

    def rate_limit_rows(self, wall):
        return fmt.rate_limit_rows(self.limits, self.limits_at, wall)
