"""Silence trimming, gaps, BS.1770 loudness, true peak and the limiter, on synthetic signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wyoming_kokoro.audio import (
    FADE_S,
    LEAD_MARGIN_S,
    SAMPLE_RATE,
    TRAIL_MARGIN_S,
    find_gaps,
    leading_silence_s,
    longest_pause,
    pause_after,
    silence,
    speech_bounds,
    trim_silence,
)
from wyoming_kokoro.loudness import (
    LoudnessMeter,
    gated_loudness,
    k_weighting,
    limit,
    true_peak,
)

RATE = SAMPLE_RATE


def tone(seconds: float, amplitude: float, hz: float = 997.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(round(seconds * RATE))).astype(np.float32)


def utterance(lead: float, speech: float, trail: float) -> np.ndarray:
    """Kokoro-like: near-silent hiss, a voiced stretch, then hiss again."""
    return np.concatenate(
        (noise(lead, 1e-5, 1), tone(speech, 0.3, 220.0), noise(trail, 1e-5, 2))
    ).astype(np.float32)


# ------------------------------------------------------------------------------ trimming


def test_trim_keeps_the_speech_and_a_small_margin() -> None:
    audio = utterance(0.32, 1.0, 0.4)
    trimmed = trim_silence(audio)
    expected = 1.0 + LEAD_MARGIN_S + TRAIL_MARGIN_S
    assert abs(len(trimmed) / RATE - expected) <= 0.006  # one 5-ms frame of rounding
    assert leading_silence_s(trimmed) <= LEAD_MARGIN_S + 0.006


def test_trim_fades_the_cut_ends_and_leaves_the_speech_alone() -> None:
    audio = utterance(0.3, 0.5, 0.3)
    trimmed = trim_silence(audio, lead_margin_s=0.0, trail_margin_s=0.0)
    fade = round(FADE_S * RATE)
    assert trimmed[0] == 0.0  # faded in from zero: no click
    assert abs(trimmed[-1]) < abs(trimmed[-fade - 1]) + 1e-6 or abs(trimmed[-1]) < 0.01
    start = speech_bounds(audio)
    assert start is not None
    middle = slice(fade, len(trimmed) - fade)
    np.testing.assert_array_equal(trimmed[middle], audio[start[0] : start[1]][middle])


def test_trim_of_silence_is_empty_and_untrimmed_ends_are_not_faded() -> None:
    assert len(trim_silence(noise(0.5, 0.0))) == 0
    assert len(trim_silence(np.zeros(0, dtype=np.float32))) == 0
    speech_only = tone(0.5, 0.3, 220.0)
    np.testing.assert_array_equal(trim_silence(speech_only), speech_only)


def test_quiet_speech_is_still_speech_relative_to_its_own_peak() -> None:
    quiet = utterance(0.3, 0.5, 0.3) * 0.01  # about -50 dBFS speech
    assert abs(len(trim_silence(quiet)) / RATE - (0.5 + LEAD_MARGIN_S + TRAIL_MARGIN_S)) <= 0.006


def test_gaps_are_found_between_speech_only() -> None:
    audio = np.concatenate(
        (
            silence(0.3),
            tone(0.5, 0.3, 220.0),
            silence(0.25),
            tone(0.4, 0.3, 300.0),
            silence(0.03),  # too short to be a pause
            tone(0.4, 0.3, 300.0),
            silence(0.6),
        )
    )
    gaps = find_gaps(audio)
    assert len(gaps) == 1
    assert abs(gaps[0].start_s - 0.8) <= 0.006
    assert abs(gaps[0].length_s - 0.25) <= 0.011


def test_the_longest_pause_joins_silences_around_a_faint_blip() -> None:
    def pause_around(blip_s: float) -> float:
        return longest_pause(
            np.concatenate(
                (
                    tone(0.5, 0.3, 220.0),
                    silence(0.15),
                    tone(blip_s, 0.3, 300.0),  # a breath between two silences, or a word
                    silence(0.2),
                    tone(0.5, 0.3, 220.0),
                )
            )
        )

    assert abs(pause_around(0.06) - 0.41) <= 0.015  # one pause across the blip
    assert abs(pause_around(0.25) - 0.2) <= 0.015  # a word between: two pauses


def test_pause_after_counts_the_margins() -> None:
    assert pause_after(0.5) == pytest.approx(0.5 - LEAD_MARGIN_S - TRAIL_MARGIN_S)
    assert pause_after(0.01) == 0.0
    assert len(silence(0.25)) == RATE // 4


# ------------------------------------------------------------------------------ loudness


def test_k_weighting_at_48k_is_the_published_filter() -> None:
    shelf_b, shelf_a, pass_b, pass_a = k_weighting(48000)
    # ITU-R BS.1770-4, tables 1 and 2
    np.testing.assert_allclose(shelf_b, (1.53512485958697, -2.69169618940638, 1.19839281085285))
    np.testing.assert_allclose(shelf_a, (1.0, -1.69065929318241, 0.73248077421585))
    np.testing.assert_allclose(pass_b, (1.0, -2.0, 1.0))
    np.testing.assert_allclose(pass_a, (1.0, -1.99004745483398, 0.99007225036621))


@pytest.mark.parametrize("rate", [48000, 24000])
def test_full_scale_997_hz_sine_reads_minus_3_01(rate: int) -> None:
    # BS.1770-4: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS
    loudness = LoudnessMeter(rate).integrated(tone(5.0, 1.0, rate=rate))
    assert loudness == pytest.approx(-3.01, abs=0.05 if rate != 48000 else 0.01)


def test_loudness_follows_level_and_gates_quiet_parts() -> None:
    meter = LoudnessMeter()
    loud = tone(10.0, 10 ** (-20 / 20))
    assert meter.integrated(loud) == pytest.approx(-23.0, abs=0.1)
    # EBU Tech 3341 case 3/4 in mono: 10 s at -36 dBFS, 60 s at -23, 10 s at -36; the
    # quiet parts fall under the relative gate, so it reads as the loud part alone
    gated = np.concatenate((tone(10.0, 10 ** (-36 / 20)), tone(60.0, 10 ** (-23 / 20)),
                            tone(10.0, 10 ** (-36 / 20))))  # fmt: skip
    assert meter.integrated(gated) == pytest.approx(-26.0, abs=0.1)
    assert meter.integrated(np.zeros(RATE, dtype=np.float32)) == -math.inf
    assert meter.integrated(tone(1.0, 10 ** (-80 / 20))) == -math.inf  # absolute gate


def test_silence_around_speech_does_not_change_its_loudness() -> None:
    meter = LoudnessMeter()
    speech = noise(3.0, 0.05, 3)
    padded = np.concatenate((silence(2.0), speech, silence(2.0)))
    # ungated, 4 s of silence would take 3.7 dB off; only the blocks that straddle the
    # edges count a little (BS.1770 behaviour)
    assert meter.integrated(padded) == pytest.approx(meter.integrated(speech), abs=0.5)


def test_a_short_sound_is_measured_as_one_block() -> None:
    meter = LoudnessMeter()
    short = tone(0.2, 10 ** (-20 / 20))
    assert len(meter.block_powers(short)) == 1
    assert meter.integrated(short) == pytest.approx(-23.0, abs=0.2)
    assert gated_loudness([]) == -math.inf


# ---------------------------------------------------------------------- true peak, limiter


def test_true_peak_sees_between_the_samples() -> None:
    # a quarter-rate sine sampled at 45 degrees: samples at 0.707, true peak 1.0
    t = np.arange(RATE) / RATE
    wave = np.sin(2 * np.pi * (RATE / 4) * t + np.pi / 4).astype(np.float32)
    assert float(np.max(np.abs(wave))) == pytest.approx(0.7071, abs=1e-3)
    assert true_peak(wave) == pytest.approx(1.0, abs=0.02)


def test_limiter_holds_the_ceiling_and_keeps_the_rest() -> None:
    quiet = tone(1.0, 0.1, 220.0)
    loud = tone(0.2, 1.6, 220.0)
    audio = np.concatenate((quiet, loud, quiet))
    ceiling = 10 ** (-1 / 20)
    limited = limit(audio, ceiling)
    assert true_peak(limited) <= ceiling + 1e-6
    # the quiet parts away from the burst are untouched
    np.testing.assert_allclose(limited[: RATE // 2], audio[: RATE // 2], atol=1e-7)
    np.testing.assert_allclose(limited[-RATE // 2 :], audio[-RATE // 2 :], atol=1e-7)
    # smooth gain: no sample-to-sample jump bigger than the signal itself could make
    assert float(np.max(np.abs(np.diff(limited)))) < 0.1


def test_limiter_leaves_audio_under_the_ceiling_unchanged() -> None:
    audio = tone(1.0, 0.5, 220.0)
    assert limit(audio, 0.9) is not None
    np.testing.assert_array_equal(limit(audio, 0.9), audio)
