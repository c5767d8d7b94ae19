"""Where the repository and the shared corpus live, for tests on either runtime."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The shared folder sits beside the checkout (CI clones main next to it). It is
# read in place and never copied into the repository.
SHARED = Path(os.environ.get("SIDEPY_SHARED") or REPO.parent / "shared")
CORPUS = SHARED / "corpus"


def corpus_dir(*parts: str) -> Path:
    """Return a folder of the shared corpus; fail loudly (never skip) when it is missing."""
    path = CORPUS.joinpath(*parts)
    if not path.is_dir():
        raise FileNotFoundError(
            f"shared corpus folder {path} is missing: put ../shared beside the checkout "
            "or set SIDEPY_SHARED"
        )
    return path
