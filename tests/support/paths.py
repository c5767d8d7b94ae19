"""Where the repository and its test corpus live, for tests on either runtime."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Public recorded streams, error bodies, headers and SSE framing cases, with their
# sources in tests/corpus/SOURCES.md.
CORPUS = REPO / "tests" / "corpus"


def corpus_dir(*parts: str) -> Path:
    """Return a folder of the test corpus; fail loudly (never skip) when it is missing."""
    path = CORPUS.joinpath(*parts)
    if not path.is_dir():
        raise FileNotFoundError(f"test corpus folder {path} is missing from the checkout")
    return path
