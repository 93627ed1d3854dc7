"""script/benchmark: the real server against its peers, in the same run, on one model file.

Measures with the wyoming client: (a) a short command, (b) a three-sentence weather
paragraph, (c) a two-sentence LLM reply streamed the way Home Assistant passes it on
(4 characters every 30 ms); each as time to first audio and to first speech (see
benchmarks/client.py). Every other Wyoming TTS server named with ``--peer-uri HOST:PORT``
gets the same requests, with the same voice and texts, interleaved round by round. Then a
cache hit, 8 concurrent clients, start-up and memory of ours. kokoro-onnx (``create`` and
``create_stream``) runs afterwards in .venv-peer on the same model, voice and texts. Every
text is fresh (benchmarks/corpus.json), and our server runs with its phrase cache off, so
no cache answers except in the cache-hit line (measured on a second start, cache on).
Prints a table with ratios and writes everything to a JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import onnxruntime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.client import (  # noqa: E402
    Target,
    Texts,
    one_shot,
    streamed,
    supports_streaming,
)
from benchmarks.report import report  # noqa: E402
from tests.server import RunningServer, describe, spawn_server  # noqa: E402
from wyoming_kokoro.assets import resolve_assets  # noqa: E402
from wyoming_kokoro.config import Settings  # noqa: E402
from wyoming_kokoro.engine.session import hardware_name  # noqa: E402


def start(
    tmp: Path, model: Path, voices: Path, *options: str
) -> tuple[RunningServer, float, float]:
    """Start the server; seconds until Describe is answered and until the model is ready."""
    spawned = time.perf_counter()
    # Its own download dir: the optimized (and split) model is made on the first start
    # and read from there on the next one, as for a user.
    cache = tmp / "download"
    server = spawn_server(
        tmp, "--model", str(model), "--voices", str(voices), "--download-dir", str(cache),
        *options,
    )  # fmt: skip
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
    target: Target, texts: Texts, voice: str, clients: int, rounds: int
) -> dict[str, Any]:
    """Half the clients read paragraphs, half send short commands, all at once."""
    short_first: list[float] = []
    errors: list[str] = []

    async def client(index: int) -> None:
        for r in range(rounds):
            try:
                if index % 2:
                    text = texts.get("short", index * rounds + r)
                    short_first.append((await one_shot(target, text, voice))["first_audio_s"])
                    await asyncio.sleep(0.3)
                else:
                    await one_shot(target, texts.get("paragraph", index + r), voice)
            except Exception as err:  # counted, not raised: every failure is reported
                errors.append(repr(err))

    await asyncio.gather(*(client(i) for i in range(clients)))
    return {"short_first_audio_s": short_first, "errors": errors}


def interleaved(
    targets: list[Target], texts: Texts, voice: str, rounds: int
) -> tuple[dict[str, dict[str, list[dict[str, float]]]], dict[str, list[str]]]:
    """Each round: every kind of request, to every target in turn, with the same fresh text."""
    runs: dict[str, dict[str, list[dict[str, float]]]] = {t.name: {} for t in targets}
    used: dict[str, list[str]] = {}
    for i in range(rounds):
        for kind in ("short", "paragraph", "stream"):
            text = texts.get(kind, i)
            used.setdefault(kind, []).append(text)
            for target in targets:
                request = streamed if kind == "stream" else one_shot
                result = asyncio.run(request(target, text, voice))
                runs[target.name].setdefault(kind, []).append(result)
    return runs, used


def cache_hits(target: Target, voice: str, rounds: int) -> list[dict[str, Any]]:
    text = "Your coffee is ready."
    asyncio.run(one_shot(target, text, voice))
    return [asyncio.run(one_shot(target, text, voice)) for _ in range(rounds)]


def run_kokoro_onnx(args: argparse.Namespace, paths: Any, used: dict[str, list[str]]) -> Any:
    print("Running kokoro-onnx on the same model, voice and texts…", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(used, handle)
    try:
        peer = subprocess.run(
            [args.peer_python, str(ROOT / "benchmarks" / "peer.py"), str(paths.model),
             str(paths.voices), args.voice, handle.name],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)
    return json.loads(peer.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--peer-python", default=str(ROOT / ".venv-peer" / "bin" / "python"))
    parser.add_argument(
        "--peer-uri",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="another Wyoming TTS server to measure in the same run (repeatable)",
    )
    parser.add_argument("--no-kokoro-onnx", action="store_true", help="skip kokoro-onnx")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument(
        "--stats-out",
        type=Path,
        default=ROOT / "benchmarks" / "stats.jsonl",
        help="keep the server's stats file here (python -m wyoming_kokoro.stats reads it)",
    )
    args = parser.parse_args()
    texts = Texts(json.loads((ROOT / "benchmarks" / "corpus.json").read_text()))
    paths = resolve_assets(Settings(download=False))
    results: dict[str, Any] = {
        "machine": {
            "cpu": hardware_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
        },
        "model": paths.model.name,
        "voice": args.voice,
        "rounds": args.rounds,
    }
    peers = []
    for uri in args.peer_uri:
        peer = Target.parse(uri)
        peers.append(Target(peer.name, peer.host, peer.port, asyncio.run(supports_streaming(peer))))
    with tempfile.TemporaryDirectory() as tmp:
        # The phrase cache off: the texts are fresh, but a template's clauses without a
        # number (", and a light breeze from the west.") come round again when the rounds
        # or the 8 clients outnumber the templates. The cache-hit line uses the next start.
        server, describe_s, ready_s = start(
            Path(tmp), paths.model, paths.voices, "--phrase-cache-mb", "0"
        )
        try:
            ours = Target("ours", "127.0.0.1", server.port)
            results["startup"] = {"describe_s": describe_s, "ready_s": ready_s}
            runs, used = interleaved([ours, *peers], texts, args.voice, args.rounds)
            for target in peers:
                runs[target.name]["cache_hit"] = cache_hits(target, args.voice, args.rounds)
            loaded = asyncio.run(concurrent(ours, texts, args.voice, 8, 3))
            results["memory"] = memory_mb(server.process.pid)
            results["ours"] = {**runs.pop("ours"), "concurrent": loaded}
            results["peers"] = {p.name: {"streaming": p.streaming, **runs[p.name]} for p in peers}
        finally:
            server.stop()
            if server.stats_path.exists():
                args.stats_out.write_bytes(server.stats_path.read_bytes())
        # A second start in the same download dir: the optimized (and split) model is
        # cached now, as on every start after a user's first. With the phrase cache on.
        again, _, warm_s = start(Path(tmp), paths.model, paths.voices)
        try:
            target = Target("ours", "127.0.0.1", again.port)
            results["ours"]["cache_hit"] = cache_hits(target, args.voice, args.rounds)
        finally:
            again.stop()
        results["startup"]["ready_cached_s"] = warm_s
    if not args.no_kokoro_onnx:
        results["peer"] = run_kokoro_onnx(args, paths, used)
    report(results)
    write_results(args.out, results)
    print(f"\nresults written to {args.out}")
    return 0


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write this run's figures into ``path``, replacing its keys only: the file holds the
    other benchmarks' figures too (fidelity, vocoder profiles, …)."""
    kept = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**kept, **results}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
