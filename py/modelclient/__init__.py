"""modelclient — a Python port of the Rust ``ModelClient`` of OpenAI Codex.

Streams from the OpenAI Responses API (``POST {base_url}/responses``) and runs
unchanged on CPython and on Pyodide. The core (SSE decoding, stream parsing,
retry policy, rate limits, token usage, errors, request models) is sans-IO;
transports are thin shells around a browser ``fetch`` or ``httpx``.
"""

from __future__ import annotations

__all__: list[str] = []
