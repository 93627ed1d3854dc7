"""Text clean-up before G2P: what no voice can or should say.

Control and format characters, private-use and unassigned code points, emoji and their
joiners and variation selectors are removed; markup of a ``<speak>`` document that could
not be used is stripped (full SSML handling is a later feature); white space is folded.
"""

from __future__ import annotations

import html
import re
import unicodedata

_TAG = re.compile(r"<[^<>]*>|<[^<>]*$")
_SPACE = re.compile(r"\s+")
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "So"}


def strip_markup(text: str) -> str:
    """Plain text of an XML-ish document (tags removed, entities decoded), even if broken."""
    return html.unescape(_TAG.sub(" ", text))


def looks_like_ssml(text: str) -> bool:
    return text.lstrip().lower().startswith("<speak")


def clean_text(text: str) -> str:
    """Remove what cannot be spoken; fold white space."""
    text = unicodedata.normalize("NFC", text)
    kept = []
    for char in text:
        if char in "\n\t\r":
            kept.append(" ")
            continue
        category = unicodedata.category(char)
        # emoji, their skin-tone modifiers and variation selectors
        if (
            category in _DROP_CATEGORIES
            or "\ufe00" <= char <= "\ufe0f"
            or ("\U0001f3fb" <= char <= "\U0001f3ff")
        ):
            kept.append(" ")
            continue
        kept.append(char)
    return _SPACE.sub(" ", "".join(kept)).strip()
