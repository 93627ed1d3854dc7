"""Phonemes inside plain text, carried from normalization to G2P.

Power users write ``[Kokoro](/kˈOkəɹO/)`` (Misaki's and Kokoro-FastAPI's syntax: the word,
then Kokoro phonemes between slashes); the lexicon produces the same kind of piece. While
one text is normalized such a piece waits as a placeholder ``⟦0⟧`` that markdown removal,
clean-up and the language's rules leave alone; the normalized text then carries it as a
mark ``⟦word|phonemes⟧`` without white space, so that sentence grouping and clause cuts
never split it. The G2P (``g2p.py``) turns marks into Misaki links for English and splices
them between the phonemes of the text around them for every other language.
"""

from __future__ import annotations

import re

INLINE = re.compile(r"\[([^\[\]|⟦⟧]+)\]\(/([^()/|⟦⟧]+)/\)")
PLACEHOLDER = re.compile(r"⟦(\d+)⟧")
_MARK = re.compile(r"⟦([^|⟦⟧]*)\|([^⟦⟧]*)⟧")
_SPACE_IN_MARK = "\u2060"  # word joiner: not white space, so no cut falls inside a mark
_NO_SPACE_BEFORE = tuple(".,;:!?)…—”\"'")

Held = list[tuple[str, str]]  # (word, phonemes) by placeholder number


def hold(held: Held, word: str, phonemes: str) -> str:
    """A placeholder for ``phonemes`` spoken in place of ``word``."""
    held.append((word, phonemes))
    return f"⟦{len(held) - 1}⟧"


def hold_inline(text: str, held: Held) -> str:
    """``[word](/phonemes/)`` replaced by placeholders."""
    if "](/" not in text:
        return text
    return INLINE.sub(lambda m: hold(held, m.group(1), m.group(2).strip()), text)


def release(text: str, held: Held) -> str:
    """Placeholders replaced by marks (placeholders the text lost are simply gone)."""
    if not held:
        return text

    def mark(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(held):
            return match.group(0)
        word, phonemes = (
            " ".join(part.split()).replace(" ", _SPACE_IN_MARK) for part in held[index]
        )
        return f"⟦{word}|{phonemes}⟧"

    return PLACEHOLDER.sub(mark, text)


def has_marks(text: str) -> bool:
    return "⟦" in text and _MARK.search(text) is not None


def split_marks(text: str) -> list[str | tuple[str, str]]:
    """Text runs and (word, phonemes) pieces, in order."""
    parts: list[str | tuple[str, str]] = []
    last = 0
    for match in _MARK.finditer(text):
        if match.start() > last:
            parts.append(text[last : match.start()])
        word, phonemes = (g.replace(_SPACE_IN_MARK, " ") for g in match.groups())
        parts.append((word, phonemes))
        last = match.end()
    if last < len(text):
        parts.append(text[last:])
    return parts


def unmark(text: str) -> str:
    """The words of a marked text (for logs and for a fallback G2P)."""
    return "".join(p if isinstance(p, str) else p[0] for p in split_marks(text))


def to_misaki_links(text: str) -> str:
    """Marks as Misaki's ``[word](/phonemes/)`` links (Misaki's English G2P reads them)."""
    return "".join(p if isinstance(p, str) else f"[{p[0]}](/{p[1]}/)" for p in split_marks(text))


def splice(parts: list[str]) -> str:
    """Phoneme strings joined by spaces, except before punctuation."""
    joined = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        joined += part if not joined or part.startswith(_NO_SPACE_BEFORE) else " " + part
    return joined
