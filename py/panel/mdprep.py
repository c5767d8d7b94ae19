"""Pure text steps around the markdown renderer (no DOM, no JavaScript).

Math has to be taken out before markdown sees it: ``marked`` would read ``a_1``
inside ``$...$`` as emphasis and eat the backslashes of ``\\(...\\)``. So
``protect_math`` swaps every formula for a placeholder made of private-use
characters, and ``restore_math`` turns the placeholders in marked's HTML into
empty ``<span class=sp-math data-i=N>`` elements that the renderer fills with KaTeX
after sanitizing (the TeX itself never goes through the HTML).

Delimiters: ``$$...$$`` and ``\\[...\\]`` (display), ``$...$`` and ``\\(...\\)``
(inline). A single ``$`` only opens math when followed by a non-space and closes on
the same line before a non-digit, so "costs $5 and $10" stays text. Code spans and
fenced code are left alone.
"""

PH_OPEN = "\ue000"
PH_CLOSE = "\ue001"


def escape_html(text):
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


MAX_QUOTE_DEPTH = 500  # marked recurses per level; ~3,000 levels overflow the JS stack


def quote_depth(text):
    """The deepest run of block-quote markers (``> > >``) that starts a line of ``text``.

    marked parses each level recursively and throws a RangeError deep down, which the
    panel's FFI cannot always turn into a Python exception; blocks nested deeper
    than :data:`MAX_QUOTE_DEPTH` are shown as plain text instead.
    """
    deepest = 0
    for line in text.split("\n"):
        depth = 0
        for ch in line:
            if ch == ">":
                depth += 1
            elif ch != " " and ch != "\t":
                break
        if depth > deepest:
            deepest = depth
    return deepest


def protect_math(text):
    """Return ``(text with placeholders, [(tex, display), ...])``."""
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return text, []
    maths = []
    out = []
    prose = []  # lines outside fences, scanned together (display math spans lines)
    fence = None
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is None:
            marker = fence_run(stripped)
            if marker is None:
                prose.append(line)
                continue
            if prose:
                out.append(_protect_prose("\n".join(prose), maths))
                prose = []
            fence = marker
            out.append(line)
        else:
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "":
                fence = None
            out.append(line)
    if prose:
        out.append(_protect_prose("\n".join(prose), maths))
    return "\n".join(out), maths


def fence_run(stripped):
    """The run of three or more backticks or tildes a stripped line starts with, or None."""
    char = stripped[:1]
    if char != "`" and char != "~":
        return None
    n = 0
    while n < len(stripped) and stripped[n] == char:
        n += 1
    return stripped[:n] if n >= 3 else None


class _Specials:
    """The next backtick, dollar or backslash at or after a position.

    Each character's next position is remembered until the scan passes it, so a
    block is searched once per character kind, not once per formula.
    """

    def __init__(self, data):
        self.data = data
        self.at = {96: -2, 36: -2, 92: -2}  # ` $ \ -> next position (-2: not looked up, -1: none)

    def next(self, i):
        best = -1
        for char in (96, 36, 92):
            j = self.at[char]
            if j == -2 or (0 <= j < i):
                j = self.data.find(bytes((char,)), i)
                self.at[char] = j
            if j >= 0 and (best < 0 or j < best):
                best = j
        return best


PH_OPEN_B = PH_OPEN.encode()
PH_CLOSE_B = PH_CLOSE.encode()


def _placeholder(maths, tex, display):
    maths.append((tex.decode().strip() if display else tex.decode(), display))
    return PH_OPEN_B + str(len(maths) - 1).encode() + PH_CLOSE_B


def _protect_prose(text, maths):
    # Scanned as UTF-8 bytes: MicroPython indexes a str by walking it from the start,
    # bytes in constant time, and every delimiter here is ASCII.
    data = text.encode()
    out = []
    i = 0
    n = len(data)
    specials = _Specials(data)
    while i < n:
        j = specials.next(i)
        if j < 0:
            break
        char = data[j]
        if char == 96:  # "`": a code span, skipped to the closing run of as many backticks
            run = 1
            while j + run < n and data[j + run] == 96:
                run += 1
            close = data.find(b"`" * run, j + run)
            end = j + run if close < 0 else close + run
            out.append(data[i:end])
            i = end
            continue
        if char == 92:  # "\"
            opener = data[j + 1 : j + 2]
            if opener == b"(" or opener == b"[":
                closer = b"\\)" if opener == b"(" else b"\\]"
                k = data.find(closer, j + 2)
                if k > j + 2 and data[j + 2 : k].strip():
                    out.append(data[i:j])
                    out.append(_placeholder(maths, data[j + 2 : k].strip(), opener == b"["))
                    i = k + 2
                    continue
            out.append(data[i : j + 2])  # any other escape, \$ included, stays as it is
            i = j + 2
            continue
        # "$"
        if data[j + 1 : j + 2] == b"$":
            k = data.find(b"$$", j + 2)
            if k > j + 2 and data[j + 2 : k].strip():
                out.append(data[i:j])
                out.append(_placeholder(maths, data[j + 2 : k], True))
                i = k + 2
            else:
                out.append(data[i : j + 2])
                i = j + 2
            continue
        k = _inline_close(data, j)
        if k < 0:
            out.append(data[i : j + 1])
            i = j + 1
            continue
        out.append(data[i:j])
        out.append(_placeholder(maths, data[j + 1 : k], False))
        i = k + 1
    out.append(data[i:])
    return b"".join(out).decode()


def _inline_close(data, j):
    """Index of the ``$`` closing inline math opened at ``j``, or -1."""
    after = data[j + 1 : j + 2]
    if after == b"" or after == b" " or after == b"\t" or after == b"\n":
        return -1
    k = j + 1
    while True:
        k = data.find(b"$", k)
        if k < 0 or data.find(b"\n", j, k) >= 0:
            return -1
        before = data[k - 1]
        nxt = data[k + 1 : k + 2]
        if before != 32 and before != 9 and before != 92 and not (b"0" <= nxt <= b"9" and nxt != b""):
            return k
        k += 1


def restore_math(html, count):
    """Replace placeholders 0..count-1 in ``html`` with empty math spans."""
    if count == 0 or PH_OPEN not in html:
        return html
    parts = html.split(PH_OPEN)
    out = [parts[0]]
    for part in parts[1:]:
        index, sep, rest = part.partition(PH_CLOSE)
        if sep and index.isdigit() and int(index) < count:
            out.append("<span class=sp-math data-i=" + index + "></span>")
        else:
            out.append(index)  # a stray or forged placeholder: its marks are dropped
        out.append(rest)
    return "".join(out)


def cut_open_math(text):
    """While a reply streams: ``(text before an unfinished display formula, True)``, else ``(text, False)``.

    A ``$$`` or ``\\[`` block whose closing delimiter has not arrived yet would show as
    raw TeX until it does; the renderer shows a placeholder in its place instead.
    """
    if "$$" not in text and "\\[" not in text:
        return text, False
    fence = None
    closer = None
    opened = 0
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "":
                fence = None
        elif closer is not None:
            if closer in stripped:
                closer = None
        else:
            marker = fence_run(stripped)
            if marker is not None:
                fence = marker
            elif stripped.startswith("$$") and stripped.count("$$") % 2 == 1:
                closer = "$$"
                opened = pos
            elif stripped.startswith("\\[") and "\\]" not in stripped:
                closer = "\\]"
                opened = pos
        pos += len(line) + 1
    if closer is not None:
        return text[:opened], True
    return text, False
