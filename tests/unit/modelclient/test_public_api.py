"""The public surface: explicit, complete, and free of I/O in the core."""

from __future__ import annotations

import ast
from pathlib import Path

import modelclient
from tests.support.paths import REPO

PACKAGE = REPO / "py" / "modelclient"

# The names other projects' checks rely on: they must stay importable.
CONTRACT = [
    "SSEDecoder",
    "ServerSentEvent",
    "ResponseStreamParser",
    "Created",
    "OutputItemDone",
    "OutputItemAdded",
    "OutputTextDelta",
    "ReasoningSummaryDelta",
    "ReasoningContentDelta",
    "ReasoningSummaryPartAdded",
    "WebSearchCallBegin",
    "RateLimits",
    "Completed",
    "ResponseEvent",
    "TokenUsage",
    "TokenUsageInfo",
    "TokenUsageTracker",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "parse_rate_limits",
    "backoff",
    "parse_retry_after",
    "RetryPolicy",
    "ModelClientError",
    "StreamError",
    "IdleTimeoutError",
    "ContextWindowExceededError",
    "UsageLimitReachedError",
    "UsageNotIncludedError",
    "QuotaExceededError",
    "ServerOverloadedError",
    "InvalidRequestError",
    "InternalServerError",
    "RetryLimitError",
    "UnexpectedStatusError",
    "ConnectionFailedError",
    "UnauthorizedError",
    "classify_http_error",
    "Prompt",
    "ResponsesApiRequest",
    "Reasoning",
    "TextControls",
    "ModelClient",
    "Transport",
    "FetchTransport",
    "HttpxTransport",
    "MockTransport",
]

# Modules of the sans-IO core: no transport library, no JS bridge, no event loop.
SHELLS = {"_client.py", "_fetch.py", "_httpx.py", "_transport.py", "__init__.py"}
FORBIDDEN = {"js", "pyodide", "httpx", "asyncio", "socket", "aiohttp"}


def test_all_is_unique_and_exported() -> None:
    names = modelclient.__all__  # its order is ruff's (RUF022)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(modelclient, name), name


def test_public_names_are_all_listed() -> None:
    public = {n for n in vars(modelclient) if not n.startswith("_") and n != "annotations"}
    assert public == set(modelclient.__all__)


def test_contract_names_are_importable() -> None:
    missing = [n for n in CONTRACT if n not in modelclient.__all__]
    assert missing == []


def test_core_modules_do_no_io() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in SHELLS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            offenders += [f"{path.name}: {root}" for root in roots & FORBIDDEN]
    assert offenders == []


def test_shells_import_foreign_libraries_lazily() -> None:
    # Importing modelclient must work where httpx (Pyodide) or js (CPython) is absent.
    for name in ("_fetch.py", "_httpx.py"):
        tree = ast.parse(Path(PACKAGE / name).read_text())
        top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        roots = {
            (n.module or "").split(".")[0] if isinstance(n, ast.ImportFrom) else n.names[0].name.split(".")[0]
            for n in top_level
        }
        assert not roots & {"js", "pyodide", "httpx"}, name
