"""Timing through the real server and pipeline with a stub model (in-process): the first
clause of a stream goes before its sentence ends; pauses, loudness and tail on the wire."""

from __future__ import annotations

import asyncio

import numpy as np
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.stub import stub_server
from wyoming_kokoro.audio import SAMPLE_RATE
from wyoming_kokoro.shaping import KOKORO_PAUSES, AudioSettings

# Two sentences, the first long and its first clause complete early: Home Assistant passes
# an LLM's reply on 4 characters every 30 ms.
REPLY = (
    "The living room is at twenty one degrees, and the humidity there is forty five "
    "percent, which is comfortable for this time of year and should stay that way until "
    "late in the evening. Shall I close it?"
)


def pcm(events: list[Event]) -> np.ndarray:
    data = b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0


async def test_a_streamed_first_clause_is_spoken_before_the_sentence_ends() -> None:
    # Each inference takes 0.3 s: waiting for the first sentence's end (character 181 of
    # 200) would put the first audio after the last chunk (at ~1.5 s).
    async with stub_server(delay=0.3) as server:
        client = await server.connect()
        await client.send(SynthesizeStart().event())
        pieces = [REPLY[i : i + 4] for i in range(0, len(REPLY), 4)]
        sent = 0

        async def send() -> None:
            nonlocal sent
            for piece in pieces:
                await client.send(SynthesizeChunk(text=piece).event())
                sent += 1
                await asyncio.sleep(0.03)
            await client.send(Synthesize(text=REPLY).event(), SynthesizeStop().event())

        sender = asyncio.create_task(send())
        while (event := await client.read()) is not None and event.type != "audio-chunk":
            pass
        chunks_before_audio = sent
        events = await client.read_until("synthesize-stopped")
        await sender
        assert chunks_before_audio < len(pieces), "the first audio waited for the whole text"
        record = await server.record(mode="stream")
        assert record.outcome == "ok" and record.segments >= 3
        # the whole reply was still spoken, once: "the living room is at twenty one degrees,"
        # then the rest of the sentence, then the question
        assert record.characters == len(REPLY)
        assert len(events) > 2


async def wire_pauses(
    settings: AudioSettings, text: str, parts: bool = True
) -> tuple[np.ndarray, list[float]]:
    """A one-shot's audio and its silent runs between speech (seconds), the tail apart."""
    async with stub_server(audio=settings, parts=parts) as server:
        client = await server.connect()
        await client.send(Synthesize(text=text).event())
        audio = pcm(await client.read_until("audio-stop"))
    tail = round(settings.tail_silence * SAMPLE_RATE)
    assert not audio[-tail:].any() and audio[-tail - 1] != 0  # the tail, after the speech
    silent = np.flatnonzero(audio == 0)
    runs = np.split(silent, np.flatnonzero(np.diff(silent) > 1) + 1)
    inner = [len(r) / SAMPLE_RATE for r in runs if len(r) and r[-1] < len(audio) - tail - 1]
    return audio, inner


async def test_pauses_loudness_and_tail_on_the_wire() -> None:
    text = "The lights are on, the door is locked. Good night."
    # The defaults plan a one-shot whole: one inference, the model makes its pauses (none
    # is added by rule), -20 LUFS, a 0.2 s tail.
    audio, inner = await wire_pauses(AudioSettings(), text)
    assert inner == []
    assert np.max(np.abs(audio)) > 0.25  # brought up from the stub's level to the target
    # pauses the user set, or a model that cannot vocode in parts (its first audio would
    # wait for the whole reply): the sentences go apart (the first clause cut at the
    # comma), the pauses between them by rule; less the trimming margins, part of them in
    # real audio
    clause, sentence = KOKORO_PAUSES["a"]
    settings = AudioSettings(sentence_silence=sentence, clause_silence=clause)
    for audio_settings, parts in ((settings, True), (AudioSettings(), False)):
        audio, inner = await wire_pauses(audio_settings, text, parts)
        assert len(inner) == 2 and 0.2 < inner[0] <= clause < inner[1] <= sentence
