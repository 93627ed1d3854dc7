"""Sentence segmentation (one-shot and streamed text) and phoneme chunking.

Every piece of text this module hands on says what ended it (:class:`Ending`), so that
the audio stage can pause by punctuation. All of it runs in time linear in the text.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

from ..languages import ANY, Language, language

# Kokoro's context: 512 tokens including the two padding tokens.
MAX_PHONEMES = 510


class Ending(str, enum.Enum):
    """What ended a piece of text (and so which pause may follow its audio)."""

    CLAUSE = "clause"  # a comma, semicolon, colon or dash inside a sentence
    SENTENCE = "sentence"  # terminal punctuation, a line break, or the end of the text
    PARAGRAPH = "paragraph"  # a blank line
    BREAK = "break"  # an SSML <break> (the piece is silence)
    CUT = "cut"  # no punctuation: cut only to keep the piece within a length limit
    PART = "part"  # audio only: a vocoder part, more audio of the same segment follows


class Sentence(NamedTuple):
    text: str
    ending: Ending = Ending.SENTENCE


# A sentence ends after terminal punctuation (and any closing quotes or brackets) once
# whitespace follows, after a spaceless mark (。！？ of Chinese and Japanese, the danda ।)
# once the next character shows the closing marks are complete, or at a line break.
# Streamed text is only cut once that character has arrived, so "3." followed later by
# "5" never splits a number. Each alternative starts with a single-character test, so
# runs of whitespace are scanned once (a pattern such as ``\s*\n`` would rescan the run
# from every position: quadratic).
_LAST_WORD = re.compile(r"(\S+)$")
# "1." opening a numbered list item (markdown) is not a sentence of its own.
_LIST_NUMBER = re.compile(r"\s*\d{1,3}\.")
# A number followed by . , or : at the very end of a stream's text so far: it may go on.
_OPEN_NUMBER = re.compile(r"\d[.,:]$")


def _marks(marks: str) -> str:
    return re.escape(marks) if marks else ""


@functools.cache
def _boundary(lang: Language) -> re.Pattern[str]:
    closing = _marks(lang.closing_marks)
    if lang.spaced_closing_marks:  # French: « C'est fait ! »
        closing_run = rf"((?:[{closing}]|[^\S\n][{_marks(lang.spaced_closing_marks)}])*)"
    else:
        closing_run = rf"([{closing}]*)"
    spaced = rf"(?<=[{_marks(lang.sentence_marks)}]){closing_run}\s+"
    spaceless = ""
    if lang.spaceless_sentence_marks:
        mark = _marks(lang.spaceless_sentence_marks)
        spaceless = rf"|(?<=[{mark}])([{closing}]*)(?=[^{closing}])\s*"
    return re.compile(rf"{spaced}{spaceless}|\n\s*")


@functools.cache
def _clause_punctuation(lang: Language) -> re.Pattern[str]:
    spaceless = lang.spaceless_clause_marks
    extra = rf"|[{_marks(spaceless)}]\s*" if spaceless else ""
    return re.compile(rf"[{_marks(lang.clause_marks)}]\s+{extra}|\s+[—–-]\s+")


def is_abbreviation(before: str, lang: Language = ANY) -> bool:
    match = _LAST_WORD.search(before)
    if match is None:
        return False
    word = match.group(1)
    if not word.endswith("."):
        return False
    stem = lang.word(word[:-1])
    # Initials such as "J." and known abbreviations do not end a sentence.
    return stem in lang.abbreviations or (len(stem) == 1 and stem.isalpha())


def _cut_point(text: str, limit: int) -> int:
    """Where to cut ``text`` (longer than ``limit``): its last whitespace before the limit."""
    for index in range(limit, limit // 2, -1):
        if text[index].isspace():
            return index
    return limit


def bounded(sentence: Sentence, limit: int) -> list[Sentence]:
    """``sentence`` as pieces of at most ``limit`` characters, cut at whitespace."""
    pieces: list[Sentence] = []
    text = sentence.text
    while len(text) > limit:
        cut = _cut_point(text, limit)
        head, text = text[:cut].strip(), text[cut:].lstrip()
        if head:
            pieces.append(Sentence(head, Ending.CUT))
    if text.strip():
        pieces.append(Sentence(text.strip(), sentence.ending))
    return pieces


class SentenceBuffer:
    """Collects text pieces (split anywhere, even mid-word) and releases whole sentences.

    No sentence it releases is longer than ``MAX_PENDING`` characters, and it never holds
    more than that: text without sentence ends is cut at whitespace, as often as needed.
    """

    MAX_PENDING = 1000

    def __init__(self, lang: Language | str = ANY) -> None:
        self.lang = lang if isinstance(lang, Language) else language(lang)
        self._boundary = _boundary(self.lang)
        self._text = ""
        self._scan_from = 0  # boundaries before this were already judged

    def take(self, piece: str) -> list[Sentence]:
        """Add a piece of text; return the sentences it completed.

        Each call only scans the new text (plus a few characters before it, where a
        boundary may now be complete), so a stream of tiny chunks costs linear time.
        """
        self._text += piece
        sentences: list[Sentence] = []
        start = 0
        waiting: int | None = None  # where a line break at the end of the text begins
        for match in self._boundary.finditer(self._text, self._scan_from):
            closing = match.group(1) or (match.group(2) if match.re.groups > 1 else "") or ""
            end = match.start() + len(closing)  # closing quotes stay
            breaks = match.group(0).count("\n")
            if breaks == 1 and match.end() == len(self._text):
                waiting = match.start()  # the next piece may make it a paragraph break
                break
            if not breaks and (
                is_abbreviation(self._text[max(start, end - 40) : end], self.lang)
                or _LIST_NUMBER.fullmatch(self._text, start, end)
            ):
                continue
            ending = Ending.PARAGRAPH if breaks > 1 else Ending.SENTENCE
            sentences += bounded(Sentence(self._text[start:end], ending), self.MAX_PENDING)
            start = match.end()
        self._text = self._text[start:]
        rescan = max(0, len(self._text) - 16) if waiting is None else waiting - start
        while len(self._text) > self.MAX_PENDING:  # as often as needed: never one huge piece
            rescan = 0
            cut = _cut_point(self._text, self.MAX_PENDING)
            head, self._text = self._text[:cut].strip(), self._text[cut:]
            if head:
                sentences.append(Sentence(head, Ending.CUT))
        if self._text.isspace():
            self._text = ""  # nothing to wait for in whitespace alone
        self._scan_from = min(rescan, len(self._text))
        return sentences

    def early_clause(self) -> Sentence | None:
        """The unfinished sentence's first clause, as soon as it is complete (streams).

        Only whole words count (the text up to its last space or spaceless punctuation),
        the cut is the one :func:`split_first_clause` makes, and it is taken only at clause
        punctuation, where more text cannot move it and Kokoro would pause too: never
        before a conjunction or a phrase word ("switched | on" is no boundary), and at
        its first clause punctuation however far in. ``split_first_clause`` also wants
        some text after the cut, so a short sentence that is about to end is not cut.
        """
        lang = self.lang
        ends = _WORD_ENDS + lang.spaceless_clause_marks + lang.spaceless_sentence_marks
        last = max(self._text.rfind(c) for c in ends)
        if last < 0:
            return None
        complete = self._text[: last + 1]
        # However long the clause: a stream's sentence can only end later, and the cut
        # a long clause gets in a one-shot (before a phrase word) is no clause boundary.
        parts = split_first_clause(complete, lang, max_chars=len(complete))
        if len(parts) != 2:
            return None
        head, rest = parts
        if clause_ending(head, lang) is not Ending.CLAUSE:
            return None
        self._text = self._text[len(complete.rstrip()) - len(rest) :]
        self._scan_from = 0
        return Sentence(head, Ending.CLAUSE)

    def settled(self) -> list[Sentence]:
        """The text held, as a sentence, if it ends at punctuation (a stream whose text
        paused: more may come, but what ends at a mark can be spoken now)."""
        lang = self.lang
        held = self._text.rstrip()
        if (
            _OPEN_NUMBER.search(self._text)  # "21." "1," "6:" may go on: "21.5", "6:30"
            or is_abbreviation(held[-40:], lang)  # "Dr." ends no sentence, as in take()
            or _LIST_NUMBER.fullmatch(held)
        ):
            return []
        rest = held.rstrip(lang.closing_marks)
        if rest.endswith(tuple(lang.sentence_marks + lang.spaceless_sentence_marks)):
            return self.finish()
        if rest.endswith(tuple(lang.clause_marks + lang.spaceless_clause_marks)):
            return [Sentence(sentence.text, Ending.CLAUSE) for sentence in self.finish()]
        return []

    def finish(self) -> list[Sentence]:
        """Whatever text is left, as the final sentence."""
        rest, self._text = self._text.strip(), ""
        self._scan_from = 0
        return [Sentence(rest)] if rest else []

    def feed(self, piece: str) -> list[str]:
        """:meth:`take`, as plain text."""
        return [sentence.text for sentence in self.take(piece)]

    def flush(self) -> list[str]:
        """:meth:`finish`, as plain text."""
        return [sentence.text for sentence in self.finish()]


def split_text(text: str, lang: Language | str = ANY) -> list[Sentence]:
    """Split a whole text into sentences, each with what ended it."""
    buffer = SentenceBuffer(lang)
    return buffer.take(text) + buffer.finish()


def split_sentences(text: str, lang: Language | str = ANY) -> list[str]:
    """Split a whole text into sentences."""
    return [sentence.text for sentence in split_text(text, lang)]


# Where a long phoneme string may be cut, strongest boundary first.
_CUT_CLASSES = (".!?", ";:—…", ",", " ")


def chunk_phonemes(phonemes: str, limit: int = MAX_PHONEMES) -> list[str]:
    """Cut a phoneme string (one symbol per token) into pieces of at most ``limit`` symbols.

    Each cut falls after the strongest punctuation in the second half of the window, else
    at the last word boundary, and only as a last resort inside a word.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    chunks: list[str] = []
    rest = phonemes.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]  # a space right after the limit is a clean cut too
        cut = -1
        for symbols in _CUT_CLASSES:
            positions = [window.rfind(s, 0, limit + (s == " ")) for s in symbols]
            best = max(positions)
            if best >= limit // 2 or (symbols == " " and best > 0):
                cut = best if symbols == " " else best + 1
                break
        if cut <= 0:
            cut = limit
        piece, rest = rest[:cut].strip(), rest[cut:].strip()
        if piece:
            chunks.append(piece)
    if rest:
        chunks.append(rest)
    return chunks


