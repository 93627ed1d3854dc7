"""Loudness: ITU-R BS.1770-4 integrated loudness, true peak, and a true-peak limiter.

Written with numpy only (no scipy). The K-weighting filter (a high shelf and a high pass,
designed for any sample rate so that at 48 kHz they are exactly the coefficients printed
in BS.1770) is applied by FFT with its exact frequency response; the zero padding is long
enough for the filter to ring out (below 1e-12), so this is the IIR filter to float
precision.

Loudness is measured on 400-ms blocks with 75 % overlap, gated at −70 LUFS and then
10 LU under the ungated mean (mono: channel weight 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .audio import SAMPLE_RATE

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
BLOCK_S = 0.4
HOP_S = 0.1
MARGIN = 0.98  # the limiter aims 0.18 dB under its ceiling: interpolation differs a hair
# with the length of what is measured
_OFFSET = -0.691  # BS.1770: a 997 Hz full-scale sine in one channel reads −3.01 LKFS


def fast_size(n: int) -> int:
    """The smallest FFT length >= ``n`` with no prime factor above 5 (fast for pocketfft)."""
    best = 1 << max(0, (n - 1).bit_length())
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            size = threes
            while size < n:
                size *= 2
            best = min(best, size)
            threes *= 3
        fives *= 5
    return best


def _response(b: tuple[float, ...], a: tuple[float, ...], z: np.ndarray) -> np.ndarray:
    """A biquad's frequency response at ``z`` = e^(-jw)."""
    return np.asarray((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z))


def k_weighting(rate: int) -> tuple[tuple[float, ...], ...]:
    """(b, a) of the shelf and of the high pass of BS.1770's K-weighting at ``rate``."""
    gain_db, shelf_hz, shelf_q = 3.999843853973347, 1681.974450955533, 0.7071752369554196
    k = math.tan(math.pi * shelf_hz / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / shelf_q + k * k
    shelf_b = ((vh + vb * k / shelf_q + k * k) / a0, 2.0 * (k * k - vh) / a0,
               (vh - vb * k / shelf_q + k * k) / a0)  # fmt: skip
    shelf_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / shelf_q + k * k) / a0)
    pass_hz, pass_q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * pass_hz / rate)
    a0 = 1.0 + k / pass_q + k * k
    pass_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / pass_q + k * k) / a0)
    return shelf_b, shelf_a, (1.0, -2.0, 1.0), pass_a


