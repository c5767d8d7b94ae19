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
