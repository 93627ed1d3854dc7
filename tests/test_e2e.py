"""End to end: the real server, the real model, the wyoming client library."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from wyoming.audio import AudioChunk
from wyoming.info import Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.server import RunningServer, describe, read_reply, stats_records
from tests.stub import HA_PIECES, PARAGRAPH, home_assistant_stream
from wyoming_kokoro import __version__

pytestmark = pytest.mark.e2e


def stats_lines(server: RunningServer) -> list[dict[str, object]]:
    return stats_records(server.stats_path)


async def find_record(server: RunningServer, **match: object) -> dict[str, object]:
    """The newest stats record whose fields equal ``match`` (written just after audio-stop)."""
    for _ in range(200):
        for record in reversed(stats_lines(server)):
            if all(record.get(k) == v for k, v in match.items()):
                return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"no stats record with {match}: {stats_lines(server)[-3:]}")


async def synthesize(server: RunningServer, text: str, voice: SynthesizeVoice | None = None):  # type: ignore[no-untyped-def]
    async with server.client() as client:
        await client.write_event(Synthesize(text=text, voice=voice).event())
        return await read_reply(client)


async def test_describe_lists_every_voice(server: RunningServer) -> None:
    info: Info = await describe(server)
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.name == "kokoro"
    assert program.version == __version__
    assert program.installed and program.supports_synthesize_streaming
    assert program.attribution.name == "hexgrad"
    assert "Kokoro-82M" in program.attribution.url
    assert len(program.voices) == 54
    by_name = {v.name: v for v in program.voices}
    assert by_name["af_heart"].description == "Heart — American English, female"
    assert by_name["bm_george"].languages == ["en_GB"]
    locales = {lang for v in program.voices for lang in v.languages}
    assert locales == {
        "en_US",
        "en_GB",
        "es_ES",
        "fr_FR",
        "hi_IN",
        "it_IT",
        "ja_JP",
        "pt_BR",
        "zh_CN",
    }


async def test_one_shot_event_shape_and_format(server: RunningServer) -> None:
    reply = await synthesize(server, PARAGRAPH, SynthesizeVoice(name="am_adam"))
    assert reply.types[0] == "audio-start"
    assert reply.types[-1] == "audio-stop"
    assert reply.types.count("audio-start") == 1 and reply.types.count("audio-stop") == 1
    assert set(reply.types[1:-1]) == {"audio-chunk"}
    for event in reply.events[:-1]:
        assert (event.data["rate"], event.data["width"], event.data["channels"]) == (24000, 2, 1)
    assert 5.0 < reply.seconds < 20.0

    record = await find_record(server, voice="am_adam", characters=len(PARAGRAPH))
    assert record["mode"] == "oneshot" and record["language"] == "en_US"
    assert record["characters"] == len(PARAGRAPH)
    # Planned whole (it fits one inference); its audio still came as it was made.
    assert record["segments"] == 1 and reply.types.count("audio-chunk") > 1
    providers = record["providers"]
    assert isinstance(providers, dict)
    assert providers["CPUExecutionProvider"]["segments"] == record["segments"]
    assert isinstance(record["phonemes"], int) and record["phonemes"] > 100
    assert record["audio_seconds"] == pytest.approx(reply.seconds, abs=0.01)
    assert record["provider"] == "CPUExecutionProvider"
    assert record["outcome"] == "ok" and record["error"] is None
    for key in ("g2p_ms", "first_audio_ms", "inference_ms", "total_ms", "rtf"):
        assert isinstance(record[key], float) and record[key] > 0, key  # type: ignore[operator]
    assert record["first_audio_ms"] < record["total_ms"]  # type: ignore[operator]
    assert record["inference_ms"] <= record["total_ms"]  # type: ignore[operator]
    assert isinstance(record["request_id"], str) and isinstance(record["time"], str)


async def test_home_assistant_streaming_sequence(server: RunningServer) -> None:
    one_shot = await synthesize(server, PARAGRAPH, SynthesizeVoice(name="af_heart"))
    async with server.client() as client:
        for event in home_assistant_stream(SynthesizeVoice(name="af_heart")):
            await client.write_event(event)
        reply = await read_reply(client, last="synthesize-stopped")
    assert reply.types[0] == "audio-start"
    assert reply.types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert reply.types.count("audio-start") == 1
    assert reply.seconds == pytest.approx(one_shot.seconds, rel=0.25)  # no doubled audio
    record = await find_record(server, mode="stream", characters=len("".join(HA_PIECES)))
    assert record["outcome"] == "ok" and record["voice"] == "af_heart"


async def test_stream_speaks_a_sentence_as_soon_as_it_is_complete(server: RunningServer) -> None:
    async with server.client() as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(
            SynthesizeChunk(text="The first sentence is complete. The sec").event()
        )
        first = await client.read_event()
        chunk = await client.read_event()
        assert first is not None and first.type == "audio-start"
        # Audio arrives while the stream is still open and the second sentence unfinished.
        assert chunk is not None and AudioChunk.is_type(chunk.type)
        await client.write_event(SynthesizeChunk(text="ond one ends here.").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, last="synthesize-stopped")
    assert reply.types[-2:] == ["audio-stop", "synthesize-stopped"]


async def test_describe_is_answered_while_a_paragraph_is_synthesized(server: RunningServer) -> None:
    long_text = " ".join([PARAGRAPH] * 4)
    async with server.client() as busy:
        await busy.write_event(Synthesize(text=long_text).event())
        first, second = await busy.read_event(), await busy.read_event()
        assert first is not None and first.type == "audio-start"
        assert second is not None and second.type == "audio-chunk"
        info = await describe(server)  # a second client, mid-synthesis
        assert len(info.tts[0].voices) == 54
        rest = await read_reply(busy)
    # The paragraph was still being spoken when Describe was answered.
    assert rest.types.count("audio-chunk") > 10 and rest.types[-1] == "audio-stop"


def test_list_voices_prints_all_54(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "wyoming_kokoro", "--list-voices", "--no-download"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 54
    assert any(
        line.startswith("af_heart") and "Heart — American English, female" in line for line in lines
    )


async def test_a_run_on_sentence_far_over_510_phonemes_is_spoken_whole(
    server: RunningServer,
) -> None:
    words = "the quick brown fox jumps over the lazy dog and keeps running through the field"
    text = " ".join([words] * 20)  # one "sentence" of about 2,000 phonemes, no punctuation
    reply = await synthesize(server, text, SynthesizeVoice(name="af_sky"))
    record = await find_record(server, voice="af_sky", characters=len(text))
    assert record["outcome"] == "ok"
    assert isinstance(record["phonemes"], int) and record["phonemes"] > 1500
    assert isinstance(record["segments"], int) and record["segments"] >= 4
    assert reply.seconds > 60  # about 300 words of speech, none dropped
