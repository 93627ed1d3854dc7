"""script/soak: N clients x M mixed requests against the real server on loopback.

Mixed: one-shot requests, LLM-style streams, clients that hang up after the first audio,
and bad frames that must be answered with an error. Bounded in count and time. Reports
unexpected failures, p50/p95 first audio and resident memory at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.client import Target, one_shot, streamed  # noqa: E402
from benchmarks.report import p  # noqa: E402
from benchmarks.run import memory_mb  # noqa: E402
from tests.server import start_server  # noqa: E402

# the benchmark's templates, their number slots filled with a fixed one (the soak tags
# each request itself)
CORPUS = {
    kind: [text.replace("{}", "12") for text in texts]
    for kind, texts in json.loads((ROOT / "benchmarks" / "corpus.json").read_text()).items()
    if isinstance(texts, list)
}
BAD_FRAMES = [
    b"{not json}\n",
    b'{"type": "synthesize", "payload_length": 9000000000}\n' + b"\0" * 200_000,
    b'{"data": {}}\n',
    b"\xff\xfe\n",
]


async def hang_up(port: int, text: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"text": text}).encode()
    writer.write(json.dumps({"type": "synthesize", "data_length": len(body)}).encode() + b"\n")
    writer.write(body)
    await writer.drain()
    await reader.readline()  # audio-start
    writer.close()  # gone before the audio is done


async def bad_frame(port: int, data: bytes) -> bool:
    """True when the server answered with an error event (or closed the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:
        pass
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
    except ConnectionError:
        return True
    finally:
        writer.close()
    return not line or json.loads(line).get("type") == "error"


async def client(
    index: int, port: int, requests: int, deadline: float, out: dict[str, Any]
) -> None:
    rng = random.Random(index)
    target = Target("soak", "127.0.0.1", port)
    for number in range(requests):
        if time.monotonic() > deadline:
            out["skipped"] += requests - number
            return
        kind = rng.choices(["oneshot", "stream", "hangup", "bad"], [45, 30, 15, 10])[0]
        tag = f"Request {index * 1000 + number}. "  # first, so no phrase cache answers
        try:
            if kind == "oneshot":
                text = tag + rng.choice(CORPUS["short"] + CORPUS["paragraph"][:2])
                result = await asyncio.wait_for(one_shot(target, text, "af_heart"), 180)
                out["first_audio"].append(result["first_audio_s"])
                assert result["audio_s"] > 0.5, "no audio"
            elif kind == "stream":
                text = tag + rng.choice(CORPUS["stream"])
                result = await asyncio.wait_for(streamed(target, text, "af_heart"), 180)
                out["first_audio"].append(result["first_audio_s"])
                assert result["audio_s"] > 0.5, "no audio"
            elif kind == "hangup":
                await asyncio.wait_for(hang_up(port, tag + rng.choice(CORPUS["paragraph"])), 60)
            else:
                assert await bad_frame(port, rng.choice(BAD_FRAMES)), "bad frame not refused"
            out["done"][kind] = out["done"].get(kind, 0) + 1
        except Exception as err:  # every unexpected failure is counted and reported
            out["failures"].append(f"client {index} request {number} ({kind}): {err!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="per client")
    parser.add_argument("--max-seconds", type=float, default=1200)
    args = parser.parse_args()
    out: dict[str, Any] = {"first_audio": [], "failures": [], "done": {}, "skipped": 0}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            warm = [
                asyncio.run(one_shot(Target("soak", "127.0.0.1", server.port), t, "af_heart"))
                for t in CORPUS["short"][:2]
            ]
            asyncio.run(
                streamed(Target("soak", "127.0.0.1", server.port), CORPUS["stream"][0], "af_heart")
            )
            del warm
            start_memory = memory_mb(server.process.pid)
            started = time.monotonic()
            deadline = started + args.max_seconds

            async def run_all() -> None:
                await asyncio.gather(
                    *(
                        client(i, server.port, args.requests, deadline, out)
                        for i in range(args.clients)
                    )
                )

            asyncio.run(run_all())
            elapsed = time.monotonic() - started
            end_memory = memory_mb(server.process.pid)
            alive = server.process.poll() is None
        finally:
            server.stop()
    first = out["first_audio"]
    growth = (end_memory["rss_mb"] - start_memory["rss_mb"]) / start_memory["rss_mb"]
    print(
        f"{args.clients} clients x {args.requests} requests in {elapsed:.0f} s: {out['done']}"
        f", {out['skipped']} skipped at the time limit"
    )
    print(f"unexpected failures: {len(out['failures'])}")
    for failure in out["failures"][:20]:
        print("  " + failure)
    if first:
        print(
            f"first audio p50 / p95: {statistics.median(first) * 1000:.0f} / "
            f"{p(first, 0.95) * 1000:.0f} ms"
        )
    print(
        f"resident memory: {start_memory['rss_mb']:.0f} MB at the start, "
        f"{end_memory['rss_mb']:.0f} MB at the end ({growth:+.1%}), "
        f"peak {end_memory['peak_rss_mb']:.0f} MB; server still running: {alive}"
    )
    return 0 if not out["failures"] and alive else 1


if __name__ == "__main__":
    sys.exit(main())
