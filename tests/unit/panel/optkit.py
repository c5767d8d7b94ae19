"""Helpers for the options page's tests (plain functions: they run on MicroPython too).

Imported as ``tests.unit.panel.optkit`` on CPython and as ``optkit`` on MicroPython.
Each part of the options page is driven alone with an :class:`OptionsLink`: ``reply``
matches an answer to the request it answers, as the router does, and returns the
``(kind, data)`` the part receives.
"""

KEY = "sk-proj-0123456789abcdWXYZ"
NONE = {"selected": "apikey", "mode": "none", "chatgpt": "none"}


def view(**extra):
    v = {
        "provider": "openai", "base_url": "https://api.openai.com/v1",
        "request_url": "https://api.openai.com/v1/responses", "model": "gpt-5-mini",
        "models": ["gpt-5-mini", "gpt-5"], "reasoning_effort": None, "reasoning_summary": "auto",
        "verbosity": None, "instructions": "Be brief.", "idle_timeout_ms": 300000,
        "request_max_retries": 4, "stream_max_retries": 5, "organization": None, "project": None,
        "web_search": False, "key": {"set": False, "masked": None}, "templates": [],
        "auth_mode": "apikey", "token_url": "https://auth.openai.com/oauth/token", "auth": NONE,
    }
    v.update(extra)
    return v


def entry(link, msg):
    """What the router hands a part with the answer to ``msg``."""
    return link.answer(msg["id"])


def answer(msg, type_, **fields):
    out = {"type": type_, "id": msg["id"]}
    out.update(fields)
    return out
