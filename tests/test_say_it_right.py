"""Say it right, through the real server: normalized text heard back by ASR, SSML's
effects on the audio, every Kokoro language, malformed SSML still spoken."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from num2words import num2words
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.normalize_table import TABLE
from tests.server import Reply, RunningServer, read_reply
from tests.test_asr import transcribe, whisper, word_errors  # noqa: F401 (fixture)
from tests.test_e2e import find_record, stats_lines

pytestmark = pytest.mark.e2e


# -- ASR round trip over the normalizer table ---------------------------------------


def _number_words(text: str) -> str:
    whole, _, fraction = text.replace(",", "").partition(".")
    words = str(num2words(int(whole))).replace(" and ", " ")
    if fraction:
        words += " point " + " ".join(str(num2words(int(d))) for d in fraction)
    return words


def canonical(text: str) -> list[str]:
    """How whisper writes what it hears, and the table's words, in one form.

    Whisper writes digits and symbols ("21.5°C", "$4.50", "6.30 a.m."); this turns them
    into words with num2words (independently of the server's normalizer) so that the
    comparison is about words heard, not formatting.
    """
    text = text.lower()
    text = re.sub(r"\ba\.?\s?m\b\.?", "am", text)
    text = re.sub(r"\bp\.?\s?m\b\.?", "pm", text)
    text = re.sub(
        r"\$(\d+)\.(\d\d)\b",
        lambda m: f"{_number_words(m.group(1))} dollars and {_number_words(m.group(2))} cents",
        text,
    )
    text = re.sub(r"\$(\d[\d,.]*)", lambda m: f"{m.group(1)} dollars", text)
    text = re.sub(
        r"\b(\d{1,2})[:.](\d\d)\s?(am|pm)\b",
        lambda m: f"{_number_words(m.group(1))} {_number_words(m.group(2))} {m.group(3)}",
        text,
    )
    text = re.sub(
        r"\b(\d{1,2}):(\d\d)\b",
        lambda m: f"{_number_words(m.group(1))} {_number_words(m.group(2))}",
        text,
    )
    text = re.sub(r"(\d)\s*[-–]\s*(?=\d)", r"\1 to ", text)  # 5-10
    # 1998, 1845: a four-digit number without a comma is read as a year or a time
    text = re.sub(r"\b(1[1-9]\d\d)\b", lambda m: num2words(int(m.group(1)), to="year"), text)
    text = re.sub(
        r"\b(\d+)(st|nd|rd|th)\b", lambda m: num2words(int(m.group(1)), to="ordinal"), text
    )
    text = re.sub(r"(\d)k\b", r"\1 thousand", text)
    text = re.sub(r"\d[\d,]*(?:\.\d+)?", lambda m: " " + _number_words(m.group(0)) + " ", text)
    text = text.replace("%", " percent ").replace("°c", " degrees celsius ")
    text = text.replace("°f", " degrees fahrenheit ").replace("°", " degrees ")
    text = text.replace("&", " and ").replace("+", " plus ").replace("#", " number ")
    text = text.replace("-", " ").replace("/", " ").replace("'", "")
    for short, unit in WHISPER_UNITS.items():
        text = re.sub(rf"\b{short}\b", unit, text)
    return re.sub(r"[^a-z ]+", " ", text).split()


# unit abbreviations whisper writes for what it heard in full
WHISPER_UNITS = {"cm": "centimeters", "mm": "millimeters", "km": "kilometers", "kg": "kilograms"}


def test_canonical_forms() -> None:
    assert canonical("It is 21.5°C, 45% and $4.50 at 6.30 a.m.") == canonical(
        "It is twenty-one point five degrees Celsius, forty-five percent and four dollars "
        "and fifty cents at six thirty AM"
    )
    assert canonical("Built in 1998, 3rd of 10k") == [
        "built",
        "in",
        "nineteen",
        "ninety",
        "eight",
        "third",
        "of",
        "ten",
        "thousand",
    ]


async def _speak(
    server: RunningServer, text: str, voice: str = "af_heart", **extra: object
) -> Reply:
    async with server.client() as client:
        event = Synthesize(text, SynthesizeVoice(name=voice)).event()
        event.data.update(extra)
        await client.write_event(event)
        return await read_reply(client)


async def test_normalized_sentences_are_heard_right(server: RunningServer, whisper) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rows = [(written, said) for written, said, heard in TABLE if heard]
    assert len(rows) >= 25
    rates, report = [], []
    total_errors = total_words = 0
    for written, said in rows:
        reply = await _speak(server, written)
        heard = transcribe(whisper, reply.audio)
        expected = canonical(said)
        errors = word_errors(expected, canonical(heard))
        rates.append(errors / len(expected))
        total_errors += errors
        total_words += len(expected)
        report.append(f"{written!r} -> heard {heard.strip()!r} ({errors} errors)")
    mean = sum(rates) / len(rates)
    print("\n".join(report), f"\nmean WER {mean:.2%}, overall {total_errors / total_words:.2%}")
    assert mean <= 0.02, "\n".join(report)


# -- SSML -----------------------------------------------------------------------------


def longest_silence(pcm: bytes, frame: int = 240, threshold: float = 0.006) -> float:
    """Seconds of the longest run of 10 ms frames quieter than ``threshold`` (RMS)."""
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame)
    quiet = np.sqrt((frames**2).mean(axis=1)) < threshold
    longest = run = 0
    for is_quiet in quiet:
        run = run + 1 if is_quiet else 0
        longest = max(longest, run)
    return longest * frame / 24000


async def test_ssml_break_adds_silence_of_the_right_length(server: RunningServer) -> None:
    def document(pause: str) -> str:
        return f'<speak>The front door is open.<break time="{pause}"/>Please close it.</speak>'

    short = await _speak(server, document("200ms"))
    long = await _speak(server, document("1700ms"))
    added = longest_silence(long.audio) - longest_silence(short.audio)
    assert 1.4 <= added <= 1.6, added  # 1.5 s more silence, within a few frames
    assert long.seconds - short.seconds == pytest.approx(1.5, abs=0.1)


async def test_ssml_break_strengths_order_the_pauses(server: RunningServer) -> None:
    gaps = []
    for strength in ("weak", "strong", "x-strong"):
        reply = await _speak(
            server, f'<speak>Lights off.<break strength="{strength}"/>Good night.</speak>'
        )
        gaps.append(longest_silence(reply.audio))
    assert gaps[0] < gaps[1] < gaps[2], gaps


async def test_ssml_prosody_rate_changes_duration(server: RunningServer) -> None:
    sentence = "The washing machine has finished its cycle."
    durations = {}
    for rate in ("x-slow", "medium", "150%"):
        reply = await _speak(server, f'<speak><prosody rate="{rate}">{sentence}</prosody></speak>')
        durations[rate] = reply.seconds
    assert durations["x-slow"] > durations["medium"] * 1.3, durations
    assert durations["150%"] < durations["medium"] * 0.8, durations


async def test_ssml_text_format_field_and_streamed_ssml(server: RunningServer) -> None:
    plain = longest_silence((await _speak(server, "Wait. Done.")).audio)
    # text_format: ssml without a <speak> root (a fragment) is still SSML
    # the break replaces the sentence's own pause and keeps its exact length (a plain
    # reading would pause only as long as ``plain``)
    reply = await _speak(server, 'Wait.<break time="1s"/>Done.', text_format="ssml")
    assert plain < 0.7
    assert longest_silence(reply.audio) == pytest.approx(1.0, abs=0.15), plain
    # an SSML document streamed in pieces (split inside tags) is read whole at the stop
    document = '<speak>Wait.<break time="1s"/>Done.</speak>'
    async with server.client() as client:
        await client.write_event(SynthesizeStart(text_format="ssml").event())
        for start in range(0, len(document), 7):
            await client.write_event(SynthesizeChunk(text=document[start : start + 7]).event())
        await client.write_event(SynthesizeStop().event())
        streamed = await read_reply(client, last="synthesize-stopped")
    assert "error" not in streamed.types
    assert longest_silence(streamed.audio) == pytest.approx(1.0, abs=0.15)


async def test_malformed_ssml_is_spoken_as_text(server: RunningServer) -> None:
    text = '<speak>The garage <break time="1s">door is <b>open.</speak>'
    reply = await _speak(server, text)
    assert "error" not in reply.types and reply.seconds > 1.0
    assert "reading it as plain text" in server.log()
    # waits for this request's record; none is written with ssml-as-text unless it fell back
    record = await find_record(server, characters=len(text), text_format="ssml-as-text")
    assert record["outcome"] == "ok"


async def test_ssml_say_as_and_sub_are_heard(server: RunningServer, whisper) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    document = (
        "<speak>You finished <say-as interpret-as='ordinal'>3</say-as> in the race. "
        "Ask <sub alias='Home Assistant'>HA</sub> to open the door.</speak>"
    )
    reply = await _speak(server, document)
    heard = " ".join(canonical(transcribe(whisper, reply.audio)))
    assert "finished third in the race" in heard, heard
    assert "ask home assistant to open the door" in heard, heard


# -- languages ------------------------------------------------------------------------

LANGUAGE_SENTENCES = [
    ("ef_dora", "La temperatura del salón es de 21,5 grados."),
    ("ff_siwis", "La porte du garage est ouverte depuis 10 minutes."),
    ("hf_alpha", "रसोई की बत्ती बंद कर दी गई है।"),
    ("if_sara", "La temperatura in soggiorno è di 21,5 gradi."),
    ("pf_dora", "A temperatura da sala é de 21,5 graus."),
    ("jf_alpha", "リビングの温度は二十一度です。"),
    ("zf_xiaobei", "客厅的温度是二十一度。"),
]


@pytest.mark.parametrize(("voice", "sentence"), LANGUAGE_SENTENCES)
async def test_every_language_speaks(server: RunningServer, voice: str, sentence: str) -> None:
    reply = await _speak(server, sentence, voice)
    assert reply.types[-1] == "audio-stop"
    assert "error" not in reply.types, reply.events
    audio = np.frombuffer(reply.audio, dtype="<i2").astype(np.float32) / 32768.0
    assert np.sqrt((audio**2).mean()) > 0.02  # not silence
    # plausible: roughly 0.05-0.3 s per written character (CJK characters are syllables)
    per_char = reply.seconds / len(sentence)
    low, high = (0.12, 0.6) if voice[0] in "jz" else (0.03, 0.2)
    assert low <= per_char <= high, (voice, reply.seconds, len(sentence))


async def test_language_only_request_picks_that_languages_voice(server: RunningServer) -> None:
    text = "Bonjour à tous."
    before = len(stats_lines(server))
    async with server.client() as client:
        await client.write_event(Synthesize(text, SynthesizeVoice(language="fr")).event())
        reply = await read_reply(client)
    assert reply.seconds > 0.5
    # This request's record: written after it was sent (the previous test's record may
    # still arrive after `before`, so match the length too).
    mine: list[dict[str, object]] = []
    for _ in range(100):
        mine = [r for r in stats_lines(server)[before:] if r["characters"] == len(text)]
        if mine:
            break
        await asyncio.sleep(0.05)
    assert mine, stats_lines(server)[before:]
    assert (mine[0]["voice"], mine[0]["language"]) == ("ff_siwis", "fr_FR")
