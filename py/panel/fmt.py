"""Numbers and times as the panel shows them: token counts, durations, rate limits.

Pure functions on the JSON shapes of docs/protocol.md (``Usage``, ``RateLimits``).
Times are epoch milliseconds passed in by the caller; nothing here reads a clock.
"""


def tokens(n):
    """12 -> "12", 1234 -> "1.2k", 56789 -> "56.8k", 1234567 -> "1.2M"."""
    n = int(n or 0)
    if n < 1000:
        return str(n)
    text = "%.1fk" % (n / 1000) if n < 1000000 else "%.1fM" % (n / 1000000)
    return text.replace(".0k", "k").replace(".0M", "M")


def duration(seconds):
    """Whole units, coarse: "45 s", "12 min", "1 h 5 min", "3 d 4 h"."""
    s = int(seconds + 0.999) if seconds > 0 else 0
    if s < 60:
        return "%d s" % s
    if s < 3600:
        minutes = (s + 59) // 60
        return "1 h" if minutes == 60 else "%d min" % minutes
    hours, minutes = divmod(s // 60, 60)
    if hours < 24:
        return "%d h" % hours if minutes == 0 else "%d h %d min" % (hours, minutes)
    days, hours = divmod(hours, 24)
    return "%d d" % days if hours == 0 else "%d d %d h" % (days, hours)


def percent(value):
    value = float(value or 0)
    if 0 < value < 1:
        return "<1%"
    return "%d%%" % int(value + 0.5)


def window_label(minutes, fallback):
    """A usage window's name from its length: 300 -> "5 h", 10080 -> "Weekly"."""
    if not minutes:
        return fallback
    if minutes == 10080:
        return "Weekly"
    if minutes == 1440:
        return "Daily"
    if minutes % 1440 == 0:
        return "%d d" % (minutes // 1440)
    if minutes % 60 == 0:
        return "%d h" % (minutes // 60)
    return "%d min" % minutes


def _resets_in(window, received, wall):
    """Seconds until the window resets, seen at ``wall`` (it was received at ``received``)."""
    at = window.get("resets_at")
    if at:
        return max(0, at - wall / 1000)
    secs = window.get("resets_in_seconds")
    if secs is None:
        return None
    return max(0, secs - (wall - received) / 1000)


def rate_limit_rows(limits, received, wall):
    """The windows of a ``RateLimits`` snapshot as display rows, in a fixed order.

    Each row: ``{"label", "used_percent", "text"}``. The ChatGPT backend's windows
    (primary, secondary) carry ``used_percent``; the public API's ``requests`` and
    ``tokens`` carry ``limit``/``remaining``, from which the share used is computed.
    """
    rows = []
    if not limits:
        return rows
    for key, fallback in (("primary", "Primary"), ("secondary", "Secondary")):
        window = limits.get(key)
        if not window or window.get("used_percent") is None:
            continue
        label = window_label(window.get("window_minutes"), fallback)
        used = float(window["used_percent"])
        rows.append(_row(label, used, percent(used) + " used", _resets_in(window, received, wall)))
    for key, label in (("requests", "Requests"), ("tokens", "Tokens")):
        window = limits.get(key)
        if not window or not window.get("limit"):
            continue
        limit = window["limit"]
        remaining = window.get("remaining")
        if remaining is None:
            continue
        used = 100.0 * max(0, limit - remaining) / limit
        text = "%s of %s left" % (tokens(remaining), tokens(limit))
        rows.append(_row(label, used, text, _resets_in(window, received, wall)))
    credits = limits.get("credits")
    if credits and credits.get("has_credits"):
        text = "unlimited" if credits.get("unlimited") else (credits.get("balance") or "available")
        rows.append({"label": "Credits", "used_percent": None, "text": text})
    return rows


def _row(label, used, text, resets):
    if resets is not None:
        text += " · resets in " + duration(resets)
    return {"label": label, "used_percent": used, "text": text}


def usage_parts(usage):
    """``Usage`` as short parts: ["1.2k in (800 cached)", "340 out (120 reasoning)"]."""
    if not usage:
        return []
    parts = []
    inp = usage.get("input_tokens") or 0
    cached = usage.get("cached_input_tokens") or 0
    out = usage.get("output_tokens") or 0
    reasoning = usage.get("reasoning_output_tokens") or 0
    parts.append(tokens(inp) + " in" + (" (%s cached)" % tokens(cached) if cached else ""))
    parts.append(tokens(out) + " out" + (" (%s reasoning)" % tokens(reasoning) if reasoning else ""))
    return parts


def usage_line(turn, session, context_left):
    """The usage footer: "Last turn: 1.2k in · 340 out · Session: 12k tokens · 78% context left"."""
    parts = []
    if turn:
        parts.append("Last turn: " + " · ".join(usage_parts(turn)))
    if session and session.get("total_tokens"):
        parts.append("Session: %s tokens" % tokens(session.get("total_tokens")))
    if context_left is not None:
        parts.append("%s context left" % percent(context_left))
    return " · ".join(parts)


def add_usage(a, b):
    """Sum two ``Usage`` dicts (either may be None)."""
    keys = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")
    return {k: (a or {}).get(k, 0) + (b or {}).get(k, 0) for k in keys}


def countdown(until, wall):
    """Whole seconds left until epoch-ms ``until`` (never negative)."""
    left = until - wall
    return 0 if left <= 0 else int((left + 999) // 1000)


def size(n):
    """Bytes as "512 B", "1.5 KB", "12.3 MB"."""
    n = float(n or 0)
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return "%d B" % n if unit == "B" else ("%.1f " % n).replace(".0 ", " ") + unit
        n /= 1024
    return ("%.1f " % n).replace(".0 ", " ") + "GB"


def plain_preview(text):
    """A list preview as plain text: without the markdown marks that would show as noise.

    Headings, quotes and list markers at the start, emphasis and code marks, and links
    and images (their text stays, the address goes).
    """
    out = " ".join((text or "").split())
    out = _unlink(out)
    for mark in ("**", "__", "`", "~~", "$$"):
        out = out.replace(mark, "")
    while out[:1] in ("#", ">", "-", "*", "+") and out[:1]:
        out = out[1:].lstrip()
    return " ".join([_unstar(word) for word in out.split(" ")])


def _unlink(text):
    """``[label](url)`` and ``![alt](url)`` → ``label`` / ``alt``."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "[" or (ch == "!" and text[i + 1:i + 2] == "["):
            start = i + (2 if ch == "!" else 1)
            close = text.find("](", start)
            end = text.find(")", close + 2) if close != -1 else -1
            if close != -1 and end != -1 and "[" not in text[start:close]:
                out.append(text[start:close])
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _unstar(word):
    """``*word*`` / ``_word_`` → ``word`` (underscores inside a word stay: snake_case)."""
    for mark in ("*", "_"):
        while len(word) > 1 and word.startswith(mark):
            word = word[1:]
        while len(word) > 1 and (word.endswith(mark) or word[:-1].endswith(mark) and not word[-1].isalnum()):
            word = word[:-1] if word.endswith(mark) else word[:-2] + word[-1]  # "*word*," too
    return word


def iso_ms(text):
    """Epoch milliseconds of an ISO 8601 UTC time as ``Date.toISOString`` writes it.

    The page reads the wall clock this way because MicroPython's JS bridge turns
    integers above 2**31 (``Date.now()`` among them) into wrapped 32-bit values.
    """
    y, mo, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
    h, mi, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
    ms = int((text[20:23] + "000")[:3]) if text[19:20] == "." else 0
    y -= 1 if mo <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo - 3 if mo > 2 else mo + 9) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + ms


def thousands(n):
    """``12000`` → ``"12,000"`` (MicroPython has no ``{:,}``)."""
    text = str(int(n))
    out = []
    while len(text) > 3:
        out.insert(0, text[-3:])
        text = text[:-3]
    out.insert(0, text)
    return ",".join(out)
