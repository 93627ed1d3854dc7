"""Peer baseline: kokoro-onnx (PyPI) on the same model file and voice.

Runs in its own virtualenv (.venv-peer): kokoro-onnx needs `phonemizer`, which clashes
with the `phonemizer-fork` this project uses. Prints one JSON object on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from kokoro_onnx import Kokoro


def main() -> None:
    model, voices, voice, corpus_path, rounds = sys.argv[1:6]
    corpus = json.loads(Path(corpus_path).read_text(encoding="utf-8"))
    kokoro = Kokoro(model, voices)
    kokoro.create("Warming up.", voice=voice, speed=1.0, lang="en-us")
    result: dict[str, list[dict[str, float]]] = {}
    for kind in ("short", "paragraph"):
        runs = []
        for i in range(int(rounds)):
            text = corpus[kind][i % len(corpus[kind])]
            started = time.perf_counter()
            samples, rate = kokoro.create(text, voice=voice, speed=1.0, lang="en-us")
            elapsed = time.perf_counter() - started
            runs.append({"create_s": elapsed, "audio_s": len(samples) / rate})
        result[f"{kind}_create"] = runs

    async def first_yield(text: str) -> float:
        started = time.perf_counter()
        async for _samples, _rate in kokoro.create_stream(
            text, voice=voice, speed=1.0, lang="en-us"
        ):
            return time.perf_counter() - started
        return float("nan")

    result["paragraph_stream"] = [
        {
            "first_yield_s": asyncio.run(
                first_yield(corpus["paragraph"][i % len(corpus["paragraph"])])
            )
        }
        for i in range(int(rounds))
    ]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
