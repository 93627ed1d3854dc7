"""First clause, segment plan, phrase cache, fair scheduling and the stats summary."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from wyoming_kokoro.engine.cache import PhraseCache, PhraseKey
from wyoming_kokoro.engine.scheduler import FIRST_SEGMENT_POLICY, InferenceScheduler
from wyoming_kokoro.engine.synthesizer import KokoroModel
from wyoming_kokoro.engine.voices import VoiceCatalogue
from wyoming_kokoro.request import speak_text
from wyoming_kokoro.speech import Speaker, choose_voice
from wyoming_kokoro.stats import RequestStats, main, parse_since, read_records, summarize
from wyoming_kokoro.text.g2p import Phonemizer
from wyoming_kokoro.text.segment import SegmentPlanner, split_first_clause


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "The living room lights are on, and the front door is locked.",
            ["The living room lights are on,", "and the front door is locked."],
        ),
        (
            "Three lights are still on; the rest are off for the night.",
            ["Three lights are still on;", "the rest are off for the night."],
        ),
        (
            "Here is the forecast for today: sunny with a light breeze.",
            ["Here is the forecast for today:", "sunny with a light breeze."],
        ),
        (
            "The washing machine is done - please empty it soon.",
            ["The washing machine is done", "please empty it soon."],
        ),
        (
            "Tomorrow looks sunny with a breeze but rain is likely later.",
            ["Tomorrow looks sunny with a breeze", "but rain is likely later."],
        ),
        (  # a long first clause is cut before a phrase-opening word
            "Today will be mostly sunny with a high of twenty two degrees and a light breeze.",
            ["Today will be mostly sunny", "with a high of twenty two degrees and a light breeze."],
        ),
    ],
)
def test_first_clause_boundaries(sentence: str, expected: list[str]) -> None:
    assert split_first_clause(sentence) == expected


def test_first_clause_minimum_lengths() -> None:
    # "Well," is too short to be a first segment of its own: the next boundary is used.
    assert split_first_clause("Well, the garage door is open, and it is raining.") == [
        "Well, the garage door is open,",
        "and it is raining.",
    ]
    # Nothing worth cutting off: kept whole.
    assert split_first_clause("Turned on the kitchen lights.") == ["Turned on the kitchen lights."]
    assert split_first_clause("The kitchen lights are on, okay?") == [
        "The kitchen lights are on, okay?"
    ]


def test_first_clause_languages() -> None:
    assert split_first_clause(
        "La luz de la cocina está encendida y la puerta está cerrada.", "es"
    ) == [
        "La luz de la cocina está encendida",
        "y la puerta está cerrada.",
    ]
    assert split_first_clause(
        "La lumière de la cuisine est allumée et la porte est fermée.", "fr"
    ) == [
        "La lumière de la cuisine est allumée",
        "et la porte est fermée.",
    ]
    # Conjunctions are per language: English "and" does not cut Italian text.
    italian = "Il cane and il gatto dormono sul divano tutto il giorno."
    assert split_first_clause(italian, "it") == [italian]
    # Punctuation cuts in any language, Chinese commas included.
    assert (
        split_first_clause("今天天气很好，我们去公园散步吧，好不好呀朋友们。", "", 4, 4)[0]
        == "今天天气很好，"
    )


def test_segment_plan_grows_after_the_first_clause() -> None:
    planner = SegmentPlanner("en")
    sentences = [
        "Good evening, the house is ready for the night.",
        "All lights are off.",
        "The doors are locked.",
        "The alarm is armed.",
        "The heating is set to nineteen degrees.",
        "Tomorrow will be sunny.",
    ]
    segments = planner.plan(sentences)
    assert segments[0] == "Good evening,"  # the first clause alone: the fastest first audio
    assert " ".join(segments) == " ".join(sentences)
    lengths = [len(s) for s in segments]
    assert lengths[1] <= 80 < sum(lengths[1:3])  # the second group fits the floor budget
    assert all(length <= 150 for length in lengths)


def test_segment_plan_for_a_stream_joins_only_what_is_there() -> None:
    planner = SegmentPlanner("en")
    assert planner.plan(["Hello there."]) == ["Hello there."]
    assert planner.plan(["How are you?"]) == ["How are you?"]  # never waits for more text
    assert planner.plan(["Fine.", "Thanks."]) == ["Fine. Thanks."]


def key(name: str) -> PhraseKey:
    return PhraseKey(name, "af_heart", 1.0, "model")


def test_phrase_cache_hits_and_its_memory_bound() -> None:
    cache = PhraseCache(max_bytes=3 * 4000)  # three 1000-sample clips
    for name in "abc":
        cache.put(key(name), np.full(1000, ord(name), dtype=np.float32))
    assert cache.get(key("a")) is not None  # "a" is now the most recently used
    cache.put(key("d"), np.zeros(1000, dtype=np.float32))
    assert cache.get(key("b")) is None  # the least recently used went
    assert [cache.get(key(n)) is not None for n in "acd"] == [True, True, True]
    assert cache.size_bytes <= cache.max_bytes and len(cache) == 3
    cache.put(key("huge"), np.zeros(10_000, dtype=np.float32))  # larger than the bound
    assert cache.get(key("huge")) is None and len(cache) == 3
    assert cache.hits == 4 and cache.misses == 2
    hit = cache.get(key("a"))
    assert hit is not None and not hit.flags.writeable


async def test_first_segment_policy_runs_first_segments_before_later_ones() -> None:
    scheduler = InferenceScheduler(policy=FIRST_SEGMENT_POLICY)
    gate = threading.Event()
    order: list[str] = []

    def job(name: str) -> str:
        if name == "busy":
            gate.wait(5)
        order.append(name)
        return name

    busy = scheduler.submit(False, job, "busy")  # a long paragraph holds the engine
    await asyncio.sleep(0.05)
    later = [scheduler.submit(False, job, f"paragraph-{i}") for i in range(3)]
    cancelled = scheduler.submit(True, job, "gone")
    cancelled.cancel()  # its client hung up
    first = [scheduler.submit(True, job, f"short-{i}") for i in range(2)]
    gate.set()
    results = await asyncio.gather(busy, *later, *first)
    assert order == ["busy", "short-0", "short-1", "paragraph-0", "paragraph-1", "paragraph-2"]
    assert results[0] == "busy"
    scheduler.close()


async def test_scheduler_delivers_errors() -> None:
    scheduler = InferenceScheduler()

    def broken() -> None:
        raise RuntimeError("inference failed")

    with pytest.raises(RuntimeError, match="inference failed"):
        await scheduler.submit(True, broken)
    scheduler.close()


async def test_repeated_phrase_is_answered_from_the_cache(real_assets: tuple[Path, Path]) -> None:
    model = KokoroModel(real_assets[0], model_digest="test")
    speaker = Speaker(model, VoiceCatalogue.from_file(real_assets[1]), Phonemizer(), "af_heart")
    voice = choose_voice(speaker.catalogue, "af_heart", "af_heart", None)
    text = "Turned on the kitchen lights."
    first = RequestStats(mode="oneshot", voice="af_heart", language="en_US", provider="")
    audio1 = await speak_text(speaker, text, voice, 1.0, first)
    again = RequestStats(mode="oneshot", voice="af_heart", language="en_US", provider="")
    audio2 = await speak_text(speaker, text, voice, 1.0, again)
    assert first.cache_hits == 0 and first.segments >= 1
    assert again.cache_hits == again.segments == first.segments
    assert again.providers == {} and again.provider == "cache"  # no inference at all
    assert np.array_equal(audio1, audio2)
    other = RequestStats(mode="oneshot", voice="af_bella", language="en_US", provider="")
    bella = choose_voice(speaker.catalogue, "af_heart", "af_bella", None)
    await speak_text(speaker, text, bella, 1.0, other)
    assert other.cache_hits == 0  # the voice is part of the key
    speaker.close()


FIXTURE = [
    {
        "time": "2026-11-20T10:00:00+00:00",
        "voice": "af_heart",
        "provider": "CPUExecutionProvider",
        "mode": "oneshot",
        "first_audio_ms": 400.0,
        "total_ms": 900.0,
        "rtf": 0.3,
        "outcome": "ok",
    },
    {
        "time": "2026-11-21T10:00:00+00:00",
        "voice": "af_heart",
        "provider": "CPUExecutionProvider",
        "mode": "stream",
        "first_audio_ms": 600.0,
        "total_ms": 1500.0,
        "rtf": 0.5,
        "outcome": "ok",
    },
    {
        "time": "2026-11-22T10:00:00+00:00",
        "voice": "bm_george",
        "provider": "cache",
        "mode": "oneshot",
        "first_audio_ms": 5.0,
        "total_ms": 6.0,
        "rtf": None,
        "outcome": "ok",
    },
    {
        "time": "2026-11-23T10:00:00+00:00",
        "voice": "af_heart",
        "provider": "CPUExecutionProvider",
        "mode": "oneshot",
        "first_audio_ms": None,
        "total_ms": 20.0,
        "rtf": None,
        "outcome": "error",
    },
]


def write_fixture(tmp_path: Path) -> Path:
    path = tmp_path / "stats.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in FIXTURE) + "\nnot json\n")
    return path


def test_stats_summary_per_voice_provider_and_mode(tmp_path: Path) -> None:
    records = read_records(write_fixture(tmp_path))
    assert len(records) == 4
    by_voice = {row["voice"]: row for row in summarize(records, "voice")}
    heart = by_voice["af_heart"]
    assert (heart["requests"], heart["errors"]) == (3, 1)
    assert (heart["first_audio_ms_p50"], heart["first_audio_ms_p95"]) == (400.0, 600.0)
    assert (heart["rtf_p50"], heart["rtf_p95"]) == (0.3, 0.5)
    assert by_voice["bm_george"]["rtf_p50"] is None
    modes = {row["mode"]: row["requests"] for row in summarize(records, "mode")}
    assert modes == {"oneshot": 3, "stream": 1}
    since = read_records(write_fixture(tmp_path), parse_since("2026-11-21T12:00"))
    assert [r["voice"] for r in since] == ["bm_george", "af_heart"]


def test_stats_command_prints_tables_and_a_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "stats.png"
    assert main([str(write_fixture(tmp_path)), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "4 requests" in out
    assert "CPUExecutionProvider  3" in out and "af_heart" in out and "stream" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_parse_since_spans() -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=timezone.utc)
