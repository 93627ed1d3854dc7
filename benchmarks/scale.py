"""Replicas behind HAProxy: rolling restarts lose nothing (run by script/scale-test).

Starts two replicas of the real server and HAProxy with deploy/haproxy.cfg on loopback;
four clients speak (a fresh connection per request, as Home Assistant does):
1. directly to the replicas, then 2. through the balancer: first-audio percentiles;
3. through the balancer while each replica in turn gets SIGTERM, exits, starts again and
   becomes healthy: every request must come back whole (the same audio length as the
   direct answer to the same text, no error event).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

WHOLE_SLACK = 2400  # bytes: 50 ms of 24 kHz 16-bit audio
ROOT = Path(__file__).resolve().parent.parent
TEXTS = (
    "The kitchen lights are on.",
    "It is twenty one degrees in the living room.",
    "Your timer for ten minutes has started.",
    "The front door is locked and the alarm is armed.",
    "Tomorrow will be cloudy with a high of fourteen degrees.",
    "I have turned off the heating in the bedroom.",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_")}
        command = [
            sys.executable, "-m", "wyoming_kokoro", "--uri", f"tcp://127.0.0.1:{self.port}",
            "--stats-file", "none", "--no-download", "--phrase-cache-mb", "0",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
            )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(120)


@dataclass
class Answer:
    text: str
    first_audio_s: float | None
    audio_bytes: int
    error: str | None


@dataclass
class Phase:
    answers: list[Answer] = field(default_factory=list)

    def first_audio(self) -> dict[str, float]:
        values = sorted(a.first_audio_s for a in self.answers if a.first_audio_s is not None)
        if not values:
            return {}
        q = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else []
        return {
            "p50_s": round(statistics.median(values), 3),
            "p95_s": round(q[18], 3) if q else round(values[0], 3),
            "max_s": round(values[-1], 3),
        }


async def speak(port: int, text: str) -> Answer:
    """One request on a fresh connection: first audio and the audio bytes that came back."""
    started = time.perf_counter()
    first: float | None = None
    size = 0
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(
                Synthesize(text=text, voice=SynthesizeVoice("af_heart")).event()
            )
            while True:
                event = await asyncio.wait_for(client.read_event(), 120)
                if event is None:
                    return Answer(text, first, size, "connection closed before audio-stop")
                if event.type == "error":
                    return Answer(text, first, size, str(event.data.get("text")))
                if event.type == "audio-chunk":
                    first = time.perf_counter() - started if first is None else first
                    size += len(event.payload or b"")
                elif event.type == "audio-stop":
                    return Answer(text, first, size, None)
    except (OSError, asyncio.TimeoutError) as err:
        return Answer(text, first, size, f"{type(err).__name__}: {err}")


async def clients(
    ports: list[int],
    count: int,
    requests: int | None,
    until: asyncio.Event | None,
    texts: Iterator[str],
) -> Phase:
    """``count`` clients; each sends ``requests`` requests, or keeps going until ``until``."""
    phase = Phase()

    async def client(index: int) -> None:
        for n in itertools.count():
            if (requests is not None and n >= requests) or (until is not None and until.is_set()):
                return
            port = ports[(index + n) % len(ports)]
            phase.answers.append(await speak(port, next(texts)))

    await asyncio.gather(*(client(i) for i in range(count)))
    return phase


def backend_states(stats_port: int) -> dict[str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=2) as r:
            rows = list(csv.DictReader(r.read().decode().lstrip("# ").splitlines()))
    except OSError:
        return {}
    return {row["svname"]: row["status"] for row in rows if row["pxname"] == "kokoro"}


async def healthy(replica: Replica, stats_port: int) -> float:
    """Wait until the replica answers a request directly and HAProxy has it UP; seconds."""
    started = time.perf_counter()
    while (await speak(replica.port, "Ready.")).error is not None:
        assert replica.process is not None and replica.process.poll() is None, replica.log
        await asyncio.sleep(0.5)
    while backend_states(stats_port).get(replica.name) != "UP":
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=3, help="per client, in phases 1-2")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    work = Path(tempfile.mkdtemp(prefix="kokoro-scale-"))
    replicas = [Replica(f"replica{i}", free_port(), work / f"replica{i}.log") for i in (1, 2)]
    bind, stats_port = free_port(), free_port()
    env = os.environ | {
        "KOKORO_REPLICA1": f"127.0.0.1:{replicas[0].port}",
        "KOKORO_REPLICA2": f"127.0.0.1:{replicas[1].port}",
        "KOKORO_BIND": f"127.0.0.1:{bind}",
        "KOKORO_STATS_BIND": f"127.0.0.1:{stats_port}",
    }
    for replica in replicas:
        replica.start()
    with (work / "haproxy.log").open("wb") as log:
        balancer = subprocess.Popen(
            [haproxy, "-f", str(ROOT / "deploy" / "haproxy.cfg")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for replica in replicas:
            await healthy(replica, stats_port)
        print(f"Two replicas and HAProxy up (logs in {work})", flush=True)
        # Direct and through the balancer in turn, one request per client each time, so
        # that both see the same load from the rest of the machine.
        direct, balanced = Phase(), Phase()
        texts = itertools.cycle(TEXTS)  # every text is heard directly: its reference length
        for n in range(args.requests):
            ports = [r.port for r in replicas[n % 2 :] + replicas[: n % 2]]
            direct.answers += (await clients(ports, args.clients, 1, None, texts)).answers
            balanced.answers += (await clients([bind], args.clients, 1, None, texts)).answers
        reference = {a.text: a.audio_bytes for a in direct.answers if a.error is None}

        done = asyncio.Event()
        load = asyncio.create_task(clients([bind], args.clients, None, done, texts))
        restarts = []
        for replica in replicas:
            await asyncio.sleep(2)  # requests in progress on this replica when it stops
            stopped = time.perf_counter()
            exit_code = await asyncio.to_thread(replica.stop)
            drain_s = time.perf_counter() - stopped
            replica.start()
            ready_s = await healthy(replica, stats_port)
            restarts.append(
                {"replica": replica.name, "exit": exit_code, "drain_s": round(drain_s, 2),
                 "back_up_s": round(ready_s, 2)}
            )  # fmt: skip
            print(f"Restarted {replica.name}: exit {exit_code}, drained in {drain_s:.1f} s, "
                  f"healthy again after {ready_s:.1f} s", flush=True)  # fmt: skip
        await asyncio.sleep(2)
        done.set()
        rolling = await load
    finally:
        balancer.terminate()
        balancer.wait(10)
        for replica in replicas:
            if replica.process is not None and replica.process.poll() is None:
                replica.stop()

    def whole(a: Answer) -> bool:
        """No error, audio-stop, and the direct answer's length: the plan of a segment's
        vocoder parts follows timing, so lengths differ by a frame or two (< 50 ms)."""
        expected = reference.get(a.text, 0)
        return a.error is None and expected > 0 and abs(a.audio_bytes - expected) <= WHOLE_SLACK

    phases = {"direct": direct, "balancer": balanced, "rolling_restart": rolling}
    figures = {
        "clients": args.clients,
        "replicas": len(replicas),
        "haproxy": subprocess.run([haproxy, "-v"], capture_output=True, text=True).stdout.split(
            "\n"
        )[0],
        "restarts": restarts,
        "first_audio_p50_ratio_balancer_to_direct": round(
            balanced.first_audio()["p50_s"] / direct.first_audio()["p50_s"], 2
        ),
        "audio_bytes": {
            text: {
                name: sorted({a.audio_bytes for a in p.answers if a.text == text})
                for name, p in phases.items()
            }
            for text in TEXTS
        },  # fmt: skip
        "phases": {
            name: {
                "requests": len(p.answers),
                "whole": sum(whole(a) for a in p.answers),
                "errors": sorted({a.error for a in p.answers if a.error}),
                "first_audio": p.first_audio(),
            }
            for name, p in phases.items()
        },
    }
    for name, numbers in figures["phases"].items():
        fa = numbers["first_audio"]
        print(f"{name:<16} {numbers['whole']:>3} of {numbers['requests']:>3} whole   "
              f"first audio p50 {fa.get('p50_s', 0):.2f} s, p95 {fa.get('p95_s', 0):.2f} s, "
              f"max {fa.get('max_s', 0):.2f} s")  # fmt: skip
        for error in numbers["errors"]:
            print(f"    error: {error}")
    print(f"first audio p50 through the balancer / direct: "
          f"{figures['first_audio_p50_ratio_balancer_to_direct']}")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    lost = sum(n["requests"] - n["whole"] for n in figures["phases"].values())
    return 1 if lost or any(r["exit"] != 0 for r in restarts) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
