"""Voice blending: named custom voices from the configuration and ad-hoc blends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.server import describe, read_reply, start_server
from wyoming_kokoro.engine.voices import UnknownVoiceError, VoiceCatalogue, parse_blend


def catalogue() -> VoiceCatalogue:
    tables = {
        "af_heart": np.full((510, 256), 1.0, dtype=np.float32),
        "af_bella": np.full((510, 256), 3.0, dtype=np.float32),
        "am_adam": np.full((510, 256), 5.0, dtype=np.float32),
    }
    return VoiceCatalogue(tables)


def test_parse_blend() -> None:
    assert parse_blend("af_heart") is None
    assert parse_blend("en_US-amy-medium") is None
    assert parse_blend("af_heart+af_bella") == {"af_heart": 1.0, "af_bella": 1.0}
    assert parse_blend("af_heart:70+am_adam:30") == {"af_heart": 70.0, "am_adam": 30.0}
    for bad in ("af_heart:x+am_adam", "af_heart:0+am_adam", "+am_adam"):
        with pytest.raises(UnknownVoiceError):
            parse_blend(bad)


def test_blend_is_the_weighted_mean_of_the_style_tables() -> None:
    voices = catalogue()
    info = voices.resolve("af_heart:3+af_bella:1")
    assert info is not None and info.locale == "en_US" and info.lang_code == "a"
    assert np.allclose(voices.style(info.name, 10), 0.75 * 1.0 + 0.25 * 3.0)
    equal = voices.resolve("af_bella+am_adam")
    assert equal is not None and np.allclose(voices.style(equal.name, 10), 4.0)
    assert "af_bella 50%" in equal.description


def test_custom_voice_is_listed_and_a_missing_voice_is_named() -> None:
    voices = catalogue()
    voices.add_custom("cozy", {"af_heart": 0.7, "af_bella": 0.3}, 1.1, "Cozy — warm")
    assert "cozy" in voices and voices.info("cozy").speed == 1.1
    assert [v.name for v in voices.voices][-1] == "cozy"
    assert voices.info("cozy").description == "Cozy — warm"
    with pytest.raises(UnknownVoiceError, match="af_nobody"):
        voices.add_custom("odd", {"af_heart": 1, "af_nobody": 1}, None, None)
    with pytest.raises(UnknownVoiceError, match="af_nobody"):
        voices.resolve("af_heart+af_nobody")


def test_ad_hoc_blends_are_bounded() -> None:
    voices = catalogue()
    for i in range(1, VoiceCatalogue.MAX_AD_HOC_BLENDS + 10):
        assert voices.resolve(f"af_heart:{i}+am_adam:1") is not None
    assert len(voices._ad_hoc) == VoiceCatalogue.MAX_AD_HOC_BLENDS
    assert len(voices) == 3  # ad-hoc blends are not listed as voices


COZY = "{cozy: {af_heart: 0.7, af_bella: 0.3, speed: 1.2, description: Cozy}}"


@pytest.mark.e2e
def test_blends_end_to_end(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--custom-voices", COZY)

    async def scenario() -> None:
        info = await describe(server)
        voices = {v.name: v for v in info.tts[0].voices}
        assert len(voices) == 55 and voices["cozy"].description == "Cozy"
        assert voices["cozy"].languages == ["en_US"]
        for voice in ("cozy", "af_heart:70+am_adam:30"):
            async with server.client() as client:
                await client.write_event(
                    Synthesize(text="Blended voices work.", voice=SynthesizeVoice(voice)).event()
                )
                reply = await read_reply(client)
            assert reply.seconds > 0.5 and "error" not in reply.types
        async with server.client() as client:
            bad = SynthesizeVoice("af_heart+af_nobody")
            await client.write_event(Synthesize(text="Hello.", voice=bad).event())
            reply = await read_reply(client)  # refused, and still ended on the wire
            assert reply.types == ["audio-start", "error", "audio-stop"]
            event = reply.events[1]
            assert "af_nobody" in event.data["text"] and event.data["code"] == "unknown-voice"

    try:
        asyncio.run(scenario())
        for _ in range(100):  # each record is written just after its answer
            lines = server.stats_path.read_text().splitlines()
            if len(lines) >= 3:
                break
            time.sleep(0.05)
        records = [json.loads(line) for line in lines]
        assert [(r["voice"], r["outcome"]) for r in records] == [
            ("cozy", "ok"),
            ("af_heart:70+am_adam:30", "ok"),
            ("af_heart+af_nobody", "error"),
        ]
    finally:
        server.stop()


@pytest.mark.e2e
def test_custom_voice_naming_a_missing_voice_stops_start_up() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wyoming_kokoro",
            "--no-download",
            "--stats-file",
            "none",
            "--uri",
            "tcp://127.0.0.1:0",
            "--custom-voices",
            "{odd: {af_heart: 1, af_nobody: 1}}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "custom_voices" in result.stderr and "af_nobody" in result.stderr
