"""script/benchmark: the real server against kokoro-onnx, in the same run, on one model file.

Measures with the wyoming client: (a) a short command, (b) a three-sentence weather
paragraph, (c) a Home-Assistant-style stream of small LLM chunks; then a cache hit, 8
concurrent clients, start-up and memory. The peer (kokoro-onnx `create` and
`create_stream`) runs afterwards in .venv-peer on the same model, voices and texts.
Prints a table with our/peer ratios and writes everything to a JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import onnxruntime
from wyoming.client import AsyncTcpClient
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server import RunningServer, describe, spawn_server  # noqa: E402
from wyoming_kokoro.assets import resolve_assets  # noqa: E402
from wyoming_kokoro.config import Settings  # noqa: E402
from wyoming_kokoro.engine.session import hardware_name  # noqa: E402
from wyoming_kokoro.tables import text_table  # noqa: E402

BYTES_PER_SECOND = 24000 * 2


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))]


async def timed_audio(client: AsyncTcpClient, started: float, last: str) -> dict[str, float]:
    """Read until ``last``: first-audio time, total time and audio seconds since ``started``."""
    first = None
    audio = 0
    while True:
        event = await client.read_event()
        if event is None:
            raise RuntimeError("connection closed")
        if event.type == "error":
            raise RuntimeError(event.data.get("text"))
        if event.type == "audio-chunk":
            if first is None:
                first = time.perf_counter() - started
            audio += len(event.payload or b"")
        if event.type == last:
            total = time.perf_counter() - started
            return {
                "first_audio_s": first or total,
                "total_s": total,
                "audio_s": audio / BYTES_PER_SECOND,
            }


async def one_shot(port: int, text: str, voice: str) -> dict[str, float]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        return await timed_audio(client, started, "audio-stop")


async def streamed(
    port: int, text: str, voice: str, chunk_chars: int = 6, delay_s: float = 0.02
) -> dict[str, float]:
    """Text arrives as an LLM writes it: small chunks, split anywhere, a little apart."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())
        started = time.perf_counter()

        async def send() -> None:
            for i in range(0, len(text), chunk_chars):
                await client.write_event(SynthesizeChunk(text=text[i : i + chunk_chars]).event())
                await asyncio.sleep(delay_s)
            await client.write_event(Synthesize(text=text).event())  # HA's compatibility copy
            await client.write_event(SynthesizeStop().event())

        sender = asyncio.create_task(send())
        result = await timed_audio(client, started, "synthesize-stopped")
        await sender
        return result


def start(tmp: Path, model: Path, voices: Path) -> tuple[RunningServer, float, float]:
    """Start the server; seconds until Describe is answered and until the model is ready."""
    spawned = time.perf_counter()
    server = spawn_server(tmp, "--model", str(model), "--voices", str(voices))
    process = server.process
    describe_s = ready_s = None

    while ready_s is None:
        if process.poll() is not None:
            raise RuntimeError(server.log())
        if describe_s is None:
            try:
                asyncio.run(describe(server))
                describe_s = time.perf_counter() - spawned
            except OSError:
                pass
        if "Ready after" in server.log():
            ready_s = time.perf_counter() - spawned
        time.sleep(0.02)
    return server, describe_s or ready_s, ready_s


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return {"rss_mb": round(fields["VmRSS"], 1), "peak_rss_mb": round(fields["VmHWM"], 1)}


async def concurrent(
    port: int, corpus: dict[str, list[str]], voice: str, clients: int, rounds: int
) -> dict[str, Any]:
    """Half the clients read paragraphs, half send short commands, all at once."""
    short_first: list[float] = []
    errors: list[str] = []

    async def client(index: int) -> None:
        for r in range(rounds):
            try:
                if index % 2:
                    text = corpus["short"][(index * rounds + r) % len(corpus["short"])]
                    text = text.replace(".", f" for room {index}{r}.")  # never a cache hit
                    short_first.append((await one_shot(port, text, voice))["first_audio_s"])
                    await asyncio.sleep(0.3)
                else:
                    text = corpus["paragraph"][(index + r) % len(corpus["paragraph"])]
                    await one_shot(port, text + f" Report {index}{r}.", voice)
            except Exception as err:  # counted, not raised: every failure is reported
                errors.append(repr(err))

    await asyncio.gather(*(client(i) for i in range(clients)))
    return {"short_first_audio_s": short_first, "errors": errors}


