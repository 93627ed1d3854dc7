"""Every language from one table: sentence and clause marks in all nine, streams in every
script speak before their last chunk, and the old per-language tables are views of it."""

from __future__ import annotations

import pytest

from wyoming_kokoro.engine.voices import VoiceInfo, language_code
from wyoming_kokoro.languages import LANGUAGES, language
from wyoming_kokoro.shaping import KOKORO_PAUSES
from wyoming_kokoro.text.normalize import TextNormalizer
from wyoming_kokoro.text.prepare import TextPreparer
from wyoming_kokoro.text.segment import Ending, Sentence, split_first_clause, split_text

# language letter -> (a reply of three sentences, the three sentences, a first clause)
REPLIES: dict[str, tuple[str, list[str], str]] = {
    "a": (
        "Dr. Smith is here. Shall I open the door? Done!",
        ["Dr. Smith is here.", "Shall I open the door?", "Done!"],
        "In the living room today, it is twenty degrees.",
    ),
    "b": (
        "It's 5 p.m. now. The kettle is on. Cheers!",
        ["It's 5 p.m. now.", "The kettle is on.", "Cheers!"],
        "In the living room today, it is twenty degrees.",
    ),
    "e": (
        "El Sr. García llegó. ¿Abro la puerta? ¡Hecho!",
        ["El Sr. García llegó.", "¿Abro la puerta?", "¡Hecho!"],
        "En la sala de estar hoy, hace veinte grados.",
    ),
    "f": (
        "M. Dupont est arrivé. J'ouvre la porte ? « C'est fait ! » Bonne soirée.",
        ["M. Dupont est arrivé.", "J'ouvre la porte ?", "« C'est fait ! »", "Bonne soirée."],
        "Dans le salon aujourd'hui, il fait vingt degrés.",
    ),
    "h": (
        "बत्ती जल गई है। क्या मैं दरवाज़ा खोलूँ? हो गया।",
        ["बत्ती जल गई है।", "क्या मैं दरवाज़ा खोलूँ?", "हो गया।"],
        "आज बैठक में तापमान, बीस डिग्री है।",
    ),
    "i": (
        "Il Sig. Rossi è arrivato. Apro la porta? Fatto!",
        ["Il Sig. Rossi è arrivato.", "Apro la porta?", "Fatto!"],
        "Nel soggiorno di oggi, ci sono venti gradi.",
    ),
    "j": (
        "電気をつけました。ドアを開けますか？「完了」。",
        ["電気をつけました。", "ドアを開けますか？", "「完了」。"],
        "リビングの温度は、二十度です。",
    ),
    "p": (
        "O Sr. Silva chegou. Abro a porta? Feito!",
        ["O Sr. Silva chegou.", "Abro a porta?", "Feito!"],
        "Na sala de estar hoje, faz vinte graus.",
    ),
    "z": (
        "灯已经打开了。要我开门吗？“好的。”完成！",
        ["灯已经打开了。", "要我开门吗？", "“好的。”", "完成！"],
        "客厅现在的温度，是二十度。",
    ),
}


def test_the_table_has_every_kokoro_language() -> None:
    assert "".join(sorted(LANGUAGES)) == "abefhijpz" == "".join(sorted(REPLIES))
    for code, lang in LANGUAGES.items():
        assert lang.default_voice[0] == code
        assert language_code(lang.locale) == code
        info = VoiceInfo.from_name(lang.default_voice)
        assert info is not None and info.locale == lang.locale
        assert KOKORO_PAUSES[code] == lang.pauses
    assert language("en") is LANGUAGES["a"] and language("z") is LANGUAGES["z"]


@pytest.mark.parametrize("code", sorted(REPLIES))
def test_sentences_in_every_language(code: str) -> None:
    reply, sentences, _ = REPLIES[code]
    assert [s.text for s in split_text(reply, code)] == sentences
    assert all(s.ending is Ending.SENTENCE for s in split_text(reply, code))


@pytest.mark.parametrize("code", sorted(REPLIES))
def test_clauses_in_every_language(code: str) -> None:
    _, _, sentence = REPLIES[code]
    head, rest = split_first_clause(sentence, code)
    assert head.endswith((",", "，", "、")) and sentence.endswith(rest)


def test_spaceless_marks_wait_for_the_next_character() -> None:
    """A streamed 。 may be followed by its closing quote: it ends a sentence once the next
    character shows the quotes are complete (or at the end of the text)."""
    assert split_text("他说“好的。", "z") == [Sentence("他说“好的。")]
    assert [s.text for s in split_text("他说“好的。”我们走吧。", "z")] == [
        "他说“好的。”",
        "我们走吧。",
    ]
    # a decimal point is no sentence end, with or without a language
    assert len(split_text("温度是21.5度。", "z")) == 1
    assert len(split_text("Es sind 21.5 Grad. Gut.")) == 2


def phonemes(text: str, code: str) -> str:
    return text  # letters as phonemes: this checks the text path, not G2P


@pytest.mark.parametrize("code", sorted(REPLIES))
def test_a_stream_speaks_before_its_last_chunk(code: str) -> None:
    """Home Assistant streams 4 characters at a time: the first sentence (or clause) goes to
    inference before the last chunk, in every script."""
    reply, sentences, _ = REPLIES[code]
    reply = reply + " " + reply  # long enough that the end is clearly later
    preparer = TextPreparer(code, TextNormalizer(), phonemes, str)
    chunks = [reply[i : i + 4] for i in range(0, len(reply), 4)]
    released_at = None
    for index, chunk in enumerate(chunks[:-1]):
        if preparer.feed([chunk]):
            released_at = index
            break
    assert released_at is not None, "nothing went before synthesize-stop"
    assert released_at < len(chunks) // 2


def test_a_one_shot_is_one_inference_and_a_stream_ends_in_one_unit() -> None:
    """One-shot: the whole reply in one segment, no cut inside a sentence. Stream: after
    the first clause, the rest at synthesize-stop goes as one unit."""
    reply = "OK, I have switched on the living room lights. It is twenty degrees. Anything else?"
    preparer = TextPreparer("a", TextNormalizer(), phonemes, str)
    assert [s.text for s in preparer.finish([reply])] == [reply]
    preparer = TextPreparer("a", TextNormalizer(), phonemes, str)
    first = preparer.feed([reply[:60]])
    rest = preparer.finish([reply[60:]])
    assert len(first) <= 1 and len(rest) == 1
    assert " ".join(s.text for s in first + rest) == reply
    assert not any(s.text.endswith(" switched") for s in first)
