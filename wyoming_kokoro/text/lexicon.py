"""The pronunciation lexicon: words and phrases said the way the user wants.

A lexicon file is YAML, per language, a word or phrase → a respelling in plain words or
phonemes (Kokoro's alphabet, or IPA mapped like SSML ``<phoneme>``)::

    en:
      HACS: hacks
      ESPHome: {ipa: "ˈiː ɛs ˈpiː hoʊm"}
      Kokoro: {phonemes: "kˈOkəɹO"}
      Ring: {say: ring, case_sensitive: true}

Entries outside a language section are English. Language sections: ``en`` (American and
British), ``en-us``, ``en-gb``, ``es``, ``fr``, ``hi``, ``it``, ``ja``, ``pt``, ``zh``,
``all``. Matching: whole words, case-insensitive unless the entry says
``case_sensitive: true``, the longest entry first; English entries also match their
plurals and possessives (``HACS's``, ``Shellys``, ``Shellies``).

The built-in smart-home lexicon (``data/lexicon.yaml``) comes first; the user's files
follow, each winning over what came before. ``LexiconFiles`` checks the files' times at
most once a second, on the thread that calls it (the G2P thread): a changed file is used
for the next text, and a broken one logs one warning naming its line and keeps its
previous entries.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from .inline import Held, hold
from .ssml import ipa_to_kokoro

_LOGGER = logging.getLogger(__name__)

ENGLISH = "ab"
ALL_LANGUAGES = "abefhijpz"
SECTIONS = {
    "en": "ab",
    "en-us": "a",
    "en_us": "a",
    "en-gb": "b",
    "en_gb": "b",
    "es": "e",
    "fr": "f",
    "hi": "h",
    "it": "i",
    "ja": "j",
    "pt": "p",
    "pt-br": "p",
    "pt_br": "p",
    "zh": "z",
    "all": ALL_LANGUAGES,
}
_ENTRY_KEYS = frozenset(("say", "ipa", "phonemes", "case_sensitive"))
_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Entry:
    """One word or phrase: said as ``say`` (words) or as ``phonemes`` (Kokoro symbols)."""

    key: str
    say: str | None = None
    phonemes: str | None = None
    case_sensitive: bool = False

    @property
    def identity(self) -> str:
        """Entries with the same identity replace each other (later files win)."""
        return self.key if self.case_sensitive else self.key.lower()


# language letter -> identity -> entry
Entries = dict[str, dict[str, Entry]]


# --------------------------------------------------------------------------- reading


def _scalar(node: yaml.Node, what: str, source: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise LexiconError(f"{source}, line {node.start_mark.line + 1}: {what} must be text")
    return " ".join(str(node.value).split())


def _entry(key_node: yaml.Node, value: yaml.Node, letters: str, source: str, into: Entries) -> None:
    key = _scalar(key_node, "a word or phrase", source)
    line = f"{source}, line {value.start_mark.line + 1}"
    fields: dict[str, str] = {}
    if isinstance(value, yaml.ScalarNode):
        fields["say"] = _scalar(value, f"the respelling of {key!r}", source)
    elif isinstance(value, yaml.MappingNode):
        for field_node, field_value in value.value:
            name = _scalar(field_node, "a field name", source).lower()
            if name not in _ENTRY_KEYS:
                raise LexiconError(
                    f"{line}: {key!r} has an unknown field {name!r} "
                    "(use say, ipa or phonemes, and optionally case_sensitive)"
                )
            fields[name] = _scalar(field_value, f"{key!r}'s {name}", source)
    else:
        raise LexiconError(f"{line}: {key!r} needs a respelling or {{say|ipa|phonemes: …}}")
    spoken = [name for name in ("say", "ipa", "phonemes") if name in fields]
    if len(spoken) != 1:
        raise LexiconError(f"{line}: {key!r} needs exactly one of say, ipa or phonemes")
    flag = fields.get("case_sensitive", "false").lower()
    if flag not in _TRUE + _FALSE:
        raise LexiconError(f"{line}: {key!r}'s case_sensitive must be true or false")
    kind, text = spoken[0], fields[spoken[0]]
    for letter in letters:
        phonemes = ipa_to_kokoro(text, letter in ENGLISH, letter == "b") if kind == "ipa" else text
        entry = Entry(
            key,
            say=text if kind == "say" else None,
            phonemes=None if kind == "say" else phonemes,
            case_sensitive=flag in _TRUE,
        )
        into.setdefault(letter, {})[entry.identity] = entry


def _is_section(key: str, value: yaml.Node) -> bool:
    if key.lower() not in SECTIONS or not isinstance(value, yaml.MappingNode):
        return False
    names = {str(k.value).lower() for k, _ in value.value if isinstance(k, yaml.ScalarNode)}
    return not names <= _ENTRY_KEYS  # {say: …} under "it" is an entry for the word "it"


def parse_lexicon(text: str, source: str) -> Entries:
    """A lexicon file's entries by language letter; ``LexiconError`` names the bad line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        opened = err.context_mark
        context = (
            f" ({err.context} on line {opened.line + 1})"
            if err.context and opened is not None and opened is not mark
            else ""
        )
        raise LexiconError(f"{source}{where}: not valid YAML: {err.problem}{context}") from None
    except yaml.YAMLError as err:
        raise LexiconError(f"{source}: not valid YAML: {err}") from None
    entries: Entries = {}
    if root is None:
        return entries
    if not isinstance(root, yaml.MappingNode):
        raise LexiconError(f"{source}, line {root.start_mark.line + 1}: expected a mapping")
    for key_node, value in root.value:
        key = _scalar(key_node, "a language or a word", source)
        if _is_section(key, value):
            for entry_key, entry_value in value.value:
                _entry(entry_key, entry_value, SECTIONS[key.lower()], source, entries)
        else:
            _entry(key_node, value, ENGLISH, source, entries)
    return entries


