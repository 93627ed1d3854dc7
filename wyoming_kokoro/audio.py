"""PCM helpers: Kokoro's float audio to 16-bit mono PCM, and chunking."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

SAMPLE_RATE = 24000
SAMPLE_WIDTH = 2
CHANNELS = 1


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
