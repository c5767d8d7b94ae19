"""Diagnostics handlers: worker-lifetime and transport checks used by tests and benches.

Developer builds only (``build.py --dev``): the release build ships without this
package, and its router has no ``diag`` capability (:mod:`background.router`).

They exercise the real paths: a raw streaming read while holding the keep-alive, and
a full ``modelclient`` turn through the worker's transport.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from modelclient import (
    Completed,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    Prompt,
    RateLimits,
    Reconnecting,
    ResponseStreamParser,
    SSEDecoder,
    Transport,
    is_output_text_delta,
)

from ..errors import ProtocolError
from ..keepalive import KeepAlive
from ..settings.credentials import Keys

__all__ = ["Diagnostics", "OpenStream", "sample_stream", "sse_memory", "time_sse"]

Message = dict[str, Any]
# open_stream(url, method, body) -> the response body, chunk by chunk.
OpenStream = Callable[[str, str, str | None], AsyncIterator[bytes]]
Spawn = Callable[[Any], object]


def _str(msg: Message, key: str, default: str | None = None) -> str:
    value = msg.get(key, default)
    if not isinstance(value, str):
        raise ProtocolError("bad_request", f"{msg.get('type')} needs a '{key}' string")
    return value


def _int(msg: Message, key: str, default: int, low: int, high: int) -> int:
    value = msg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError("bad_request", f"{msg.get('type')} '{key}' must be an integer in [{low}, {high}]")
    return value


class Diagnostics:
    def __init__(
        self,
        keepalive: KeepAlive,
        spawn: Spawn,
        *,
        open_stream: OpenStream | None = None,
        transport: Callable[[], Transport] | None = None,
        client_options: dict[str, Any] | None = None,
        keys: Keys | None = None,
        vault_lab: Callable[[], Any] | None = None,
    ) -> None:
        self.keepalive = keepalive
        self._spawn = spawn
        self._open_stream = open_stream
        self._transport = transport
        self._client_options = client_options or {}  # e.g. injected sleep/with_timeout in tests
        self._jobs: dict[int, Message] = {}
        # A factory of crypto backends that cannot reach the real vault (for the shared
        # test vectors), and the app's key source (diag.chat without an api_key uses it).
        self.vault_lab = vault_lab
        self.keys = keys
        self._marks: list[str] = []  # diag.mark tokens, in arrival order (relay tests)

    def handlers(self) -> dict[str, Callable[[Message], Any]]:
        return {
            "diag.stream": self.stream,
            "diag.result": self.result,
            "diag.chat": self.chat,
            "diag.bench_sse": self.bench_sse,
            "diag.vault_vectors": self.vault_vectors,
            "diag.mark": self.mark,
            "diag.marks": self.marks,
            "diag.fatal": self.fatal,
        }

    async def stream(self, msg: Message) -> Message:
        """Read a URL to the end, holding the keep-alive unless told not to.

        With ``"background": true`` the read runs as a job and the reply comes at
        once; ``diag.result`` fetches the outcome later. A job id the app does
        not know means the worker restarted in between.
        """
        url, method = _str(msg, "url"), _str(msg, "method", "GET")
        body = msg.get("body")
        if self._open_stream is None:
            raise ProtocolError("unavailable", "no streaming fetch in this runtime")
        if body is not None and not isinstance(body, str):
            raise ProtocolError("bad_request", "diag.stream 'body' must be a string")
        job = len(self._jobs) + 1
        self._jobs[job] = {"type": "diag.stream.running", "id": msg.get("id"), "job": job}
        hold = bool(msg.get("keepalive", True))

        async def run() -> None:
            try:
                self._jobs[job] = await self._read_all(msg.get("id"), job, url, method, body, hold)
            except Exception as exc:
                self._jobs[job] = {
                    "type": "error",
                    "id": msg.get("id"),
                    "job": job,
                    "code": "internal",
                    "message": str(exc),
                }
                print(f"background: job {job} failed: {exc!r}", file=sys.stderr)

        if msg.get("background"):
            self._spawn(run())
            return dict(self._jobs[job])
        await run()
        return self._jobs[job]

    async def _read_all(
        self, msg_id: object, job: int, url: str, method: str, body: str | None, hold: bool
    ) -> Message:
        assert self._open_stream is not None
        started = time.monotonic()
        total = chunks = 0
        async with self.keepalive.hold() if hold else contextlib.nullcontext():
            async for chunk in self._open_stream(url, method, body):
                total += len(chunk)
                chunks += 1
        return {
            "type": "diag.stream.done",
            "id": msg_id,
            "job": job,
            "bytes": total,
            "chunks": chunks,
            "seconds": round(time.monotonic() - started, 3),
            "keepalive_touches": self.keepalive.touches,
        }

    async def result(self, msg: Message) -> Message:
        job = self._jobs.get(msg.get("job"))  # type: ignore[arg-type]
        if job is None:
            raise ProtocolError("unknown_job", "no such job: the worker was restarted since")
        return {**job, "id": msg.get("id")}

    async def chat(self, msg: Message) -> Message:
        """One turn through ``modelclient`` and the worker's transport; a summary back."""
        if self._transport is None:
            raise ProtocolError("unavailable", "no transport in this runtime")
        provider = ModelProviderInfo(
            base_url=_str(msg, "base_url"),
            stream_idle_timeout_ms=msg.get("idle_timeout_ms"),
            connect_timeout_ms=msg.get("connect_timeout_ms"),
        )
        client = ModelClient(
            self._transport(),
            settings=ModelSettings(model=_str(msg, "model", "gpt-4o-mini")),
            provider=provider,
            auth=msg.get("api_key") if isinstance(msg.get("api_key"), str) else await self._stored_key(),
            product="SidePy",
            **self._client_options,
        )
        text = _str(msg, "text")
        prompt = Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": text}])])
        kinds: list[str] = []
        deltas: list[str] = []
        reply: Message = {"type": "diag.chat.done", "id": msg.get("id")}
        started = time.monotonic()
        try:
            async with self.keepalive.hold(), client.stream_turn(prompt) as events:
                async for event in events:
                    kinds.append(type(event).__name__)
                    if is_output_text_delta(event):
                        deltas.append(event.delta)
                    elif isinstance(event, Reconnecting):
                        deltas.clear()  # the re-sent request starts over
                    elif isinstance(event, RateLimits):
                        reply["rate_limits"] = event.snapshot.to_json()
                    elif isinstance(event, Completed) and event.token_usage is not None:
                        reply["total_tokens"] = event.token_usage.total_tokens
        except ModelClientError as error:
            reply["error"] = error.to_json()
        reply.update(text="".join(deltas), events=kinds, seconds=round(time.monotonic() - started, 3))
        return reply

    async def bench_sse(self, msg: Message) -> Message:
        """Time bytes -> ``ResponseEvent`` in this runtime over :func:`sample_stream` (bench/sse.py).

        Takes ``events`` (stream length), ``chunk`` (bytes per ``feed``), ``repeat``
        (timed runs of each kind) and ``memory`` (also trace memory over one more
        run). Every run's seconds are returned; the caller picks best-of-N. It runs
        synchronously: the worker answers nothing else meanwhile.
        """
        events = _int(msg, "events", 100_000, 2, 1_000_000)
        chunk = _int(msg, "chunk", 16_384, 1, 1 << 24)
        repeat = _int(msg, "repeat", 5, 1, 50)
        heap = [("start", _wasm_heap_bytes())]
        body = sample_stream(events)
        chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        heap.append(("body", _wasm_heap_bytes()))
        decoder_runs = [time_sse(chunks, parse=False) for _ in range(repeat)]
        parser_runs = [time_sse(chunks, parse=True) for _ in range(repeat)]
        heap.append(("timed", _wasm_heap_bytes()))
        reply: Message = {
            "type": "diag.bench_sse.done",
            "id": msg.get("id"),
            "python": sys.version.split()[0],
            "platform": sys.platform,
            "pyodide": _pyodide_version(),
            "events": events,
            "bytes": len(body),
            "chunk": chunk,
            "chunks": len(chunks),
            "sha256": _sha256(body),
            "sse_events": decoder_runs[0][1],
            "response_events": parser_runs[0][1],
            "decoder_s": [seconds for seconds, _ in decoder_runs],
            "parser_s": [seconds for seconds, _ in parser_runs],
        }
        if msg.get("memory", True):
            reply["memory"] = sse_memory(chunks, every=max(1, events // 10))
            heap.append(("traced", _wasm_heap_bytes()))
        # Pyodide's WebAssembly memory (it only ever grows); None on CPython.
        reply["wasm_heap"] = [[stage, size] for stage, size in heap if size is not None]
        return reply


    async def _stored_key(self) -> str | None:
        return await self.keys.get() if self.keys is not None else None

    async def vault_vectors(self, msg: Message) -> Message:
        """Run the vault's test vectors (``vectors``: vectors.json) on this runtime's crypto.

        Each vector gets a fresh backend with a throw-away key store: the real vault
        is never touched. The reply lists what was produced and what differed.
        """
        vectors = msg.get("vectors")
        if self.vault_lab is None:
            raise ProtocolError("unavailable", "no vault crypto in this runtime")
        if not isinstance(vectors, dict):
            raise ProtocolError("bad_request", "diag.vault_vectors needs 'vectors' (an object)")
        from .vaultcheck import check_vectors

        started = time.monotonic()
        result = await check_vectors(vectors, self.vault_lab)
        return {"type": "diag.vault_vectors.done", "id": msg.get("id"), **result,
                "seconds": round(time.monotonic() - started, 3)}

    async def fatal(self, msg: Message) -> Message:
        """Kill this Python on purpose, as deep JSON once did (a C stack overflow in the decoder):
        the worker must forget it and boot a fresh one for the next event (extension/boot.js)."""
        depth = _int(msg, "depth", 100_000, 1, 10_000_000)
        json.loads("[" * depth + "]" * depth)  # the unguarded decoder, on purpose
        return {"type": "diag.fatal.survived", "id": msg.get("id")}

    async def mark(self, msg: Message) -> Message:
        """Remember ``token``: tests prove which messages reached the worker (and which did not)."""
        self._marks.append(_str(msg, "token"))
        return {"type": "diag.marked", "id": msg.get("id")}

    async def marks(self, msg: Message) -> Message:
        return {"type": "diag.marks", "id": msg.get("id"), "marks": list(self._marks)}


# ------------------------------------------------------------------ SSE benchmark
# Shared by the worker (diag.bench_sse) and by bench/sse.py on CPython, so both
# runtimes time the same code over the same bytes.


def _frame(obj: dict[str, Any]) -> str:
    return f"event: {obj['type']}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n"


def sample_stream(events: int) -> bytes:
    """A Responses stream of ``events`` SSE events: created, text deltas, completed (~244 B each)."""
    created = {"id": "resp_1", "status": "in_progress", "output": []}
    parts = [_frame({"type": "response.created", "sequence_number": 0, "response": created})]
    for i in range(1, events - 1):
        delta = {
            "type": "response.output_text.delta",
            "sequence_number": i,
            "item_id": "msg_0b1c9e4f2a7d5e6f0068f1c2a7e9f081908f",
            "output_index": 1,
            "content_index": 0,
            "delta": " word",
            "logprobs": [],
            "obfuscation": "Xy7Qp2",
        }
        parts.append(_frame(delta))
    usage = {"input_tokens": 10, "output_tokens": events, "total_tokens": events + 10}
    done = {"id": "resp_1", "status": "completed", "usage": usage}
    parts.append(_frame({"type": "response.completed", "sequence_number": events - 1, "response": done}))
    return "".join(parts).encode()


def time_sse(chunks: list[bytes], *, parse: bool) -> tuple[float, int]:
    """Feed ``chunks`` through a fresh ``SSEDecoder`` (and ``ResponseStreamParser``).

    Returns (seconds, events out): SSE events, or ``ResponseEvent``s with ``parse``.
    """
    gc.collect()
    count = 0
    started = time.perf_counter()
    decoder = SSEDecoder()
    if parse:
        parser = ResponseStreamParser()
        for data in chunks:
            for sse in decoder.feed(data):
                count += len(parser.feed(sse))
        decoder.close()
        parser.close()
    else:
        for data in chunks:
            count += len(decoder.feed(data))
        decoder.close()
    return time.perf_counter() - started, count


def sse_memory(chunks: list[bytes], *, every: int) -> dict[str, Any]:
    """``tracemalloc`` over one decoder+parser run: is memory flat along the stream?

    ``samples`` holds [SSE events so far, traced bytes above the start] every
    ``every`` events; ``peak_first`` is the peak until the first sample,
    ``peak_rest`` the peak after it. The input bytes exist before tracing starts,
    and samples go into a preallocated array, so only the decoder and parser
    (and the events they return, dropped at once) are traced.
    """
    import tracemalloc
    from array import array

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        slots = array("q", [0]) * (2 * (len(chunks) + 1))
        taken = 0
        peak_first = -1
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        decoder, parser = SSEDecoder(), ResponseStreamParser()
        seen, mark = 0, every
        for data in chunks:
            for sse in decoder.feed(data):
                parser.feed(sse)
                seen += 1
            if seen >= mark:
                current, peak = tracemalloc.get_traced_memory()
                slots[taken], slots[taken + 1] = seen, current - base
                taken += 2
                if peak_first < 0:
                    peak_first = peak - base
                    tracemalloc.reset_peak()
                mark = (seen // every + 1) * every
        decoder.close()
        parser.close()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    samples = [[slots[i], slots[i + 1]] for i in range(0, taken, 2)]
    if not samples or samples[-1][0] != seen:
        samples.append([seen, current - base])
    return {
        "tool": "tracemalloc",
        "events": seen,
        "every": every,
        "samples": samples,
        "peak_first": peak - base if peak_first < 0 else peak_first,
        "peak_rest": peak - base,
        "end": current - base,
    }


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _pyodide_version() -> str | None:
    try:
        return str(importlib.import_module("pyodide").__version__)
    except ImportError:
        return None


def _wasm_heap_bytes() -> int | None:
    try:
        return int(importlib.import_module("pyodide_js")._module.HEAP8.length)
    except ImportError:
        return None
