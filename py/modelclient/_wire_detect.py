"""Which wire API a server speaks: try a tiny Responses turn, then a tiny Chat Completions one.

Codex asks the user to configure ``wire_api``; a SidePy user only has a base URL.
So "Test connection" (and saving a custom provider) sends the one request chat
would send, at the smallest size: a one-line prompt, streamed, first to
``/responses`` and, only when that endpoint is missing, to ``/chat/completions``.
The answer is the wire API, plus what the model said and the tokens it cost,
which is what the user wants to see anyway.

The decision is sans-IO (:func:`endpoint_missing`, :func:`decide`); the shell
(:func:`detect_wire_api`) runs :class:`Probe` turns through clients the caller
builds, so auth, provider options and transport stay the caller's.

"Missing" means the server has no such endpoint, not that the endpoint failed:
404, 405 and 501, or a 2xx that was no event stream at all (LM Studio answers
unknown paths with ``200 {"error": "Unexpected endpoint…"}``). Any other
failure (a bad key, a 429, an unknown model) is an answer from a Responses
server and is reported as such: re-trying it on the other wire would only hide it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._error_base import ModelClientError
from ._errors import InvalidRequestError, RetryLimitError, StreamError, UnexpectedStatusError
from ._events import Completed, Created, OutputTextDelta
from ._items import MessageItem
from ._provider import WireApi
from ._request import Prompt
from ._usage import TokenUsage

if TYPE_CHECKING:
    from ._client import ModelClient

__all__ = ["PROBE_INSTRUCTIONS", "Probe", "decide", "detect_wire_api", "endpoint_missing", "probe_prompt"]

PROBE_INSTRUCTIONS = "This is a connection test. Reply with the single word OK."
#: Statuses that say "no such endpoint here" rather than "this request failed".
MISSING_STATUSES = frozenset({404, 405, 501})
# Words of a 400 that some servers send for an unknown path instead of a 404.
_UNKNOWN_PATH = ("unknown url", "unrecognized request url", "invalid url", "not found: /", "no route",
                 "unexpected endpoint", "unsupported endpoint", "unknown endpoint")  # fmt: skip


def probe_prompt() -> Prompt:
    """The tiny turn a probe sends (instructions ride along as the prompt's override)."""
    return Prompt(
        input=[MessageItem(role="user", content=[{"type": "input_text", "text": "OK?"}])],
        base_instructions_override=PROBE_INSTRUCTIONS,
    )


@dataclass(frozen=True, slots=True)
class Probe:
    """One tiny turn on one wire API.

    Fields:
        wire_api: the wire it was sent on.
        started: whether the server began an event stream (``Created`` arrived).
        text: what the model wrote.
        usage: the turn's token usage, when the server reported it.
        error: why it failed, or ``None`` when it completed.
    """

    wire_api: WireApi
    started: bool
    text: str = ""
    usage: TokenUsage | None = None
    error: ModelClientError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def endpoint_missing(probe: Probe) -> bool:
    """Whether ``probe`` failed because the server has no endpoint for its wire API."""
    error = probe.error
    if error is None:
        return False
    if isinstance(error, UnexpectedStatusError | RetryLimitError):  # 501: a 5xx, retried as one
        return error.status in MISSING_STATUSES
    if isinstance(error, InvalidRequestError):
        said = str(error).lower()
        return any(words in said for words in _UNKNOWN_PATH)
    # A 2xx that never became an event stream (no Created): not this wire's server.
    return isinstance(error, StreamError) and not probe.started and "idle timeout" not in str(error)


def decide(probes: Sequence[Probe]) -> WireApi | None:
    """The wire API the probes found, or ``None`` when none worked."""
    for probe in probes:
        if probe.ok:
            return probe.wire_api
    return None


async def run_probe(client: ModelClient) -> Probe:
    """One probe turn through ``client`` (one request, no turn-level retry)."""
    wire = client.provider.wire_api
    started, text, usage = False, [], None
    try:
        async with client.stream(probe_prompt()) as events:
            async for event in events:
                if isinstance(event, Created):
                    started = True
                elif isinstance(event, OutputTextDelta):
                    text.append(event.delta)
                elif isinstance(event, Completed):
                    usage = event.token_usage
    except ModelClientError as error:
        return Probe(wire, started, "".join(text), usage, error)
    return Probe(wire, started, "".join(text), usage)


async def detect_wire_api(
    make_client: Callable[[WireApi], ModelClient],
) -> tuple[WireApi | None, list[Probe]]:
    """Responses first, then Chat Completions when the Responses endpoint is missing.

    Args:
        make_client: builds the client for one wire API (the caller's transport,
            auth and provider, with ``wire_api`` set and, ideally, no request retries).

    Returns:
        The wire API found (``None`` if neither worked) and every probe in the
        order sent; the last one explains a failure.
    """
    first = await run_probe(make_client("responses"))
    probes = [first]
    if endpoint_missing(first):
        probes.append(await run_probe(make_client("chat")))
    return decide(probes), probes
