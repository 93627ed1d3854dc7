"""Admission without a socket, and the issue-21 inputs through the in-process server.

Every case here once went wrong: a lone surrogate in a blend name aborted the connection
and killed the stats writer; ``"voice": null`` was ``bad-event``; an unknown voice with a
language was spoken by the server's default instead of the language's; a NaN blend
weight gave silence recorded as ``ok``; a bug in voice choice was blamed on the client.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from wyoming.event import Event
from wyoming.info import Describe

from tests.stub import stub_catalogue, stub_server, types
from wyoming_kokoro.config import WireSettings
from wyoming_kokoro.errors import ErrorCode, KokoroError, safe_text
from wyoming_kokoro.stats import RequestStats, StatsWriter
from wyoming_kokoro.wire import admission
from wyoming_kokoro.wire.admission import Admitted, Refused, ServerState, admit

STATE = ServerState(stub_catalogue(), "af_heart", WireSettings())


def synthesize(data: dict[str, object]) -> Event:
    return Event(type="synthesize", data={"text": "Hello there.", **data})


def test_voice_null_means_no_voice() -> None:
    admitted = admit("oneshot", synthesize({"voice": None}), STATE)
    assert isinstance(admitted, Admitted) and admitted.voice.name == "af_heart"
    start = admit("stream", Event(type="synthesize-start", data={"voice": None}), STATE)
    assert isinstance(start, Admitted) and start.text is None


def test_unknown_voice_with_a_language_gets_that_languages_default() -> None:
    voice = {"name": "fr_FR-siwis-medium", "language": "fr_FR"}
    admitted = admit("oneshot", synthesize({"voice": voice}), STATE)
    assert isinstance(admitted, Admitted) and admitted.voice.name == "ff_siwis"
    stream = admit("stream", Event(type="synthesize-start", data={"voice": voice}), STATE)
    assert isinstance(stream, Admitted) and stream.voice.name == "ff_siwis"


@pytest.mark.parametrize(
    "name",
    [
        "af_heart:nan+af_bella:1",
        "af_heart:inf+am_adam:1",
        "af_heart:-1+am_adam:1",
        "af_heart:1e308+am_adam:1e308",
    ],
)
def test_blend_weights_must_be_positive_and_finite(name: str) -> None:
    refused = admit("oneshot", synthesize({"voice": {"name": name}}), STATE)
    assert isinstance(refused, Refused) and refused.error.code == ErrorCode.UNKNOWN_VOICE
    assert "weight" in refused.error.text


def test_lone_surrogates_and_control_characters_are_made_safe() -> None:
    refused = admit("oneshot", synthesize({"voice": {"name": "af_heart+\ud800\x07"}}), STATE)
    assert isinstance(refused, Refused)
    for text in (refused.voice, refused.error.text):
        text.encode("utf-8")  # would raise on a lone surrogate
        assert "\x07" not in text
    assert len(safe_text("x" * 10_000)) == 200


def test_wrong_types_are_the_clients_mistake() -> None:
    cases: list[dict[str, object]] = [
        {"voice": "af_heart"},
        {"voice": {"name": 3}},
        {"text": 5},
        {"text_format": 1},
    ]
    for data in cases:
        refused = admit("oneshot", synthesize(data), STATE)
        assert isinstance(refused, Refused) and refused.error.code == ErrorCode.BAD_EVENT
    assert isinstance(admit("oneshot", Event(type="synthesize", data={}), STATE), Refused)


def test_a_bug_in_voice_choice_is_an_internal_error_with_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> object:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(admission, "choose_voice", broken)
    with caplog.at_level(logging.ERROR):
        refused = admit("oneshot", synthesize({}), STATE)
    assert isinstance(refused, Refused) and refused.error.code == ErrorCode.INTERNAL
    assert any(r.exc_info for r in caplog.records)


def test_limits_and_queue_are_decided_here() -> None:
    small = ServerState(STATE.catalogue, "af_heart", WireSettings(max_text_chars=5))
    too_long = admit("oneshot", synthesize({}), small)
    assert isinstance(too_long, Refused) and too_long.error.code == ErrorCode.TEXT_TOO_LONG
    full = ServerState(STATE.catalogue, "af_heart", WireSettings(), admission.MAX_QUEUED_REQUESTS)
    busy = admit("oneshot", synthesize({}), full)
    assert isinstance(busy, Refused) and busy.error.code == ErrorCode.BUSY


def test_error_codes_map_to_http_statuses() -> None:
    assert {code.http_status // 100 for code in ErrorCode} <= {4, 5}
    assert ErrorCode.INTERNAL.http_status == 500 and ErrorCode.BUSY.http_status == 429
    assert KokoroError("x", "busy").code is ErrorCode.BUSY and ErrorCode.BUSY == "busy"
    with pytest.raises(ValueError):
        KokoroError("x", "no-such-code")


def test_the_stats_writer_survives_any_record(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    writer = StatsWriter(path)
    writer.write(RequestStats(mode="oneshot", voice="af_heart+\ud800", language="", provider=""))
    writer.write(RequestStats(mode="oneshot", voice="af_heart", language="", provider=""))
    for _ in range(200):
        if path.exists() and len(path.read_text().splitlines()) == 2:
            break
        time.sleep(0.01)
    writer.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["voice"] for r in records] == ["af_heart+\ud800", "af_heart"]


async def test_a_lone_surrogate_blend_gets_its_answer_and_the_next_request_too() -> None:
    async with stub_server() as server:
        client = await server.connect()
        voice = b'{"name": "af_heart+\\ud800"}'  # legal JSON, a lone surrogate in Python
        raw = b'{"type": "synthesize", "data": {"text": "Hi.", "voice": ' + voice + b"}}\n"
        client.writer.write(raw)
        events = await client.read_until("audio-stop")
        assert types(events) == ["audio-start", "error", "audio-stop"]
        await client.send(Describe().event())
        assert (await client.read()).type == "info"  # type: ignore[union-attr]
        await client.send(Event(type="synthesize", data={"text": "Hi.", "voice": None}))
        assert "audio-chunk" in types(await client.read_until("audio-stop"))
        assert len(server.stats.records) == 2
        assert [r.outcome for r in server.stats.records] == ["error", "ok"]


async def test_unknown_voice_with_language_through_the_wire() -> None:
    async with stub_server() as server:
        client = await server.connect()
        voice = {"name": "fr_FR-siwis-medium", "language": "fr_FR"}
        await client.send(Event(type="synthesize", data={"text": "Bonjour.", "voice": voice}))
        await client.read_until("audio-stop")
        assert (await server.record(outcome="ok")).voice == "ff_siwis"


async def test_voice_null_and_a_nan_blend_through_the_wire() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(Event(type="synthesize", data={"text": "Hi.", "voice": None}))
        assert "error" not in types(await client.read_until("audio-stop"))
        nan = {"name": "af_heart:nan+am_adam:1"}
        await client.send(Event(type="synthesize", data={"text": "Hi.", "voice": nan}))
        answer = await client.read_until("audio-stop")
        assert types(answer) == ["audio-start", "error", "audio-stop"]
        assert [r.outcome for r in server.stats.records] == ["ok", "error"]
