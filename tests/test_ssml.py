"""SSML parsing and rendering to phonemes with the real G2P; phonemes of every language."""

from __future__ import annotations

import json
import sys
from importlib import resources

import pytest

from wyoming_kokoro.text.g2p import LanguageNotInstalledError, Phonemizer
from wyoming_kokoro.text.normalize import TextNormalizer, looks_like_ssml
from wyoming_kokoro.text.prepare import Segment, TextPreparer
from wyoming_kokoro.text.segment import Sentence as Planned
from wyoming_kokoro.text.ssml import (
    Pause,
    Sentence,
    Spoken,
    SsmlError,
    ipa_to_kokoro,
    parse_rate,
    parse_ssml,
    render_ssml,
)

NORMALIZER = TextNormalizer()
VOCAB = json.loads(
    resources.files("wyoming_kokoro").joinpath("data/vocab.json").read_text("utf-8")
)["vocab"]


@pytest.fixture(scope="module")
def phonemizer() -> Phonemizer:
    return Phonemizer()


def render(phonemizer: Phonemizer, document: str, lang: str = "a") -> list[Spoken | Pause]:
    return render_ssml(document, lang, NORMALIZER, NORMALIZER.say_as, phonemizer.phonemize)


def no_say_as(interpret: str, fmt: str | None, text: str) -> str:
    return text


def texts(items: list[Sentence | Pause]) -> list[object]:
    return [
        item.seconds
        if isinstance(item, Pause)
        else (" ".join(p.value for p in item.pieces), item.rate)
        for item in items
    ]


def test_structure_breaks_and_rates() -> None:
    document = (
        '<speak xmlns="http://www.w3.org/2001/10/synthesis"><p><s>First one</s><s>Second one</s>'
        '</p>Then more. And more<break time="750ms"/>after <prosody rate="slow">slowly '
        '<prosody rate="50%">very slowly</prosody></prosody> back<break strength="x-strong"/>'
        '<break strength="none"/>end</speak>'
    )
    assert texts(parse_ssml(document, no_say_as)) == [
        ("First one", 1.0),
        ("Second one", 1.0),
        ("Then more.", 1.0),
        ("And more", 1.0),
        0.75,
        ("after", 1.0),
        ("slowly", 0.8),
        ("very slowly", 0.5),  # 0.8 x 0.5 = 0.4, held at the slowest rate Kokoro speaks well
        ("back", 1.0),
        1.2,
        ("end", 1.0),
    ]


@pytest.mark.parametrize(
    ("value", "rate"),
    [("x-slow", 0.6), ("fast", 1.25), ("150%", 1.5), ("+20%", 1.2), ("-10%", 0.9), ("1.1", 1.1)],
)
def test_prosody_rates(value: str, rate: float) -> None:
    assert parse_rate(value) == pytest.approx(rate)


@pytest.mark.parametrize(
    "document",
    [
        "<speak>unclosed <break time='1s'></speak>",
        "<speak>bad <break time='soon'/></speak>",
        "<speak>bad <break strength='huge'/></speak>",
        "<speak><prosody rate='warp'>x</prosody></speak>",
        "<speak><sub>no alias</sub></speak>",
        "<speak><p>mismatched</s></speak>",
        "<speak>a & b</speak>",
    ],
)
def test_malformed_documents_raise(document: str) -> None:
    with pytest.raises(SsmlError):
        parse_ssml(document, no_say_as)


def test_nesting_too_deep_is_not_ssml() -> None:
    document = "<speak>" + "<p>" * 3000 + "Deep." + "</p>" * 3000 + "</speak>"
    with pytest.raises(SsmlError, match="nested too deeply"):
        parse_ssml(document, no_say_as)


def test_a_fragment_without_speak_is_wrapped() -> None:
    assert texts(parse_ssml('Hello<break time="2s"/>world', no_say_as)) == [
        ("Hello", 1.0),
        2.0,
        ("world", 1.0),
    ]


