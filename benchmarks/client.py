"""Timed Wyoming requests for the benchmark: first audio, first speech, totals.

**First speech** is when a listener who starts playing at the first audio chunk hears the
first speech: the first audio time plus the audio before the first speech frame of the
reply (wyoming_kokoro.audio's detector: the first 5-ms frame within 40 dB of the reply's
loudest frame and above −70 dBFS), or the arrival of the chunk that holds that frame if it
comes later (playback would have run dry before it).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from wyoming_kokoro.audio import SAMPLE_RATE, speech_bounds

HA_CHUNK_CHARS = 4  # Home Assistant's LLM streaming: 4 characters every 30 ms
HA_CHUNK_DELAY_S = 0.03


@dataclass(frozen=True)
class Target:
    """A Wyoming server to measure: ours, or a peer given with --peer-uri."""

    name: str
    host: str
    port: int
    streaming: bool = True

    @classmethod
    def parse(cls, uri: str) -> Target:
        host, _, port = uri.removeprefix("tcp://").rpartition(":")
        return cls(uri, host or "127.0.0.1", int(port))


def fresh_numbers(seed: int | None = None) -> Iterator[int]:
    """Numbers without zeros, each once: first the two-digit ones (short to say, so a first
    clause stays short), then three-digit ones; in an order of their own per run, so a peer
    server that keeps running between runs (and caches whole texts) never finds the last
    run's texts again."""
    rng = random.Random(seed)
    for low, high in ((11, 100), (111, 1000)):
        numbers = [n for n in range(low, high) if "0" not in str(n)]
        rng.shuffle(numbers)
        yield from numbers


class Texts:
    """The corpus's templates, every ``{}`` filled with a number not used before."""

    def __init__(self, corpus: dict[str, list[str]], seed: int | None = None) -> None:
        self.corpus = corpus
        self._numbers = fresh_numbers(seed)

    def get(self, kind: str, index: int) -> str:
        first, *rest = self.corpus[kind][index % len(self.corpus[kind])].split("{}")
        return first + "".join(f"{next(self._numbers)}{part}" for part in rest)


async def supports_streaming(target: Target) -> bool:
    async with AsyncTcpClient(target.host, target.port) as client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None:
                return False
            if event.type == "info":
                programs = event.data.get("tts") or []
                return any(p.get("supports_synthesize_streaming") for p in programs)


async def timed_audio(client: AsyncTcpClient, started: float, last: str) -> dict[str, float]:
    """Read until ``last``: first audio, first speech, total and audio seconds."""
    arrivals: list[tuple[float, int]] = []  # (seconds since start, bytes before this chunk)
    pcm = bytearray()
    while True:
        event = await client.read_event()
        if event is None:
            raise RuntimeError("connection closed")
        if event.type == "error":
            raise RuntimeError(event.data.get("text"))
        if event.type == "audio-chunk" and event.payload:
            arrivals.append((time.perf_counter() - started, len(pcm)))
            pcm.extend(event.payload)
        if event.type == last:
            total = time.perf_counter() - started
            return {"total_s": total, **first_speech(arrivals, bytes(pcm), total)}


def first_speech(arrivals: list[tuple[float, int]], pcm: bytes, total: float) -> dict[str, float]:
    """First audio and first speech (see the module's docstring) from chunk arrivals."""
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    first_audio = arrivals[0][0] if arrivals else total
    bounds = speech_bounds(audio)
    lead_s = (bounds[0] if bounds else len(audio)) / SAMPLE_RATE
    speech_byte = (bounds[0] if bounds else len(audio)) * 2
    arrived = max((t for t, offset in arrivals if offset <= speech_byte), default=first_audio)
    return {
        "first_audio_s": first_audio,
        "first_speech_s": max(first_audio + lead_s, arrived),
        "lead_silence_s": lead_s,
        "audio_s": len(audio) / SAMPLE_RATE,
    }


async def one_shot(target: Target, text: str, voice: str) -> dict[str, float]:
    async with AsyncTcpClient(target.host, target.port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        return await timed_audio(client, started, "audio-stop")


async def streamed(target: Target, text: str, voice: str) -> dict[str, float]:
    """Text arrives as Home Assistant passes on an LLM's reply: 4 characters every 30 ms.

    A server without streaming gets what Home Assistant sends it: one ``synthesize`` with
    the whole text once the reply is complete. Times count from the first chunk.
    """
    async with AsyncTcpClient(target.host, target.port) as client:
        voice_spec = SynthesizeVoice(name=voice)
        if target.streaming:
            await client.write_event(SynthesizeStart(voice=voice_spec).event())
        started = time.perf_counter()
        last_chunk = asyncio.get_running_loop().create_future()

        async def send() -> None:
            for i in range(0, len(text), HA_CHUNK_CHARS):
                if target.streaming:
                    chunk = text[i : i + HA_CHUNK_CHARS]
                    await client.write_event(SynthesizeChunk(text=chunk).event())
                if i + HA_CHUNK_CHARS >= len(text):
                    last_chunk.set_result(time.perf_counter() - started)
                await asyncio.sleep(HA_CHUNK_DELAY_S)
            await client.write_event(Synthesize(text=text, voice=voice_spec).event())
            if target.streaming:
                await client.write_event(SynthesizeStop().event())

        sender = asyncio.create_task(send())
        result = await timed_audio(
            client, started, "synthesize-stopped" if target.streaming else "audio-stop"
        )
        await sender
        return {**result, "last_chunk_s": last_chunk.result()}
