"""Numbers for Spanish, French, Italian and Brazilian Portuguese (the espeak languages).

espeak-ng reads plain integers in each of these languages, but not decimals with a point,
thousands separators, negative signs, percentages, degrees or smart-home units, and a
"21.5" read digit by digit is wrong in all of them. num2words says the numbers; the few
unit words per language are here. Hindi is left to espeak-ng (num2words has no Hindi).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from num2words import num2words


@dataclass(frozen=True)
class LanguageWords:
    num2words_lang: str
    decimal: str  # the word for the decimal separator
    minus: str
    percent: str
    degree: tuple[str, str]
    units: dict[str, tuple[str, str]]


_LANGUAGES = {
    "e": LanguageWords(
        "es",
        "coma",
        "menos",
        "por ciento",
        ("grado", "grados"),
        {
            "kWh": ("kilovatio hora", "kilovatios hora"),
            "kW": ("kilovatio", "kilovatios"),
            "W": ("vatio", "vatios"),
            "km/h": ("kilómetro por hora", "kilómetros por hora"),
            "km": ("kilómetro", "kilómetros"),
            "hPa": ("hectopascal", "hectopascales"),
            "mm": ("milímetro", "milímetros"),
            "cm": ("centímetro", "centímetros"),
            "kg": ("kilo", "kilos"),
        },
    ),
    "f": LanguageWords(
        "fr",
        "virgule",
        "moins",
        "pour cent",
        ("degré", "degrés"),
        {
            "kWh": ("kilowattheure", "kilowattheures"),
            "kW": ("kilowatt", "kilowatts"),
            "W": ("watt", "watts"),
            "km/h": ("kilomètre heure", "kilomètres heure"),
            "km": ("kilomètre", "kilomètres"),
            "hPa": ("hectopascal", "hectopascals"),
            "mm": ("millimètre", "millimètres"),
            "cm": ("centimètre", "centimètres"),
            "kg": ("kilo", "kilos"),
        },
    ),
    "i": LanguageWords(
        "it",
        "virgola",
        "meno",
        "per cento",
        ("grado", "gradi"),
        {
            "kWh": ("chilowattora", "chilowattora"),
            "kW": ("chilowatt", "chilowatt"),
            "W": ("watt", "watt"),
            "km/h": ("chilometro orario", "chilometri orari"),
            "km": ("chilometro", "chilometri"),
            "hPa": ("ettopascal", "ettopascal"),
            "mm": ("millimetro", "millimetri"),
            "cm": ("centimetro", "centimetri"),
            "kg": ("chilo", "chili"),
        },
    ),
    "p": LanguageWords(
        "pt_BR",
        "vírgula",
        "menos",
        "por cento",
        ("grau", "graus"),
        {
            "kWh": ("quilowatt-hora", "quilowatts-hora"),
            "kW": ("quilowatt", "quilowatts"),
            "W": ("watt", "watts"),
            "km/h": ("quilômetro por hora", "quilômetros por hora"),
            "km": ("quilômetro", "quilômetros"),
            "hPa": ("hectopascal", "hectopascais"),
            "mm": ("milímetro", "milímetros"),
            "cm": ("centímetro", "centímetros"),
            "kg": ("quilo", "quilos"),
        },
    ),
}


def _number_pattern(thousands: str) -> str:
    """1.234.567 (or 1 234 567 in French) with an optional decimal part (1.234,56), or
    21,5 / 21.5; an optional sign. Starts only where no digit is before it."""
    return (
        r"(?:(?<![\w.,])[-−](?=\d))?(?<![\d.,])"
        rf"(?:\d{{1,3}}(?:[{thousands}]\d{{3}})+(?:,\d+)?(?![.,]?\d)|\d+(?:[.,]\d+)?)"
    )


class RomanceNormalizer:
    """Numbers, signs, percentages, degrees, a few units and clock times, in words."""

    def __init__(self, lang_code: str) -> None:
        self.words = _LANGUAGES[lang_code]
        self.lang_code = lang_code
        units = "|".join(re.escape(u) for u in sorted(self.words.units, key=len, reverse=True))
        # French groups thousands with (narrow) spaces, the others with points
        number = _number_pattern(". \u202f" if lang_code == "f" else ".")
        separator = ":h" if lang_code == "f" else ":"  # 7h30 in French
        self._time = re.compile(
            rf"(?<![\w:])([01]?\d|2[0-3])[{separator}]([0-5]\d)(?![\w:])"
            + (r"|(?<![\w:])([01]?\d|2[0-3])h(?![\w:])" if lang_code == "f" else "")
        )
        self._ordinal = re.compile(
            r"(?<![\w.,])(\d{1,4})(er|re|e|ème)\b"
            if lang_code == "f"
            else r"(?<![\w.,])(\d{1,4})([ºª])(?!\s?[CF]\b)"
        )
        self._temperature = re.compile(rf"({number})\s?(?:°|º)\s?([CF])?(?!\w)")
        self._percent = re.compile(rf"({number})\s?%")
        self._euro = re.compile(rf"€\s?({number})|({number})\s?€")
        self._unit = re.compile(rf"({number})\s?({units})(?![\w/])")
        self._number = re.compile(number)

    def cardinal(self, value: int) -> str:
        return str(num2words(value, lang=self.words.num2words_lang))

    def number(self, text: str) -> str:
        negative = text[:1] in "-−"
        text = text.lstrip("-−")
        grouped = re.fullmatch(r"(\d{1,3}(?:[. \u202f]\d{3})+)(?:,(\d+))?", text)
        if len(re.sub(r"\D", "", text)) > 15:  # longer than any number anyone says
            words = " ".join(self.cardinal(int(d)) for d in text if d.isdigit())
        elif grouped:
            words = self.cardinal(int(re.sub(r"\D", "", grouped.group(1))))
            if grouped.group(2):
                words += f" {self.words.decimal} {self._fraction(grouped.group(2))}"
        else:
            whole, _, fraction = text.replace(",", ".").partition(".")
            words = self.cardinal(int(whole))
            if fraction:
                words += f" {self.words.decimal} {self._fraction(fraction)}"
        return f"{self.words.minus} {words}" if negative else words

    def _fraction(self, digits: str) -> str:
        """21,5 is "veintiuno coma cinco", 21,25 "… coma veinticinco", 0,05 digit by digit."""
        if len(digits) <= 2 and not digits.startswith("0"):
            return self.cardinal(int(digits))
        return " ".join(self.cardinal(int(d)) for d in digits)

    def _ordinal_words(self, match: re.Match[str]) -> str:
        words = str(num2words(int(match.group(1)), lang=self.words.num2words_lang, to="ordinal"))
        feminine = match.group(2) in ("ª", "re")
        if feminine and self.lang_code == "f":
            return "première" if match.group(1) == "1" else words
        return words[:-1] + "a" if feminine and words.endswith("o") else words

    @staticmethod
    def _is_one(number: str) -> bool:
        return number.lstrip("-−") == "1"

    def _temperature_words(self, match: re.Match[str]) -> str:
        number, scale = match.groups()
        degree = self.words.degree[0 if self._is_one(number) else 1]
        scale_word = {"C": " Celsius", "F": " Fahrenheit"}.get(scale or "", "")
        return f"{self.number(number)} {degree}{scale_word}"

    def _unit_words(self, match: re.Match[str]) -> str:
        number, unit = match.groups()
        return f"{self.number(number)} {self.words.units[unit][0 if self._is_one(number) else 1]}"

    def _euro_words(self, match: re.Match[str]) -> str:
        number = match.group(1) or match.group(2)
        one = self._is_one(number)
        return f"{self.number(number)} {'euro' if one or self.lang_code == 'i' else 'euros'}"

    def _time_words(self, match: re.Match[str]) -> str:
        if match.group(1) is None:  # French "7h"
            return f"{self.cardinal(int(match.group(3)))} heures"
        hour, minute = int(match.group(1)), int(match.group(2))
        if self.lang_code == "f":
            hours = "heure" if hour == 1 else "heures"
            return f"{self.cardinal(hour)} {hours}" + (
                f" {self.cardinal(minute)}" if minute else ""
            )
        return self.cardinal(hour) + (f" {self.cardinal(minute)}" if minute else "")

    def __call__(self, text: str) -> str:
        text = self._time.sub(self._time_words, text)
        text = self._ordinal.sub(self._ordinal_words, text)
        text = self._temperature.sub(self._temperature_words, text)
        text = self._percent.sub(lambda m: f"{self.number(m.group(1))} {self.words.percent}", text)
        text = self._euro.sub(self._euro_words, text)
        text = self._unit.sub(self._unit_words, text)
        return self._number.sub(lambda m: self.number(m.group(0)), text)


# Kokoro language letter -> num2words language, for the languages above
NUM2WORDS_LANGUAGES = {code: words.num2words_lang for code, words in _LANGUAGES.items()}


def supported(lang_code: str) -> bool:
    return lang_code in _LANGUAGES
