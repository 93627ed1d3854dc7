"""Natural timing on real audio: the server's output (a one-shot planned whole, the
vocoder in parts, trimmed, pauses by rule) against one inference of the whole passage (how
kokoro-onnx's ``create`` renders it), in the eight languages ``benchmarks/pauses.py``
measures.

Targets (issue 13): leading silence at most 80 ms; the speech lasts within 8 % of the
whole-passage rendering's; the longest pause at most 0.1 s over the whole rendering's
(silences less than ``PAUSE_JOIN_S`` apart are one pause, in both renderings alike).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from benchmarks.pauses import PASSAGES as KOKORO_PASSAGES
from tests.server import RunningServer, read_reply, start_server
from wyoming_kokoro.audio import leading_silence_s, longest_pause, speech_bounds

pytestmark = pytest.mark.e2e

# Each language's first passage of benchmarks/pauses.py, spoken by its voice.
PASSAGES = {voice: (code, passages[0]) for code, (voice, passages) in KOKORO_PASSAGES.items()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("timing"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def whole(real_assets: tuple[Path, Path]) -> dict[str, np.ndarray]:
    """Each passage in one inference, as kokoro-onnx's create makes it."""
    from wyoming_kokoro.engine.synthesizer import KokoroModel
    from wyoming_kokoro.engine.voices import VoiceCatalogue
    from wyoming_kokoro.text.g2p import Phonemizer
    from wyoming_kokoro.text.normalize import TextNormalizer

    model = KokoroModel(real_assets[0])
    catalogue = VoiceCatalogue.from_file(real_assets[1])
    phonemizer, normalizer = Phonemizer(), TextNormalizer()
    rendered = {}
    for voice, (code, text) in PASSAGES.items():
        phonemes = model.filter_phonemes(phonemizer.phonemize(normalizer(text, code), code))
        assert len(phonemes) <= 510
        style = catalogue.style(voice, len(phonemes))
        rendered[voice] = model.infer(phonemes, style, 1.0).audio
    return rendered


def speech_seconds(audio: np.ndarray) -> float:
    bounds = speech_bounds(audio)
    assert bounds is not None
    return (bounds[1] - bounds[0]) / 24000


@pytest.mark.parametrize("voice", list(PASSAGES))
async def test_timing_matches_the_whole_passage(
    server: RunningServer, whole: dict[str, np.ndarray], voice: str
) -> None:
    async with server.client() as client:
        text = PASSAGES[voice][1]
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(voice)).event())
        reply = await read_reply(client)
    ours = np.frombuffer(reply.audio, dtype="<i2").astype(np.float32) / 32767.0
    reference = whole[voice]
    assert leading_silence_s(ours) <= 0.08
    duration = speech_seconds(ours) / speech_seconds(reference)
    assert 0.92 <= duration <= 1.08, f"{duration:.3f} of the whole passage's length"
    assert longest_pause(ours) <= longest_pause(reference) + 0.1, (
        longest_pause(ours),
        longest_pause(reference),
    )
