"""The bounded event reader, the text clean-up and the stats file's rotation (no server)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_kokoro.config import WireSettings
from wyoming_kokoro.protocol import LimitedEventReader, ProtocolError
from wyoming_kokoro.stats import RequestStats, StatsWriter
from wyoming_kokoro.text.g2p import Phonemizer
from wyoming_kokoro.text.normalize import TextNormalizer, clean_text, strip_markup
from wyoming_kokoro.text.segment import (
    MAX_PHONEMES,
    SegmentPlanner,
    chunk_phonemes,
    split_sentences,
)

NORMALIZER = TextNormalizer()

SMALL = WireSettings(max_header_bytes=1024, max_data_bytes=2048, max_payload_bytes=4096)


async def read_all(data: bytes, limits: WireSettings = SMALL) -> list[object]:
    """Every event (or the ProtocolError that ended the stream) from ``data``."""
    stream = asyncio.StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    reader = LimitedEventReader(stream, limits)
    out: list[object] = []
    while True:
        try:
            event = await asyncio.wait_for(reader.read_event(), 5)
        except ProtocolError as err:
            out.append(err)
            return out
        if event is None:
            return out
        out.append(event)
        assert len(reader._buffer) <= 64 * 1024 + limits.max_header_bytes


def frame(header: dict[str, object], data: bytes = b"", payload: bytes = b"") -> bytes:
    return json.dumps(header).encode() + b"\n" + data + payload


async def test_reads_well_formed_events() -> None:
    data = json.dumps({"text": "hi"}).encode()
    events = await read_all(
        frame({"type": "describe"})
        + b"\n"  # a blank line between events is tolerated
        + frame({"type": "synthesize", "data_length": len(data)}, data)
        + frame({"type": "audio-chunk", "data": {"rate": 1}, "payload_length": 3}, payload=b"abc")
    )
    assert [e.type for e in events] == ["describe", "synthesize", "audio-chunk"]  # type: ignore[attr-defined]
    assert events[1].data == {"text": "hi"}  # type: ignore[attr-defined]
    assert events[2].payload == b"abc"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not json\n", "bad-header"),
        (b"\xff\xfe\n", "bad-header"),
        (b"[1, 2]\n", "bad-header"),
        (b'{"data": {}}\n', "bad-header"),
        (b'{"type": 5}\n', "bad-header"),
        (b'{"type": "x", "data": [1]}\n', "bad-header"),
        (b'{"type": "x", "data_length": -1}\n', "bad-header"),
        (b'{"type": "x", "data_length": "12"}\n', "bad-header"),
        (b'{"type": "x", "data_length": 99999999999}\n' + b"a" * 10000, "too-large"),
        (b'{"type": "x", "payload_length": 10000000000}\n' + b"a" * 100000, "too-large"),
        (b"x" * 5000, "header-too-long"),
        (b'{"type": "x", "data_length": 10}\n{"a"', "truncated"),
        (b'{"type": "x", "data_length": 3}\n[1]', "bad-data"),
        (b'{"type": "x"', "truncated"),
    ],
)
async def test_bad_frames_end_in_a_clean_error(data: bytes, code: str) -> None:
    events = await read_all(data)
    assert isinstance(events[-1], ProtocolError) and events[-1].code == code


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=20000))
def test_any_bytes_give_events_or_a_clean_error_never_a_hang(data: bytes) -> None:
    events = asyncio.run(read_all(data))
    assert all(not isinstance(e, Exception) or isinstance(e, ProtocolError) for e in events)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b'{"type": "describe"}\n',
                b'{"type": "x", "data_length": 2}\n{}',
                b"\n",
                b"garbage",
                b'{"type": "y", "payload_length": 5}\n12345',
                b"\x00\xff",
                b'{"type": "z", "data_length": 999999}\n',
            ]
        ),
        max_size=30,
    )
)
def test_event_sequences(parts: list[bytes]) -> None:
    events = asyncio.run(read_all(b"".join(parts)))
    assert all(not isinstance(e, Exception) or isinstance(e, ProtocolError) for e in events)


def test_clean_text_and_markup() -> None:
    assert clean_text("Hello\x00 there\x1b[0m 😀👍🏽!\u200b") == "Hello there [0m !"
    assert clean_text("😀🎉") == ""
    assert strip_markup("<speak>Hello <break time='1s'/> world &amp; you</speak>").split() == [
        "Hello",
        "world",
        "&",
        "you",
    ]
    assert strip_markup("<speak><p>Broken <s>ssml").split() == ["Broken", "ssml"]


@pytest.fixture(scope="module")
def phonemizer() -> Phonemizer:
    return Phonemizer()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=600))
def test_text_path_never_raises_and_keeps_chunks_within_510(
    phonemizer: Phonemizer, text: str
) -> None:
    planner = SegmentPlanner("en")
    cleaned = [NORMALIZER(s, "a") for s in split_sentences(text)]
    for segment in planner.plan([s for s in cleaned if s]):
        phonemes = phonemizer.phonemize(segment, "a")
        assert isinstance(phonemes, str)
        assert all(0 < len(chunk) <= MAX_PHONEMES for chunk in chunk_phonemes(phonemes))


def record() -> RequestStats:
    stats = RequestStats(mode="oneshot", voice="af_heart", language="en_US", provider="cpu")
    stats.error = "x" * 400  # about 700 bytes a line
    stats.finish()
    return stats


def test_stats_file_rotates_by_size_and_keeps_n_files(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    writer = StatsWriter(path, max_bytes=3000, keep=2)
    for _ in range(20):
        writer.write(record())
        writer.close()  # flush each line, so every write sees the file's size
        writer = StatsWriter(path, max_bytes=3000, keep=2)
    writer.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["stats.jsonl", "stats.jsonl.1", "stats.jsonl.2"]
    for file in tmp_path.iterdir():
        assert file.stat().st_size <= 3000
        for line in file.read_text().splitlines():
            assert json.loads(line)["mode"] == "oneshot"  # whole lines only


def test_full_disk_warns_once_and_the_writer_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full here")
    writer = StatsWriter(full, max_bytes=10**12)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            writer.write(record())
        writer.close()
    assert sum("Cannot write stats file" in r.message for r in caplog.records) == 1
