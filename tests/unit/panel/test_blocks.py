"""BlockText: markdown cut into blocks as it streams (panel.blocks).

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

from panel import blocks
from panel.blocks import BlockText

SAMPLE = (
    "# Title\n"
    "\n"
    "A paragraph\nthat goes on.\n"
    "\n"
    "```python\n"
    "def f():\n"
    "\n"
    "    return 1\n"
    "```\n"
    "\n"
    "1. one\n"
    "\n"
    "    indented continuation\n"
    "\n"
    "2. two\n"
    "\n"
    "$$\n"
    "a\n"
    "\n"
    "b\n"
    "$$\n"
    "\n"
    "~~~~\n"
    "```\n"
    "\n"
    "~~~~\n"
    "\n"
    "tail without newline"
)


def parts(b):
    out = list(b.blocks)
    out.append(b.tail())
    return out


def split(text):
    return parts(BlockText(text))


def test_blocks_are_exact_slices() -> None:
    b = BlockText(SAMPLE)
    assert b.text() == SAMPLE and b.length == len(SAMPLE)
    assert "".join(b.blocks) + b.tail() == SAMPLE


def test_blank_lines_split_but_not_inside_fences_math_or_indented_continuations() -> None:
    assert split(SAMPLE) == [
        "# Title\n\n",
        "A paragraph\nthat goes on.\n\n",
        "```python\ndef f():\n\n    return 1\n```\n\n",
        "1. one\n\n    indented continuation\n\n",
        "2. two\n\n",
        "$$\na\n\nb\n$$\n\n",
        "~~~~\n```\n\n~~~~\n\n",
        "tail without newline",
    ]


def test_the_split_does_not_depend_on_how_the_text_was_chunked() -> None:
    whole = split(SAMPLE)
    for size in (1, 2, 3, 5, 7, 13, 64):
        b = BlockText()
        for i in range(0, len(SAMPLE), size):
            b.append(SAMPLE[i : i + size])
        assert parts(b) == whole, size
    for cut in range(len(SAMPLE)):
        b = BlockText(SAMPLE[:cut])
        b.append(SAMPLE[cut:])
        assert parts(b) == whole, cut


def test_the_tail_is_only_the_open_block() -> None:
    b = BlockText("first\n\nsec")
    assert b.blocks == ["first\n\n"] and b.tail() == "sec"
    rev = b.rev
    b.append("ond")
    assert b.tail() == "second" and b.rev == rev + 1
    b.append("")
    assert b.rev == rev + 1


def test_a_long_block_is_closed_and_a_fence_reopened_for_the_next() -> None:
    line = "x = 1  # " + "y" * 90 + "\n"  # 100 chars
    code = "```py\n" + line * 450 + "```\n"
    b = BlockText(code)
    assert len(b.blocks) == 2
    assert b.prefixes == ["", "```py\n"] and b.tail_prefix == "```py\n"
    assert len(b.blocks[0]) + len(b.blocks[1]) + len(b.tail()) == len(code)
    assert max(len(x) for x in b.blocks) <= blocks.MAX_BLOCK + 100
    assert b.text() == code


def test_a_huge_line_is_cut_mid_line_and_its_rest_is_plain_content() -> None:
    text = "a" * 45000 + "```\n\nnext\n"
    b = BlockText(text)
    assert [len(x) for x in b.blocks] == [20000, 20000, 5005]
    assert b.blocks[2].endswith("a```\n\n") and b.tail() == "next\n" and b.text() == text


def test_cut_points_of_a_huge_line_do_not_depend_on_chunking() -> None:
    text = ("z" * 7000 + "\n") * 3 + "q" * 50000
    whole = split(text)
    b = BlockText()
    for i in range(0, len(text), 999):
        b.append(text[i : i + 999])
    assert parts(b) == whole


def test_unicode_text_is_kept_intact() -> None:
    text = "Ünïcödé ✓\n\n日本語のテキスト\n\n😀 emoji"
    b = BlockText()
    for ch in text:
        b.append(ch)
    assert b.blocks == ["Ünïcödé ✓\n\n", "日本語のテキスト\n\n"] and b.tail() == "😀 emoji"
