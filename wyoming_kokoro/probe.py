"""Health probe for a balancer or Kubernetes: ``python -m wyoming_kokoro.probe [HOST:PORT]``.

Sends a Wyoming ``describe`` and expects ``info`` (the same check as deploy/haproxy.cfg);
with ``--speak``, also a one-word synthesize that must come back as audio, which passes
only once the model has loaded. Exit status 0: healthy; 1: not (the reason on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import Synthesize


class ProbeFailed(RuntimeError):
    """The server did not answer as a healthy wyoming-kokoro does."""


async def _expect(client: AsyncTcpClient, wanted: str) -> None:
    while True:
        event = await client.read_event()
        if event is None:
            raise ProbeFailed(f"connection closed before {wanted}")
        if event.type == "error":
            raise ProbeFailed(f"error event: {event.data.get('text')}")
        if event.type == wanted:
            return


async def probe(host: str, port: int, speak: bool = False, timeout: float = 5.0) -> None:
    """Raise :class:`ProbeFailed` (or OSError, TimeoutError) unless the server is healthy."""

    async def check() -> None:
        async with AsyncTcpClient(host, port) as client:
            await client.write_event(Describe().event())
            await _expect(client, "info")
            if speak:
                await client.write_event(Synthesize(text="Ready.").event())
                await _expect(client, "audio-stop")

    await asyncio.wait_for(check(), timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wyoming_kokoro.probe", description=__doc__)
    parser.add_argument("address", nargs="?", default="127.0.0.1:10200", help="HOST:PORT")
    parser.add_argument("--speak", action="store_true", help="also synthesize one word")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    args = parser.parse_args(argv)
    host, _, port = str(args.address).rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"expected HOST:PORT, got {args.address!r}")
    try:
        asyncio.run(probe(host, int(port), args.speak, args.timeout))
    except (ProbeFailed, OSError, asyncio.TimeoutError) as err:
        print(f"unhealthy: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
