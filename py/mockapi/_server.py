"""The mock Responses API: an aiohttp server on 127.0.0.1, in-process or in a thread.

Routes (``P`` is the prefix, ``/v1`` by default, so ``base_url`` ends in ``/v1``
like the real API's; every route also answers without the prefix):

- ``POST P/responses``: the next queued script, else the default one (a streamed
  echo when ``"stream": true``, a JSON response object otherwise).
- ``POST P/chat/completions`` (with ``wire_apis`` including ``"chat"``; then
  ``/responses`` is offered only if ``"responses"`` is listed too): a streamed echo
  in ``chat.completion.chunk``s (``_chat.py``), or a queued HTTP-error script
  with ``endpoint: "chat"``.
- ``GET P/models``: a minimal model list (a cheap "test connection" call).
- ``POST /oauth/token``: the ChatGPT token refresh (``_oauth.py``); after
  ``srv.oauth.sign_in()`` the two routes above check the ChatGPT access token
  and ``chatgpt-account-id`` instead of the API key.
- ``/_mock/*``: control endpoints, see :mod:`mockapi` and ``_control.py``.
- anything else: 404 with the API's "Invalid URL" body.

Every request but the control ones is recorded before it is answered. Every
reply carries ``Access-Control-Allow-Origin: *`` and exposes its own headers, and
``OPTIONS`` preflights are answered, so browser pages can call the server too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from ._chat import chat_chunks, chat_completion, chat_echo_text
from ._control import ScriptError, scripts_from_json
from ._payloads import ResponseContext, http_error_parts, usage
from ._scripts import Script, default_fixture_dirs, find_fixture, replay, text_reply
from ._state import Controls, RecordedRequest, State
from ._steps import StreamEnd
from ._wire import Sink, add_cors, control_error, preflight

__all__ = ["DEFAULT_MODELS", "MockResponsesServer"]

log = logging.getLogger("mockapi")

_RECORD = web.RequestKey("record", RecordedRequest)
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-5", "gpt-5-codex")
_DEFAULT_STREAM = text_reply().with_options(label="default")
# Large enough for image inputs; aiohttp's own default is 1 MiB.
_MAX_BODY = 64 * 1024 * 1024


class MockResponsesServer(Controls):
    """A mock OpenAI Responses API on a real socket, run on the current event loop.

    Use it as ``async with MockResponsesServer() as srv:`` and point a client at
    ``srv.base_url``. Queue replies with :meth:`enqueue` (see ``mockapi.text_reply``,
    ``http_error``, ``replay``…), read what arrived in :attr:`requests`.

    Args:
        host, port: where to listen; port 0 picks a free one.
        prefix: path prefix of the API routes (``base_url`` = root + prefix).
        api_key: if set, requests must carry ``Authorization: Bearer <api_key>``.
        default: the script for unscripted ``/responses`` requests (default: echo).
        fixture: replay this ``.sse`` file for every unscripted request instead.
        fixture_dirs: folders the HTTP control API may replay from (default: the
            test corpus stream folder, plus the folder of ``fixture``).
        models: ids listed by ``GET /models``.
        wire_apis: the APIs offered: ``"responses"`` (``POST /responses``) and/or
            ``"chat"`` (``POST /chat/completions``, see ``_chat``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "/v1",
        api_key: str | None = None,
        default: Script | None = None,
        fixture: str | Path | None = None,
        fixture_dirs: Sequence[str | Path] | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        wire_apis: Sequence[str] = ("responses",),
        chunk_delay_ms: int = 20,
    ) -> None:
        dirs = default_fixture_dirs() if fixture_dirs is None else [Path(d) for d in fixture_dirs]
        if fixture is not None:
            found = find_fixture(fixture, dirs, confine=False)
            default = replay(found, fixture_dirs=[])
            default = default.with_options(times=None, label=f"fixture:{found.name}")
            dirs.append(found.parent)
        self.host = host
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.models = tuple(models)
        self.wire_apis = frozenset(wire_apis)
        self.chunk_delay_ms = chunk_delay_ms
        self._port = port
        self._state = State(api_key=api_key, default=default, fixture_dirs=dirs)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving (``port`` is known afterwards)."""
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._middleware], client_max_size=_MAX_BODY)
        app.on_response_prepare.append(add_cors)
        for prefix in sorted({"", self.prefix}):
            if "responses" in self.wire_apis:
                app.router.add_post(prefix + "/responses", self._responses)
            if "chat" in self.wire_apis:
                app.router.add_post(prefix + "/chat/completions", self._chat)
            app.router.add_get(prefix + "/models", self._models)
        app.router.add_post("/oauth/token", self._oauth_token)
        app.router.add_post("/_mock/script", self._ctl_script)
        app.router.add_post("/_mock/oauth", self._ctl_oauth)
        app.router.add_get("/_mock/requests", self._ctl_requests)
        app.router.add_post("/_mock/reset", self._ctl_reset)
        app.router.add_post("/_mock/config", self._ctl_config)
        app.router.add_get("/_mock/health", self._ctl_health)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        # handler_cancellation: a client hanging up ends its handler (stalls, drips).
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving; open streams end at once."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockResponsesServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def root_url(self) -> str:
        """``http://host:port`` (control endpoints live under ``/_mock/``)."""
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return self.root_url + self.prefix

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, ``http://host:port/oauth/token``."""
        return self.root_url + "/oauth/token"

    async def wait_for_requests(
        self, count: int, *, endpoint: str | None = "responses", timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until ``count`` requests to ``endpoint`` (``None``: any) were recorded."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found := self._filter(self.requests, endpoint)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(found)} of {count} requests after {timeout}s")
            await asyncio.sleep(0.01)
        return found

    # -- request handling ---------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "OPTIONS":
            if not request.path.startswith("/_mock/"):
                await self._record(request)
            return preflight(request)
        if request.path.startswith("/_mock/"):
            resp: web.StreamResponse = await handler(request)
            return resp
        record = await self._record(request)
        resp = await handler(request)
        if record.status is None:
            record.status = resp.status
        return resp

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        query = {k: request.query[k] for k in request.query}
        record = self._state.record(request.method, request.path, query, headers, body, parsed)
        request[_RECORD] = record
        return record

    def _base_headers(self) -> CIMultiDict[str]:
        return CIMultiDict({
            "x-request-id": f"req_{secrets.token_hex(16)}",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "12",
        })

    def _error(self, request: web.Request, kind: str, **kwargs: Any) -> web.Response:
        status, body = http_error_parts(kind, **kwargs)
        headers = self._base_headers()
        record: RecordedRequest = request[_RECORD]
        record.script, record.status = f"builtin:{kind}", status
        record.request_id = headers["x-request-id"]
        # The API pretty-prints error bodies (see corpus/responses/errors).
        headers["Content-Type"] = "application/json"
        return web.Response(text=json.dumps(body, indent=2), status=status, headers=headers)

    def _json(self, request: web.Request, status: int, body: Any, label: str) -> web.Response:
        headers = self._base_headers()
        record: RecordedRequest = request[_RECORD]
        record.script, record.status, record.request_id = label, status, headers["x-request-id"]
        return web.json_response(body, status=status, headers=headers)

    def _denied(self, request: web.Request) -> web.Response | None:
        if self._state.oauth.backend_check:  # signed in with ChatGPT: the backend's rules
            refusal = self._state.oauth.check(request.headers)
            return None if refusal is None else self._json(request, *refusal, "builtin:chatgpt_auth")
        key = self._state.api_key
        auth = request.headers.get("Authorization", "")
        if key is None or auth == f"Bearer {key}":
            return None
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if given:
            return self._error(request, "invalid_api_key", api_key=given)
        message = (
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
            "or as the password field (with blank username) if you're accessing the API "
            "from your browser and are prompted for a username and password. You can obtain "
            "an API key from https://platform.openai.com/account/api-keys."
        )
        return self._error(request, "invalid_api_key", message=message)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        record: RecordedRequest = request[_RECORD]
        record.endpoint = "responses"
        if (denied := self._denied(request)) is not None:
            return denied
        if not isinstance(record.json, dict):
            return self._error(request, "invalid_json")
        ctx = ResponseContext(record.json)
        script = self._state.take("responses")
        if script is None:
            if not record.json.get("stream"):
                return self._json_reply(request, ctx)
            script = _DEFAULT_STREAM
        return await self._play(request, script, ctx)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        record: RecordedRequest = request[_RECORD]
        record.endpoint = "chat"
        if (denied := self._denied(request)) is not None:
            return denied
        if not isinstance(record.json, dict):
            return self._error(request, "invalid_json")
        script = self._state.take("chat")
        if script is not None and not script.streams:  # an HTTP error reply
            return await self._play(request, script, ResponseContext(record.json))
        text = chat_echo_text(record.json)
        headers = self._base_headers()
        record.script, record.request_id = "default", headers["x-request-id"]
        if not record.json.get("stream"):
            return web.json_response(chat_completion(record.json, text), headers=headers)
        headers["Content-Type"] = "text/event-stream; charset=utf-8"
        resp = web.StreamResponse(status=200, headers=headers)
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            for piece in chat_chunks(record.json, text):
                await resp.write(piece)
                await asyncio.sleep(self.chunk_delay_ms / 1000)
        return resp

    def _json_reply(self, request: web.Request, ctx: ResponseContext) -> web.Response:
        # A non-streamed request gets the whole response object at once.
        text = ctx.echo_text()
        ctx.output.append(ctx.message_item(text, "completed"))
        used = usage(ctx.input_tokens(), max(1, len(text.split())))
        headers = self._base_headers()
        record: RecordedRequest = request[_RECORD]
        record.script, record.request_id = "default", headers["x-request-id"]
        return web.json_response(ctx.response("completed", usage=used), headers=headers)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        record: RecordedRequest = request[_RECORD]
        record.endpoint = "models"
        if (denied := self._denied(request)) is not None:
            return denied
        script = self._state.take("models")
        if script is not None:
            return await self._play(request, script, ResponseContext(None))
        data = [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data}, headers=self._base_headers())

    async def _oauth_token(self, request: web.Request) -> web.Response:
        record: RecordedRequest = request[_RECORD]
        record.endpoint = "oauth"
        status, body, label = self._state.oauth.exchange(record.body)
        return self._json(request, status, body, label)

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error(request, "not_found", detail=f"{request.method} {request.path}")

    async def _play(
        self, request: web.Request, script: Script, ctx: ResponseContext
    ) -> web.StreamResponse:
        headers = self._base_headers()
        for name, value in script.headers.items():
            headers[name] = value
        record: RecordedRequest = request[_RECORD]
        record.script, record.status = script.label, script.status
        record.request_id = headers.get("x-request-id")
        if script.delay_ms:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), script.delay_ms / 1000)
        if not script.streams:
            headers["Content-Type"] = script.content_type
            return web.Response(status=script.status, body=script.body, headers=headers)
        headers["Content-Type"] = "text/event-stream; charset=utf-8"
        resp = web.StreamResponse(status=script.status, headers=headers)
        await resp.prepare(request)
        sink = Sink(request, resp, ctx, self._stopping)
        try:
            for step in script.steps:
                await step.run(sink)
            await sink.flush()
        except (StreamEnd, ConnectionError):
            pass
        except Exception:
            # A broken script (bad JSON values): log it and cut, so the client sees a failure
            # instead of a body that looks complete.
            log.exception("mockapi: script %r failed", script.label)
            with contextlib.suppress(StreamEnd):
                await sink.cut()
        return resp

    # -- control endpoints --------------------------------------------------------------------

    async def _ctl_script(self, request: web.Request) -> web.Response:
        try:
            obj = await request.json()
        except ValueError:
            return control_error("body must be JSON")
        replace = request.query.get("replace") in ("1", "true")
        if isinstance(obj, dict) and "replace" in obj:
            obj = dict(obj)
            replace = bool(obj.pop("replace"))
        try:
            scripts = scripts_from_json(obj, fixture_dirs=self._state.fixture_dirs)
            if replace:
                with self._state.lock:
                    self._state.queue.clear()
            self.enqueue(*scripts)
        except ScriptError as exc:
            return control_error(str(exc))
        except ValueError as exc:
            return control_error(str(exc))
        return web.json_response({"queued": len(scripts), "pending": self.pending})

    async def _ctl_requests(self, request: web.Request) -> web.Response:
        endpoint = request.query.get("endpoint") or None
        since = int(request.query.get("since", "0") or 0)
        found = [r for r in self._filter(self.requests, endpoint) if r.index >= since]
        return web.json_response(
            {"count": len(found), "requests": [r.to_json() for r in found]}
        )

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _ctl_config(self, request: web.Request) -> web.Response:
        try:
            obj = await request.json()
        except ValueError:
            return control_error("body must be JSON")
        if not isinstance(obj, dict):
            return control_error("body must be a JSON object")
        if "api_key" in obj:
            self.api_key = obj["api_key"]
        if "default" in obj:
            try:
                scripts = scripts_from_json(obj["default"], fixture_dirs=self._state.fixture_dirs)
            except ScriptError as exc:
                return control_error(str(exc))
            self.set_default(scripts[0].with_options(times=None) if obj["default"] else None)
        return web.json_response({"api_key_required": self.api_key is not None})

    async def _ctl_oauth(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self._state.oauth.control(await request.json()))
        except ValueError as exc:  # bad JSON included
            return control_error(str(exc))

    async def _ctl_health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "base_url": self.base_url, "pending": self.pending})
