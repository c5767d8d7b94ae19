"""Token counts, durations, usage and rate-limit rows (panel.fmt).

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
No values on an exact .x5 boundary: MicroPython's "%.1f" rounds halves differently.
"""

from panel import fmt


def test_tokens() -> None:
    cases = [(0, "0"), (None, "0"), (999, "999"), (1000, "1k"), (1234, "1.2k"), (56789, "56.8k"),
             (999940, "999.9k"), (1234567, "1.2M"), (3000000, "3M")]
    for n, want in cases:
        assert fmt.tokens(n) == want, n


def test_duration() -> None:
    cases = [(0, "0 s"), (-3, "0 s"), (0.2, "1 s"), (45, "45 s"), (59.4, "1 min"), (60, "1 min"),
             (61, "2 min"), (3599, "1 h"), (3600, "1 h"), (3900, "1 h 5 min"), (86400, "1 d"),
             (3 * 86400 + 4 * 3600 + 60, "3 d 4 h")]
    for s, want in cases:
        assert fmt.duration(s) == want, s


def test_percent() -> None:
    assert [fmt.percent(p) for p in (0, 0.4, 1, 42.3, 42.7, 100)] == ["0%", "<1%", "1%", "42%", "43%", "100%"]


def test_window_labels() -> None:
    assert fmt.window_label(300, "Primary") == "5 h"
    assert fmt.window_label(10080, "Secondary") == "Weekly"
    assert fmt.window_label(1440, "x") == "Daily"
    assert fmt.window_label(2880, "x") == "2 d"
    assert fmt.window_label(90, "x") == "90 min"
    assert fmt.window_label(None, "Primary") == "Primary"


def test_rate_limit_rows_of_the_chatgpt_backend() -> None:
    limits = {
        "limit_id": "codex",
        "primary": {"used_percent": 42.3, "window_minutes": 300, "resets_in_seconds": 4320,
                    "resets_at": None},
        "secondary": {"used_percent": 12.0, "window_minutes": 10080, "resets_in_seconds": None,
                      "resets_at": 1700000000 + 3 * 86400},
        "credits": {"has_credits": True, "unlimited": False, "balance": "12.50"},
        "requests": None,
        "tokens": None,
    }
    rows = fmt.rate_limit_rows(limits, received=1700000000000, wall=1700000000000 + 600000)
    assert rows == [
        {"label": "5 h", "used_percent": 42.3, "text": "42% used · resets in 1 h 2 min"},
        {"label": "Weekly", "used_percent": 12.0, "text": "12% used · resets in 2 d 23 h"},
        {"label": "Credits", "used_percent": None, "text": "12.50"},
    ]


def test_rate_limit_rows_of_the_public_api() -> None:
    limits = {"requests": {"limit": 500, "remaining": 499, "resets_in_seconds": 0.12},
              "tokens": {"limit": 30000, "remaining": 22500, "resets_in_seconds": 360.0}}
    rows = fmt.rate_limit_rows(limits, received=0, wall=1000)
    assert rows == [
        {"label": "Requests", "used_percent": 0.2, "text": "499 of 500 left · resets in 0 s"},
        {"label": "Tokens", "used_percent": 25.0, "text": "22.5k of 30k left · resets in 6 min"},
    ]


def test_rate_limit_rows_skip_what_is_missing() -> None:
    assert fmt.rate_limit_rows(None, 0, 0) == []
    assert fmt.rate_limit_rows({"primary": None, "requests": {"limit": 0, "remaining": 0}}, 0, 0) == []
    assert fmt.rate_limit_rows({"primary": {"used_percent": 5}}, 0, 0) == [
        {"label": "Primary", "used_percent": 5.0, "text": "5% used"}
    ]


def test_usage_line() -> None:
    turn = {"input_tokens": 5230, "cached_input_tokens": 4100, "output_tokens": 812,
            "reasoning_output_tokens": 640, "total_tokens": 6042}
    session = {"total_tokens": 123456}
    assert fmt.usage_line(turn, session, 81.6) == (
        "Last turn: 5.2k in (4.1k cached) · 812 out (640 reasoning)"
        " · Session: 123.5k tokens · 82% context left"
    )
    assert fmt.usage_line(None, None, None) == ""
    assert fmt.usage_line(None, {"total_tokens": 0}, 0) == "0% context left"


def test_add_usage() -> None:
    a = {"input_tokens": 1, "cached_input_tokens": 0, "output_tokens": 2, "reasoning_output_tokens": 0,
         "total_tokens": 3}
    assert fmt.add_usage(None, a) == a
    assert fmt.add_usage(a, a)["total_tokens"] == 6


def test_countdown_and_size() -> None:
    assert fmt.countdown(10000, 9000) == 1
    assert fmt.countdown(10000, 8999) == 2
    assert fmt.countdown(10000, 10000) == 0
    assert [fmt.size(n) for n in (0, 512, 1536, 10485760, 3 * 1024**3)] == ["0 B", "512 B", "1.5 KB", "10 MB",
                                                                        "3 GB"]


def test_iso_ms_reads_date_to_iso_string() -> None:
    assert fmt.iso_ms("1970-01-01T00:00:00.000Z") == 0
    assert fmt.iso_ms("2000-03-01T00:00:00.000Z") == 951868800000
    assert fmt.iso_ms("2024-02-29T23:59:59.999Z") == 1709251199999
    assert fmt.iso_ms("2026-11-25T18:05:30.120Z") == 1795629930120
    assert fmt.iso_ms("2026-11-25T18:05:30Z") == 1795629930000


def test_plain_preview() -> None:
    assert fmt.plain_preview("# Markdown check\n\nSome **bold**, `code`") == "Markdown check Some bold, code"
    assert fmt.plain_preview("> quoted ~~old~~ __new__") == "quoted old new"
    assert fmt.plain_preview(None) == ""
