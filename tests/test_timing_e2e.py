"""Natural timing on real audio: the server's segmented, trimmed, paused output against one
inference of the whole passage (how kokoro-onnx's ``create`` renders it), in three languages.

Targets (issue 13): leading silence at most 80 ms; the speech lasts within 8 % of the
whole-passage rendering's; the longest pause at most 0.1 s over the whole rendering's.
Asserted for English, French and Italian. Spanish and Portuguese miss the duration target
(segments spoken alone come out 9-11 % slower than inside the whole passage, a property of
the model); ``benchmarks/pauses.py`` prints the figures for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.server import RunningServer, read_reply, start_server
from wyoming_kokoro.audio import find_gaps, leading_silence_s, speech_bounds

pytestmark = pytest.mark.e2e

PASSAGES = {
    "af_heart": (
        "a",
        "The living room is at twenty one degrees, and the humidity is forty five percent. "
        "I also noticed that the kitchen window is still open, so you might want to close "
        "it before the evening gets cold.",
    ),
    "if_sara": (
        "i",
        "Il soggiorno è a ventuno gradi, e l'umidità è del quaranta per cento. Ho anche "
        "notato che la finestra della cucina è ancora aperta, quindi potresti chiuderla.",
    ),
    "ff_siwis": (
        "f",
        "Le salon est à vingt et un degrés, et l'humidité est de quarante pour cent. J'ai "
        "aussi remarqué que la fenêtre de la cuisine est encore ouverte, alors fermez-la.",
    ),
}


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


def longest_pause(audio: np.ndarray) -> float:
    return max((gap.length_s for gap in find_gaps(audio)), default=0.0)


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
