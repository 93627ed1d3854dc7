"""Every language Kokoro speaks, in one table: one frozen :class:`Language` per voice letter.

Everything that differs by language and is not a whole normalizer or G2P of its own lives
here: the Home Assistant locale, the marks that end sentences and clauses (with or without
the space that follows them), abbreviations, the words a first clause may be cut before,
Kokoro's own pauses, the default voice and which G2P reads the language. Other modules
read these records; none keeps a per-language table of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Language:
    """One Kokoro language (the first letter of its voices' names)."""

    code: str  # Kokoro's voice letter
    iso: str  # the language's ISO 639-1 code ("en" for both Englishes)
    locale: str  # Home Assistant's locale
    name: str
    espeak: str  # espeak-ng's language (the G2P, or the fallback for unknown words)
    g2p: str  # "misaki-en", "espeak", "misaki-ja" or "misaki-zh"
    default_voice: str  # Kokoro's best-rated voice of the language
    # Kokoro's own pauses in whole-passage renderings (seconds): after a clause, a sentence
    pauses: tuple[float, float] = (0.26, 0.46)
    # marks that end a sentence once whitespace follows, and marks that end one right away
    sentence_marks: str = ".!?…"
    spaceless_sentence_marks: str = ""
    clause_marks: str = ",;:"  # need whitespace after them
    spaceless_clause_marks: str = ""
    opening_marks: str = "\"'“‘(["  # may precede a word: not part of it
    closing_marks: str = "\"'”’)]"  # stay with the sentence they close
    spaced_closing_marks: str = ""  # closing marks that follow a space (French »)
    abbreviations: frozenset[str] = frozenset()
    conjunctions: frozenset[str] = frozenset()  # a first clause may be cut before one
    phrase_words: frozenset[str] = frozenset()  # open a phrase: no cut right before them
    clause_min_chars: int = 12  # a first clause is at least this long
    clause_min_rest: int = 12  # and what follows it too (else no cut: the end is near)

    def word(self, token: str) -> str:
        """A token as a word to look up: lower case, opening marks dropped."""
        return token.lower().lstrip(self.opening_marks)


_CJK = {
    "spaceless_sentence_marks": "。！？",
    "spaceless_clause_marks": "，、；：",
    "closing_marks": "\"'”’)]」』）】",
    "opening_marks": "\"'“‘([「『（【",
    "clause_min_chars": 4,
    "clause_min_rest": 4,
}
_ENGLISH_ABBREVIATIONS = _words(
    """
    mr mrs ms dr st vs etc approx prof sr jr e.g i.e a.m p.m mt ft inc ltd co dept est no nr
    ave rd blvd fig min jan feb mar apr jun jul aug sep sept oct nov dec
    """
)
_ENGLISH = {
    "g2p": "misaki-en",
    "abbreviations": _ENGLISH_ABBREVIATIONS,
    "conjunctions": _words("and but or so because while although though whereas which when then"),
    "phrase_words": _words(
        "with from for in on at to of by after before until during into over under about"
        " through around"
    ),
}

_TABLE = (
    Language(
        "a", "en", "en_US", "American English", "en-us", default_voice="af_heart",
        pauses=(0.31, 0.58), **_ENGLISH,  # type: ignore[arg-type]
    ),
    Language(
        "b", "en", "en_GB", "British English", "en-gb", default_voice="bf_emma",
        pauses=(0.34, 0.53), **_ENGLISH,  # type: ignore[arg-type]
    ),
    Language(
        "e", "es", "es_ES", "Spanish", "es", "espeak", "ef_dora", pauses=(0.18, 0.51),
        opening_marks="\"'“‘([¿¡«", closing_marks="\"'”’)]»",
        abbreviations=_words("sr sra srta dr dra ud uds etc pág núm av"),
        conjunctions=_words("y pero o porque aunque cuando mientras que"),
        phrase_words=_words("con de en para por sobre hasta desde durante"),
    ),
    Language(
        "f", "fr", "fr_FR", "French", "fr-fr", "espeak", "ff_siwis", pauses=(0.17, 0.29),
        opening_marks="\"'“‘([«", closing_marks="\"'”’)]»", spaced_closing_marks="»",
        abbreviations=_words("m mme mlle mm dr pr etc av bd"),
        conjunctions=_words("et mais ou donc car parce quand lorsque puis"),
        phrase_words=_words("avec de en pour par sur dans jusqu pendant"),
    ),
    Language(
        "h", "hi", "hi_IN", "Hindi", "hi", "espeak", "hf_alpha",
        spaceless_sentence_marks="।॥",
    ),
    Language(
        "i", "it", "it_IT", "Italian", "it", "espeak", "if_sara", pauses=(0.19, 0.21),
        opening_marks="\"'“‘([«", closing_marks="\"'”’)]»",
        abbreviations=_words("sig sigg dott prof ecc pag"),
        conjunctions=_words("e ma o perché quando mentre poi"),
        phrase_words=_words("con di in per su da fino durante"),
    ),
    Language(
        "j", "ja", "ja_JP", "Japanese", "ja", "misaki-ja", "jf_alpha", pauses=(0.46, 0.66),
        **_CJK,  # type: ignore[arg-type]
    ),
    Language(
        "p", "pt", "pt_BR", "Brazilian Portuguese", "pt-br", "espeak", "pf_dora",
        pauses=(0.18, 0.46), opening_marks="\"'“‘([«", closing_marks="\"'”’)]»",
        abbreviations=_words("sr sra srta dr dra etc av"),
        conjunctions=_words("e mas ou porque quando enquanto então"),
        phrase_words=_words("com de em para por sobre até durante"),
    ),
    Language(
        "z", "zh", "zh_CN", "Mandarin Chinese", "zh", "misaki-zh", "zf_xiaobei",
        pauses=(0.26, 0.32), **_CJK,  # type: ignore[arg-type]
    ),
)  # fmt: skip

LANGUAGES: Mapping[str, Language] = MappingProxyType({lang.code: lang for lang in _TABLE})
# Text whose language is not known: the marks of every language, no words.
ANY = Language(
    "", "", "", "any", "en-us", "misaki-en", "af_heart",
    spaceless_sentence_marks="。！？।॥", spaceless_clause_marks="，、；：",
    opening_marks="\"'“‘([¿¡«「『（【", closing_marks="\"'”’)]»」』）】",
    abbreviations=_ENGLISH_ABBREVIATIONS,
)  # fmt: skip
_BY_ISO = {lang.iso: lang for lang in reversed(_TABLE)}  # "en" is American English


def language(key: str) -> Language:
    """The language of a voice letter ("a") or an ISO code ("en"); :data:`ANY` if unknown."""
    return LANGUAGES.get(key) or _BY_ISO.get(key) or ANY
