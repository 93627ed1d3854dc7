"""What the web page may change: saved custom voices and the user's lexicon file.

Custom voices saved from the page live in ``custom_voices.yaml`` in the download dir
(the server's writable data folder), in the same shape as the ``custom_voices``
setting; they are loaded at every start (:func:`load_saved_voices`) and join the
catalogue, and so Wyoming's Info, the moment they are saved. Voices named in the
configuration always win and cannot be replaced from the page.

Lexicon entries are written into the user's first lexicon file, which the server
already reloads when it changes. The file is rewritten as plain YAML (its comments are
not kept; the last version written by hand stays beside it as ``.bak``), and checked with the
lexicon's own parser before it replaces the old one.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..engine.voices import CustomVoice, UnknownVoiceError, VoiceCatalogue, parse_blend
from ..text.lexicon import SECTIONS, LexiconError, parse_lexicon

_LOGGER = logging.getLogger(__name__)

VOICES_FILE = "custom_voices.yaml"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_BLEND_PARTS = 8
MAX_WORD_CHARS = 100
MAX_SAY_CHARS = 300
MAX_LEXICON_ENTRIES = 5000


class StoreError(ValueError):
    """A change that cannot be made; ``param`` names the field at fault."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def check_name(name: object) -> str:
    """A custom voice's name: letters, digits, ``_ . -``; never a path."""
    if not isinstance(name, str) or not NAME.match(name) or ".." in name:
        raise StoreError(
            "a name is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            "name",
        )
    return name


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- voices