def test_breaks_are_capped() -> None:
    assert parse_ssml('<speak><break time="3600s"/></speak>', no_say_as) == [Pause(10.0)]
    many = parse_ssml("<speak>" + '<break time="9s"/>' * 20 + "</speak>", no_say_as)
    assert sum(item.seconds for item in many if isinstance(item, Pause)) == 60.0


def test_say_as_and_sub_change_the_phonemes(phonemizer: Phonemizer) -> None:
    def phonemes(document: str) -> str:
        items = render(phonemizer, document)
        return " ".join(item.phonemes for item in items if isinstance(item, Spoken))

    plain = phonemes("<speak>Code 1234.</speak>")
    digits = phonemes('<speak>Code <say-as interpret-as="digits">1234</say-as>.</speak>')
    cardinal = phonemes('<speak>Code <say-as interpret-as="cardinal">1234</say-as>.</speak>')
    spelled = phonemes('<speak>Code <say-as interpret-as="characters">abc</say-as>.</speak>')
    word = phonemes("<speak>Code abc.</speak>")
    assert digits != plain and digits == phonemes("<speak>Code one two three four.</speak>")
    assert cardinal == plain  # the normalizer reads 1234 as a cardinal too
    assert spelled != word and spelled == phonemes("<speak>Code A.B.C.</speak>")
    ordinal = phonemes('<speak><say-as interpret-as="ordinal">3</say-as></speak>')
    assert ordinal == phonemes("<speak>third</speak>")
    sub = phonemes('<speak>Ask <sub alias="Home Assistant">HA</sub> now.</speak>')
    assert sub == phonemes("<speak>Ask Home Assistant now.</speak>")
    assert sub != phonemes("<speak>Ask HA now.</speak>")


def test_phoneme_tag_gives_kokoro_symbols(phonemizer: Phonemizer) -> None:
    items = render(
        phonemizer, '<speak>I say <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme></speak>'
    )
    assert len(items) == 1 and isinstance(items[0], Spoken)
    assert items[0].phonemes.endswith("təˈmAtO")
    assert ipa_to_kokoro("/ˈtʃɝtʃ/", english=True) == "ˈʧɜɹʧ"
    assert ipa_to_kokoro("ˈpero", english=False) == "ˈpero"


def test_text_in_ssml_is_normalized(phonemizer: Phonemizer) -> None:
    items = render(phonemizer, "<speak><s>It is 21.5 °C.</s></speak>")
    expected = phonemizer.phonemize("It is twenty-one point five degrees Celsius.", "a")
    assert items == [Spoken("It is 21.5 °C.", expected, 1.0)]


SENTENCES = {
    "a": "The living room is twenty-one degrees.",
    "b": "The garage door has been open for ten minutes.",
    "e": "La temperatura del salón es de veintiún grados.",
    "f": "La porte du garage est ouverte depuis dix minutes.",
    "h": "रसोई की बत्ती बंद कर दी गई है।",
    "i": "La temperatura in soggiorno è di ventuno gradi.",
    "p": "A temperatura da sala é de vinte e um graus.",
    "j": "リビングの温度は21.5度、湿度は45%です。",
    "z": "客厅的温度是-5℃，湿度百分之四十。",
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_every_language_gives_known_phonemes(phonemizer: Phonemizer, lang: str) -> None:
    text = NORMALIZER(SENTENCES[lang], lang)
    phonemes = phonemizer.phonemize(text, lang)
    assert len(phonemes) > len(SENTENCES[lang]) // 3
    unknown = sorted({symbol for symbol in phonemes if symbol not in VOCAB})
    assert unknown == [], (text, phonemes)
    assert "❓" not in phonemes


@pytest.mark.parametrize(
    ("lang", "module", "extra"), [("j", "misaki.ja", "ja"), ("z", "misaki.zh", "zh")]
)
def test_missing_language_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, lang: str, module: str, extra: str
) -> None:
    import misaki

    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    monkeypatch.delattr(misaki, module.split(".")[1], raising=False)
    with pytest.raises(LanguageNotInstalledError, match=rf"wyoming-kokoro\[{extra}\]"):
        Phonemizer().phonemize("こんにちは", lang)


