"""One request's text, from the pieces a client sends to phoneme segments.

Runs on a worker thread (never on the event loop): everything here costs time in
proportion to the text. Knows nothing about Wyoming or the engine: the normalizer and
the phonemizer are handed in.

    pieces of text ─► SSML or not? ─► sentences (segment.py) ─► normalized ─► planned
    segments ─► phonemes, cut to the model's limit ─► Segment (each says what ended it)

An SSML document (``text_format: ssml``, or text that starts with ``<speak``) can only be
read whole, so it is collected until the request's text is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ..languages import language
from .normalize import (
    SSML_PROLOGUE_CHARS,
    SSML_PROLOGUE_STARTS,
    TextNormalizer,
    looks_like_ssml,
    strip_markup,
)
from .segment import Ending, SegmentPlanner, Sentence, SentenceBuffer, chunk_phonemes, split_text
from .ssml import Pause, SsmlError, render_ssml, strip_prologue

_LOGGER = logging.getLogger(__name__)

_SSML_STARTS = ("<speak", *SSML_PROLOGUE_STARTS)


@dataclass(frozen=True)
class Segment:
    """One inference's input (at most 510 phoneme symbols, at ``rate``), or a silence.

    ``ending`` says what ended it: the audio stage pauses by it.
    """

    phonemes: str
    ending: Ending
    rate: float = 1.0
    silence: float = 0.0  # seconds; a silence has no phonemes
    text: str = ""


def _chunk_ending(chunk: str) -> Ending:
    """What ended a piece the phoneme chunker cut from a longer one (its last symbol)."""
    if chunk.endswith(tuple(".!?")):
        return Ending.SENTENCE
    if chunk.endswith(tuple(",;:—…")):
        return Ending.CLAUSE
    return Ending.CUT


class TextPreparer:
    """The text stage of one request; ``feed`` and ``finish`` are called one at a time."""

    def __init__(
        self,
        lang_code: str,
        normalizer: TextNormalizer,
        phonemize: Callable[[str, str], str],
        keep_symbols: Callable[[str], str],
        ssml: bool = False,
        split_first: bool = True,
        whole: bool = True,
    ) -> None:
        self.lang_code = lang_code
        self.text_format = "ssml" if ssml else "text"
        self.phonemes = 0  # phoneme symbols prepared so far
        self.lexicon_used: list[str] = []  # the lexicon entries applied, one per use
        self._normalizer = normalizer
        self._phonemize = phonemize
        self._keep_symbols = keep_symbols
        self.lang = language(lang_code)
        self._buffer = SentenceBuffer(self.lang)
        self._planner = SegmentPlanner(self.lang, split_first=split_first, whole=whole, join=whole)
        self._document: list[str] = []
        # Text held until its start shows whether it is SSML ("<", "speak>…" may arrive as
        # separate stream chunks); None once decided.
        self._undecided: str | None = None if ssml else ""

    def feed(self, pieces: list[str]) -> list[Sentence]:
        """Add text (more will come); return the segments (not yet phonemized) that are now
        complete. The first clause goes as soon as it is complete, without waiting for the
        end of its sentence (a stream's; the last text goes to ``finish``)."""
        text = "".join(pieces)
        if self._undecided is not None:
            text = self._decide(text)
        if self.text_format == "ssml":
            self._document.append(text)
            return []
        planned = self._plan(self._buffer.take(text))
        if not planned and self._planner.splits_first:
            early = self._buffer.early_clause()
            if early is not None:
                text = self._normalizer(early.text, self.lang_code, self.lexicon_used)
                planned = self._planner.first_clause(Sentence(text, early.ending))
        return planned

    def settle(self) -> list[Sentence]:
        """The text fed so far, planned, if it ends at punctuation (the stream paused)."""
        if self._undecided is not None or self.text_format == "ssml":
            return []
        return self._plan(self._buffer.settled())

    def finish(self, pieces: list[str]) -> list[Sentence | Segment]:
        """The last text: what is left, planned together (or the SSML document, rendered)."""
        text = "".join(pieces)
        if self._undecided is not None:
            text = self._decide(text)
            if self._undecided is not None:  # the whole text was shorter than "<speak"
                text, self._undecided = self._undecided, None
        if self.text_format == "ssml":
            document = "".join(self._document) + text
            self._document = []
            return self._render_ssml(document) if document.strip() else []
        return [*self._plan(self._buffer.take(text) + self._buffer.finish())]

    def segments(self, planned: Sentence) -> list[Segment]:
        """G2P for one planned segment, cut into pieces the model can take."""
        return self._segments(
            planned.text, self._phonemize(planned.text, self.lang_code), 1.0, planned.ending
        )

    def _decide(self, text: str) -> str:
        """Whether the text is SSML, once its start shows it; returns the text to go on with."""
        assert self._undecided is not None
        # Leading white space says nothing; dropping it as it comes keeps the test below
        # on the text's real start, however much of it arrives first.
        self._undecided = (self._undecided + text).lstrip("\ufeff \t\r\n")
        head = self._undecided[:SSML_PROLOGUE_CHARS].lower()
        if any(len(head) < len(start) and start.startswith(head) for start in _SSML_STARTS):
            return ""  # could still become "<speak" or a prologue
        if (
            head.startswith(SSML_PROLOGUE_STARTS)
            and "<speak" not in head
            and len(head) < SSML_PROLOGUE_CHARS
        ):
            return ""  # a prologue: SSML if <speak> follows
        text, self._undecided = self._undecided, None
        self.text_format = "ssml" if looks_like_ssml(text) else "text"
        return text

    def _plan(self, sentences: list[Sentence]) -> list[Sentence]:
        normalized = [
            Sentence(
                self._normalizer(sentence.text, self.lang_code, self.lexicon_used),
                sentence.ending,
            )
            for sentence in sentences
        ]
        return self._planner.plan_sentences([s for s in normalized if s.text])

    def _segments(self, text: str, phonemes: str, rate: float, ending: Ending) -> list[Segment]:
        phonemes = self._keep_symbols(phonemes)
        _LOGGER.debug("%r -> %s", text, phonemes)
        if not any(symbol.isalpha() for symbol in phonemes):
            # Nothing to say ("##", "$", "...", a lone emoji with its "."): Kokoro would
            # mumble a punctuation mark; the segment is dropped, the rest still spoken.
            return []
        self.phonemes += len(phonemes)
        chunks = chunk_phonemes(phonemes)
        endings = [_chunk_ending(c) for c in chunks[:-1]] + [ending]
        return [Segment(c, e, rate, text=text) for c, e in zip(chunks, endings, strict=True)]

    def _render_ssml(self, document: str) -> list[Sentence | Segment]:
        """An SSML document: sentences at their rates, pauses as silence."""
        normalizer = self._normalizer
        try:
            items = render_ssml(
                document,
                self.lang_code,
                partial(normalizer, applied=self.lexicon_used),
                normalizer.say_as,
                self._phonemize,
            )
        except Exception as err:  # SsmlError, or a say-as the rules could not read
            if not isinstance(err, SsmlError):
                _LOGGER.exception("SSML rendering failed")
            _LOGGER.warning("SSML not understood (%s); reading it as plain text", err)
            self.text_format = "ssml-as-text"
            plain = strip_markup(strip_prologue(document))
            return [*self._plan(split_text(plain, self.lang))]
        prepared: list[Sentence | Segment] = []
        for item in items:
            if isinstance(item, Pause):
                prepared.append(Segment("", Ending.BREAK, silence=item.seconds))
            else:
                prepared += self._segments(item.text, item.phonemes, item.rate, Ending.SENTENCE)
        return prepared