def summary(runs: list[dict[str, float]], key: str) -> dict[str, float]:
    values = [r[key] for r in runs]
    return {"median": statistics.median(values), "p95": p(values, 0.95)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-peer" / "bin" / "python"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument(
        "--stats-out",
        type=Path,
        default=ROOT / "benchmarks" / "stats.jsonl",
        help="keep the server's stats file here (python -m wyoming_kokoro.stats reads it)",
    )
    args = parser.parse_args()
    corpus = json.loads((ROOT / "benchmarks" / "corpus.json").read_text())
    paths = resolve_assets(Settings(download=False))
    n = args.rounds
    results: dict[str, Any] = {
        "machine": {
            "cpu": hardware_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
        },
        "model": paths.model.name,
        "voice": args.voice,
        "rounds": n,
    }
    with tempfile.TemporaryDirectory() as tmp:
        server, describe_s, ready_s = start(Path(tmp), paths.model, paths.voices)
        try:
            port = server.port
            results["startup"] = {"describe_s": describe_s, "ready_s": ready_s}
            ours: dict[str, Any] = {}
            ours["short"] = [
                asyncio.run(one_shot(port, corpus["short"][i % 8], args.voice)) for i in range(n)
            ]
            ours["paragraph"] = [
                asyncio.run(one_shot(port, corpus["paragraph"][i % 6], args.voice))
                for i in range(n)
            ]
            ours["stream"] = [
                asyncio.run(streamed(port, corpus["stream"][i % 5], args.voice)) for i in range(n)
            ]
            hit_text = "Your coffee is ready."
            asyncio.run(one_shot(port, hit_text, args.voice))
            ours["cache_hit"] = [
                asyncio.run(one_shot(port, hit_text, args.voice)) for _ in range(n)
            ]
            ours["concurrent"] = asyncio.run(concurrent(port, corpus, args.voice, 8, 3))
            results["memory"] = memory_mb(server.process.pid)
            results["ours"] = ours
        finally:
            server.stop()
            if server.stats_path.exists():
                args.stats_out.write_bytes(server.stats_path.read_bytes())
    print("Running the peer (kokoro-onnx) on the same model, voices and texts…", flush=True)
    peer = subprocess.run(
        [
            args.peer_python,
            str(ROOT / "benchmarks" / "peer.py"),
            str(paths.model),
            str(paths.voices),
            args.voice,
            str(ROOT / "benchmarks" / "corpus.json"),
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    results["peer"] = json.loads(peer.stdout.strip().splitlines()[-1])
    report(results)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nresults written to {args.out}")
    return 0


def report(results: dict[str, Any]) -> None:
    ours, peer = results["ours"], results["peer"]
    short = summary(ours["short"], "first_audio_s")
    paragraph = summary(ours["paragraph"], "first_audio_s")
    stream = summary(ours["stream"], "first_audio_s")
    hit = summary(ours["cache_hit"], "first_audio_s")
    peer_short = statistics.median(r["create_s"] for r in peer["short_create"])
    peer_paragraph = statistics.median(r["create_s"] for r in peer["paragraph_create"])
    peer_first_yield = statistics.median(r["first_yield_s"] for r in peer["paragraph_stream"])
    our_rtf = statistics.median(r["total_s"] / r["audio_s"] for r in ours["paragraph"])
    peer_rtf = statistics.median(r["create_s"] / r["audio_s"] for r in peer["paragraph_create"])
    idle_short_p95 = short["p95"]
    loaded = ours["concurrent"]["short_first_audio_s"]
    loaded_p95 = p(loaded, 0.95) if loaded else float("nan")
    rows = [
        (
            "short command: first audio (median / p95)",
            f"{short['median'] * 1000:.0f} / {short['p95'] * 1000:.0f} ms",
            f"create {peer_short * 1000:.0f} ms",
            f"{short['median'] / peer_short:.2f}",
            "<= 1.05",
        ),
        (
            "paragraph: first audio (median / p95)",
            f"{paragraph['median'] * 1000:.0f} / {paragraph['p95'] * 1000:.0f} ms",
            f"create {peer_paragraph * 1000:.0f} ms",
            f"{paragraph['median'] / peer_paragraph:.3f}",
            "<= 0.08",
        ),
        (
            "paragraph: first audio vs create_stream",
            "",
            f"first yield {peer_first_yield * 1000:.0f} ms",
            f"{paragraph['median'] / peer_first_yield:.2f}",
            "",
        ),
        (
            "paragraph: total (median)",
            f"{statistics.median(r['total_s'] for r in ours['paragraph']):.2f} s",
            f"{peer_paragraph:.2f} s",
            "",
            "",
        ),
        (
            "steady RTF (paragraph, median)",
            f"{our_rtf:.3f}",
            f"{peer_rtf:.3f}",
            f"{our_rtf / peer_rtf:.2f}",
            "<= 0.9",
        ),
        (
            "LLM stream: first audio after first chunk (median / p95)",
            f"{stream['median'] * 1000:.0f} / {stream['p95'] * 1000:.0f} ms",
            "",
            "",
            "",
        ),
        (
            "cache hit: first audio (median / p95)",
            f"{hit['median'] * 1000:.1f} / {hit['p95'] * 1000:.1f} ms",
            "",
            "",
            "<= 15 ms",
        ),
        (
            "8 clients: short first audio p95 / idle p95",
            f"{loaded_p95 * 1000:.0f} / {idle_short_p95 * 1000:.0f} ms",
            "",
            f"{loaded_p95 / idle_short_p95:.2f}",
            "<= 2.5",
        ),
        ("8 clients: errors", str(len(ours["concurrent"]["errors"])), "", "", "0"),
        (
            "Describe answered after start",
            f"{results['startup']['describe_s']:.2f} s",
            "",
            "",
            "<= 1 s",
        ),
        ("model ready after start", f"{results['startup']['ready_s']:.2f} s", "", "", "<= 3 s"),
        (
            "resident memory (end / peak)",
            f"{results['memory']['rss_mb']:.0f} / {results['memory']['peak_rss_mb']:.0f} MB",
            "",
            "",
            "<= 500 MB",
        ),
    ]
    header = ("measure", "wyoming-kokoro", "kokoro-onnx", "ratio", "target")
    print()
    print(text_table(header, rows))
    m = results["machine"]
    print(
        f"\n{m['cpu']}, {m['cores']} cores, onnxruntime {m['onnxruntime']}, "
        f"{results['model']}, voice {results['voice']}, {results['rounds']} rounds"
    )


if __name__ == "__main__":
    sys.exit(main())
