"""A mock OpenAI Responses API server for SidePy's tests, benchmarks, e2e tests and demo.

A real HTTP server on 127.0.0.1 (aiohttp) that streams Responses API events the way
the live service does, and can be scripted to misbehave: slow, cut, malformed,
failed, rate limited. In-process::

    async with MockResponsesServer(api_key="sk-test") as srv:
        srv.enqueue(http_error("rate_limit", retry_after=1), text_reply("Hi there"))
        ...  # point the client at srv.base_url ("http://127.0.0.1:PORT/v1")
        assert srv.requests_to("responses")[0].bearer == "sk-test"

From sync tests and Playwright: ``with MockServerThread() as srv: ...``. From another
process: ``python -m mockapi --port 8765`` and the control endpoints::

    POST /_mock/script    a script as JSON (see ``_control.py``) -> {"queued", "pending"}
    GET  /_mock/requests  ?endpoint=responses&since=N -> {"count", "requests": [...]}
    POST /_mock/reset     forget scripts and records -> {"ok": true}
    POST /_mock/config    {"api_key": str|null, "default": script|null}
    POST /_mock/oauth     ChatGPT sign-in: {"sign_in", "expire_access_token", "enqueue",
                          "backend_check"} -> tokens, refresh count, auth_json (``_oauth.py``)
    GET  /_mock/health    {"ok": true, "base_url", "pending"}
"""

from __future__ import annotations

from ._control import PRESETS, ScriptError, scripts_from_json
from ._headers import codex_rate_limit_headers, openai_rate_limit_headers
from ._oauth import CLIENT_ID, REFRESH_OUTCOMES, OAuthMock, make_jwt
from ._payloads import HTTP_ERROR_KINDS, ResponseContext, error_body, split_deltas, sse_event
from ._scripts import (
    Script,
    cut_reply,
    default_fixture_dirs,
    error_event_reply,
    failed_reply,
    find_fixture,
    http_error,
    incomplete_reply,
    malformed_reply,
    replay,
    slow_drip,
    stall_reply,
    text_reply,
)
from ._server import MockResponsesServer
from ._state import RecordedRequest
from ._steps import (
    KEEPALIVE,
    MALFORMED_EVENT,
    Chunking,
    Cut,
    Drip,
    ErrorEvent,
    Event,
    Failed,
    Raw,
    Replay,
    Sleep,
    Stall,
    Start,
    Step,
    StreamEnd,
    Turn,
)
from ._thread import MockServerThread

__all__ = [
    "CLIENT_ID",
    "HTTP_ERROR_KINDS",
    "KEEPALIVE",
    "MALFORMED_EVENT",
    "PRESETS",
    "REFRESH_OUTCOMES",
    "Chunking",
    "Cut",
    "Drip",
    "ErrorEvent",
    "Event",
    "Failed",
    "MockResponsesServer",
    "MockServerThread",
    "OAuthMock",
    "Raw",
    "RecordedRequest",
    "Replay",
    "ResponseContext",
    "Script",
    "ScriptError",
    "Sleep",
    "Stall",
    "Start",
    "Step",
    "StreamEnd",
    "Turn",
    "codex_rate_limit_headers",
    "cut_reply",
    "default_fixture_dirs",
    "error_body",
    "error_event_reply",
    "failed_reply",
    "find_fixture",
    "http_error",
    "incomplete_reply",
    "make_jwt",
    "malformed_reply",
    "openai_rate_limit_headers",
    "replay",
    "scripts_from_json",
    "slow_drip",
    "split_deltas",
    "sse_event",
    "stall_reply",
    "text_reply",
]
