"""Requests through the real server, handler and pipeline with a stub model (in-process).

Home Assistant's exact sequences, and the rule that every request ends on the wire: a
one-shot with ``audio-stop`` after ``audio-start``, a stream with ``synthesize-stopped``,
whatever went wrong (HA ignores ``error`` events and waits for those).
"""

from __future__ import annotations

import asyncio
import contextlib

from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.stub import (
    PARAGRAPH,
    SAMPLES_PER_PHONEME,
    UNTOUCHED,
    RecordingWriter,
    StubModel,
    StubPhonemizer,
    audio_bytes,
    home_assistant_stream,
    stub_catalogue,
    stub_server,
    types,
)
from wyoming_kokoro.audio import SAMPLE_RATE, pause_after
from wyoming_kokoro.config import WireSettings
from wyoming_kokoro.request import SpeechAudio, SpeechRequest
from wyoming_kokoro.speech import Speaker, SpeakerHandle, choose_voice
from wyoming_kokoro.stats import RequestStats
from wyoming_kokoro.text.segment import Ending

ANSWER = 1.0  # seconds: a request's ending comes at once, never after a timeout


def errors(events: list[Event]) -> list[Error]:
    return [Error.from_event(e) for e in events if Error.is_type(e.type)]


async def test_home_assistant_one_shot() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(Synthesize(text=PARAGRAPH, voice=SynthesizeVoice("am_adam")).event())
        events = await client.read_until("audio-stop")
        assert types(events)[0] == "audio-start" and set(types(events)[1:-1]) == {"audio-chunk"}
        record = await server.record(voice="am_adam")
        assert record.outcome == "ok" and record.mode == "oneshot"
        assert record.characters == len(PARAGRAPH) and record.segments >= 2  # first clause alone
        # The stub's audio follows from the phonemes: nothing lost, nothing doubled.
        assert audio_bytes(events) == record.phonemes * SAMPLES_PER_PHONEME * 2
        assert record.audio_seconds == audio_bytes(events) / 48000


async def test_home_assistant_stream_with_compatibility_synthesize() -> None:
    async with stub_server() as server:
        client = await server.connect()
        voice = SynthesizeVoice("af_heart")
        await client.send(*home_assistant_stream(voice))
        events = await client.read_until("synthesize-stopped")
        assert types(events)[0] == "audio-start"
        assert types(events)[-2:] == ["audio-stop", "synthesize-stopped"]
        assert types(events).count("audio-start") == 1
        record = await server.record(mode="stream")
        assert record.outcome == "ok" and record.characters == len(PARAGRAPH)
        assert audio_bytes(events) == record.phonemes * SAMPLES_PER_PHONEME * 2
        client2 = await server.connect()
        await client2.send(Synthesize(text=PARAGRAPH, voice=voice).event())
        one_shot = await client2.read_until("audio-stop")
        assert audio_bytes(one_shot) == audio_bytes(events)  # the compat text is not spoken


async def test_stream_speaks_a_sentence_before_the_stream_ends() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(
            SynthesizeStart().event(),
            SynthesizeChunk(text="The first sentence is complete. The sec").event(),
        )
        first, chunk = await client.read(), await client.read()
        assert first is not None and first.type == "audio-start"
        assert chunk is not None and chunk.type == "audio-chunk"
        await client.send(SynthesizeChunk(text="ond one.").event(), SynthesizeStop().event())
        assert types(await client.read_until("synthesize-stopped"))[-2] == "audio-stop"


async def test_rejected_voice_one_shot_ends_with_audio_stop() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(
            Synthesize(text="Hi.", voice=SynthesizeVoice("af_heart+af_nobody")).event()
        )
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop"]
        assert errors(events)[0].code == "unknown-voice" and "af_nobody" in errors(events)[0].text
        record = await server.record(voice="af_heart+af_nobody")
        assert record.outcome == "error" and "af_nobody" in str(record.error)


