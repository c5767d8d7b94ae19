"""build.py's site-packages bundle (PYFB): deterministic and complete.

Its sha256 is ``python_key``, which keys the worker's memory snapshot, so the same
files must always give the same bytes. The JS reader is tested against this
writer in tests/js/snapshot_rules.test.mjs.
"""

from __future__ import annotations

import json
import struct
import sys

from tests.support.paths import REPO

sys.path.insert(0, str(REPO))
import build


def parse(data: bytes) -> tuple[dict[str, object], bytes]:
    assert data[:4] == build.PYFB_MAGIC
    (length,) = struct.unpack_from("<I", data, 4)
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def test_same_files_same_bytes_in_any_order() -> None:
    files = {"b/x.py": b"x", "a/__init__.py": b"", "a/b/c.py": b"ccc", "top.py": b"t"}
    again = dict(reversed(list(files.items())))
    assert build.pack_bundle(files) == build.pack_bundle(again)


def test_index_lists_parents_first_and_offsets_into_the_blob() -> None:
    files = {"a/b/c.py": b"ccc", "a/__init__.py": b"", "z.py": b"zz"}
    index, blob = parse(build.pack_bundle(files))
    assert index["dirs"] == ["a", "a/b"]
    assert index["files"] == [["a/__init__.py", 0, 0], ["a/b/c.py", 0, 3], ["z.py", 3, 2]]
    assert blob == b"cccz" + b"z"


def test_any_content_change_changes_the_bytes() -> None:
    base = build.pack_bundle({"m.py": b"x = 1\n"})
    assert build.pack_bundle({"m.py": b"x = 2\n"}) != base
    assert build.pack_bundle({"n.py": b"x = 1\n"}) != base
