"""Audio as OpenAI's formats, piece by piece as it is made: mp3, opus, aac, flac, wav, pcm.

mp3, opus (in Ogg, as OpenAI sends it), aac (ADTS) and flac are encoded with PyAV
(FFmpeg's libraries in-process: no ffmpeg subprocess, no temporary file). The muxer
writes into a plain object without ``seek``, so every container is written as a stream:
what a piece of audio turns into can leave at once. wav streams with the "unknown size"
header OpenAI's own streaming wav has; pcm is the raw 16-bit mono samples.

An encoder is used by one request at a time, on a worker thread (encoding is CPU work,
kept off the event loop).
"""

from __future__ import annotations

import contextlib
import struct
from typing import Protocol

import av
import numpy as np

from ..audio import SAMPLE_RATE

FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# format -> (container, codec, bit rate or None)
_CODECS = {
    "mp3": ("mp3", "libmp3lame", 64_000),
    "opus": ("ogg", "libopus", 48_000),
    "aac": ("adts", "aac", 64_000),
    "flac": ("flac", "flac", None),
}


class Encoder(Protocol):
    def encode(self, pcm: bytes) -> bytes:
        """The bytes this audio (16-bit mono PCM at 24 kHz) adds to the stream."""

    def finish(self) -> bytes:
        """What is still held (encoder delay, container trailer)."""


class PcmEncoder:
    def encode(self, pcm: bytes) -> bytes:
        return pcm

    def finish(self) -> bytes:
        return b""


class WavEncoder:
    """A RIFF header whose sizes say "unknown" (0xFFFFFFFF): players read to the end."""

    def __init__(self) -> None:
        self._header = True

    def encode(self, pcm: bytes) -> bytes:
        if not self._header:
            return pcm
        self._header = False
        return wav_header(None) + pcm

    def finish(self) -> bytes:
        return b"" if not self._header else self.encode(b"")


def wav_header(data_bytes: int | None) -> bytes:
    """The 44-byte header of a 16-bit mono 24 kHz wav; None: of unknown length."""
    data = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + (b"data" + struct.pack("<I", data))
    )


def with_length(fmt: str, data: bytes, samples: int) -> bytes:
    """A whole answer (not streamed) with its length where the format keeps one that a
    stream leaves unknown: FLAC's STREAMINFO total samples (players and ffprobe read the
    duration from it). Other formats as they are."""
    if fmt != "flac" or len(data) < 26 or data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        return data
    # STREAMINFO after its 4-byte header: block sizes (4 bytes), frame sizes (6), then 64
    # bits of sample rate (20), channels - 1 (3), bits per sample - 1 (5), samples (36).
    (packed,) = struct.unpack(">Q", data[18:26])
    packed = (packed & ~((1 << 36) - 1)) | (samples & ((1 << 36) - 1))
    return data[:18] + struct.pack(">Q", packed) + data[26:]


class _Sink:
    """Where the muxer writes: collects bytes; no seek, so containers are streamed."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class AvEncoder:
    """One PyAV output container and audio stream for a compressed format."""

    def __init__(self, fmt: str) -> None:
        container, codec, bit_rate = _CODECS[fmt]
        self._sink = _Sink()
        # flush_packets: each packet reaches the sink as it is muxed, not 32 KiB later;
        # page_duration: Ogg pages of 100 ms instead of 1 s.
        options = {"flush_packets": "1"}
        if container == "ogg":
            options["page_duration"] = "100000"
        self._container = av.open(self._sink, mode="w", format=container, options=options)
        stream = self._container.add_stream(codec, rate=SAMPLE_RATE)
        assert isinstance(stream, av.audio.stream.AudioStream)
        self._stream = stream
        self._stream.layout = "mono"
        if bit_rate is not None:
            self._stream.bit_rate = bit_rate
        self._pts = 0
        self._closed = False

    def encode(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        if samples.shape[1]:
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._pts
            self._pts += samples.shape[1]
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._sink.take()

    def finish(self) -> bytes:
        if not self._closed:
            self._closed = True
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        return self._sink.take()

    def close(self) -> None:
        """Free the codec when the request ends early (nothing more is written)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, ValueError):
                self._container.close()


def encoder(fmt: str) -> Encoder:
    if fmt == "pcm":
        return PcmEncoder()
    if fmt == "wav":
        return WavEncoder()
    return AvEncoder(fmt)
