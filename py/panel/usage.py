"""Token usage and rate limits, as the panel's footer shows them.

A part of :class:`panel.state.PanelState`. ``last`` is the usage of the last reply
shown; ``limits`` the latest ``RateLimits`` snapshot (from ``hello`` or a turn's
``turn.limits``), received at ``limits_at`` (wall clock: its resets count from
there). The footer shows one compact line; the windows' bars show only when a
window is nearly used up (``pressing``), where they help.
"""

from panel import fmt

PRESSING_PERCENT = 80  # a window this used shows its bar in the footer


class Usage:
    def __init__(self, rev):
        self.rev = rev
        self.last = None
        self.limits = None
        self.limits_at = 0

    def set_last(self, usage):
        self.last = usage
        self.rev.touch("footer")

    def set_limits(self, limits, wall):
        if limits:
            self.limits = limits
            self.limits_at = wall
            self.rev.touch("footer")

    def text(self, conv):
        return fmt.usage_line(self.last, conv.usage, conv.context_left)

    def rows(self, wall):
        return fmt.rate_limit_rows(self.limits, self.limits_at, wall)

    def pressing(self, wall):
        """The windows worth a bar now: nearly or fully used, or with nothing left."""
        out = []
        for r in self.rows(wall):
            used = r.get("used_percent")
            if (used is not None and float(used) >= PRESSING_PERCENT) or r["text"].startswith("0 of "):
                out.append(r)
        return out
