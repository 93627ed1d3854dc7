"""A request's audio on the way out: pauses by rule, SSML breaks, loudness, volume, tail."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.test_audio import noise, tone
from wyoming_kokoro.audio import (
    LEAD_MARGIN_S,
    SAMPLE_RATE,
    find_gaps,
    leading_silence_s,
    trim_silence,
)
from wyoming_kokoro.engine.render import Piece, Place, Playout, Rendering
from wyoming_kokoro.loudness import LoudnessMeter, true_peak
from wyoming_kokoro.shaping import (
    KOKORO_PAUSES,
    TRUE_PEAK_DBTP,
    AudioSettings,
    Shaper,
    VoiceLevels,
)
from wyoming_kokoro.text.prepare import Segment
from wyoming_kokoro.text.segment import Ending

METER = LoudnessMeter()


def kokoro_like(speech_s: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    """0.3 s of near silence, speech-like noise, 0.4 s of near silence (as Kokoro makes)."""
    body = tone(speech_s, level, 180.0) + noise(speech_s, level / 3, seed)
    return np.concatenate((noise(0.3, 1e-5, 7), body, noise(0.4, 1e-5, 8))).astype(np.float32)


def request(settings: AudioSettings | None = None, levels: VoiceLevels | None = None,
            lang: str = "a", speed: float = 1.0) -> Shaper:  # fmt: skip
    return Shaper(settings or AudioSettings(), lang, "af_heart", METER,
                        levels or VoiceLevels(), speed)  # fmt: skip


def whole(audio: np.ndarray, ending: Ending) -> Piece:
    return Piece(audio, Place.WHOLE, ending)


def pause(seconds: float) -> Piece:
    return Piece(np.zeros(round(seconds * SAMPLE_RATE), np.float32), Place.BREAK,
                 Ending.BREAK, seconds)  # fmt: skip


def speak(shaper: Shaper, *parts: tuple[np.ndarray, Ending] | float) -> np.ndarray:
    out = []
    for part in parts:
        piece = pause(part) if isinstance(part, float) else whole(*part)
        out.append(shaper.shape(piece))
    out.append(shaper.tail())
    return np.concatenate(out)


def test_pauses_follow_the_rule_and_the_language() -> None:
    settings = AudioSettings(loudness_lufs=None, tail_silence=0.0)
    out = speak(request(settings), (kokoro_like(1.0), Ending.CLAUSE),
                (kokoro_like(1.0, seed=1), Ending.SENTENCE), (kokoro_like(0.8, seed=2),
                Ending.SENTENCE))  # fmt: skip
    gaps = [g.length_s for g in find_gaps(out, 0.1)]
    clause, sentence = KOKORO_PAUSES["a"]
    assert gaps == [pytest.approx(clause, abs=0.011), pytest.approx(sentence, abs=0.011)]
    assert leading_silence_s(out) <= LEAD_MARGIN_S + 0.006
    # set by the user, the same for every language
    settings = AudioSettings(sentence_silence=0.7, clause_silence=0.1, loudness_lufs=None,
                             tail_silence=0.0)  # fmt: skip
    out = speak(request(settings, lang="f"), (kokoro_like(1.0), Ending.CLAUSE),
                (kokoro_like(1.0, seed=1), Ending.SENTENCE), (kokoro_like(0.8, seed=2),
                Ending.CUT))  # fmt: skip
    gaps = [g.length_s for g in find_gaps(out, 0.05)]
    assert gaps == [pytest.approx(0.1, abs=0.011), pytest.approx(0.7, abs=0.011)]


@pytest.mark.parametrize("speed", [0.7, 1.5])
def test_kokoros_own_pauses_follow_the_speed_and_set_ones_do_not(speed: float) -> None:
    # a stream's segments pause as the one-shot would: Kokoro's durations scale by 1/speed
    settings = AudioSettings(loudness_lufs=None, tail_silence=0.0)
    out = speak(request(settings, speed=speed), (kokoro_like(1.0), Ending.CLAUSE),
                (kokoro_like(1.0, seed=1), Ending.SENTENCE), (kokoro_like(0.8, seed=2),
                Ending.SENTENCE))  # fmt: skip
    gaps = [g.length_s for g in find_gaps(out, 0.1)]
    clause, sentence = KOKORO_PAUSES["a"]
    assert gaps == [
        pytest.approx(clause / speed, abs=0.011),
        pytest.approx(sentence / speed, abs=0.011),
    ]
    settings = AudioSettings(sentence_silence=0.7, loudness_lufs=None, tail_silence=0.0)
    out = speak(request(settings, speed=speed), (kokoro_like(1.0), Ending.SENTENCE),
                (kokoro_like(1.0, seed=1), Ending.SENTENCE))  # fmt: skip
    assert [g.length_s for g in find_gaps(out, 0.1)] == [pytest.approx(0.7, abs=0.011)]


def test_a_break_keeps_its_exact_length_and_replaces_the_punctuation_pause() -> None:
    settings = AudioSettings(loudness_lufs=None, tail_silence=0.0)
    out = speak(request(settings), 0.25, (kokoro_like(1.0), Ending.SENTENCE), 1.5,
                (kokoro_like(1.0, seed=1), Ending.SENTENCE), 0.5, 0.25)  # fmt: skip
    assert [g.length_s for g in find_gaps(out, 0.1)] == [pytest.approx(1.5, abs=0.011)]
    assert leading_silence_s(out) == pytest.approx(0.25, abs=0.006)
    # breaks at the end are owed in full (no tail here)
    assert leading_silence_s(out[::-1]) == pytest.approx(0.75, abs=0.006)
    only_breaks = request(settings)
    assert len(only_breaks.shape(pause(0.4))) == 0
    assert len(only_breaks.tail()) == round(0.4 * SAMPLE_RATE)


def test_tail_silence_follows_the_last_audio_only() -> None:
    settings = AudioSettings(loudness_lufs=None, tail_silence=0.2)
    shaper = request(settings)
    first = shaper.shape(whole(kokoro_like(1.0), Ending.SENTENCE))
    tail = shaper.tail()
    assert len(tail) == round(0.2 * SAMPLE_RATE) and not tail.any()
    assert leading_silence_s(first[::-1]) <= 0.056  # the trailing margin, no tail yet
    assert len(request(settings).tail()) == 0  # nothing spoken: nothing to pad


@pytest.mark.parametrize("level", [0.01, 0.05, 0.3])
def test_every_level_comes_out_at_the_target(level: float) -> None:
    out = speak(request(), (kokoro_like(2.0, level), Ending.SENTENCE),
                (kokoro_like(2.5, level, seed=1), Ending.SENTENCE))  # fmt: skip
    assert METER.integrated(out) == pytest.approx(-20.0, abs=0.5)
    assert true_peak(out) <= 10 ** (TRUE_PEAK_DBTP / 20) + 1e-6


def test_loudness_off_and_volume() -> None:
    raw = kokoro_like(2.0, 0.05)
    plain = speak(request(AudioSettings(loudness_lufs=None, tail_silence=0.0)),
                  (raw, Ending.SENTENCE))  # fmt: skip
    louder = speak(request(AudioSettings(loudness_lufs=None, volume=2.0, tail_silence=0.0)),
                   (raw, Ending.SENTENCE))  # fmt: skip
    np.testing.assert_array_equal(plain, trim_silence(raw))  # trimmed, nothing else
    assert METER.integrated(louder) - METER.integrated(plain) == pytest.approx(6.02, abs=0.1)
    normalized = speak(request(AudioSettings(volume=0.5)), (raw, Ending.SENTENCE))
    assert METER.integrated(normalized) == pytest.approx(-26.0, abs=0.5)
    # more volume than the ceiling allows is limited, never clipped
    hot = speak(request(AudioSettings(volume=8.0)), (raw, Ending.SENTENCE))
    assert true_peak(hot) <= 10 ** (TRUE_PEAK_DBTP / 20) + 1e-6


def test_a_voices_level_carries_over_so_a_short_first_word_is_not_pumped() -> None:
    levels = VoiceLevels()
    speak(request(levels=levels), (kokoro_like(4.0, 0.05), Ending.SENTENCE))
    measured = METER.integrated(trim_silence(kokoro_like(4.0, 0.05)))
    assert levels.get("af_heart") == pytest.approx(measured, abs=0.01)
    # the next request starts with a quiet "Sure!": the voice's level keeps its gain near
    # the voice's, where measured alone it would be pushed up to the target
    shaper = request(levels=levels)
    quiet_word = kokoro_like(0.3, 0.02)
    shaper.shape(whole(quiet_word, Ending.SENTENCE))
    alone = -20.0 - METER.integrated(quiet_word)
    voice_gain = -20.0 - measured
    assert abs(shaper.gains_db[0] - voice_gain) < abs(alone - voice_gain) / 2


def test_voice_levels_are_bounded() -> None:
    levels = VoiceLevels(capacity=2)
    for name in ("a", "b", "c"):
        levels.update(name, -20.0)
    assert levels.get("a") is None and levels.get("c") == -20.0
    levels.update("c", -24.0)
    assert levels.get("c") == pytest.approx(-22.0)


async def test_the_playout_clock_follows_what_went_out() -> None:
    # Kokoro's pads are longer than the trimming estimate: counted when made, the clock is
    # corrected to what the shaper sent (the keep-alive reads it: a stream never runs dry).
    audio = np.concatenate((np.zeros(round(0.8 * SAMPLE_RATE), np.float32), kokoro_like(1.0),
                            np.zeros(round(0.8 * SAMPLE_RATE), np.float32)))  # fmt: skip
    playout = Playout()
    segment = Segment("həlˈO.", Ending.SENTENCE, text="Hello.")
    rendering = Rendering(segment, playout, audio=audio, key=object())  # type: ignore[arg-type]
    piece = await rendering.next()
    assert piece is not None
    started = time.monotonic()
    counted = (playout.until() or 0.0) - started
    assert counted == pytest.approx(piece.counted_s, abs=0.01)
    shaped = request(AudioSettings(loudness_lufs=None, tail_silence=0.0)).shape(piece)
    sent = len(shaped) / SAMPLE_RATE
    assert sent < counted - 1.0  # trimming took far more than estimated
    playout.correct(sent - piece.counted_s)
    assert (playout.until() or 0.0) - started == pytest.approx(sent, abs=0.01)