class LoudnessMeter:
    """BS.1770 measurement at one sample rate."""

    TAIL_S = 0.2  # zero padding for the filter's ring-out (below 1e-12 by then)

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self.filters = k_weighting(rate)
        self.block = round(BLOCK_S * rate)
        self.hop = round(HOP_S * rate)

    def weighted(self, audio: np.ndarray) -> np.ndarray:
        """The K-weighted signal (same length as ``audio``): the two biquads applied by
        their exact frequency response, with enough zero padding that the circular
        convolution is the linear one."""
        samples = np.asarray(audio, dtype=np.float64).reshape(-1)
        if len(samples) == 0:
            return samples
        size = fast_size(len(samples) + round(self.TAIL_S * self.rate))
        z = np.exp(-2j * np.pi * np.arange(size // 2 + 1) / size)
        shelf_b, shelf_a, pass_b, pass_a = self.filters
        response = _response(shelf_b, shelf_a, z) * _response(pass_b, pass_a, z)
        return np.fft.irfft(np.fft.rfft(samples, size) * response, size)[: len(samples)]

    def block_powers(self, audio: np.ndarray) -> np.ndarray:
        """Mean square of the K-weighted signal in each gating block.

        Audio shorter than one block is measured as one block of its own length, so that
        a short word still has a loudness.
        """
        weighted = self.weighted(audio)
        if len(weighted) == 0:
            return np.zeros(0)
        squares = np.concatenate(([0.0], np.cumsum(weighted * weighted)))
        if len(weighted) < self.block:
            return np.array([squares[-1] / len(weighted)])
        starts = np.arange(0, len(weighted) - self.block + 1, self.hop)
        return np.asarray((squares[starts + self.block] - squares[starts]) / self.block)

    def integrated(self, audio: np.ndarray) -> float:
        """Integrated loudness in LUFS (−inf for silence)."""
        return gated_loudness(self.block_powers(audio))


def lufs(power: float) -> float:
    """A mean-square power of the K-weighted signal in LUFS."""
    return _OFFSET + 10.0 * math.log10(power) if power > 0 else -math.inf


def lufs_power(loudness: float) -> float:
    """The mean-square power that reads ``loudness`` LUFS."""
    return float(10.0 ** ((loudness - _OFFSET) / 10.0))


def gated_loudness(powers: Sequence[float] | np.ndarray) -> float:
    """BS.1770's two-stage gated mean of block powers, in LUFS (−inf when all are gated)."""
    values = np.asarray(powers, dtype=np.float64)
    if len(values) == 0:
        return -math.inf
    absolute = 10.0 ** ((ABSOLUTE_GATE_LUFS - _OFFSET) / 10.0)
    kept = values[values > absolute]
    if len(kept) == 0:
        return -math.inf
    relative = float(np.mean(kept)) * 10.0 ** (RELATIVE_GATE_LU / 10.0)
    kept = kept[kept > relative]
    return lufs(float(np.mean(kept)))


def oversampled(audio: np.ndarray, factor: int = 4) -> np.ndarray:
    """Band-limited interpolation by ``factor`` (zero-padded spectrum), for true peaks."""
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(samples) == 0:
        return samples
    pad = 32  # keep the FFT's wrap-around away from the ends
    size = fast_size(len(samples) + 2 * pad)
    padded = np.zeros(size)
    padded[pad : pad + len(samples)] = samples
    up = np.fft.irfft(np.fft.rfft(padded), size * factor) * factor
    return up[pad * factor : (pad + len(samples)) * factor]


def true_peak(audio: np.ndarray, factor: int = 4) -> float:
    """The highest absolute value of the signal between samples too (linear, 1.0 = 0 dBTP)."""
    up = oversampled(audio, factor)
    return float(np.max(np.abs(up))) if len(up) else 0.0


def _sliding_min(values: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    return np.asarray(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).min(axis=1))


def _moving_mean(values: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    sums = np.concatenate(([0.0], np.cumsum(padded)))
    return np.asarray((sums[2 * half + 1 :] - sums[: -2 * half - 1]) / (2 * half + 1))


def limit(
    audio: np.ndarray, ceiling: float, window_s: float = 0.004, factor: int = 4
) -> np.ndarray:
    """Hold the true peak at or under ``ceiling`` (linear) with a smooth gain curve.

    The gain each sample needs (ceiling over its oversampled peak) is spread by a sliding
    minimum and then averaged over the same window: every sample's gain is then at most
    what it needs, and the curve has no steps (no clicks), reaching over ~2 ms either way.
    Audio already under the ceiling is returned unchanged.
    """
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(samples) == 0 or float(np.max(np.abs(samples))) * 1.5 <= ceiling:
        return samples  # even the worst intersample peak (+3.5 dB is rare) stays under it
    width = max(3, round(window_s * SAMPLE_RATE))
    limited = samples
    for _ in range(3):  # gain-shaped samples can overshoot between them a hair: go again
        peaks = np.abs(oversampled(limited, factor)).reshape(-1, factor).max(axis=1)
        if float(peaks.max()) <= ceiling:
            return limited
        need = np.minimum(1.0, MARGIN * ceiling / np.maximum(peaks, 1e-12))
        gain = _moving_mean(_sliding_min(need, width), width)
        limited = (limited * gain).astype(np.float32)
    rest = true_peak(limited, factor)
    return limited * np.float32(ceiling / rest) if rest > ceiling else limited