# --------------------------------------------------------------------------- segment plan

_WORD = re.compile(r"\S+")


def _cut(sentence: str, at: int, resume: int, min_rest: int) -> list[str] | None:
    head, rest = sentence[:at].strip(), sentence[resume:].strip()
    if head.endswith(("-", "—", "–")):
        head = head[:-1].strip()
    return [head, rest] if len(rest) >= min_rest else None


FIRST_CLAUSE_MAX = 48
_WORD_ENDS = " \t\n\u3000"


def clause_ending(head: str, lang: Language = ANY) -> Ending:
    """A first clause's ending: a clause if punctuation ends it, else a cut (a cut before a
    conjunction or a phrase word, where Kokoro would not pause)."""
    marks = lang.clause_marks + lang.spaceless_clause_marks
    return Ending.CLAUSE if head.rstrip().endswith(tuple(marks)) else Ending.CUT


def closed(sentence: Sentence, lang: Language = ANY) -> str:
    """A sentence's text, ready to have another joined after it: one that ended at a line
    break without a mark (a list item, a heading, a table row) gets the language's full
    stop, so that Kokoro still ends it there ("Milk Eggs Bread" is one phrase)."""
    text = sentence.text.rstrip()
    if sentence.ending is not Ending.SENTENCE:
        return text  # a clause ends at its mark; a cut for length is no boundary
    marks = (
        lang.sentence_marks
        + lang.spaceless_sentence_marks
        + lang.clause_marks
        + lang.spaceless_clause_marks
        + "-–—"
    )
    if not text or text.rstrip(lang.closing_marks).endswith(tuple(marks)):
        return text
    spaceless = lang.spaceless_sentence_marks and lang.code  # ANY: marks of every language
    return text + (lang.spaceless_sentence_marks[0] if spaceless else ".")


