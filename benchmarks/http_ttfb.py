"""Time to first byte of ``POST /v1/audio/speech`` (pcm, mp3, opus) against Wyoming's first
audio, on the same server in the same run (``script/benchmark --http``).

The server runs with its phrase cache off, and every round's text carries a number not
said before (benchmarks.client.Texts), so no request is answered from a cache. Rounds
interleave the four ways of asking, so a load that comes and goes on the machine weighs
on all of them alike; the figures are medians, and each HTTP format's ratio to Wyoming's
first audio in the same run. Results go to benchmarks/results.json under ``http``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.client import Target, Texts, one_shot  # noqa: E402
from tests.server import free_port, start_server  # noqa: E402
from wyoming_kokoro.assets import resolve_assets  # noqa: E402
from wyoming_kokoro.config import Settings  # noqa: E402

FORMATS = ("pcm", "mp3", "opus")


def first_byte(url: str, text: str, voice: str, fmt: str) -> dict[str, float]:
    body = json.dumps({"model": "kokoro", "input": text, "voice": voice, "response_format": fmt})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read1(1)
        first = time.perf_counter() - started
        response.read()
    return {"first_byte_s": first, "total_s": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args()
    paths = resolve_assets(Settings(download=False))
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(
            Path(folder), "--model", str(paths.model), "--voices", str(paths.voices),
            "--download-dir", str(Path(folder) / "download"), "--phrase-cache-mb", "0",
            "--http", f"127.0.0.1:{port}",
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/v1/audio/speech"
            while "Ready after" not in server.log():
                time.sleep(0.1)
            target = Target("ours", "127.0.0.1", server.port)
            texts = Texts(json.loads((ROOT / "benchmarks" / "corpus.json").read_text()))
            asyncio.run(one_shot(target, texts.get("short", 0), args.voice))  # warm
            for fmt in FORMATS:
                first_byte(url, texts.get("short", 0), args.voice, fmt)
            times: dict[str, list[float]] = {"wyoming": [], **{f: [] for f in FORMATS}}
            for index in range(args.rounds):
                ways = ["wyoming", *FORMATS]
                for way in ways[index % 4 :] + ways[: index % 4]:  # rotate the order
                    text = texts.get("short", index)
                    if way == "wyoming":
                        result = asyncio.run(one_shot(target, text, args.voice))
                        times[way].append(result["first_audio_s"])
                    else:
                        times[way].append(first_byte(url, text, args.voice, way)["first_byte_s"])
        finally:
            server.stop()
    medians = {way: statistics.median(values) for way, values in times.items()}
    figures: dict[str, Any] = {
        "rounds": args.rounds,
        "text": "short commands (corpus.json), phrase cache off",
        "wyoming_first_audio_ms": round(medians["wyoming"] * 1000, 1),
    }
    for fmt in FORMATS:
        figures[f"{fmt}_first_byte_ms"] = round(medians[fmt] * 1000, 1)
        figures[f"{fmt}_vs_wyoming"] = round(medians[fmt] / medians["wyoming"], 3)
    print(json.dumps(figures, indent=2))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["http"] = figures
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