def test_xml_declaration_and_byte_order_mark() -> None:
    document = (
        '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<speak>Hello<break time="1s"/>world</speak>'
    )
    assert looks_like_ssml(document)
    assert texts(parse_ssml(document, no_say_as)) == [("Hello", 1.0), 1.0, ("world", 1.0)]


W3C_DOCTYPE = (
    '<!DOCTYPE speak PUBLIC "-//W3C//DTD SYNTHESIS 1.0//EN"\n'
    '  "http://www.w3.org/TR/speech-synthesis/synthesis.dtd">\n'
)


def test_a_document_type_and_comments_before_speak() -> None:
    """The SSML specification's own examples declare their document type."""
    for prologue in (
        '<?xml version="1.0"?>\n' + W3C_DOCTYPE,
        W3C_DOCTYPE,
        "<!-- made by hand -->\n" + W3C_DOCTYPE + "<!-- here -->",
    ):
        document = prologue + '<speak version="1.0">Hello<break time="2s"/>world</speak>'
        assert looks_like_ssml(document)
        assert texts(parse_ssml(document, no_say_as)) == [("Hello", 1.0), 2.0, ("world", 1.0)]


def test_an_internal_subset_is_never_expanded() -> None:
    """Entities a document defines are not expanded (an undefined one is not well-formed),
    and its declaration is not read aloud when the document is read as plain text."""
    document = '<!DOCTYPE speak [<!ENTITY x "lol lol lol">]><speak>Hi &x; there</speak>'
    with pytest.raises(SsmlError):
        parse_ssml(document, no_say_as)

    def phonemize(text: str, code: str) -> str:
        return text.lower()

    preparer = TextPreparer("a", NORMALIZER, phonemize, lambda p: p, split_first=False)
    planned = preparer.feed([document]) + preparer.finish([])
    assert preparer.text_format == "ssml-as-text"
    spoken = " ".join(item.text for item in planned)
    assert "lol" not in spoken and "doctype" not in spoken.lower() and "Hi" in spoken


def test_an_abbreviation_does_not_end_the_sentence() -> None:
    document = '<speak>Meet Mr. <sub alias="Smith">S</sub> today. Then go.</speak>'
    assert texts(parse_ssml(document, no_say_as)) == [
        ("Meet Mr. Smith today.", 1.0),
        ("Then go.", 1.0),
    ]


def test_a_run_of_pieces_is_normalized_as_one(phonemizer: Phonemizer) -> None:
    items = render(phonemizer, "<speak>It is <emphasis>21.5</emphasis> °C.</speak>")
    expected = phonemizer.phonemize("It is twenty-one point five degrees Celsius.", "a")
    assert [item.phonemes for item in items if isinstance(item, Spoken)] == [expected]


@pytest.mark.parametrize(
    ("pieces", "ssml"),
    [
        (["<", "speak>Hello", ' <break time="1s"/>', " world.</speak>"], True),
        (['<?xml version="1.0"?>', "\n<speak>Hi</speak>"], True),
        (["<!DOC", W3C_DOCTYPE[5:], "<speak>Hi</speak>"], True),
        (["  ", "<sp", "eak>x</speak>"], True),
        (["\n" * 200, " \t" * 200, "<speak>x</speak>"], True),  # over 300 blanks first
        (["\n" * 400 + "<speak>x</speak>"], True),
        (["\n" * 400, "Hello", " there"], False),
        (["<", "3 you."], False),
        (["Hi"], False),
    ],
)
def test_streamed_ssml_is_recognised_across_chunks(pieces: list[str], ssml: bool) -> None:
    def phonemize(text: str, code: str) -> str:
        return text.lower()

    preparer = TextPreparer("a", NORMALIZER, phonemize, lambda p: p, split_first=False)
    planned: list[Planned | Segment] = [i for piece in pieces for i in preparer.feed([piece])]
    planned += preparer.finish([])
    assert preparer.text_format == ("ssml" if ssml else "text")
    if ssml:  # read whole at the end: rendered segments, a break as silence
        assert planned and all(isinstance(item, Segment) for item in planned)
    else:
        assert [item.text for item in planned] == [NORMALIZER("".join(pieces), "a")]