def _read_voices(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def load_saved_voices(catalogue: VoiceCatalogue, folder: Path) -> list[str]:
    """Add the voices saved from the page to the catalogue; the names added.

    A saved voice that no longer works (a name now taken by the configuration, a voice
    gone from the voices file) is skipped with a warning: it never stops the server."""
    path = folder / VOICES_FILE
    try:
        saved = _read_voices(path)
    except (OSError, yaml.YAMLError) as err:
        _LOGGER.warning("Cannot read saved custom voices %s (%s); skipped", path, err)
        return []
    added = []
    for name, spec in saved.items():
        try:
            voice = _custom_voice(str(name), spec)
            catalogue.add_custom(str(name), voice.weights, voice.speed, voice.description)
        except (StoreError, UnknownVoiceError) as err:
            _LOGGER.warning("Saved custom voice %r skipped: %s", name, err)
            continue
        added.append(str(name))
    if added:
        _LOGGER.info("Custom voices saved from the web page: %s", ", ".join(added))
    return added


def _custom_voice(name: str, spec: Any) -> CustomVoice:
    check_name(name)
    if not isinstance(spec, dict):
        raise StoreError(f"{name}: expected {{voice: weight, …}}")
    speed = spec.get("speed")
    description = spec.get("description")
    weights = {str(k): v for k, v in spec.items() if k not in ("speed", "description")}
    if not weights or len(weights) > MAX_BLEND_PARTS:
        raise StoreError(f"a blend mixes 1 to {MAX_BLEND_PARTS} voices", "voices")
    for voice, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise StoreError(f"the weight of {voice} must be a number > 0", "voices")
    if speed is not None and (
        isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.5 <= speed <= 2.0
    ):
        raise StoreError("speed must be between 0.5 and 2.0", "speed")
    if description is not None and (not isinstance(description, str) or len(description) > 200):
        raise StoreError("description must be text of at most 200 characters", "description")
    return CustomVoice(
        {k: float(v) for k, v in weights.items()},
        None if speed is None else float(speed),
        description,
    )


@dataclass
class VoiceStore:
    """Saves custom voices from the page into ``folder/custom_voices.yaml``."""

    catalogue: VoiceCatalogue
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / VOICES_FILE

    def saved(self) -> set[str]:
        try:
            return {str(name) for name in _read_voices(self.path)}
        except (OSError, yaml.YAMLError):
            return set()

    def save(self, body: dict[str, Any]) -> str:
        """Save ``{name, voices: "a:70+b:30" | {a: 70, …}, speed?, description?}``."""
        name = check_name(body.get("name"))
        blend = body.get("voices")
        if isinstance(blend, str):
            try:
                weights: Any = parse_blend(blend) or {blend.strip(): 1.0}
            except UnknownVoiceError as err:
                raise StoreError(str(err), "voices") from None
        else:
            weights = blend
        if not isinstance(weights, dict):
            raise StoreError('voices: "af_heart:70+af_bella:30" or {af_heart: 70, …}', "voices")
        spec: dict[str, Any] = dict(weights)
        for key in ("speed", "description"):
            if body.get(key) is not None:
                spec[key] = body[key]
        voice = _custom_voice(name, spec)
        if name in self.catalogue or self.catalogue.resolve(name) is not None:
            raise StoreError(f"a voice named {name!r} exists already", "name", 409)
        unknown = [v for v in voice.weights if v not in self.catalogue]
        if unknown:
            raise StoreError(f"unknown voice(s): {', '.join(unknown)}", "voices")
        saved = _read_voices(self.path)
        record: dict[str, Any] = {k: round(w, 4) for k, w in voice.weights.items()}
        if voice.speed is not None:
            record["speed"] = voice.speed
        if voice.description is not None:
            record["description"] = voice.description
        saved[name] = record
        _write_atomic(self.path, yaml.safe_dump(saved, sort_keys=False, allow_unicode=True))
        self.catalogue.add_custom(name, voice.weights, voice.speed, voice.description)
        _LOGGER.info("Custom voice %s saved: %s", name, record)
        return name


# --------------------------------------------------------------------------- lexicon

_KINDS = ("say", "ipa", "phonemes")
_LEXICON_HEADER = (
    "# Pronunciation lexicon (see the README), edited from the web page: it rewrites this\n"
    "# file without comments; the last version written by hand is kept in .bak.\n"
)


@dataclass
class LexiconStore:
    """Reads and edits one lexicon file (the first the server watches)."""

    path: Path | None

    def _load(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        loaded = yaml.safe_load(text)
        if loaded is None:
            return {}
        if not isinstance(loaded, dict):
            raise StoreError(f"{self.path} is not a mapping of words; edit it by hand", None, 409)
        return loaded

    def entries(self) -> list[dict[str, Any]]:
        """The file's entries, one dict each: lang, word, say|ipa|phonemes, case_sensitive."""
        try:
            loaded = self._load()
        except (OSError, yaml.YAMLError, StoreError) as err:
            raise StoreError(f"cannot read the lexicon file: {err}", None, 409) from None
        rows: list[dict[str, Any]] = []
        for key, value in loaded.items():
            if (
                str(key).lower() in SECTIONS
                and isinstance(value, dict)
                and not (set(map(str, value)) <= {*_KINDS, "case_sensitive"})
            ):
                rows += [_row(str(key), str(word), spec) for word, spec in value.items()]
            else:
                rows.append(_row("en", str(key), value))
        return rows

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        lang, word = self._where(body)
        kinds = [kind for kind in _KINDS if body.get(kind) not in (None, "")]
        if len(kinds) != 1:
            raise StoreError("give exactly one of say, ipa or phonemes", "say")
        kind = kinds[0]
        said = body[kind]
        if not isinstance(said, str) or not said.strip() or len(said) > MAX_SAY_CHARS:
            raise StoreError(f"{kind} must be text of at most {MAX_SAY_CHARS} characters", kind)
        case = bool(body.get("case_sensitive", False))
        value: Any = said.strip() if kind == "say" and not case else {kind: said.strip()}
        if case:
            value["case_sensitive"] = True
        return self._change(lang, word, value)

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        lang, word = self._where(body)
        return self._change(lang, word, None)

    def _where(self, body: dict[str, Any]) -> tuple[str, str]:
        if self.path is None:
            raise StoreError("the server has no lexicon file to edit", None, 409)
        lang = str(body.get("lang") or "en").lower()
        if lang not in SECTIONS:
            raise StoreError(f"lang must be one of {', '.join(sorted(SECTIONS))}", "lang")
        word = body.get("word")
        if not isinstance(word, str) or not word.strip() or len(word) > MAX_WORD_CHARS:
            raise StoreError(f"word must be text of at most {MAX_WORD_CHARS} characters", "word")
        if any(ch in word for ch in "\n\r\t"):
            raise StoreError("word must be on one line", "word")
        return lang, " ".join(word.split())

    def _change(self, lang: str, word: str, value: Any) -> dict[str, Any]:
        assert self.path is not None
        try:
            loaded = self._load()
        except (OSError, yaml.YAMLError) as err:
            raise StoreError(f"cannot read the lexicon file: {err}", None, 409) from None
        # Keep every entry in a language section, so that words like "it" are never
        # read as section names.
        sections: dict[str, dict[str, Any]] = {}
        for row in self.entries():
            spec = {k: row[k] for k in (*_KINDS, "case_sensitive") if row.get(k)}
            plain = list(spec) == ["say"]
            sections.setdefault(row["lang"], {})[row["word"]] = spec["say"] if plain else spec
        del loaded
        words = sections.setdefault(lang, {})
        match = next((w for w in words if w.lower() == word.lower()), None)
        if value is None:
            if match is None:
                raise StoreError(f"{word!r} is not in the lexicon file ({lang})", "word", 404)
            del words[match]
        else:
            if match is not None:
                del words[match]
            words[word] = value
        sections = {k: v for k, v in sections.items() if v}
        if sum(len(v) for v in sections.values()) > MAX_LEXICON_ENTRIES:
            raise StoreError(f"the lexicon file holds at most {MAX_LEXICON_ENTRIES} entries")
        text = _LEXICON_HEADER + yaml.safe_dump(sections, sort_keys=False, allow_unicode=True)
        try:
            parse_lexicon(text, str(self.path))
        except LexiconError as err:
            raise StoreError(str(err), "say") from None
        old = self.path.read_text("utf-8") if self.path.exists() else ""
        if old.strip() and not old.startswith(_LEXICON_HEADER):  # written by hand: kept
            _write_atomic(self.path.with_name(self.path.name + ".bak"), old)
        _write_atomic(self.path, text)
        _LOGGER.info("Lexicon %s: %s %r (%s)", self.path, "set" if value else "removed", word, lang)
        return {"lang": lang, "word": word}


def _row(lang: str, word: str, spec: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"lang": lang.lower(), "word": word}
    if isinstance(spec, dict):
        for kind in _KINDS:
            if spec.get(kind) is not None:
                row[kind] = str(spec[kind])
        row["case_sensitive"] = str(spec.get("case_sensitive", False)).lower() in ("true", "yes")
    else:
        row["say"] = str(spec)
        row["case_sensitive"] = False
    return row
