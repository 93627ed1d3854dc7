"""Text before G2P: clean-up, markdown removal and per-language normalization.

``clean_text`` removes what no voice can say (control and format characters, private-use
and unassigned code points, emoji with their joiners and variation selectors) and folds
white space. ``TextNormalizer`` adds markdown removal and the language's rules: English
(en-US, en-GB) in ``english.py``; Spanish, French, Italian and Brazilian Portuguese
numbers in ``romance.py``; the Japanese and Mandarin G2Ps and espeak-ng's Hindi read
numbers themselves and only get the fixes below (num2words has no Hindi).
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Callable

from num2words import num2words

from .english import EnglishNormalizer
from .english_words import DIGITS
from .inline import PLACEHOLDER, Held, hold_inline, release
from .lexicon import LexiconFiles
from .markdown import strip_markdown
from .romance import NUM2WORDS_LANGUAGES, RomanceNormalizer, supported

_LOGGER = logging.getLogger(__name__)
_TAG = re.compile(r"<[^<>]*>|<[^<>]*$")
_SPACE = re.compile(r"\s+")
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "So"}
# Symbols of category So that carry meaning: kept for the normalizer to read.
_KEEP_SYMBOLS = frozenset("°℃℉©®™")


def strip_markup(text: str) -> str:
    """Plain text of an XML-ish document (tags removed, entities decoded), even if broken."""
    return html.unescape(_TAG.sub(" ", text))


SSML_PROLOGUE_STARTS = ("<?xml", "<!doctype", "<!--")
SSML_PROLOGUE_CHARS = 400  # how far into a document with a prologue <speak must begin


def looks_like_ssml(text: str) -> bool:
    """Text that starts with ``<speak`` (after an optional prologue: ``<?xml …?>``,
    ``<!DOCTYPE …>``, comments)."""
    head = text.lstrip("\ufeff \t\r\n").lower()
    if head.startswith(SSML_PROLOGUE_STARTS):
        return "<speak" in head[:SSML_PROLOGUE_CHARS]
    return head.startswith("<speak")


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
            (category in _DROP_CATEGORIES and char not in _KEEP_SYMBOLS)
            or "\ufe00" <= char <= "\ufe0f"
            or ("\U0001f3fb" <= char <= "\U0001f3ff")
        ):
            kept.append(" ")
            continue
        kept.append(char)
    return _SPACE.sub(" ", "".join(kept)).strip()


class TextNormalizer:
    """Markdown, clean-up, the lexicon and the language's rules; one per server (rules
    compile once). Inline ``[word](/phonemes/)`` and phoneme entries of the lexicon leave
    the normalized text as marks (see ``inline.py``) that the G2P reads."""

    def __init__(self, lexicon: LexiconFiles | None = None) -> None:
        self._languages: dict[str, Callable[[str], str]] = {}
        self.lexicon = lexicon

    def rules(self, lang_code: str) -> Callable[[str], str] | None:
        if lang_code not in self._languages:
            if lang_code in ("a", "b"):
                self._languages[lang_code] = EnglishNormalizer(british=lang_code == "b")
            elif supported(lang_code):
                self._languages[lang_code] = RomanceNormalizer(lang_code)
            elif lang_code == "j":
                self._languages[lang_code] = _japanese
            elif lang_code == "z":
                self._languages[lang_code] = _mandarin
            elif lang_code == "h":
                self._languages[lang_code] = _hindi
            else:
                return None
        return self._languages[lang_code]

    def __call__(self, text: str, lang_code: str, applied: list[str] | None = None) -> str:
        """A sentence (or a line) as it should be spoken in the language ``lang_code``.

        The keys of the lexicon entries used are appended to ``applied``. A rule that
        fails on odd input costs that sentence its normalization (logged), never the
        request.
        """
        held: Held = []
        text = clean_text(strip_markdown(hold_inline(text, held)))
        if self.lexicon is not None and text:
            text = self.lexicon.current().apply(text, lang_code, held, applied)
        rules = self.rules(lang_code)
        if rules is not None and text:
            text = _around_placeholders(rules, text) if held else _safely(rules, text)
        return release(text, held)

    def say_as(self, interpret: str, fmt: str | None, text: str, lang_code: str) -> str:
        """SSML ``<say-as>``: the words for ``text`` read as ``interpret``."""
        text = clean_text(text)
        try:
            return self._say_as(interpret, fmt, text, lang_code)
        except Exception:
            _LOGGER.warning("say-as %r of %r failed; reading it as text", interpret, text[:80])
            return self(text, lang_code)

    def _say_as(self, interpret: str, fmt: str | None, text: str, lang_code: str) -> str:
        rules = self.rules(lang_code)
        english = rules if isinstance(rules, EnglishNormalizer) else None
        digits = re.sub(r"\D", "", text)
        if interpret in ("characters", "spell-out", "verbatim", "letters"):
            return spell(text, english is not None, lang_code)
        if interpret == "digits" and digits:
            return " ".join(_digit_word(d, lang_code) for d in digits)
        if interpret in ("cardinal", "number") and re.fullmatch(r"[-−]?[\d,.]+", text):
            if english is not None:
                return english.number(text)
            if rules is not None:
                return rules(text)
        if interpret == "ordinal" and digits:
            lang = _NUM2WORDS.get(lang_code)
            if lang is not None:
                ordinal: str = num2words(int(digits), lang=lang, to="ordinal")
                return ordinal.replace(",", "")
        if interpret == "telephone" and english is not None:
            groups = re.findall(r"\+?\d+", text)
            return ", ".join(
                ("plus " if g.startswith("+") else "") + english.digits(g) for g in groups
            )
        if interpret == "date" and english is not None:
            spoken = _say_date(english, fmt or "", text)
            if spoken is not None:
                return spoken
        # time (the clock rules read "6:30pm" and "18:45"), unknown kinds, other languages
        return rules(text) if rules is not None else text


def _safely(rules: Callable[[str], str], text: str) -> str:
    try:
        return rules(text)
    except Exception:
        _LOGGER.warning("Normalizing %r failed; reading it as written", text[:80], exc_info=True)
        return text


def _around_placeholders(rules: Callable[[str], str], text: str) -> str:
    """The rules on each run of text between placeholders, the spacing kept."""
    parts = []
    for index, run in enumerate(PLACEHOLDER.split(text)):
        if index % 2:  # the number of a placeholder
            parts.append(f"⟦{run}⟧")
        elif run.strip():
            lead = " " if run[0].isspace() else ""
            trail = " " if run[-1].isspace() else ""
            parts.append(lead + _safely(rules, run.strip()) + trail)
        else:
            parts.append(run)
    return "".join(parts)


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NEGATIVE = re.compile(r"(?<![0-9A-Za-z.])[-−](?=\d)")


# Not \w around them: in Chinese and Japanese a date touches the words before and after.
_ISO_DATE = re.compile(r"(?<![0-9A-Za-z.\-/])(\d{4})-(\d{1,2})-(\d{1,2})(?![0-9A-Za-z\-/])")
_CLOCK = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_RANGE = re.compile(r"(?<![\d.,\-])(\d{1,4})\s?[-–~〜～]\s?(?=\d{1,4}(?![\d\-]))")


def _clock(hour: str, minute: str, hours: str, minutes: str, zero: str = "") -> str:
    """15:30 as 15時30分 (the G2P reads the counters); 7:05 as 7時5分, 9:00 as 9時."""
    if int(minute) == 0:
        return f"{int(hour)}{hours}"
    return f"{int(hour)}{hours}{zero if int(minute) < 10 else ''}{int(minute)}{minutes}"


def _units(text: str, units: dict[str, str]) -> str:
    for symbol, word in units.items():
        text = re.sub(rf"(?<=\d)\s?{re.escape(symbol)}(?![A-Za-z/])", word, text)
    return text


_JAPANESE_UNITS = {"kWh": "キロワット時", "kW": "キロワット", "km/h": "キロメートル毎時",
                   "m/s": "メートル毎秒", "hPa": "ヘクトパスカル", "mm": "ミリ"}  # fmt: skip
_MANDARIN_UNITS = {"kWh": "千瓦时", "kW": "千瓦", "km/h": "公里每小时", "m/s": "米每秒",
                   "hPa": "百帕", "mm": "毫米"}  # fmt: skip


_KANJI_DIGITS = "〇一二三四五六七八九"


def _kanji(number: int) -> str:
    """1-99 in kanji numerals: the G2P reads dates and hours from them (七日 nanoka, 一日
    tsuitachi), where it reads 7日 as "nana ka"."""
    tens, ones = divmod(number, 10)
    head = "" if not tens else ("十" if tens == 1 else _KANJI_DIGITS[tens] + "十")
    return head + (_KANJI_DIGITS[ones] if ones or not tens else "")


def _japanese_date(match: re.Match[str]) -> str:
    month, day = int(match[2]), int(match[3])
    return f"{match[1]}年{_kanji(month)}月{_kanji(day)}日"


def _japanese(text: str) -> str:
    """What Misaki's Japanese G2P misreads: 21.5 (a sentence end), 1,500, -5, %, °C, dates
    and clock times written with - and :, ranges, Latin unit symbols."""
    text = _ISO_DATE.sub(_japanese_date, text)
    text = re.sub(r"[(（]([月火水木金土日])[)）]", r"(\1曜日)", text)  # 12月7日(月): Monday
    text = re.sub(
        r"(?<!\d)(\d{1,2})月(?:(\d{1,2})日)?",
        lambda m: f"{_kanji(int(m[1]))}月" + (f"{_kanji(int(m[2]))}日" if m[2] else ""),
        text,
    )
    text = _CLOCK.sub(lambda m: f"{_kanji(int(m[1]))}時" + (
        f"{_kanji(int(m[2]))}分" if int(m[2]) else ""), text)  # fmt: skip
    text = _RANGE.sub(r"\1から", text)
    text = _THOUSANDS.sub("", text)
    text = re.sub(r"(\d)\.(\d)", r"\1点\2", text)
    text = _NEGATIVE.sub("マイナス", text)
    text = re.sub(r"\s?(?:°C|℃|°)", "度", text)
    text = _units(text, _JAPANESE_UNITS)
    return re.sub(r"\s?[%％]", "パーセント", text)


def _mandarin(text: str) -> str:
    """cn2an reads numbers and %; a minus sign, thousands commas, dates and clock times
    written with - and :, ranges and Latin unit symbols it does not, and after a decimal
    it drops the point before ℃ (21.5℃ is "二十一 五"): 摄氏度 it reads."""
    text = _ISO_DATE.sub(lambda m: f"{m[1]}年{int(m[2])}月{int(m[3])}日", text)
    text = _CLOCK.sub(lambda m: _clock(m[1], m[2], "点", "分", "零"), text)
    text = _RANGE.sub(r"\1到", text)
    text = _THOUSANDS.sub("", text)
    text = _NEGATIVE.sub("负", text)
    text = _units(text, _MANDARIN_UNITS)
    return re.sub(r"\s?(?:°C|℃)", "摄氏度", text)


_HINDI_MONTHS = [
    "जनवरी",
    "फ़रवरी",
    "मार्च",
    "अप्रैल",
    "मई",
    "जून",
    "जुलाई",
    "अगस्त",
    "सितंबर",
    "अक्टूबर",
    "नवंबर",
    "दिसंबर",
]
_HINDI_UNITS = {
    "°C": " डिग्री सेल्सियस", "℃": " डिग्री सेल्सियस", "°F": " डिग्री फ़ारेनहाइट",
    "°": " डिग्री", "%": " प्रतिशत", "kWh": " किलोवाट घंटा", "kW": " किलोवाट",
    "km/h": " किलोमीटर प्रति घंटा", "km": " किलोमीटर", "hPa": " हेक्टोपास्कल",
}  # fmt: skip


_HINDI_CLOCK = re.compile(_CLOCK.pattern + r"(?:\s*बजे)?")  # "7:05 बजे" says बजे once


def _hindi_clock(match: re.Match[str]) -> str:
    hour, minute = int(match[1]), int(match[2])
    return f"{hour} बजे" if minute == 0 else f"{hour} बजकर {minute} मिनट"


def _hindi(text: str) -> str:
    """espeak-ng reads Hindi integers; not a sign (−3 °C was "three C"), a decimal point,
    thousands commas (Western or Indian), units, the rupee sign, dates, times, ranges."""
    text = _ISO_DATE.sub(
        lambda m: (
            f"{int(m[3])} {_HINDI_MONTHS[int(m[2]) - 1]} {m[1]}" if 1 <= int(m[2]) <= 12 else m[0]
        ),
        text,
    )
    text = _HINDI_CLOCK.sub(_hindi_clock, text)
    text = _RANGE.sub(r"\1 से ", text)
    text = re.sub(r"(?<=\d),(?=\d{2,3}(?!\d))", "", text)  # 1,25,000 and 1,250
    text = _NEGATIVE.sub("माइनस ", text)
    text = re.sub(r"₹\s?(\d+(?:\.\d+)?)", r"\1 रुपये", text)
    text = re.sub(
        r"(\d)\.(\d+)", lambda m: f"{m[1]} दशमलव {' '.join(m[2])}", text
    )  # 21.5: "इक्कीस दशमलव पाँच"
    for symbol, word in sorted(_HINDI_UNITS.items(), key=lambda i: -len(i[0])):
        text = re.sub(rf"(?<=\d)\s?{re.escape(symbol)}(?![A-Za-z/])", word, text)
    return text


_NUM2WORDS = {"a": "en", "b": "en", "j": "ja"} | NUM2WORDS_LANGUAGES


def _digit_word(digit: str, lang_code: str) -> str:
    lang = _NUM2WORDS.get(lang_code)
    if lang is None or lang == "en":
        return DIGITS[int(digit)] if lang == "en" else digit
    return str(num2words(int(digit), lang=lang))


def spell(text: str, english: bool, lang_code: str = "a") -> str:
    """Letter by letter ("USB" -> "U.S.B", read by Misaki as letter names), digits as words."""
    words = []
    for run in re.findall(r"[^\W\d_]+|\d", text):
        if run.isdigit():
            words.append(_digit_word(run, lang_code))
        elif english:  # "A.B.C" is spelled by Misaki; a lone "A" needs its dot ("A.")
            words.append(".".join(run.upper()) + ("." if len(run) == 1 else ""))
        else:
            words.append(" ".join(run.upper()))
    return " ".join(words)


def _say_date(english: EnglishNormalizer, fmt: str, text: str) -> str | None:
    """A date in the order ``fmt`` names (mdy, dmy, ymd, md, dm, my, y…)."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    order = fmt.lower() or ("dmy" if english.british else "mdy")
    if len(numbers) != len(order) or not set(order) <= set("dmy"):
        return None
    parts = dict(zip(order, numbers, strict=True))
    if "m" not in parts:
        return english.year(parts["y"]) if "y" in parts else None
    if "d" not in parts:
        month = english.month_name(parts["m"])
        return month if "y" not in parts else f"{month} {english.year(parts['y'])}"
    try:
        return english.date(parts.get("y"), parts["m"], parts["d"])
    except (ValueError, IndexError):
        return None