def split_first_clause(
    sentence: str,
    lang: Language | str = "en",
    min_chars: int | None = None,
    min_rest: int | None = None,
    max_chars: int = FIRST_CLAUSE_MAX,
) -> list[str]:
    """Cut a sentence after its first clause so that the first audio is short.

    The cut falls at the first comma, semicolon, colon or spaced dash at least
    ``min_chars`` in, else before the first conjunction at least ``min_chars`` in. When
    that first clause would be longer than ``max_chars`` (or there is none), the cut falls
    before the first phrase-opening word (with, from, for…) between ``min_chars + 4`` and
    ``max_chars``, a natural pause. No cut when what would remain is shorter than
    ``min_rest`` characters.
    """
    lang = lang if isinstance(lang, Language) else language(lang)
    if min_chars is None:
        min_chars = lang.clause_min_chars
    if min_rest is None:
        min_rest = lang.clause_min_rest
    cut: list[str] | None = None
    for match in _clause_punctuation(lang).finditer(sentence):
        if match.start() >= min_chars:
            cut = _cut(sentence, match.start() + 1, match.end(), min_rest)
            break
    if cut is None:
        for match in _WORD.finditer(sentence):
            if match.start() >= min_chars and lang.word(match.group(0)) in lang.conjunctions:
                cut = _cut(sentence, match.start(), match.start(), min_rest)
                break
    if cut is None or len(cut[0]) > max_chars:
        for match in _WORD.finditer(sentence[: max_chars + 1]):
            if match.start() >= min_chars + 4 and lang.word(match.group(0)) in lang.phrase_words:
                shorter = _cut(sentence, match.start(), match.start(), min_rest)
                if shorter is not None:
                    return shorter
                break
    return cut or [sentence]


