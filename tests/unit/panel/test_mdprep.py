"""Math taken out before markdown and put back after (panel.mdprep).

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

from panel.mdprep import (
    MAX_QUOTE_DEPTH,
    PH_CLOSE,
    PH_OPEN,
    escape_html,
    protect_math,
    quote_depth,
    restore_math,
)


def ph(i):
    return PH_OPEN + str(i) + PH_CLOSE


def test_no_math_is_a_no_op() -> None:
    assert protect_math("plain *text*") == ("plain *text*", [])


def test_inline_and_display_delimiters() -> None:
    text, maths = protect_math("Euler: $e^{i\\pi}+1=0$ and \\(a_1\\).\n\n$$\\sum_{k=1}^n k$$\n\n\\[x^2\\]")
    assert text == "Euler: " + ph(0) + " and " + ph(1) + ".\n\n" + ph(2) + "\n\n" + ph(3)
    assert maths == [("e^{i\\pi}+1=0", False), ("a_1", False), ("\\sum_{k=1}^n k", True), ("x^2", True)]


def test_display_math_may_span_lines() -> None:
    text, maths = protect_math("$$\na_1 +\n b_2\n$$")
    assert text == ph(0) and maths == [("a_1 +\n b_2", True)]


def test_dollars_of_money_stay_text() -> None:
    for s in ("It costs $5 and $10.", "$ 5 $", "a $x $ b", "price: $", "US$ 3"):
        assert protect_math(s) == (s, []), s


def test_inline_math_does_not_cross_lines() -> None:
    assert protect_math("$a\nb$") == ("$a\nb$", [])


def test_escaped_dollars_stay_text() -> None:
    assert protect_math("\\$5 and \\$6") == ("\\$5 and \\$6", [])


def test_code_spans_and_fences_are_left_alone() -> None:
    src = "Use `$PATH` or ``a $b$ c``.\n\n```sh\necho $HOME $x$\n```\n\n$y$"
    text, maths = protect_math(src)
    assert text == "Use `$PATH` or ``a $b$ c``.\n\n```sh\necho $HOME $x$\n```\n\n" + ph(0)
    assert maths == [("y", False)]


def test_unclosed_delimiters_stay_text() -> None:
    for s in ("$$ never closed", "\\( open", "\\[ open"):
        assert protect_math(s) == (s, []), s


def test_restore_turns_placeholders_into_empty_spans() -> None:
    html = "<p>" + ph(0) + " and " + ph(1) + "</p>"
    assert restore_math(html, 2) == (
        "<p><span class=sp-math data-i=0></span> and <span class=sp-math data-i=1></span></p>"
    )


def test_restore_ignores_forged_or_out_of_range_placeholders() -> None:
    html = "<p>" + ph(5) + PH_OPEN + "x" + PH_CLOSE + PH_OPEN + "</p>"
    assert restore_math(html, 1) == "<p>5x</p>"
    assert restore_math("<p>plain</p>", 3) == "<p>plain</p>"


def test_escape_html() -> None:
    assert escape_html("<a href=\"x\" onclick='y'>&</a>") == (
        "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
    )


def test_quote_depth_counts_leading_markers():
    assert quote_depth("plain") == 0
    assert quote_depth("> a\n> > b\n>>> c") == 3
    assert quote_depth("  > > x > y") == 2  # markers after text do not count
    assert quote_depth("> " * 3000 + "deep") == 3000 > MAX_QUOTE_DEPTH
