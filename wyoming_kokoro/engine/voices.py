"""Voice catalogue: the 54 Kokoro v1.0 voices, their languages and style tables."""

from __future__ import annotations

import math
import zipfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import CustomVoice as CustomVoice
from ..languages import LANGUAGES

STYLE_ROWS = 510
STYLE_DIM = 256

# Kokoro's voice names start with a language letter (see languages.py) and a gender letter.
GENDERS = {"f": "female", "m": "male"}


class VoicesFileError(ValueError):
    """The voices file cannot be used; the message names the file, the problem and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message}; delete it and run `python -m wyoming_kokoro.assets` to fetch it again"
        )


class UnknownVoiceError(ValueError):
    """A blend names a voice that does not exist, or cannot be read."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice as clients see it."""

    name: str
    lang_code: str  # Kokoro's one-letter language code
    locale: str  # Home Assistant locale, e.g. en_US
    language_name: str
    gender: str
    custom_description: str | None = None  # blends: from config.yaml, or generated
    speed: float | None = None  # a custom voice's own speaking rate

    @property
    def display_name(self) -> str:
        if "_" not in self.name or self.custom_description is not None:
            return self.name
        return self.name.split("_", 1)[1].replace("_", " ").title()

    @property
    def description(self) -> str:
        if self.custom_description is not None:
            return self.custom_description
        return f"{self.display_name} — {self.language_name}, {self.gender}"

    @staticmethod
    def from_name(name: str) -> VoiceInfo | None:
        """Describe a Kokoro voice name such as ``af_heart``; None if it has no known prefix."""
        if len(name) < 4 or name[2] != "_" or name[0] not in LANGUAGES or name[1] not in GENDERS:
            return None
        lang = LANGUAGES[name[0]]
        return VoiceInfo(name, name[0], lang.locale, lang.name, GENDERS[name[1]])


