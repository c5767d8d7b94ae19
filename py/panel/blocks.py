"""Markdown text split into top-level blocks while it streams in.

Theory of operation: a streaming reply only ever grows at its end, so the renderer
should only re-render its end. ``BlockText`` cuts the text into *blocks*: runs of
lines that a blank line (outside a code fence or a ``$$`` math block) separates
from the next one. Finished blocks never change, so each one is turned into HTML
once; only the open block at the end (the *tail*) is rendered again as text
arrives. The blocks are exact slices: ``"".join(blocks) + tail == text``.

The cut points depend on the text alone, never on how it was chunked, so a reply
rebuilt from storage splits exactly as the one that streamed in.

Two guards keep hostile or huge output cheap:

* a block is closed once it holds ``MAX_BLOCK`` characters (at a line end), and a
  line longer than ``MAX_LINE`` is cut there, mid-line; either way re-rendering the
  tail never costs more than one block. A block that begins inside a code fence or a
  math block gets a ``prefix`` (the opening line) to render it the same way;
* lines are classified only when complete, and a long line's later pieces never are.

Split rules (what a renderer of markdown would also see as separate blocks): a
non-blank line after a blank line starts a new block, unless it is indented (list
item continuations and indented code belong to what came before).
"""

from panel.mdprep import fence_run

MAX_BLOCK = 20000
MAX_LINE = 20000


def _fence_of(stripped):
    """The fence marker a stripped line opens ("```", "~~~~" ...), or None."""
    run = fence_run(stripped)
    if run is not None and run[0] == "`" and "`" in stripped[len(run):]:
        return None  # a backtick fence's info string cannot hold a backtick (CommonMark)
    return run


def _math_closer(stripped):
    """The closing delimiter a stripped line leaves open ("$$" or "\\]"), or None."""
    if stripped.startswith("$$") and stripped.count("$$") % 2 == 1:
        return "$$"
    if stripped.startswith("\\[") and "\\]" not in stripped:
        return "\\]"
    return None


class BlockText:
    """Append-only text kept as finished blocks plus an open tail block.

    Attributes:
        blocks: finished blocks, exact slices of the text, never changed.
        prefixes: for each block, the fence/math opening line to prepend when
            rendering it on its own ("" for most).
        length: characters appended so far.
        rev: bumped on every append (renderers compare it).
    """

    __slots__ = (
        "_blank",
        "_continued",
        "_fence",
        "_math",
        "_open",
        "_open_prefix",
        "_partial",
        "_plen",
        "_size",
        "blocks",
        "length",
        "prefixes",
        "rev",
    )

    def __init__(self, text=""):
        self.blocks = []
        self.prefixes = []
        self.length = 0
        self.rev = 0
        self._open = []  # complete lines of the open block (with their "\n")
        self._open_prefix = ""
        self._size = 0  # characters in _open
        self._partial = []  # pieces of the line being received
        self._plen = 0
        self._continued = False  # _partial continues a line cut at MAX_LINE
        self._blank = False  # the open block ends with a blank line
        self._fence = None  # (marker, opening line) while inside a code fence
        self._math = None  # (closer, opening line) while inside a display-math block
        if text:
            self.append(text)

    # ------------------------------------------------------------------ inputs

    def append(self, text):
        if not text:
            return
        self.length += len(text)
        self.rev += 1
        # split() once, in C: MicroPython indexes and slices a str by walking it from
        # the start, so a find/slice loop over a long text would be quadratic.
        pieces = text.split("\n")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if piece:
                if self._plen == 0 and not self._continued:
                    self._line_starts(piece[0])
                self._grow(piece)
            if index < last:
                self._partial.append("\n")
                self._end_line()

    def _grow(self, piece):
        """Add ``piece`` (no newline) to the line being received, cutting it at MAX_LINE."""
        n = len(piece)
        if n <= MAX_LINE - self._plen:
            self._partial.append(piece)
            self._plen += n
            return
        i = 0
        while n - i > MAX_LINE - self._plen:  # more than the line may hold: cut it
            take = MAX_LINE - self._plen
            if take > 0:
                self._partial.append(piece[i : i + take])
                self._plen += take
                i += take
            self._cut_line()
        if i < n:
            self._partial.append(piece[i:])
            self._plen += n - i

    def _line_starts(self, char):
        """A new line begins with ``char``: after a blank line, a non-indented one opens a block.

        Deciding on the first character (not at the line's end) lets the block before it
        be finished as soon as possible, so the tail holds only the text still growing.
        """
        if char == " " or char == "\t" or not self._blank:
            return
        if self._fence is None and self._math is None and self._open:
            self._blank = False
            self._finish("")

    def _end_line(self):
        line = "".join(self._partial)
        self._partial = []
        self._plen = 0
        if self._continued:  # the end of a cut line: content, whatever it looks like
            self._continued = False
            self._blank = False
            self._add(line)
            return
        stripped = line.strip()
        if self._fence is not None:
            marker = self._fence[0]
            if stripped.startswith(marker) and stripped.strip(marker[0]) == "":
                self._fence = None
        elif self._math is not None:
            if self._math[0] in stripped:
                self._math = None
        elif stripped == "":
            self._blank = True
        else:
            if self._blank and self._open and line[0] != " " and line[0] != "\t":
                self._finish("")
            self._blank = False
            marker = _fence_of(stripped)
            if marker is not None:
                self._fence = (marker, stripped + "\n")
            else:
                closer = _math_closer(stripped)
                if closer is not None:
                    self._math = (closer, stripped + "\n")
        self._add(line)

    def _cut_line(self):
        """The line being received is too long: end the block in the middle of it."""
        piece = "".join(self._partial)
        self._open.append(piece)
        self._size += len(piece)
        self._partial = []
        self._plen = 0
        self._continued = True
        self._blank = False
        self._finish(self._reopen())

    def _add(self, line):
        self._open.append(line)
        self._size += len(line)
        if self._size >= MAX_BLOCK:
            self._finish(self._reopen())

    def _reopen(self):
        if self._fence is not None:
            return self._fence[1]
        if self._math is not None:
            return self._math[1]
        return ""

    def _finish(self, next_prefix):
        self.blocks.append("".join(self._open))
        self.prefixes.append(self._open_prefix)
        self._open = []
        self._size = 0
        self._open_prefix = next_prefix

    # ----------------------------------------------------------------- outputs

    def tail(self):
        """The open block's text (it may still grow)."""
        return "".join(self._open) + "".join(self._partial)

    @property
    def tail_prefix(self):
        return self._open_prefix

    def text(self):
        return "".join(self.blocks) + self.tail()

    def __len__(self):
        return self.length
