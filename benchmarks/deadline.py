"""A long answer under a steady stream of short commands: does it run dry?

One long answer (about a minute of audio, one ``synthesize``) plays while new short
commands arrive at a steady rate, each on its own connection. Measured per scheduler
(``--scheduler deadline`` and the older ``first-segment``, both servers started at once
and taken in turn at each level, at the same command rate), against the same server idle:

* the long answer's **stall**: seconds its client's playout would be dry after its first
  audio (the client plays each chunk as soon as it arrives and the one before it ended);
* the short commands' **first audio** (synthesize sent to the first audio-chunk), p50 and
  p95, against the same commands on the idle server.

Load: the long answer's own share of the engine (its RTF, measured alone on a part of the
text) plus the short commands' engine time per second (rate x their mean engine time,
from the server's records of the idle phase). The levels are given as a share of what the
long answer leaves over: 100 % means the short commands are sent just as fast as the
engine can take them beside the long answer. The total utilization of each level is
printed with it.

    flock /tmp/bench.lock .venv/bin/python benchmarks/deadline.py [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.tts import Synthesize, SynthesizeVoice  # noqa: E402

from benchmarks.client import Texts  # noqa: E402
from tests.server import RunningServer, spawn_server  # noqa: E402
from wyoming_kokoro.stats import percentile  # noqa: E402

VOICE = "af_heart"
BYTES_PER_S = 24000 * 2
LEVELS = (0.5, 0.8, 1.0)
IDLE_COMMANDS = 8


def start(tmp: Path, scheduler: str) -> RunningServer:
    server = spawn_server(tmp, "--scheduler", scheduler, "--phrase-cache-mb", "0")
    while "Ready after" not in server.log():
        if server.process.poll() is not None:
            raise RuntimeError(server.log())
        time.sleep(0.05)
    return server


class Refused(RuntimeError):
    """The server refused a short command (overload: every connection taken)."""


async def speak(server: RunningServer, text: str) -> list[tuple[float, int]]:
    """(arrival since the synthesize was sent, bytes) for each audio chunk."""
    arrivals: list[tuple[float, int]] = []
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(VOICE)).event())
        while True:
            event = await client.read_event()
            if event is not None and event.type == "error" and event.data.get("code") == "busy":
                raise Refused(event.data.get("text", "busy"))
            if event is None or event.type == "error":
                raise RuntimeError(f"request failed: {event}")
            if event.type == "audio-chunk" and event.payload:
                arrivals.append((time.perf_counter() - started, len(event.payload)))
            if event.type == "audio-stop":
                return arrivals


def stall_s(arrivals: list[tuple[float, int]]) -> float:
    """Seconds a player that plays each chunk on arrival would have been dry."""
    dry, end = 0.0, None
    for arrived, size in arrivals:
        if end is not None and arrived > end:
            dry += arrived - end
        start = arrived if end is None else max(arrived, end)
        end = start + size / BYTES_PER_S
    return dry


def records(server: RunningServer) -> list[dict[str, Any]]:
    lines = server.stats_path.read_text().splitlines() if server.stats_path.exists() else []
    return [json.loads(line) for line in lines]


async def loaded(
    server: RunningServer, long_text: str, texts: Texts, interval: float | None
) -> dict[str, Any]:
    """The long answer, with a short command every ``interval`` seconds while it plays."""
    long = asyncio.create_task(speak(server, long_text))
    shorts: list[asyncio.Task[list[tuple[float, int]]]] = []
    index = 0
    while not long.done():
        if interval is not None:
            shorts.append(asyncio.create_task(speak(server, texts.get("short", index))))
            index += 1
        await asyncio.wait({long}, timeout=interval or 1.0)
    arrivals = long.result()
    outcomes = await asyncio.gather(*shorts, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Refused):
            raise outcome
    firsts = [outcome[0][0] for outcome in outcomes if isinstance(outcome, list) and outcome]
    refused = sum(isinstance(outcome, Refused) for outcome in outcomes)
    return {
        "long_audio_s": round(sum(size for _, size in arrivals) / BYTES_PER_S, 1),
        "long_first_audio_s": round(arrivals[0][0], 3),
        "stall_s": round(stall_s(arrivals), 3),
        "short_commands": len(firsts),
        "short_commands_refused": refused,
        "short_first_audio_p50_s": round(percentile(firsts, 0.5), 3) if firsts else None,
        "short_first_audio_p95_s": round(percentile(firsts, 0.95), 3) if firsts else None,
    }


async def idle(server: RunningServer, texts: Texts, long_text: str) -> dict[str, Any]:
    """Short commands one at a time, and the long answer's RTF on a part of it."""
    firsts = [(await speak(server, texts.get("short", i)))[0][0] for i in range(IDLE_COMMANDS)]
    engine_s = [(r["g2p_ms"] + r["inference_ms"]) / 1000 for r in records(server)[-IDLE_COMMANDS:]]
    await speak(server, long_text[: len(long_text) // 4])
    part = records(server)[-1]
    return {
        "idle_first_audio_p50_s": round(percentile(firsts, 0.5), 3),
        "idle_first_audio_p95_s": round(percentile(firsts, 0.95), 3),
        "short_command_engine_s": round(sum(engine_s) / len(engine_s), 3),
        "long_rtf_alone": round(
            (part["g2p_ms"] + part["inference_ms"]) / 1000 / part["audio_seconds"], 3
        ),
    }


async def measure(
    servers: dict[str, RunningServer], texts: Texts, long_text: str, levels: list[float]
) -> dict[str, Any]:
    """Every scheduler at the same loads, taken in turn level by level (the machine's
    speed drifts): the command rates come from the first scheduler's idle figures."""
    results: dict[str, Any] = {}
    for name, server in servers.items():
        results[name] = {**await idle(server, texts, long_text), "levels": {}}
        print(f"{name} idle: {json.dumps(results[name])}", flush=True)
    calibration = next(iter(results.values()))
    command_s, long_rtf = calibration["short_command_engine_s"], calibration["long_rtf_alone"]
    spare = max(0.0, 1.0 - long_rtf)
    if long_rtf >= 0.9:  # the long answer alone nearly fills the engine: no load to add
        print(f"  the long answer alone needs RTF {long_rtf:.2f}: machine too busy", flush=True)
    for level in levels:
        rate = level * spare / command_s  # commands per second
        for name, server in servers.items():
            figures = await loaded(server, long_text, texts, 1 / rate if rate > 0 else None)
            figures["interval_s"] = round(1 / rate, 3) if rate > 0 else None
            figures["utilization"] = round(long_rtf + rate * command_s, 2)
            p95, idle_p95 = (
                figures["short_first_audio_p95_s"],
                results[name]["idle_first_audio_p95_s"],
            )
            figures["p95_vs_idle"] = round(p95 / idle_p95, 2) if p95 else None
            results[name]["levels"][f"{round(level * 100)}%"] = figures
            print(f"  {name} {level:.0%}: {json.dumps(figures)}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    parser.add_argument("--schedulers", default="deadline,first-segment")
    parser.add_argument(
        "--levels", default=",".join(str(level) for level in LEVELS),
        help="loads, as shares of the capacity the long answer leaves (default: %(default)s)",
    )  # fmt: skip
    args = parser.parse_args()
    corpus = json.loads((ROOT / "benchmarks" / "corpus.json").read_text())
    texts = Texts(corpus, seed=21)
    long_text = " ".join(texts.get("paragraph", i) for i in range(3))  # ~60 s of audio
    levels = [float(level) for level in args.levels.split(",")]
    with contextlib.ExitStack() as stack:
        servers: dict[str, RunningServer] = {}
        for scheduler in args.schedulers.split(","):
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            servers[scheduler] = start(tmp, scheduler)
            stack.callback(servers[scheduler].stop)
        results = asyncio.run(measure(servers, texts, long_text, levels))
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
