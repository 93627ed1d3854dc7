"""The reply as Kokoro renders it whole: the vocoder plan's cost, and (real model) a
two-sentence reply close to one inference of its phonemes. The figures are in
benchmarks/fidelity.py; these only catch regressions, without timing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fidelity import mel_distance, reference, server_rendering, span
from wyoming_kokoro.audio import trim_silence
from wyoming_kokoro.engine.plan import (
    LEFT_CONTEXT,
    MAX_PART,
    MAX_PARTS,
    MIN_PART,
    RIGHT_CONTEXT,
    bound_parts,
    plan_parts,
)
from wyoming_kokoro.engine.synthesizer import KokoroModel
from wyoming_kokoro.engine.voices import VoiceCatalogue
from wyoming_kokoro.shaping import AudioSettings
from wyoming_kokoro.speech import Speaker, choose_voice
from wyoming_kokoro.text.g2p import Phonemizer


def paragraph(tokens: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Token durations of a made-up paragraph (a long leading pad) and its word ends."""
    rng = np.random.default_rng(seed)
    durations = rng.integers(1, 5, tokens).astype(np.float32)
    durations[0], durations[-1] = 30, 10
    word_ends = [i for i in range(1, tokens - 1) if i % 5 == 0]
    return durations, word_ends


@pytest.mark.parametrize("seconds_per_frame", [0.005, 0.00665, 0.008])
@pytest.mark.parametrize("tokens", [200, 300, 400, 510])
def test_the_vocoder_plan_renders_at_most_ten_percent_more_than_it_plays(
    tokens: int, seconds_per_frame: float
) -> None:
    """A paragraph, the listener waiting: a short opening and few, growing parts, none
    longer than MAX_PART (as engine/split.py bounds them); their overlaps cost at most
    10 % of the frames played, and no part is a sliver."""
    for seed in range(3):
        durations, word_ends = paragraph(tokens, seed)
        total = int(durations.sum())
        planned = plan_parts(durations, word_ends, seconds_per_frame, None)
        assert planned, "a paragraph is made in parts: its opening goes first"
        assert len(planned) <= MAX_PARTS - 1
        cuts = bound_parts(planned, durations, word_ends, MAX_PART)
        assert set(planned) <= set(cuts)
        rendered = total + len(cuts) * (LEFT_CONTEXT + RIGHT_CONTEXT)
        assert rendered / total <= 1.10
        parts = np.diff([0, *cuts, total])
        assert all(parts[1:] >= MIN_PART), parts
        assert all(parts <= MAX_PART + 10), parts  # word ends fall every few frames here


@pytest.fixture(scope="module")
def speaker(real_assets: tuple[Path, Path]) -> Speaker:
    model_path, voices_path = real_assets
    audio = AudioSettings(None, None, None, None, 1.0, 0.0)  # the model's pauses, no loudness
    model = KokoroModel(model_path, split=True)
    return Speaker(model, VoiceCatalogue.from_file(voices_path), Phonemizer(), "af_heart",
                   cache_bytes=0, audio=audio, first_clause=False)  # fmt: skip


def test_a_two_sentence_reply_is_close_to_one_inference(speaker: Speaker) -> None:
    """The server's rendering against one inference of the same phonemes (the whole model,
    not in parts): the same length, and a log-mel distance well under the 3-6 dB that one
    segment per sentence with fixed pauses, or a cut inside a sentence, made."""
    voice = choose_voice(speaker.catalogue, "af_heart", "af_heart", None)
    text = "Sure. The front door is now locked and the porch light is on."
    ours, _, phonemes = asyncio.run(server_rendering(speaker, voice, text))
    assert len(phonemes) == 1, "the reply is one inference"
    model = speaker.model
    assert isinstance(model, KokoroModel)
    whole = reference(model, speaker, "af_heart", phonemes[0])
    ours = trim_silence(ours)
    assert 0.97 <= span(ours) / span(whole) <= 1.03
    assert mel_distance(ours, whole) <= 3.0
