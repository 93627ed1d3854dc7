"""Sentence segmentation (one-shot and streamed text) and phoneme chunking.

Every piece of text this module hands on says what ended it (:class:`Ending`), so that
the audio stage can pause by punctuation. All of it runs in time linear in the text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import NamedTuple

# Kokoro's context: 512 tokens including the two padding tokens.
MAX_PHONEMES = 510

# Words whose trailing period does not end a sentence.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr st vs etc approx prof sr jr e.g i.e a.m p.m mt ft inc ltd co dept est no nr
    ave rd blvd fig min jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()  # noqa: SIM905 (one word list, not 45 lines)
)


class Ending(str, enum.Enum):
    """What ended a piece of text (and so which pause may follow its audio)."""

    CLAUSE = "clause"  # a comma, semicolon, colon or dash inside a sentence
    SENTENCE = "sentence"  # terminal punctuation, a line break, or the end of the text
    PARAGRAPH = "paragraph"  # a blank line
    BREAK = "break"  # an SSML <break> (the piece is silence)
    CUT = "cut"  # no punctuation: cut only to keep the piece within a length limit


class Sentence(NamedTuple):
    text: str
    ending: Ending = Ending.SENTENCE


# A sentence ends after terminal punctuation (and any closing quotes or brackets) once
# whitespace follows, or at a line break. Streamed text is only cut once the whitespace
# has arrived, so "3." followed later by "5" never splits a number. Each alternative
# starts with a single-character test, so runs of whitespace are scanned once (a
# pattern such as ``\s*\n`` would rescan the run from every position: quadratic).
_BOUNDARY = re.compile(r"(?<=[.!?…。！？])([\"'”’)\]]*)\s+|\n\s*")
_LAST_WORD = re.compile(r"(\S+)$")
# "1." opening a numbered list item (markdown) is not a sentence of its own.
_LIST_NUMBER = re.compile(r"\s*\d{1,3}\.")


def is_abbreviation(before: str) -> bool:
    match = _LAST_WORD.search(before)
    if match is None:
        return False
    word = match.group(1)
    if not word.endswith("."):
        return False
    stem = word[:-1].lower().lstrip("(\"'“‘")
    # Initials such as "J." and known abbreviations do not end a sentence.
    return stem in ABBREVIATIONS or (len(stem) == 1 and stem.isalpha())


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

    def __init__(self) -> None:
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
        for match in _BOUNDARY.finditer(self._text, self._scan_from):
            end = match.start() + len(match.group(1) or "")  # closing quotes stay
            breaks = match.group(0).count("\n")
            if breaks == 1 and match.end() == len(self._text):
                waiting = match.start()  # the next piece may make it a paragraph break
                break
            if not breaks and (
                is_abbreviation(self._text[max(start, end - 40) : end])
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

    def early_clause(self, language: str) -> Sentence | None:
        """The unfinished sentence's first clause, as soon as it is complete (streams).

        Only whole words count (the text up to its last space or CJK punctuation), the
        cut is the one :func:`split_first_clause` makes, and it is taken only where more
        text cannot move it: at clause punctuation, before a conjunction, or once the text
        is longer than a first clause may be. ``split_first_clause`` also wants some text
        after the cut, so a short sentence that is about to end is not cut.
        """
        last = max(self._text.rfind(c) for c in _WORD_ENDS)
        if last < 0:
            return None
        complete = self._text[: last + 1]
        parts = split_first_clause(complete, language)
        if len(parts) != 2:
            return None
        head, rest = parts
        settled = (
            clause_ending(head) is Ending.CLAUSE
            or rest.split(maxsplit=1)[0].lower() in CONJUNCTIONS.get(language, ())
            or len(complete) > FIRST_CLAUSE_MAX + FIRST_CLAUSE_MIN_REST
        )
        if not settled:
            return None
        self._text = self._text[len(complete.rstrip()) - len(rest) :]
        self._scan_from = 0
        return Sentence(head, clause_ending(head))

    def settled(self) -> list[Sentence]:
        """The text held, as a sentence, if it ends at punctuation (a stream whose text
        paused: more may come, but what ends at a mark can be spoken now)."""
        rest = self._text.rstrip().rstrip("\"'”’)]")
        if rest.endswith(tuple(".!?…。！？")):
            return self.finish()
        if rest.endswith(tuple(_CLAUSE_MARKS)):
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


def split_text(text: str) -> list[Sentence]:
    """Split a whole text into sentences, each with what ended it."""
    buffer = SentenceBuffer()
    return buffer.take(text) + buffer.finish()


def split_sentences(text: str) -> list[str]:
    """Split a whole text into sentences."""
    return [sentence.text for sentence in split_text(text)]


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

# Words before which a clause may be cut when there is no punctuation (per language letter).
CONJUNCTIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "and",
            "but",
            "or",
            "so",
            "because",
            "while",
            "although",
            "though",
            "whereas",
            "which",
            "when",
            "then",
        ]
    ),
    "es": frozenset(["y", "pero", "o", "porque", "aunque", "cuando", "mientras", "que"]),
    "fr": frozenset(["et", "mais", "ou", "donc", "car", "parce", "quand", "lorsque", "puis"]),
    "it": frozenset(["e", "ma", "o", "perché", "quando", "mentre", "poi"]),
    "pt": frozenset(["e", "mas", "ou", "porque", "quando", "enquanto", "então"]),
}
_CLAUSE_PUNCTUATION = re.compile(r"[,;:]\s+|[，、；：]\s*|\s+[—–-]\s+")
_WORD = re.compile(r"\S+")


# Words that open a phrase: a long first clause may be cut before one of them.
PHRASE_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        ["with", "from", "for", "in", "on", "at", "to", "of", "by", "after", "before"]
        + ["until", "during", "into", "over", "under", "about", "through", "around"]
    ),
    "es": frozenset(["con", "de", "en", "para", "por", "sobre", "hasta", "desde", "durante"]),
    "fr": frozenset(["avec", "de", "en", "pour", "par", "sur", "dans", "jusqu", "pendant"]),
    "it": frozenset(["con", "di", "in", "per", "su", "da", "fino", "durante"]),
    "pt": frozenset(["com", "de", "em", "para", "por", "sobre", "até", "durante"]),
}


def _cut(sentence: str, at: int, resume: int, min_rest: int) -> list[str] | None:
    head, rest = sentence[:at].strip(), sentence[resume:].strip()
    if head.endswith(("-", "—", "–")):
        head = head[:-1].strip()
    return [head, rest] if len(rest) >= min_rest else None


FIRST_CLAUSE_MIN_REST = 12
FIRST_CLAUSE_MAX = 48
_CLAUSE_MARKS = ",;:，、；："
_WORD_ENDS = " \t\n\u3000，、；：。！？"


def clause_ending(head: str) -> Ending:
    """A first clause's ending: a clause if punctuation ends it, else a cut (a cut before a
    conjunction or a phrase word, where Kokoro would not pause)."""
    return Ending.CLAUSE if head.rstrip().endswith(tuple(_CLAUSE_MARKS)) else Ending.CUT


def split_first_clause(
    sentence: str,
    language: str = "en",
    min_chars: int = 12,
    min_rest: int = FIRST_CLAUSE_MIN_REST,
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
    cut: list[str] | None = None
    for match in _CLAUSE_PUNCTUATION.finditer(sentence):
        if match.start() >= min_chars:
            cut = _cut(sentence, match.start() + 1, match.end(), min_rest)
            break
    if cut is None:
        words = CONJUNCTIONS.get(language, frozenset())
        for match in _WORD.finditer(sentence):
            if match.start() >= min_chars and match.group(0).lower() in words:
                cut = _cut(sentence, match.start(), match.start(), min_rest)
                break
    if cut is None or len(cut[0]) > max_chars:
        phrase_words = PHRASE_WORDS.get(language, frozenset())
        for match in _WORD.finditer(sentence[: max_chars + 1]):
            if match.start() >= min_chars + 4 and match.group(0).lower() in phrase_words:
                shorter = _cut(sentence, match.start(), match.start(), min_rest)
                if shorter is not None:
                    return shorter
                break
    return cut or [sentence]


def split_clauses(sentence: str, max_chars: int) -> list[str]:
    """Cut a long sentence at clause punctuation into pieces of about ``max_chars`` at most.

    Pieces are packed greedily; a clause longer than ``max_chars`` stays whole (the
    phoneme chunker still keeps it within the model's limit).
    """
    if len(sentence) <= max_chars:
        return [sentence]
    clauses: list[str] = []
    start = 0
    for match in _CLAUSE_PUNCTUATION.finditer(sentence):
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


class SegmentPlanner:
    """Groups sentences into synthesis segments: a short first clause, then larger groups.

    After the first clause, consecutive short sentences are joined while they fit a
    budget that grows with the text already sent (never above ``ceiling`` characters),
    and sentences longer than ``ceiling`` are cut at their clauses. Measured on CPU the
    real-time factor is flat to slightly worse for longer inputs, while memory and the
    time another request may wait for the engine grow with them: segments stay small.
    """

    def __init__(
        self,
        language: str = "en",
        floor: int = 60,
        ceiling: int = 100,
        growth: float = 1.5,
        split_first: bool = True,
    ) -> None:
        self.language = language
        self.floor = floor
        self.ceiling = ceiling
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
        return int(min(self.ceiling, max(self.floor, self.growth * self._sent_chars)))

    def plan(self, sentences: list[str]) -> list[str]:
        """Segments for the sentences available now (joined only among themselves)."""
        return [segment.text for segment in self.plan_sentences(sentences)]

    def plan_sentences(self, sentences: Sequence[str | Sentence]) -> list[Sentence]:
        """:meth:`plan`, keeping what ended each segment (that of its last sentence)."""
        marked = (s if isinstance(s, Sentence) else Sentence(s) for s in sentences)
        queue = [s for s in marked if s.text.strip()]
        segments: list[Sentence] = []
        if queue and self._split_first:
            self._split_first = False
            sentence = queue.pop(0)
            first, *rest = split_first_clause(sentence.text, self.language)
            # The first clause (or the whole first sentence) is a segment of its own.
            segments.append(Sentence(first, clause_ending(first) if rest else sentence.ending))
            self._sent_chars += len(first)
            queue = [Sentence(r, sentence.ending) for r in rest] + queue
        group: Sentence | None = None
        for sentence in queue:
            clauses = split_clauses(sentence.text, self.ceiling)
            pieces = [Sentence(c, Ending.CLAUSE) for c in clauses[:-1]]
            for piece in pieces + [Sentence(c, sentence.ending) for c in clauses[-1:]]:
                if group and (
                    group.ending is Ending.PARAGRAPH  # a paragraph's end stays a segment's end
                    or len(group.text) + 1 + len(piece.text) > self._budget()
                ):
                    segments.append(group)
                    self._sent_chars += len(group.text)
                    group = piece
                elif group:
                    group = Sentence(f"{group.text} {piece.text}", piece.ending)
                else:
                    group = piece
        if group:
            segments.append(group)
            self._sent_chars += len(group.text)
        return segments
