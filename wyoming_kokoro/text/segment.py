"""Sentence segmentation (one-shot and streamed text) and phoneme chunking."""

from __future__ import annotations

import re

# Kokoro's context: 512 tokens including the two padding tokens.
MAX_PHONEMES = 510

# Words whose trailing period does not end a sentence.
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "vs",
        "etc",
        "approx",
        "prof",
        "sr",
        "jr",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "mt",
        "ft",
        "inc",
        "ltd",
        "co",
        "dept",
        "est",
    ]
)

# A sentence ends after terminal punctuation (and any closing quotes or brackets) once
# whitespace follows, or at a line break. Streamed text is only cut once the whitespace
# has arrived, so "3." followed later by "5" never splits a number.
_BOUNDARY = re.compile(r"(?<=[.!?…。！？])([\"'”’)\]]*)\s+|\s*\n\s*")
_LAST_WORD = re.compile(r"(\S+)$")


def _is_abbreviation(before: str) -> bool:
    match = _LAST_WORD.search(before)
    if match is None:
        return False
    word = match.group(1)
    if not word.endswith("."):
        return False
    stem = word[:-1].lower().lstrip("(\"'“‘")
    # Initials such as "J." and known abbreviations do not end a sentence.
    return stem in ABBREVIATIONS or (len(stem) == 1 and stem.isalpha())


class SentenceBuffer:
    """Collects text pieces (split anywhere, even mid-word) and releases whole sentences."""

    def __init__(self) -> None:
        self._text = ""

    def feed(self, piece: str) -> list[str]:
        """Add a piece of text; return the sentences it completed."""
        self._text += piece
        sentences: list[str] = []
        start = 0
        for match in _BOUNDARY.finditer(self._text):
            end = match.start() + len(match.group(1) or "")  # closing quotes stay
            if "\n" not in match.group(0) and _is_abbreviation(self._text[start:end]):
                continue
            sentence = self._text[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = match.end()
        self._text = self._text[start:]
        return sentences

    def flush(self) -> list[str]:
        """Return whatever text is left as the final sentence."""
        rest, self._text = self._text.strip(), ""
        return [rest] if rest else []


def split_sentences(text: str) -> list[str]:
    """Split a whole text into sentences."""
    buffer = SentenceBuffer()
    return buffer.feed(text) + buffer.flush()


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


def split_first_clause(
    sentence: str, language: str = "en", min_chars: int = 12, min_rest: int = 12
) -> list[str]:
    """Cut a sentence after its first clause so that the first audio is short.

    The cut falls at the first comma, semicolon, colon or spaced dash at least
    ``min_chars`` in, else before the first conjunction at least ``min_chars`` in. No cut
    when what would remain is shorter than ``min_rest`` characters.
    """
    for match in _CLAUSE_PUNCTUATION.finditer(sentence):
        if match.start() >= min_chars:
            head, rest = sentence[: match.start() + 1].strip(), sentence[match.end() :].strip()
            if head.endswith(("-", "—", "–")):
                head = head[:-1].strip()
            if len(rest) >= min_rest:
                return [head, rest]
            break
    words = CONJUNCTIONS.get(language, frozenset())
    for match in _WORD.finditer(sentence):
        if match.start() >= min_chars and match.group(0).lower() in words:
            head, rest = sentence[: match.start()].strip(), sentence[match.start() :].strip()
            if len(rest) >= min_rest:
                return [head, rest]
            break
    return [sentence]


class SegmentPlanner:
    """Groups sentences into synthesis segments: a short first clause, then larger groups.

    Longer inputs use the model better (a lower real-time factor), so after the first
    clause consecutive sentences are joined while they fit a budget that grows with the
    text already sent, so that each segment is ready before the audio before it runs out.
    """

    def __init__(
        self,
        language: str = "en",
        floor: int = 80,
        ceiling: int = 400,
        growth: float = 1.5,
        split_first: bool = True,
    ) -> None:
        self.language = language
        self.floor = floor
        self.ceiling = ceiling
        self.growth = growth
        self._split_first = split_first
        self._sent_chars = 0

    def _budget(self) -> int:
        return int(min(self.ceiling, max(self.floor, self.growth * self._sent_chars)))

    def plan(self, sentences: list[str]) -> list[str]:
        """Segments for the sentences available now (joined only among themselves)."""
        queue = [s for s in sentences if s.strip()]
        segments: list[str] = []
        if queue and self._split_first:
            self._split_first = False
            first, *rest = split_first_clause(queue.pop(0), self.language)
            segments.append(first)
            self._sent_chars += len(first)
            queue = rest + queue
        group = ""
        for sentence in queue:
            if group and len(group) + 1 + len(sentence) > self._budget():
                segments.append(group)
                self._sent_chars += len(group)
                group = sentence
            else:
                group = f"{group} {sentence}" if group else sentence
        if group:
            segments.append(group)
            self._sent_chars += len(group)
        return segments