def split_clauses(sentence: str, max_chars: int, lang: Language = ANY) -> list[str]:
    """Cut a long sentence at clause punctuation into pieces of about ``max_chars`` at most.

    Pieces are packed greedily; a clause longer than ``max_chars`` stays whole (the
    phoneme chunker still keeps it within the model's limit).
    """
    if len(sentence) <= max_chars:
        return [sentence]
    clauses: list[str] = []
    start = 0
    for match in _clause_punctuation(lang).finditer(sentence):
        clauses.append(sentence[start : match.start() + 1].strip())
        start = match.end()
    clauses.append(sentence[start:].strip())
    pieces: list[str] = []
    for clause in filter(None, clauses):
        if pieces and len(pieces[-1]) + 1 + len(clause) <= max_chars:
            pieces[-1] = f"{pieces[-1]} {clause}"
        else:
            pieces.append(clause)
    return pieces


# Characters of text that make about 510 phonemes (English: ~1.1 phonemes a character).
WHOLE_CEILING = 420


class SegmentPlanner:
    """Groups sentences into synthesis segments.

    ``whole`` (the default of the server, while pauses are Kokoro's own): as much of the
    reply as fits one inference (``WHOLE_CEILING`` characters, about 510 phonemes) is one
    segment, so durations, pitch and pauses are the model's own; no sentence is cut
    except where its length forces it. A stream's first clause is cut off before (see
    :meth:`SentenceBuffer.early_clause`), only at clause punctuation.

    Else, a short first clause, then larger groups: after the first clause, consecutive
    short sentences are joined while they fit a budget that grows with the text already
    sent (never above ``ceiling`` characters), and sentences longer than ``ceiling`` are
    cut at their clauses. With ``join`` off each sentence is a segment of its own (so
    that a pause set by the user can go between them). Measured on CPU the
    real-time factor is flat to slightly worse for longer inputs, while memory and the
    time another request may wait for the engine grow with them: segments stay small.
    """

    def __init__(
        self,
        lang: Language | str = "en",
        floor: int = 60,
        ceiling: int = 100,
        growth: float = 1.5,
        split_first: bool = True,
        whole: bool = False,
        join: bool = True,
    ) -> None:
        self.lang = lang if isinstance(lang, Language) else language(lang)
        self.whole = whole
        self.join = join or whole
        self.floor = floor
        self.ceiling = WHOLE_CEILING if whole else ceiling
        self.growth = growth
        self._split_first = split_first
        self._sent_chars = 0

    @property
    def splits_first(self) -> bool:
        """Whether the first clause is still to be cut off (nothing planned yet)."""
        return self._split_first

    def first_clause(self, clause: Sentence) -> list[Sentence]:
        """A first clause already cut off (a stream's, see ``early_clause``): one segment."""
        self._split_first = False
        self._sent_chars += len(clause.text)
        return [clause]

    def _budget(self) -> int:
        if self.whole:
            return self.ceiling
        return int(min(self.ceiling, max(self.floor, self.growth * self._sent_chars)))

    def plan(self, sentences: list[str]) -> list[str]:
        """Segments for the sentences available now (joined only among themselves)."""
        return [segment.text for segment in self.plan_sentences(sentences)]

    def plan_sentences(self, sentences: Sequence[str | Sentence]) -> list[Sentence]:
        """:meth:`plan`, keeping what ended each segment (that of its last sentence)."""
        marked = (s if isinstance(s, Sentence) else Sentence(s) for s in sentences)
        queue = [s for s in marked if s.text.strip()]
        segments: list[Sentence] = []
        if queue and self._split_first and self.whole:
            self._split_first = False  # no cut inside a sentence that is here whole
        elif queue and self._split_first:
            self._split_first = False
            sentence = queue.pop(0)
            first, *rest = split_first_clause(sentence.text, self.lang)
            # The first clause (or the whole first sentence) is a segment of its own.
            ending = clause_ending(first, self.lang) if rest else sentence.ending
            segments.append(Sentence(first, ending))
            self._sent_chars += len(first)
            queue = [Sentence(r, sentence.ending) for r in rest] + queue
        group: Sentence | None = None
        for sentence in queue:
            clauses = split_clauses(sentence.text, self.ceiling, self.lang)
            pieces = [Sentence(c, Ending.CLAUSE) for c in clauses[:-1]]
            for piece in pieces + [Sentence(c, sentence.ending) for c in clauses[-1:]]:
                if group and (
                    not self.join
                    or group.ending is Ending.PARAGRAPH  # a paragraph's end stays a segment's end
                    or len(group.text) + 1 + len(piece.text) > self._budget()
                ):
                    segments.append(group)
                    self._sent_chars += len(group.text)
                    group = piece
                elif group:
                    text = closed(group, self.lang)
                    spaceless = text.endswith(tuple(self.lang.spaceless_sentence_marks))
                    joined = text + ("" if spaceless else " ") + piece.text
                    group = Sentence(joined, piece.ending)
                else:
                    group = piece
        if group:
            segments.append(group)
            self._sent_chars += len(group.text)
        return segments
