"""The library as a stranger gets it: pip-installed into a fresh virtualenv, used from outside.

A copy of the repository's files (what a clone has) is installed with pip into a
new virtualenv, with pydantic at the lowest version the package allows. From a
directory outside the repository, with nothing of it on ``sys.path``, the
README's "Use the client from Python" example streams a turn from a loopback
server, and ``mypy --strict`` type-checks a downstream module against the
installed package. The API reference command of the README runs clean.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockapi import MockServerThread, text_reply
from tests.support.paths import REPO

KEY = "sk-install-test"
README = (REPO / "README.md").read_text()


def readme_example() -> str:
    pattern = r"<!-- example: use-the-client -->\n```python\n(.*?)```\n<!-- /example -->"
    match = re.search(pattern, README, re.S)
    assert match, "the README lost its runnable example"
    return match.group(1)


def lowest_pydantic() -> str:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    [spec] = [d for d in deps if d.startswith("pydantic")]
    floor = re.search(r">=\s*([0-9.]+)", spec)
    assert floor, spec
    return floor.group(1)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("install")
    # What a clone holds: the tracked files and the new ones not ignored.
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    clone = root / "clone"
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"{clone}[httpx]", f"pydantic=={lowest_pydantic()}"], check=True, cwd=root)
    yield env_dir


def outside(venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the venv's python in an empty directory, with no PYTHONPATH."""
    work = venv.parent / "work"
    work.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [str(venv / "bin" / "python"), *args], cwd=work, env={**clean, **env},
        capture_output=True, text=True, timeout=120,
    )


PROBE = """
import importlib.metadata, importlib.util, json, pathlib, sys
import modelclient, pydantic
package = pathlib.Path(modelclient.__file__).parent
print(json.dumps({
    "file": str(package),
    "typed": (package / "py.typed").is_file(),
    "version": modelclient.__version__,
    "dist": importlib.metadata.version("sidepy-modelclient"),
    "pydantic": pydantic.VERSION,
    "path": sys.path,
    "others": [m for m in ("background", "panel", "mockapi") if importlib.util.find_spec(m)],
}))
"""


def test_the_installed_package_is_importable_typed_and_alone(venv: Path) -> None:
    probe = outside(venv, "-c", PROBE)
    assert probe.returncode == 0, probe.stderr
    info = json.loads(probe.stdout)
    assert info["file"].startswith(str(venv)) and "site-packages" in info["file"]
    assert info["typed"] is True
    assert info["version"] == info["dist"]
    assert info["pydantic"].split(".")[:2] == lowest_pydantic().split(".")[:2]  # the floor works
    assert not any(str(REPO) in entry for entry in info["path"])
    assert info["others"] == []  # only modelclient was packaged


def test_the_readme_example_streams_a_turn(venv: Path) -> None:
    script = venv.parent / "example.py"
    script.write_text(readme_example())
    with MockServerThread(api_key=KEY) as server:
        server.enqueue(text_reply("Hello from the installed client"))
        run = outside(venv, str(script), OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "Hello from the installed client"
        [request] = server.requests_to("responses")
        assert request.json is not None and request.json["model"] == "gpt-5.1"
        assert request.json["reasoning"] == {"effort": "low", "summary": "auto"}

        server.api_key = "sk-someone-else"
        run = outside(venv, str(script), OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        assert run.returncode == 0, run.stderr
        assert "error: unexpected status 401 Unauthorized" in run.stdout  # said, not a traceback


DOWNSTREAM = '''
from typing import assert_type

from modelclient import (
    Completed, HttpxTransport, ModelClient, ModelSettings, Prompt, Reconnecting, ResponseEvent,
    ResponseStream,
)


async def last_event(client: ModelClient, prompt: Prompt) -> Completed | None:
    turn = client.stream_turn(prompt)
    assert_type(turn, ResponseStream[ResponseEvent | Reconnecting])
    async with turn as events:
        async for event in events:
            assert_type(event, ResponseEvent | Reconnecting)
            if isinstance(event, Completed):
                return event
    single = await client.stream(prompt).__anext__()
    assert_type(single, ResponseEvent)
    return None


client = ModelClient(HttpxTransport(), settings=ModelSettings(model="gpt-5.1", reasoning_effort="xhigh"))
'''


def test_a_downstream_module_type_checks_against_the_installed_package(venv: Path) -> None:
    module = venv.parent / "downstream.py"
    module.write_text(DOWNSTREAM)
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert mypy, "mypy is a dev requirement"
    python = str(venv / "bin" / "python")
    run = subprocess.run(
        [mypy, "--strict", "--no-incremental", "--python-executable", python, str(module)],
        cwd=module.parent, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")},
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_api_reference_command_of_the_readme_runs_clean(tmp_path: Path) -> None:
    match = re.search(r"\.venv/bin/python -m pdoc (.*?) -o build/api (\S+)", README)
    assert match, "the README lost its API reference command"
    options, target = match.group(1).split(), match.group(2)
    run = subprocess.run(
        [sys.executable, "-m", "pdoc", *options, "-o", str(tmp_path), target],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0 and "Warn" not in run.stderr + run.stdout, run.stderr
    page = (tmp_path / "modelclient.html").read_text()
    import modelclient

    missing = [name for name in modelclient.__all__ if f'id="{name}"' not in page]
    assert missing == []
