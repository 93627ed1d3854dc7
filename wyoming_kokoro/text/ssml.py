"""SSML: a ``<speak>`` document as sentences, pauses and rate changes.

Supported: ``<speak>``, ``<p>``, ``<s>`` (sentence boundaries), ``<break time|strength>``
(silence), ``<prosody rate>`` (speed; nested rates multiply), ``<say-as interpret-as>``
(characters, spell-out, cardinal, number, ordinal, digits, date, time, telephone),
``<sub alias>`` and ``<phoneme alphabet="ipa" ph>``. Other elements (emphasis, voice,
lang, mark, audio…) are read for their text. A document that is not well-formed raises
``SsmlError``; the caller then speaks it as plain text.

The parser knows no language: say-as text is handed to a ``SayAs`` callback, and text
pieces are normalized and phonemized by the caller.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from .segment import is_abbreviation, split_sentences

_LOGGER = logging.getLogger(__name__)

# Longest single break, and most silence in one document, honoured (SSML allows any; a
# request must not hold a connection with silence).
MAX_BREAK_SECONDS = 10.0
MAX_DOCUMENT_BREAKS = 60.0
BREAK_STRENGTHS = {
    "none": 0.0,
    "x-weak": 0.1,
    "weak": 0.25,
    "medium": 0.4,
    "strong": 0.75,
    "x-strong": 1.2,
}
RATE_WORDS = {
    "x-slow": 0.6,
    "slow": 0.8,
    "medium": 1.0,
    "default": 1.0,
    "fast": 1.25,
    "x-fast": 1.5,
}
MIN_RATE, MAX_RATE = 0.5, 2.0

# (interpret-as, format, text) -> words
SayAs = Callable[[str, str | None, str], str]
# the same with the language letter last, and (text, language letter) -> normalized text
LanguageSayAs = Callable[[str, str | None, str, str], str]
Normalize = Callable[[str, str], str]


class SsmlError(ValueError):
    """The document is not SSML this server can read."""


@dataclass(frozen=True)
class Piece:
    """Part of a sentence: ``text`` (to normalize), ``words`` (normalized) or ``phonemes``."""

    kind: str
    value: str


@dataclass
class Sentence:
    pieces: list[Piece] = field(default_factory=list)
    rate: float = 1.0


@dataclass(frozen=True)
class Pause:
    seconds: float


SsmlItem = Sentence | Pause


def parse_break(element: ET.Element) -> float:
    time = element.get("time")
    if time:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", time)
        if match is None:
            raise SsmlError(f"break time {time!r} is not like '500ms' or '1.5s'")
        seconds = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
    else:
        strength = element.get("strength", "medium")
        if strength not in BREAK_STRENGTHS:
            raise SsmlError(f"break strength {strength!r} is not one of {sorted(BREAK_STRENGTHS)}")
        seconds = BREAK_STRENGTHS[strength]
    return min(seconds, MAX_BREAK_SECONDS)


def parse_rate(value: str) -> float:
    """``slow``, ``150%``, ``+20%``, ``-10%`` or ``1.2`` as a speed factor."""
    text = value.strip().lower()
    if text in RATE_WORDS:
        rate = RATE_WORDS[text]
    elif match := re.fullmatch(r"([+-])?(\d+(?:\.\d+)?)%", text):
        number = float(match.group(2)) / 100.0
        rate = 1.0 + number if match.group(1) == "+" else 1.0 - number if match.group(1) else number
    elif re.fullmatch(r"\d+(?:\.\d+)?", text):
        rate = float(text)
    else:
        raise SsmlError(f"prosody rate {value!r} is not a keyword, a percentage or a number")
    return min(max(rate, MIN_RATE), MAX_RATE)


def _local(tag: object) -> str:
    name = tag if isinstance(tag, str) else ""
    return name.rsplit("}", 1)[-1].lower()


class _Reader:
    def __init__(self, say_as: SayAs) -> None:
        self.say_as = say_as
        self.items: list[SsmlItem] = []
        self.current = Sentence()
        self.silence = 0.0

    def end_sentence(self) -> None:
        if any(piece.value.strip() for piece in self.current.pieces):
            self.items.append(self.current)
        self.current = Sentence(rate=self.current.rate)

    def set_rate(self, rate: float) -> None:
        if rate != self.current.rate:
            self.end_sentence()
            self.current.rate = rate

    def add(self, kind: str, value: str) -> None:
        if not value.strip():
            return
        if kind != "text":
            self.current.pieces.append(Piece(kind, value.strip()))
            return
        # Plain text may hold several sentences: each one is spoken as its own segment.
        parts = split_sentences(value)
        for index, part in enumerate(parts):
            if index:
                self.end_sentence()
            self.current.pieces.append(Piece("text", part))
        if re.search(r"[.!?…]\s*$", value) and parts and not is_abbreviation(value.rstrip()):
            self.end_sentence()

    def walk(self, element: ET.Element, rate: float) -> None:
        tag = _local(element.tag)
        if tag == "break":
            self.end_sentence()
            seconds = min(parse_break(element), MAX_DOCUMENT_BREAKS - self.silence)
            if seconds > 0:
                self.silence += seconds
                self.items.append(Pause(seconds))
        elif tag == "sub":
            self.set_rate(rate)
            alias = element.get("alias")
            if alias is None:
                raise SsmlError("<sub> needs an alias attribute")
            self.add("text", alias)
        elif tag == "say-as":
            self.set_rate(rate)
            interpret = (element.get("interpret-as") or "").lower()
            text = "".join(element.itertext())
            self.add("words", self.say_as(interpret, element.get("format"), text))
        elif tag == "phoneme":
            self.set_rate(rate)
            alphabet = (element.get("alphabet") or "ipa").lower()
            ph = element.get("ph")
            if ph is None:
                raise SsmlError("<phoneme> needs a ph attribute")
            if alphabet in ("ipa", "x-kokoro", "x-misaki"):
                self.add("phonemes", ph)
            else:
                _LOGGER.warning("Phoneme alphabet %r is not supported; reading the text", alphabet)
                self.add("text", "".join(element.itertext()))
        else:
            if tag == "prosody" and element.get("rate") is not None:
                rate *= parse_rate(element.get("rate", ""))
                rate = min(max(rate, MIN_RATE), MAX_RATE)
            block = tag in ("p", "s", "paragraph", "sentence")
            if block:
                self.end_sentence()
            self.set_rate(rate)
            self.add("text", element.text or "")
            for child in element:
                self.walk(child, rate)
                self.set_rate(rate)
                self.add("text", child.tail or "")
            if block:
                self.end_sentence()


# What may stand before <speak>: a byte-order mark, the XML declaration, comments, and a
# document type (the W3C's own examples have one). Its internal subset, if any, goes with
# it unread: entities are never expanded (an undefined one is a parse error).
_PROLOGUE = re.compile(
    r"^\ufeff?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*"
    r"(?:<!DOCTYPE[^>\[]*(?:\[.*?\]\s*)?>\s*)?(?:<!--.*?-->\s*)*",
    re.IGNORECASE | re.DOTALL,
)


def strip_prologue(document: str) -> str:
    """The document without a byte-order mark, ``<?xml …?>`` declaration, comments and
    ``<!DOCTYPE …>`` before its root."""
    return _PROLOGUE.sub("", document, count=1)


def parse_ssml(document: str, say_as: SayAs) -> list[SsmlItem]:
    """Sentences (each at one rate) and pauses, in order."""
    text = strip_prologue(document).strip()
    if not text.lower().startswith("<speak"):
        text = f"<speak>{text}</speak>"  # SSML fragments without the root element
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise SsmlError(f"not well-formed: {err}") from None
    if _local(root.tag) != "speak":
        raise SsmlError(f"the root element is <{_local(root.tag)}>, not <speak>")
    reader = _Reader(say_as)
    try:
        reader.walk(root, 1.0)
    except RecursionError:  # thousands of nested elements: no speech markup
        raise SsmlError("elements nested too deeply") from None
    reader.end_sentence()
    return reader.items


# Standard IPA -> Kokoro symbols. Misaki's English set writes diphthongs and affricates
# as single tokens and uses ɹ; the espeak languages keep their IPA as it is. Syllable
# dots would be read as full stops; a colon is the length mark typed in ASCII.
_IPA_COMMON = [("\u0361", ""), ("g", "ɡ"), ("'", "ˈ"), (".", ""), (":", "ː")]
_IPA_ENGLISH = [
    ("eɪ", "A"),
    ("aɪ", "I"),
    ("oʊ", "O"),
    ("əʊ", "Q"),
    ("aʊ", "W"),
    ("ɔɪ", "Y"),
    ("tʃ", "ʧ"),
    ("dʒ", "ʤ"),
    ("ɝ", "ɜɹ"),
    ("ɚ", "əɹ"),
    ("r", "ɹ"),
]


# Misaki's American set has no length marks; its British one writes oʊ as əʊ (Q).
_IPA_AMERICAN = [("ː", "")]
_IPA_BRITISH = [("oʊ", "Q")]


def ipa_to_kokoro(ipa: str, english: bool, british: bool = False) -> str:
    """IPA as people write it, in the symbols Kokoro was trained on."""
    text = ipa.strip().strip("/[]")
    accent = (_IPA_BRITISH if british else _IPA_AMERICAN) if english else []
    for source, target in _IPA_COMMON + accent + (_IPA_ENGLISH if english else []):
        text = text.replace(source, target)
    return text


@dataclass(frozen=True)
class Spoken:
    """A sentence of the document in phonemes, at its rate."""

    text: str
    phonemes: str
    rate: float


def render_ssml(
    document: str,
    lang_code: str,
    normalizer: Normalize,
    say_as: LanguageSayAs,
    phonemize: Callable[[str, str], str],
) -> list[Spoken | Pause]:
    """Parse, normalize and phonemize a document (one call on the G2P thread).

    Text pieces are normalized in the voice's language, say-as and sub words are read as
    given, ``<phoneme>`` IPA is mapped to Kokoro's symbols; the pieces of one sentence are
    joined so that the sentence is spoken in one breath.
    """

    def read_as(interpret: str, fmt: str | None, text: str) -> str:
        return say_as(interpret, fmt, text, lang_code)

    rendered: list[Spoken | Pause] = []
    for item in parse_ssml(document, read_as):
        if isinstance(item, Pause):
            rendered.append(item)
            continue
        phonemes = _sentence_phonemes(item, lang_code, normalizer, phonemize)
        text = " ".join(piece.value for piece in item.pieces)
        if phonemes:
            rendered.append(Spoken(text, phonemes, item.rate))
    return rendered


_PUNCTUATION_SPACE = re.compile(r"\s+([.,;:!?])")


def _sentence_phonemes(
    sentence: Sentence,
    lang_code: str,
    normalizer: Normalize,
    phonemize: Callable[[str, str], str],
) -> str:
    """Runs of text and say-as words are normalized and phonemized together (context and
    punctuation intact); the ``<phoneme>`` pieces are spliced in between."""
    english = lang_code in ("a", "b")
    parts: list[str] = []
    words: list[str] = []
    for piece in [*sentence.pieces, Piece("end", "")]:
        if piece.kind in ("text", "words"):
            words.append(piece.value)
            continue
        # normalized as one run, so "<emphasis>21.5</emphasis> °C" still reads as degrees
        text = normalizer(_PUNCTUATION_SPACE.sub(r"\1", " ".join(words)).strip(), lang_code)
        words = []
        if text:
            parts.append(phonemize(text, lang_code))
        if piece.kind == "phonemes":
            parts.append(ipa_to_kokoro(piece.value, english, lang_code == "b"))
    return " ".join(part for part in parts if part)
