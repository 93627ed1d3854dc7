"""PCM helpers: float audio to 16-bit mono PCM, chunking, silence, trimming, pauses.

Kokoro begins every inference with ~0.3 s of silence (its leading pad token) and ends it
with a decay plus silence. Trimming is measured on the audio itself (no extra inference):
speech is every 5-ms frame whose RMS is within ``SPEECH_BELOW_PEAK_DB`` of the loudest
frame of that audio (and above ``SPEECH_FLOOR_DBFS``); a small margin of the quiet part
is kept on either side, with a short fade so a cut never clicks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 24000
SAMPLE_WIDTH = 2
CHANNELS = 1

FRAME = SAMPLE_RATE // 200  # 5 ms
SPEECH_BELOW_PEAK_DB = 40.0  # quieter than this under the loudest frame is silence
SPEECH_FLOOR_DBFS = -70.0  # and so is anything quieter than this
LEAD_MARGIN_S = 0.02  # quiet audio kept before the first speech frame
TRAIL_MARGIN_S = 0.05  # and after the last one (the decay of a final consonant)
FADE_S = 0.005


def float_to_pcm16(audio: np.ndarray) -> bytes:
    """Clip float samples in [-1, 1] and convert them to little-endian int16 bytes."""
    samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return (samples * 32767.0).astype("<i2").tobytes()


def pcm_chunks(pcm: bytes, samples_per_chunk: int) -> Iterator[bytes]:
    """Split PCM bytes into pieces of at most ``samples_per_chunk`` samples."""
    step = samples_per_chunk * SAMPLE_WIDTH * CHANNELS
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


def pcm_seconds(num_bytes: int) -> float:
    return num_bytes / (SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(max(0, round(seconds * SAMPLE_RATE)), dtype=np.float32)


def frame_levels(audio: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """RMS level in dBFS of each whole ``frame``-sample frame (a partial tail is dropped)."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    count = len(samples) // frame
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    power = np.mean(frames * frames, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def speech_mask(
    levels: np.ndarray,
    below_peak_db: float = SPEECH_BELOW_PEAK_DB,
    floor_dbfs: float = SPEECH_FLOOR_DBFS,
) -> np.ndarray:
    """Which frames are speech: above the floor and within ``below_peak_db`` of the peak."""
    if len(levels) == 0:
        return np.zeros(0, dtype=bool)
    threshold = max(float(levels.max()) - below_peak_db, floor_dbfs)
    return np.asarray(levels > threshold)


def speech_bounds(audio: np.ndarray) -> tuple[int, int] | None:
    """Sample range ``[start, end)`` from the first to the last speech frame; None if silent."""
    frames = np.flatnonzero(speech_mask(frame_levels(audio)))
    if len(frames) == 0:
        return None
    return int(frames[0]) * FRAME, (int(frames[-1]) + 1) * FRAME


def _fade(audio: np.ndarray, head: bool, tail: bool) -> np.ndarray:
    length = min(round(FADE_S * SAMPLE_RATE), len(audio) // 2)
    if length <= 0 or not (head or tail):
        return audio
    audio = audio.copy()
    ramp = np.linspace(0.0, 1.0, length, endpoint=False, dtype=np.float32)
    if head:
        audio[:length] *= ramp
    if tail:
        audio[-length:] *= ramp[::-1]
    return audio


def trim_silence(
    audio: np.ndarray,
    lead_margin_s: float = LEAD_MARGIN_S,
    trail_margin_s: float = TRAIL_MARGIN_S,
    *,
    lead: bool = True,
    trail: bool = True,
) -> np.ndarray:
    """The audio from shortly before its first speech to shortly after its last.

    Audio with no speech in it trims to nothing. A cut end gets a 5-ms fade. ``lead`` or
    ``trail`` False keeps that end as it is (the inner ends of a segment made in parts).
    """
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    bounds = speech_bounds(samples)
    if bounds is None:
        return samples[:0]
    start = max(0, bounds[0] - round(lead_margin_s * SAMPLE_RATE)) if lead else 0
    end = len(samples)
    if trail:
        end = min(end, bounds[1] + round(trail_margin_s * SAMPLE_RATE))
    return _fade(samples[start:end], head=start > 0, tail=end < len(samples))


def pause_after(gap_s: float) -> float:
    """Silence to insert between two trimmed segments so that ``gap_s`` separates their speech.

    The trailing margin of the one and the leading margin of the next already count.
    """
    return max(0.0, gap_s - LEAD_MARGIN_S - TRAIL_MARGIN_S)


@dataclass(frozen=True)
class Gap:
    """A stretch without speech between two stretches of speech."""

    start_s: float
    length_s: float


def find_gaps(audio: np.ndarray, min_gap_s: float = 0.06) -> list[Gap]:
    """The silences inside ``audio`` (not before its first or after its last speech)."""
    mask = speech_mask(frame_levels(audio))
    speech = np.flatnonzero(mask)
    if len(speech) < 2:
        return []
    gaps: list[Gap] = []
    frame_s = FRAME / SAMPLE_RATE
    jumps = np.flatnonzero(np.diff(speech) > 1)
    for index in jumps:
        start = int(speech[index]) + 1
        length = int(speech[index + 1]) - start
        if length * frame_s >= min_gap_s:
            gaps.append(Gap(start * frame_s, length * frame_s))
    return gaps


# Silences this close together are one pause (longest_pause). The speech mask's threshold
# is set by the loudest frame, so a faint sound of ~0.1 s inside a pause (a breath, a decay
# 40 dB under the peak) counts as speech in one rendering and not in another a few dB
# louder elsewhere; the pause a listener hears spans both silences either way.
PAUSE_JOIN_S = 0.12


def longest_pause(audio: np.ndarray, join_s: float = PAUSE_JOIN_S) -> float:
    """The longest pause inside ``audio`` (s): its gaps, those under ``join_s`` apart joined."""
    spans: list[tuple[float, float]] = []
    for gap in find_gaps(audio):
        end = gap.start_s + gap.length_s
        if spans and gap.start_s - spans[-1][1] < join_s:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((gap.start_s, end))
    return max((end - start for start, end in spans), default=0.0)


def leading_silence_s(audio: np.ndarray) -> float:
    """Seconds before the first speech frame (the whole length if there is none)."""
    bounds = speech_bounds(audio)
    return (bounds[0] if bounds else len(np.asarray(audio).reshape(-1))) / SAMPLE_RATE
