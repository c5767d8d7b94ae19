"""The release build (``python build.py`` → dist/) carries no test hooks; the developer build does.

Read from the built directories themselves: the worker's Python bundle
(``python/site.pyfb``), the pages, and the build flags. The release bundle's own
``background`` package is then imported on CPython and built as the worker builds
it, to show that its router answers no ``diag.*`` and that asking for the
developer hooks fails for want of the code.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

RELEASE = REPO / "dist"
DEV = REPO / "dist-dev"


def bundle(dist: Path) -> dict[str, bytes]:
    """The files of ``dist/python/site.pyfb`` (format: build.py's ``pack_bundle``)."""
    path = dist / "python" / "site.pyfb"
    if not path.exists():
        pytest.fail(f"{dist.name}/ is not built: run the README's test command (it builds both)")
    data = path.read_bytes()
    assert data[:4] == b"PYFB"
    (size,) = struct.unpack("<I", data[4:8])
    index = json.loads(data[8 : 8 + size])
    body = data[8 + size :]
    return {name: body[offset : offset + length] for name, offset, length in index["files"]}


def test_the_release_bundle_has_no_diag_handler_and_the_developer_bundle_has() -> None:
    release, dev = bundle(RELEASE), bundle(DEV)
    assert [n for n in release if n.startswith("background/dev/")] == []
    assert not any(b"class Diagnostics" in data or b"def vault_vectors" in data for data in release.values())
    assert "background/dev/diag.py" in dev and b"class Diagnostics" in dev["background/dev/diag.py"]
    assert "background/router.py" in release  # the same worker otherwise
    assert not (RELEASE / "dev.html").exists() and (DEV / "dev.html").exists()
    assert (RELEASE / "build-flags.js").read_text() == "export const DEV = false;\n"
    assert (DEV / "build-flags.js").read_text() == "export const DEV = true;\n"
    assert json.loads((RELEASE / "build-info.json").read_text())["dev"] is False
    assert "dev.html" not in (RELEASE / "background.js").read_text().replace('"dev.html"), "dev"', "")


def test_the_release_worker_answers_no_diag_and_cannot_be_given_the_hooks(tmp_path: Path) -> None:
    for name, data in bundle(RELEASE).items():
        if name.startswith(("background/", "modelclient/")):
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    script = """
import asyncio, json
from background.compose import compose

class Host:
    def post(self, port_id, text): return True
    async def touch(self): pass
    def boot_info(self): return {}

app = compose(Host(), version="1").app
for sender in ("dev", "options", "panel"):
    text = asyncio.run(app.on_runtime_message(json.dumps({"type": "diag.marks", "id": 1}), sender))
    reply = json.loads(text)
    print(sender, reply["code"])
try:
    compose(Host(), version="1", dev=True)
except ModuleNotFoundError as exc:
    print("no hooks:", exc.name)
"""
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["dev forbidden", "options unknown_type", "panel unknown_type",
                                        "no hooks: background.dev"]
