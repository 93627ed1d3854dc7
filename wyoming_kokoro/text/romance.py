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

# 1.234.567 or 1 234 567 (thousands), 21,5 or 21.5 (decimals), an optional sign
_NUMBER = r"(?:(?<![\w.,])[-−](?=\d))?(?:\d{1,3}(?:[. \u202f]\d{3})+(?![.,]?\d)|\d+(?:[.,]\d+)?)"


class RomanceNormalizer:
    """Numbers, signs, percentages, degrees, a few units and clock times, in words."""

    def __init__(self, lang_code: str) -> None:
        self.words = _LANGUAGES[lang_code]
        units = "|".join(re.escape(u) for u in sorted(self.words.units, key=len, reverse=True))
        self._time = re.compile(r"(?<![\w:])([01]?\d|2[0-3]):([0-5]\d)(?![\w:])")
        self._temperature = re.compile(rf"({_NUMBER})\s?(?:°|º)\s?([CF])?(?!\w)")
        self._percent = re.compile(rf"({_NUMBER})\s?%")
        self._unit = re.compile(rf"({_NUMBER})\s?({units})(?![\w/])")
        self._number = re.compile(_NUMBER)

    def cardinal(self, value: int) -> str:
        return str(num2words(value, lang=self.words.num2words_lang))

    def number(self, text: str) -> str:
        negative = text[:1] in "-−"
        text = text.lstrip("-−")
        if re.fullmatch(r"\d{1,3}(?:[. \u202f]\d{3})+", text):
            words = self.cardinal(int(re.sub(r"\D", "", text)))
        else:
            whole, _, fraction = text.replace(",", ".").partition(".")
            words = self.cardinal(int(whole))
            if fraction:
                if len(fraction) <= 2 and not fraction.startswith("0"):
                    tail = self.cardinal(int(fraction))
                else:
                    tail = " ".join(self.cardinal(int(d)) for d in fraction)
                words += f" {self.words.decimal} {tail}"
        return f"{self.words.minus} {words}" if negative else words

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

    def _time_words(self, match: re.Match[str]) -> str:
        hour, minute = int(match.group(1)), int(match.group(2))
        return self.cardinal(hour) + (f" {self.cardinal(minute)}" if minute else "")

    def __call__(self, text: str) -> str:
        text = self._time.sub(self._time_words, text)
        text = self._temperature.sub(self._temperature_words, text)
        text = self._percent.sub(lambda m: f"{self.number(m.group(1))} {self.words.percent}", text)
        text = self._unit.sub(self._unit_words, text)
        return self._number.sub(lambda m: self.number(m.group(0)), text)


def supported(lang_code: str) -> bool:
    return lang_code in _LANGUAGES
