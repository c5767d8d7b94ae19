"""Run the mock Responses API: ``python -m mockapi --host 127.0.0.1 --port N [--fixture PATH]``.

Prints one line, ``mockapi listening on <base_url>``, once the socket is bound (with
``--port 0`` that is how a driving process learns the port), then serves until
SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._server import MockResponsesServer


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mockapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--prefix", default="/v1", help="path prefix of the API routes")
    parser.add_argument("--fixture", help="replay this .sse file for every unscripted request")
    parser.add_argument(
        "--fixture-dir", action="append", default=None, dest="fixture_dirs",
        help="folder the control API may replay from (repeatable; default: the test corpus)",
    )
    parser.add_argument("--api-key", help="require Authorization: Bearer <key>")
    parser.add_argument(
        "--wire", action="append", choices=("responses", "chat"), dest="wire_apis",
        help="API to offer (repeatable; default: responses). `--wire chat` alone is a Chat-only server",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    server = MockResponsesServer(
        host=args.host, port=args.port, prefix=args.prefix, api_key=args.api_key,
        fixture=args.fixture, fixture_dirs=args.fixture_dirs,
        wire_apis=args.wire_apis or ("responses",),
    )
    await server.start()
    print(f"mockapi listening on {server.base_url}", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except (OSError, FileNotFoundError) as exc:
        print(f"mockapi: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