def builtin_entries() -> Entries:
    """The smart-home lexicon shipped in the package."""
    text = resources.files("wyoming_kokoro").joinpath("data/lexicon.yaml").read_text("utf-8")
    return parse_lexicon(text, "built-in lexicon")


# --------------------------------------------------------------------------- matching


def _forms(key: str, english: bool) -> list[tuple[str, str]]:
    """The written forms of an entry with what they add: "" or "s" (plural, possessive)."""
    forms = [(key, "")]
    if english:
        forms += [(key + end, "s") for end in ("s", "es", "'s", "’s", "s'", "s’")]
        forms += [(key + "'", ""), (key + "’", "")]
        if key[-1:].lower() == "y":
            forms.append((key[:-1] + ("IES" if key.isupper() else "ies"), "s"))
    return forms


def _plural(phonemes: str, british: bool) -> str:
    last = phonemes.rstrip()[-1:]
    if last in "szʃʒʧʤ":
        return "ɪz" if british else "ᵻz"
    return "s" if last in "ptkfθ" else "z"


class _Matcher:
    """One language's entries as one regular expression (longest form first)."""

    def __init__(self, entries: dict[str, Entry], letter: str) -> None:
        self.letter = letter
        english = letter in ENGLISH
        self._exact: dict[str, tuple[Entry, str]] = {}
        self._folded: dict[str, tuple[Entry, str]] = {}
        patterns: dict[str, str] = {}
        for entry in entries.values():
            for form, suffix in _forms(entry.key, english):
                words = r"\s+".join(re.escape(word) for word in form.split(" "))
                if entry.case_sensitive:
                    self._exact.setdefault(form, (entry, suffix))
                    patterns.setdefault(form, words)
                else:
                    self._folded.setdefault(form.lower(), (entry, suffix))
                    patterns.setdefault(form.lower(), f"(?i:{words})")
        ordered = sorted(patterns.items(), key=lambda item: len(item[0]), reverse=True)
        body = "|".join(pattern for _, pattern in ordered)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)") if ordered else None

    def apply(self, text: str, held: Held, applied: list[str] | None) -> str:
        if self._pattern is None:
            return text

        def replace(match: re.Match[str]) -> str:
            written = " ".join(match.group(0).split())
            found = self._exact.get(written) or self._folded.get(written.lower())
            if found is None:  # cannot happen: every form is in one of the tables
                return match.group(0)
            entry, suffix = found
            if applied is not None:
                applied.append(entry.key)
            if entry.phonemes is not None:
                phonemes = entry.phonemes
                if suffix:
                    phonemes += _plural(phonemes, self.letter == "b")
                _LOGGER.debug("Lexicon: %r -> /%s/", written, phonemes)
                return hold(held, written, phonemes)
            said = (entry.say or "") + ("'s" if suffix else "")
            _LOGGER.debug("Lexicon: %r -> %r", written, said)
            return said

        return self._pattern.sub(replace, text)