def read_voices_file(path: Path) -> dict[str, np.ndarray]:
    """Load a voices file (NumPy .npz, as upstream voices-v1.0.bin) into (510, 256) tables."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            raw = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise VoicesFileError(f"voices file {path} is unreadable or truncated ({err})") from None
    if not raw:
        raise VoicesFileError(f"voices file {path} holds no voices")
    styles: dict[str, np.ndarray] = {}
    for name, table in raw.items():
        if table.size != STYLE_ROWS * STYLE_DIM:
            raise VoicesFileError(
                f"voices file {path}: voice {name} has shape {table.shape}, "
                f"expected ({STYLE_ROWS}, 1, {STYLE_DIM})"
            )
        table = np.ascontiguousarray(table, dtype=np.float32).reshape(STYLE_ROWS, STYLE_DIM)
        if not np.isfinite(table).all():
            raise VoicesFileError(f"voices file {path}: voice {name} holds non-finite values")
        styles[name] = table
    return styles


def parse_blend(spec: str) -> dict[str, float] | None:
    """``af_heart+af_bella`` (equal parts) or ``af_heart:70+am_adam:30``; None if no blend."""
    if "+" not in spec and ":" not in spec:
        return None
    weights: dict[str, float] = {}
    for part in spec.split("+"):
        name, _, weight = part.strip().partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise UnknownVoiceError(f"voice blend {spec!r}: {weight!r} is not a weight") from None
        if not name or not math.isfinite(value) or value <= 0:
            raise UnknownVoiceError(
                f"voice blend {spec!r}: each part needs a name and a finite weight > 0"
            )
        weights[name.strip()] = weights.get(name.strip(), 0.0) + value
    if not math.isfinite(sum(weights.values())):  # 1e308 + 1e308: no mean to take
        raise UnknownVoiceError(f"voice blend {spec!r}: the weights add up to infinity")
    return weights


def language_code(language: str) -> str | None:
    """Map a request language (``en_GB``, ``en-gb``, ``fr``, ``pt-BR``…, or Kokoro's own
    letter, as Kokoro-FastAPI's ``lang_code`` gives it: ``a``, ``b``, ``z``…) to Kokoro's
    letter."""
    wanted = language.strip().replace("-", "_").lower()
    if not wanted:
        return None
    if wanted in LANGUAGES:
        return wanted
    for code, locale in ((c, lang.locale) for c, lang in LANGUAGES.items()):
        if wanted == locale.lower():
            return code
    base = wanted.split("_", 1)[0]
    if base == "en":
        return "a"  # plain "en" means American English, Kokoro's main voice set
    for code, locale in ((c, lang.locale) for c, lang in LANGUAGES.items()):
        if locale.lower().split("_", 1)[0] == base:
            return code
    return None


class VoiceCatalogue:
    """The loaded voices: their descriptions and style tables."""

    MAX_AD_HOC_BLENDS = 32

    def __init__(self, styles: dict[str, np.ndarray]) -> None:
        self._styles = styles
        self._info: dict[str, VoiceInfo] = {}
        self._ad_hoc: OrderedDict[str, VoiceInfo] = OrderedDict()
        for name in sorted(styles):
            info = VoiceInfo.from_name(name)
            if info is not None:
                self._info[name] = info

    @classmethod
    def from_file(cls, path: Path) -> VoiceCatalogue:
        return cls(read_voices_file(path))

    def __contains__(self, name: object) -> bool:
        return name in self._info

    def __len__(self) -> int:
        return len(self._info)

    @property
    def voices(self) -> Iterable[VoiceInfo]:
        return self._info.values()

    def info(self, name: str) -> VoiceInfo:
        return self._info.get(name) or self._ad_hoc[name]

    def blend(
        self,
        name: str,
        weights: dict[str, float],
        speed: float | None = None,
        description: str | None = None,
    ) -> VoiceInfo:
        """A new voice: the weighted mean of the named voices' style tables."""
        missing = [voice for voice in weights if voice not in self._info]
        if missing:
            raise UnknownVoiceError(f"voice {name!r} blends unknown voice(s): {', '.join(missing)}")
        total = sum(weights.values())
        table = self._mean(weights)
        lead = self._info[max(weights, key=lambda voice: weights[voice])]
        parts = ", ".join(
            f"{voice} {100 * weight / total:.0f}%" for voice, weight in weights.items()
        )
        info = VoiceInfo(
            name,
            lead.lang_code,
            lead.locale,
            lead.language_name,
            lead.gender,
            description or f"{name} — blend of {parts} ({lead.language_name})",
            speed,
        )
        self._styles[name] = table
        return info

    def add_custom(
        self, name: str, weights: dict[str, float], speed: float | None, description: str | None
    ) -> None:
        """A named custom voice from config.yaml, listed in Info like the built-in ones."""
        if name in self._info:
            raise UnknownVoiceError(f"custom voice {name!r} has the name of a built-in voice")
        self._info[name] = self.blend(name, weights, speed, description)

    def resolve(self, name: str) -> VoiceInfo | None:
        """A known voice, or an ad-hoc blend such as ``af_heart:70+am_adam:30``."""
        if name in self._info:
            return self._info[name]
        weights = parse_blend(name)
        if weights is None:
            return None
        key = "+".join(f"{voice}:{weight:g}" for voice, weight in weights.items())
        if key not in self._ad_hoc:
            self._ad_hoc[key] = self.blend(key, weights)
            while len(self._ad_hoc) > self.MAX_AD_HOC_BLENDS:
                old, _ = self._ad_hoc.popitem(last=False)
                self._styles.pop(old, None)
        self._ad_hoc.move_to_end(key)
        return self._ad_hoc[key]

    def style(self, name: str, num_tokens: int) -> np.ndarray:
        """The style row for an utterance of ``num_tokens`` phoneme tokens, shape (1, 256)."""
        row = max(1, min(num_tokens, STYLE_ROWS)) - 1
        table = self._styles.get(name)
        if table is None:  # an ad-hoc blend evicted while a request still speaks with it
            weights = parse_blend(name)
            if not weights:
                raise KeyError(name)
            table = self._mean(weights)
        return table[row : row + 1]

    def _mean(self, weights: dict[str, float]) -> np.ndarray:
        total = sum(weights.values())
        mixed = np.zeros((STYLE_ROWS, STYLE_DIM), dtype=np.float32)
        for voice, weight in weights.items():
            mixed += np.float32(weight / total) * self._styles[voice]
        return mixed

    def default_for_language(self, code: str, preferred: str) -> str | None:
        """The voice for a language-only request: the configured default if it fits."""
        if preferred in self._info and self._info[preferred].lang_code == code:
            return preferred
        default = LANGUAGES[code].default_voice if code in LANGUAGES else None
        if default in self._info:
            return default
        return next((v.name for v in self._info.values() if v.lang_code == code), None)
