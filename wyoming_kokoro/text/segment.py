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
