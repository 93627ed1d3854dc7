"""Markdown out of LLM answers: keep the words, drop the markup.

Works on one line or sentence at a time (streamed text arrives that way): headings,
emphasis, strike-through, links and images, inline code and code fences, list markers and
to-do boxes, block quotes, table pipes and horizontal rules.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*(```|~~~)[\w+-]*\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_QUOTE = re.compile(r"^\s*(>\s?)+")
_BULLET = re.compile(r"^\s*(?:[-*+•▪‣◦]|\d{1,3}[.)])\s+")
_CHECKBOX = re.compile(r"^\s*\[[ xX✓]\]\s+")  # a to-do item: - [ ] Milk, - [x] Eggs
_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()]*\)")
_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]*\)")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_CODE = re.compile(r"`+([^`]*)`+")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.{1,300}?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.{1,300}?)(?<=\S)~~")
_TABLE_DIVIDER = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def strip_markdown(text: str) -> str:
    """The spoken words of a line of markdown."""
    if _FENCE.match(text) or _RULE.match(text) or _TABLE_DIVIDER.match(text):
        return ""
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _CHECKBOX.sub("", _BULLET.sub("", text))
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(lambda m: m.group(1).replace("/", " slash "), text)  # paths in code
    text = _STRONG.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _EMPHASIS_STAR.sub(r"\1", text)
    text = _EMPHASIS_UNDERSCORE.sub(r"\1", text)
    text = _HTML_BREAK.sub(" ", text)
    if text.count("|") >= 2:  # a table row: its cells become a list
        cells = [cell.strip() for cell in text.strip().strip("|").split("|")]
        text = ", ".join(cell for cell in cells if cell)
    return text