async def test_rejected_voice_stream_ends_with_synthesize_stopped() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(*home_assistant_stream(SynthesizeVoice("af_heart+af_nobody")))
        events = await client.read_until("synthesize-stopped", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop", "synthesize-stopped"]
        assert (await server.record(mode="stream")).outcome == "error"


async def test_malformed_requests_end_on_the_wire() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(Synthesize(text="x").event())
        await client.read_until("audio-stop")
        bad_voice = Synthesize(text="Hello.").event()
        bad_voice.data["voice"] = "af_heart"
        await client.send(bad_voice)
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop"]
        assert errors(events)[0].code == "bad-event"
        start = SynthesizeStart().event()
        start.data["voice"] = 7
        await client.send(start, SynthesizeChunk(text="Hi").event(), SynthesizeStop().event())
        events = await client.read_until("synthesize-stopped", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop", "synthesize-stopped"]
        # A chunk whose text is not text fails its stream, which still ends at its stop.
        chunk = SynthesizeChunk(text="").event()
        chunk.data["text"] = 42
        await client.send(SynthesizeStart().event(), chunk, SynthesizeStop().event())
        events = await client.read_until("synthesize-stopped", timeout=ANSWER)
        assert "error" in types(events) and types(events)[-2] == "audio-stop"


async def test_limits_refuse_the_request_and_the_connection_goes_on() -> None:
    wire = WireSettings(max_text_chars=100, max_stream_chars=200)
    async with stub_server(wire=wire) as server:
        client = await server.connect()
        await client.send(Synthesize(text="word " * 30).event())
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop"]
        assert errors(events)[0].code == "text-too-long"
        await client.send(SynthesizeStart().event())
        for _ in range(15):  # 255 characters
            await client.send(SynthesizeChunk(text="Some more words. ").event())
        await client.send(SynthesizeStop().event())
        events = await client.read_until("synthesize-stopped", timeout=ANSWER)
        assert errors(events)[0].code == "text-too-long"
        assert types(events)[-2:] == ["audio-stop", "synthesize-stopped"]
        await client.send(Describe().event())
        info = await client.read()
        assert info is not None and info.type == "info"


async def test_failed_synthesis_ends_on_the_wire() -> None:
    async with stub_server() as server:
        client = await server.connect()
        # Japanese is "not installed" in the stub: G2P fails.
        await client.send(Synthesize(text="Konnichiwa.", voice=SynthesizeVoice("jf_alpha")).event())
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop"]
        assert "not installed" in errors(events)[0].text
        await client.send(SynthesizeStart(voice=SynthesizeVoice("jf_alpha")).event())
        await client.send(SynthesizeChunk(text="Konnichiwa. Ohayo").event())
        await client.send(SynthesizeStop().event())
        events = await client.read_until("synthesize-stopped", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop", "synthesize-stopped"]
        # Inference that fails in the middle of a request.
        server.model.fail_on = "breeze"
        await client.send(Synthesize(text=PARAGRAPH).event())
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events)[0] == "audio-start" and "audio-chunk" in types(events)
        assert types(events)[-2:] == ["error", "audio-stop"]
        assert errors(events)[0].code == "synthesis-failed"
        outcomes = sorted(r.outcome for r in server.stats.records)
        assert outcomes == ["error", "error", "error"]


async def test_a_model_that_failed_to_load_ends_every_request() -> None:
    async with stub_server(loaded=False) as server:
        client = await server.connect()
        await client.send(Synthesize(text="Hello.").event())
        await asyncio.sleep(0.1)  # waiting for the model
        server.handle.fail(RuntimeError("no model file"))
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events) == ["audio-start", "error", "audio-stop"]
        assert "no model file" in errors(events)[0].text


async def test_orphan_stream_events_get_an_error_and_the_connection_survives() -> None:
    async with stub_server() as server:
        client = await server.connect()
        await client.send(SynthesizeChunk(text="orphan").event())
        assert (await client.read()).data["code"] == "no-stream"  # type: ignore[union-attr]
        await client.send(SynthesizeStop().event())
        assert (await client.read()).data["code"] == "no-stream"  # type: ignore[union-attr]
        await client.send(Describe().event())
        assert (await client.read()).type == "info"  # type: ignore[union-attr]


async def test_the_ninth_pipelined_request_is_refused_alone() -> None:
    async with stub_server(delay=0.02) as server:
        client = await server.connect()
        voices = ["af_heart", "am_adam", "bf_emma", "ff_siwis"] * 2 + ["ef_dora"]
        for voice in voices:
            await client.send(
                Synthesize(text="One short sentence.", voice=SynthesizeVoice(voice)).event()
            )
        answers = [await client.read_until("audio-stop", timeout=5) for _ in voices]
        for events in answers[:8]:
            assert "error" not in types(events) and audio_bytes(events) > 0
        assert types(answers[8]) == ["audio-start", "error", "audio-stop"]
        assert errors(answers[8])[0].code == "busy"
        assert [r.outcome for r in server.stats.records].count("ok") == 8
        # The connection goes on.
        await client.send(Synthesize(text="Still here.").event())
        assert audio_bytes(await client.read_until("audio-stop")) > 0


async def test_voice_selection_by_name_language_or_default() -> None:
    cases = [
        (SynthesizeVoice(language="en_GB"), "bf_emma", "en_GB"),
        (SynthesizeVoice(name="en_US-amy-medium"), "af_heart", "en_US"),  # another server's
        (SynthesizeVoice(language="es"), "ef_dora", "es_ES"),
        (SynthesizeVoice(name="im_nicola"), "im_nicola", "it_IT"),
        (SynthesizeVoice(name="af_heart:70+am_adam:30"), "af_heart:70+am_adam:30", "en_US"),
    ]
    async with stub_server() as server:
        client = await server.connect()
        for voice, expected, locale in cases:
            await client.send(Synthesize(text="Hello there.", voice=voice).event())
            assert audio_bytes(await client.read_until("audio-stop")) > 0
            record = await server.record(voice=expected)
            assert (record.language, record.outcome) == (locale, "ok")


async def test_empty_text_gives_start_and_stop_only() -> None:
    async with stub_server() as server:
        client = await server.connect()
        for text in ("", "   \n ", "\u00a0\t"):
            await client.send(Synthesize(text=text).event())
            assert types(await client.read_until("audio-stop")) == ["audio-start", "audio-stop"]
        await client.send(SynthesizeStart().event(), SynthesizeStop().event())
        events = await client.read_until("synthesize-stopped")
        assert types(events) == ["audio-start", "audio-stop", "synthesize-stopped"]
        assert [r.outcome for r in server.stats.records] == ["ok"] * 4


async def request_audio(text: str, ssml: bool = False) -> list[SpeechAudio]:
    """One request through the pipeline alone (no connection)."""
    catalogue = stub_catalogue()
    speaker = Speaker(StubModel(), catalogue, StubPhonemizer(), "af_heart", audio=UNTOUCHED)
    handle = SpeakerHandle(catalogue, "af_heart")
    handle.set(speaker)
    stats = RequestStats(mode="oneshot", voice="af_heart", language="en_US", provider="")
    voice = choose_voice(catalogue, "af_heart", "af_heart", None)
    request = SpeechRequest(handle, voice, 1.0, stats, RecordingWriter(), ssml)
    request.feed(text)
    request.close()
    try:
        async with contextlib.aclosing(request.audio()) as audio:
            return [piece async for piece in audio]
    finally:
        speaker.close()


async def test_each_segments_audio_says_what_ended_it() -> None:
    """The audio stage gets, with each segment's audio, what ended its text (for pauses).

    The pauses here are set (to nothing), so each sentence is a segment of its own."""
    pieces = await request_audio("Good evening, the house is ready.\n\nAll lights are off. Bye")
    endings = [Ending.CLAUSE, Ending.PARAGRAPH, Ending.SENTENCE, Ending.SENTENCE]
    assert [p.ending for p in pieces] == endings
    assert [p.segment.text for p in pieces if p.segment] == [
        "Good evening,",
        "the house is ready.",
        "All lights are off.",
        "Bye",
    ]
    ssml = '<speak>Hello there. <break time="500ms"/> Bye.</speak>'
    pieces = await request_audio(ssml, ssml=True)
    assert [p.ending for p in pieces] == [Ending.SENTENCE, Ending.BREAK, Ending.SENTENCE]
    # the break is owed to the next speech, half a second between the speech on either side
    # (the trimming margins count: here, around the stub's audio, they are not silent)
    pause = round(pause_after(0.5) * SAMPLE_RATE)
    assert len(pieces[1].samples) == 0
    assert not pieces[2].samples[:pause].any() and pieces[2].samples[pause] != 0


async def test_a_paragraph_with_nothing_to_say_is_skipped() -> None:
    """ "##", "$" or "..." alone (markdown, a stray mark) is no speech: the rest of the
    reply is spoken, with no error, and a mark alone is no audio at all (not a mumble)."""
    plain = "The lights are off.\n\nThe door is locked."
    marked = "The lights are off.\n\n##\n\n$\n\nThe door is locked.\n\n..."
    async with stub_server() as server:
        spoken = []
        for text in (plain, marked):
            client = await server.connect()
            await client.send(Synthesize(text=text).event())
            events = await client.read_until("audio-stop")
            assert errors(events) == [] and audio_bytes(events) > 0
            record = await server.record(characters=len(text))
            assert record.outcome == "ok"
            spoken.append(record.phonemes)
            client = await server.connect()  # the same text streamed in words
            await client.send(
                SynthesizeStart().event(),
                *(SynthesizeChunk(text=word + " ").event() for word in text.split(" ")),
                SynthesizeStop().event(),
            )
            events = await client.read_until("synthesize-stopped")
            assert errors(events) == [] and audio_bytes(events) > 0
        assert spoken[0] == spoken[1]
        for text in ("##", ".", "...!", "$"):
            client = await server.connect()
            await client.send(Synthesize(text=text).event())
            events = await client.read_until("audio-stop")
            assert types(events) == ["audio-start", "audio-stop"], text
