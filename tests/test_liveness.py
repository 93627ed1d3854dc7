"""A request keeps moving: the stall bound, the settling of paused text, the keep-alive.

Fast layer: the stub model and phonemizer, real sockets. The stall tests hang the
stub's own work (its inference gate, its G2P), so what they check is the bound itself.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.stub import Client, StubServer, audio_bytes, stub_server, types
from wyoming_kokoro.audio import SAMPLE_RATE, pause_after
from wyoming_kokoro.errors import ErrorCode
from wyoming_kokoro.liveness import Liveness, StallClock
from wyoming_kokoro.shaping import AudioSettings

STALLED = ErrorCode.STALLED.value

QUICK_STALL = Liveness(stall_timeout=0.3)


def _error(events: list[Event]) -> Event:
    errors = [e for e in events if e.type == "error"]
    assert len(errors) == 1, types(events)
    return errors[0]


async def test_a_hung_inference_ends_with_an_error_and_audio_stop() -> None:
    async with stub_server(liveness=QUICK_STALL) as server:
        server.model.gate.clear()  # the inference hangs
        client = await server.connect()
        await client.send(Synthesize(text="Turn on the lights.").event())
        events = await client.read_until("audio-stop", timeout=10)
        assert _error(events).data["code"] == STALLED
        assert types(events)[-2:] == ["error", "audio-stop"]
        record = await server.record(mode="oneshot")
        assert record.outcome == "error" and record.error is not None
        assert "no progress" in record.error and "inference" in record.error
        server.model.gate.set()
        # The connection and the engine go on.
        await client.send(Synthesize(text="Again.").event())
        again = await client.read_until("audio-stop", timeout=10)
        assert "error" not in types(again) and audio_bytes(again) > 0


async def test_a_hung_g2p_ends_with_an_error_and_its_record_says_so() -> None:
    async with stub_server(liveness=QUICK_STALL) as server:
        release = threading.Event()
        phonemize = server.phonemizer.phonemize

        def hanging(text: str, code: str) -> str:
            release.wait(10)
            return phonemize(text, code)

        server.phonemizer.phonemize = hanging  # type: ignore[method-assign]
        client = await server.connect()
        try:
            await client.send(Synthesize(text="Turn on the lights.").event())
            events = await client.read_until("audio-stop", timeout=10)
            assert _error(events).data["code"] == STALLED
            record = await server.record(mode="oneshot")
            assert record.outcome == "error" and "G2P" in (record.error or "")
        finally:
            release.set()


async def test_a_model_that_never_loads_ends_the_request() -> None:
    async with stub_server(liveness=QUICK_STALL, loaded=False) as server:
        client = await server.connect()
        await client.send(Synthesize(text="Turn on the lights.").event())
        events = await client.read_until("audio-stop", timeout=10)
        assert _error(events).data["code"] == STALLED
        record = await server.record(mode="oneshot")
        assert "waiting for the model" in (record.error or "")


async def test_a_stream_waiting_for_its_text_is_not_stalled() -> None:
    async with stub_server(liveness=QUICK_STALL) as server:
        client = await server.connect()
        await client.send(SynthesizeStart().event(), SynthesizeChunk(text="Hello there. ").event())
        await asyncio.sleep(1.0)  # the client's turn, over three stall bounds
        await client.send(SynthesizeChunk(text="More.").event(), SynthesizeStop().event())
        events = await client.read_until("synthesize-stopped", timeout=10)
        assert "error" not in types(events)
        assert (await server.record(mode="stream")).outcome == "ok"


async def _read_for(client: Client, seconds: float) -> list[Event]:
    """Every event that arrives within ``seconds``."""
    events: list[Event] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            event = await client.read(timeout=left)
        except asyncio.TimeoutError:
            break
        assert event is not None
        events.append(event)
    return events


def _samples(events: list[Event]) -> np.ndarray:
    pcm = b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")
    return np.frombuffer(pcm, dtype=np.int16)


async def _paused_stream(
    server: StubServer, first: str, gap: float
) -> tuple[list[Event], list[Event]]:
    """A stream whose text pauses ``gap`` seconds after ``first``: the events during the
    pause, and the rest of the answer."""
    client = await server.connect()
    await client.send(SynthesizeStart().event(), SynthesizeChunk(text=first).event())
    during = await _read_for(client, gap)
    await client.send(SynthesizeChunk(text=" All done.").event(), SynthesizeStop().event())
    after = await client.read_until("synthesize-stopped", timeout=10)
    return during, after


async def test_a_six_second_pause_in_a_stream_is_filled_with_silence() -> None:
    async with stub_server() as server:  # the defaults: keep-alive on
        during, after = await _paused_stream(server, "Turn on the kitchen lights.", 6.0)
        record = await server.record(mode="stream")
    speech = _samples(during)
    # The first sentence ends at its full stop: spoken during the pause, not held.
    assert np.count_nonzero(speech) > 0
    # Then silence kept coming while the text paused, and the record counts it (a chunk
    # may go out just after the window read here, before the rest of the text arrives).
    assert record.keepalive_s >= 2.0
    assert np.count_nonzero(speech == 0) >= round((record.keepalive_s - 0.3) * SAMPLE_RATE)
    everything = np.concatenate((speech, _samples(after)))
    assert np.count_nonzero(everything == 0) == round(record.keepalive_s * SAMPLE_RATE)
    assert np.count_nonzero(_samples(after)) > 0 and "error" not in types(after)
    assert record.outcome == "ok" and types(after)[-2:] == ["audio-stop", "synthesize-stopped"]


async def test_without_the_keep_alive_a_pause_sends_nothing_but_the_settled_text() -> None:
    async with stub_server(liveness=Liveness(stream_keepalive=False)) as server:
        during, after = await _paused_stream(server, "Turn on the kitchen lights.", 1.5)
        record = await server.record(mode="stream")
    speech = _samples(during)
    assert np.count_nonzero(speech) > 0 and np.count_nonzero(speech == 0) == 0
    assert record.keepalive_s == 0 and record.outcome == "ok"


async def test_paused_text_without_punctuation_waits_for_more() -> None:
    async with stub_server() as server:
        during, after = await _paused_stream(server, "Turn on the", 1.0)
        record = await server.record(mode="stream")
    assert audio_bytes(during) == 0  # no words cut off mid-sentence, no silence before speech
    assert audio_bytes(after) > 0 and record.keepalive_s == 0


async def test_a_stream_whose_inference_hangs_gets_silence_then_stalls() -> None:
    async with stub_server(liveness=Liveness(stall_timeout=1.0)) as server:
        client = await server.connect()
        await client.send(SynthesizeStart().event(), SynthesizeChunk(text="Lights on. ").event())
        first = await client.read_until("audio-chunk", timeout=10)
        server.model.gate.clear()  # the next segment's inference hangs
        try:
            await client.send(
                SynthesizeChunk(text="And the rest.").event(), SynthesizeStop().event()
            )
            rest = await client.read_until("synthesize-stopped", timeout=10)
        finally:
            server.model.gate.set()
        record = await server.record(mode="stream")
    assert _error(rest).data["code"] == STALLED
    assert np.count_nonzero(_samples(first + rest) == 0) > 0  # the player was kept fed
    assert record.outcome == "error" and record.keepalive_s > 0


def test_the_stall_clock_waits_for_the_audio_in_hand_to_play_out() -> None:
    now = [100.0]
    stall = StallClock(30.0, clock=lambda: now[0])
    stall.progress(audio_until=120.0)  # 20 s of audio in hand: the scheduler may defer it
    now[0] = 140.0
    assert stall.remaining() == 10.0
    stall.progress()  # a progress without audio never moves the start back
    assert stall.remaining() == 30.0
    now[0] = 175.0
    assert stall.remaining() == -5.0
    assert StallClock(0.0).remaining() is None  # 0: no bound


def test_a_request_waiting_its_turn_is_not_stalled_while_the_engine_moves() -> None:
    now = [100.0]
    engine = [100.0]
    stall = StallClock(30.0, clock=lambda: now[0])
    stall.engine_progress = lambda: engine[0]
    now[0] = 125.0
    engine[0] = 124.0  # others' jobs run meanwhile
    now[0] = 150.0
    remaining = stall.remaining()
    assert remaining is not None and remaining > 0
    now[0] = 155.0  # the engine has not moved for 31 s: a hang, whoever's job it is
    remaining = stall.remaining()
    assert remaining is not None and remaining < 0


async def test_silence_sent_while_a_stream_waits_counts_toward_the_pause() -> None:
    # The listener hears the longer of the keep-alive and the sentence pause, not both:
    # what is still owed after k seconds of keep-alive is the rest of the pause.
    pause = 0.6
    settings = AudioSettings(sentence_silence=pause, loudness_lufs=None, tail_silence=0.0)
    for wait in (1.5, 0.0):
        async with stub_server(audio=settings) as server:
            during, after = await _paused_stream(server, "Turn on the kitchen lights.", wait)
            record = await server.record(mode="stream")
        audio = np.concatenate((_samples(during), _samples(after)))
        gap = int((np.diff(np.flatnonzero(audio)) - 1).max()) / SAMPLE_RATE  # between the two
        sent = record.keepalive_s
        if wait:
            assert sent >= 0.5  # longer than the pause: nothing is owed after it
        # (the stub's audio has no margins of its own, so a set pause is that much shorter)
        assert gap == pytest.approx(sent + pause_after(max(0.0, pause - sent)), abs=0.01)
