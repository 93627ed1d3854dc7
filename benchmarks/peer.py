"""Peer baseline: kokoro-onnx (PyPI) on the same model file, voice and texts.

Runs in its own virtualenv (.venv-peer): kokoro-onnx needs `phonemizer`, which clashes
with the `phonemizer-fork` this project uses. Reads the texts from a JSON file
({"short": [...], "paragraph": [...]}) and prints one JSON object on stdout. The leading
silence of each result is measured with wyoming_kokoro.audio (numpy only), for first speech.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from kokoro_onnx import Kokoro

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wyoming_kokoro.audio import leading_silence_s  # noqa: E402


def main() -> None:
    model, voices, voice, texts_path = sys.argv[1:5]
    texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    kokoro = Kokoro(model, voices)
    kokoro.create("Warming up.", voice=voice, speed=1.0, lang="en-us")
    result: dict[str, list[dict[str, float]]] = {}
    for kind in ("short", "paragraph"):
        runs = []
        for text in texts[kind]:
            started = time.perf_counter()
            samples, rate = kokoro.create(text, voice=voice, speed=1.0, lang="en-us")
            elapsed = time.perf_counter() - started
            lead = leading_silence_s(samples)
            runs.append({"create_s": elapsed, "audio_s": len(samples) / rate, "lead_s": lead})
        result[f"{kind}_create"] = runs

    async def first_yield(text: str) -> dict[str, float]:
        started = time.perf_counter()
        async for samples, _rate in kokoro.create_stream(
            text, voice=voice, speed=1.0, lang="en-us"
        ):
            return {
                "first_yield_s": time.perf_counter() - started,
                "lead_s": leading_silence_s(samples),
            }
        return {"first_yield_s": float("nan"), "lead_s": 0.0}

    result["paragraph_stream"] = [asyncio.run(first_yield(text)) for text in texts["paragraph"]]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