class Lexicon:
    """Entries by language, compiled on first use; immutable once built."""

    def __init__(self, entries: Entries) -> None:
        self.entries = entries
        self._matchers: dict[str, _Matcher] = {}

    def apply(self, text: str, lang_code: str, held: Held, applied: list[str] | None = None) -> str:
        """``text`` with respellings written in and phoneme entries held as placeholders."""
        by_key = self.entries.get(lang_code)
        if not by_key:
            return text
        matcher = self._matchers.get(lang_code)
        if matcher is None:
            matcher = self._matchers[lang_code] = _Matcher(by_key, lang_code)
        return matcher.apply(text, held, applied)


def _count(entries: Entries) -> int:
    """Entries as written (one in an ``en`` section counts once, not per accent)."""
    return len({e.identity for by_key in entries.values() for e in by_key.values()})


def merge(*sources: Entries) -> Entries:
    """Later sources win; a later case-insensitive entry also replaces an earlier
    case-sensitive one for the same word (a user's ``matter:`` beats the built-in ``Matter``)."""
    merged: Entries = {}
    for source in sources:
        for letter, by_key in source.items():
            into = merged.setdefault(letter, {})
            for entry in by_key.values():
                if not entry.case_sensitive:
                    folded = entry.key.lower()
                    for old in [k for k, e in into.items() if e.key.lower() == folded]:
                        del into[old]
                into[entry.identity] = entry
    return merged


# --------------------------------------------------------------------------- the files


@dataclass
class _File:
    signature: tuple[int, int] | None = None  # (mtime_ns, size) of the version last read
    entries: Entries | None = None  # of the last version that could be read


class LexiconFiles:
    """The built-in lexicon plus the user's files, reloaded when one changes.

    Files that do not exist (yet) are watched too: one created later is loaded then.
    Call ``current()`` from the G2P thread only (it may read files).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        builtin: bool = True,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths = list(dict.fromkeys(Path(p).expanduser() for p in paths))
        self._builtin = builtin_entries() if builtin else {}
        self._files = {path: _File() for path in self.paths}
        self._interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._lexicon = Lexicon(self._builtin)
        self.current()
        _LOGGER.info(
            "Lexicon: %d built-in entries; files watched: %s",
            _count(self._builtin),
            ", ".join(str(p) for p in self.paths) or "none",
        )

    def current(self) -> Lexicon:
        """The lexicon to use now (the files' times are checked at most once per interval)."""
        with self._lock:
            now = self._clock()
            if now >= self._next_check:
                self._next_check = now + self._interval
                if self._refresh():
                    user = [f.entries for f in self._files.values() if f.entries is not None]
                    self._lexicon = Lexicon(merge(self._builtin, *user))
            return self._lexicon

    def _refresh(self) -> bool:
        changed = False
        for path, known in self._files.items():
            try:
                stat = path.stat()
                signature: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                signature = None
            if signature == known.signature:
                continue
            known.signature = signature
            if signature is None:
                if known.entries is not None:
                    _LOGGER.info("Lexicon file %s is gone; its entries no longer apply", path)
                    known.entries, changed = None, True
                continue
            try:
                entries = parse_lexicon(path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError) as err:
                _LOGGER.warning(
                    "Cannot read lexicon file %s (%s); keeping its last version", path, err
                )
                continue
            except LexiconError as err:
                _LOGGER.warning("%s; keeping the previous lexicon", err)
                continue
            known.entries, changed = entries, True
            _LOGGER.info("Lexicon file %s: %d entries", path, _count(entries))
        return changed
