"""Numbers for Spanish, French, Italian and Brazilian Portuguese (the espeak languages).

espeak-ng reads plain integers in each of these languages, but not decimals with a point,
thousands separators, negative signs, percentages, degrees or smart-home units, and a
"21.5" read digit by digit is wrong in all of them. num2words says the numbers; the few
unit words per language are here. Hindi is left to espeak-ng (num2words has no Hindi).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from num2words import num2words


def _months(names: str) -> tuple[str, ...]:
    return tuple(names.split())


@dataclass(frozen=True)
class LanguageWords:
    num2words_lang: str
    decimal: str  # the word for the decimal separator
    minus: str
    percent: str
    degree: tuple[str, str]
    units: dict[str, tuple[str, str]]
    to: str  # a range: 10-15
    minutes: str  # between hour and minutes: 7:05 (a time)
    months: tuple[str, ...]
    date: str  # {day} {month} {year}
    money: dict[str, tuple[str, str, str, str]]  # symbol: major one, many, minor one, many
    money_and: str  # twelve euros AND ninety-nine cents
    per: str  # €0.15/kWh
    dot: str  # light.salon
    abbreviations: tuple[tuple[str, str], ...]  # (pattern, words), before the numbers


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
            "h": ("hora", "horas"),
            "min": ("minuto", "minutos"),
            "l": ("litro", "litros"),
            "L": ("litro", "litros"),
            "m/s": ("metro por segundo", "metros por segundo"),
            "V": ("voltio", "voltios"),
        },
        "a",
        "y",
        _months(
            "enero febrero marzo abril mayo junio julio agosto septiembre octubre "
            "noviembre diciembre"
        ),  # fmt: skip
        "{day} de {month} de {year}",
        {
            "€": ("euro", "euros", "céntimo", "céntimos"),
            "$": ("dólar", "dólares", "centavo", "centavos"),
        },  # fmt: skip
        "con",
        "por",
        "punto",
        (
            (r"\bSra\.(?=\s)", "señora"),
            (r"\bSr\.(?=\s)", "señor"),
            (r"\bDra\.(?=\s)", "doctora"),
            (r"\bDr\.(?=\s)", "doctor"),
            (r"\betc\.", "etcétera"),
        ),  # fmt: skip
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
            "h": ("heure", "heures"),
            "min": ("minute", "minutes"),
            "l": ("litre", "litres"),
            "L": ("litre", "litres"),
            "m/s": ("mètre par seconde", "mètres par seconde"),
            "V": ("volt", "volts"),
        },
        "à",
        "",
        _months(
            "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
        ),  # fmt: skip
        "{day} {month} {year}",
        {
            "€": ("euro", "euros", "centime", "centimes"),
            "$": ("dollar", "dollars", "cent", "cents"),
        },  # fmt: skip
        "et",
        "par",
        "point",
        (
            (r"\bMM\.(?=\s+[A-Z])", "Messieurs"),
            (r"\bM\.(?=\s+[A-Z])", "Monsieur"),
            (r"\bMme\b\.?", "Madame"),
            (r"\bMlle\b\.?", "Mademoiselle"),
            (r"\bDr\b\.?(?=\s+[A-Z])", "Docteur"),
            (r"\betc\.", "et cetera"),
        ),  # fmt: skip
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
            "h": ("ora", "ore"),
            "min": ("minuto", "minuti"),
            "l": ("litro", "litri"),
            "L": ("litro", "litri"),
            "m/s": ("metro al secondo", "metri al secondo"),
            "V": ("volt", "volt"),
        },
        "a",
        "e",
        _months(
            "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre "
            "ottobre novembre dicembre"
        ),  # fmt: skip
        "{day} {month} {year}",
        {
            "€": ("euro", "euro", "centesimo", "centesimi"),
            "$": ("dollaro", "dollari", "centesimo", "centesimi"),
        },  # fmt: skip
        "e",
        "al",
        "punto",
        (
            (r"\bSig\.ra\b", "Signora"),
            (r"\bSig\.(?=\s)", "Signor"),
            (r"\bDott\.ssa\b", "Dottoressa"),
            (r"\bDott\.(?=\s)", "Dottor"),
            (r"\bProf\.ssa\b", "Professoressa"),
            (r"\bProf\.(?=\s)", "Professor"),
            (r"\becc\.", "eccetera"),
        ),  # fmt: skip
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
            "h": ("hora", "horas"),
            "min": ("minuto", "minutos"),
            "l": ("litro", "litros"),
            "L": ("litro", "litros"),
            "m/s": ("metro por segundo", "metros por segundo"),
            "V": ("volt", "volts"),
        },
        "a",
        "e",
        _months(
            "janeiro fevereiro março abril maio junho julho agosto setembro outubro "
            "novembro dezembro"
        ),  # fmt: skip
        "{day} de {month} de {year}",
        {
            "R$": ("real", "reais", "centavo", "centavos"),
            "€": ("euro", "euros", "cêntimo", "cêntimos"),
            "$": ("dólar", "dólares", "centavo", "centavos"),
        },  # fmt: skip
        "e",
        "por",
        "ponto",
        (
            (r"\bSra\.(?=\s)", "Senhora"),
            (r"\bSr\.(?=\s)", "Senhor"),
            (r"\bDra\.(?=\s)", "Doutora"),
            (r"\bDr\.(?=\s)", "Doutor"),
            (r"\betc\.", "et cetera"),
        ),  # fmt: skip
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
        hours = lang_code in ("f", "p")  # 7h30, 18h in French and Brazilian Portuguese
        separator = ":h" if hours else ":"
        self._time = re.compile(
            rf"(?<![\w:])([01]?\d|2[0-3])[{separator}]([0-5]\d)(?:\s?h(?!\w))?(?![\w:])"
            + (r"|(?<![\w:])([01]?\d|2[0-3])h(?![\w:])" if hours else "")
        )
        # "alle 7.30", "a las 7.30", "às 7.30": a point between hour and minutes after the
        # words that introduce a time (elsewhere 7.30 is a decimal)
        self._dotted_time = re.compile(
            r"\b(alle|dalle|ore|verso le|a las|las|às|as|à)\s"
            r"([01]?\d|2[0-3])\.([0-5]\d)(?!\d|[.,]\d)"
        )
        self._iso_date = re.compile(r"(?<![\w.\-/])(\d{4})-(\d{2})-(\d{2})(?![\w\-/])")
        self._slash_date = re.compile(r"(?<![\w./])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/])")
        self._range = re.compile(r"(?<![\w.,\-–])(\d{1,4})\s?[-–]\s?(\d{1,4})(?![\w.,\-–/])")
        symbols = "|".join(re.escape(c) for c in sorted(self.words.money, key=len, reverse=True))
        self._money = re.compile(
            rf"({symbols})\s?({number})(?:/({units}))?(?![\w])"
            rf"|({number})\s?({symbols})(?:/({units}))?(?![\w])"
        )
        self._abbreviations = [(re.compile(p), w) for p, w in self.words.abbreviations]
        # entity ids and host names: light.salon, sensor.temperatura_salon
        self._entity = re.compile(r"(?<![\w.])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]+)(?!\w|\.\w)")
        self._ordinal = re.compile(
            r"(?<![\w.,])(\d{1,4})(er|re|e|ème)\b"
            if lang_code == "f"
            else r"(?<![\w.,])(\d{1,4})([ºª])(?!\s?[CF]\b)"
        )
        self._temperature = re.compile(rf"({number})\s?(?:°|º)\s?([CF])?(?!\w)")
        self._percent = re.compile(rf"({number})\s?%")
        self._unit = re.compile(rf"({number})\s?({units})(?![\w/])")
        self._number = re.compile(number)

    def cardinal(self, value: int) -> str:
        # num2words writes "mil, duzentos": a comma would be a pause inside the number
        return str(num2words(value, lang=self.words.num2words_lang)).replace(",", "")

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
        noun = self.words.units[unit][0 if self._is_one(number) else 1]
        words = self.number(number)
        if re.fullmatch(r"[-−]?\d+", number):  # un kilovatio, veintiún kilómetros
            words = agree(words, noun.split(" ")[0], self.lang_code)
        return f"{words} {noun}"

    def _money_words(self, match: re.Match[str]) -> str:
        symbol, amount, unit = match.group(1, 2, 3)
        if symbol is None:
            amount, symbol, unit = match.group(4, 5, 6)
        one, many, cent, cents = self.words.money[symbol]
        sign = f"{self.words.minus} " if amount[:1] in "-−" else ""
        digits = amount.lstrip("-−")
        whole, _, fraction = re.sub(r"[. \u202f](?=\d{3}(?!\d))", "", digits).partition(",")
        if "." in whole:  # 12.99 written with a point: a decimal, not thousands
            whole, _, fraction = whole.partition(".")
        units = int(whole or "0")
        minor = int(fraction.ljust(2, "0")) if fraction and len(fraction) <= 2 else 0
        if fraction and len(fraction) > 2:  # more precise than money is spoken
            words = f"{self.number(digits)} {many}"
        else:
            parts = []
            if units or not minor:
                parts.append(f"{self.cardinal(units)} {one if units == 1 else many}")
            if minor:
                parts.append(f"{self.cardinal(minor)} {cent if minor == 1 else cents}")
            words = f" {self.words.money_and} ".join(parts)
        if unit:
            words += f" {self.words.per} {self.words.units[unit][0]}"
        return sign + words

    def _time_words(self, match: re.Match[str]) -> str:
        if match.group(1) is None:  # "7h" (French, Portuguese)
            hour = int(match.group(3))
            unit = self._hours(hour)
            return f"{agree(self.cardinal(hour), unit, self.lang_code)} {unit}"
        return self._clock(int(match.group(1)), int(match.group(2)), "h" in match.group(0))

    def _hours(self, hour: int) -> str:
        if self.lang_code == "f":
            return "heure" if hour <= 1 else "heures"
        return "hora" if hour == 1 else "horas"

    def _clock(self, hour: int, minute: int, hour_word: bool = False) -> str:
        if self.lang_code in ("f", "p") or hour_word:  # dix-huit heures, dezoito horas
            words = f"{agree(self.cardinal(hour), self._hours(hour), self.lang_code)} "
            words += self._hours(hour)  # une heure, veintiuna horas
        else:
            words = self.cardinal(hour)
        if not minute:
            return words
        # "quince y cinco" but "dieciocho cuarenta y cinco" (Spanish joins only 1-9)
        joined = self.words.minutes and (minute < 10 or self.lang_code != "e")
        joiner = f" {self.words.minutes} " if joined else " "
        return words + joiner + self.cardinal(minute)

    def _date(self, year: int, month: int, day: int, match: re.Match[str]) -> str:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return match.group(0)
        first = "premier" if self.lang_code == "f" and day == 1 else str(day)
        return self.words.date.format(day=first, month=self.words.months[month - 1], year=year)

    def __call__(self, text: str) -> str:
        for pattern, words in self._abbreviations:
            text = pattern.sub(partial(_expanded, words), text)
        text = self._iso_date.sub(
            lambda m: self._date(int(m.group(1)), int(m.group(2)), int(m.group(3)), m), text
        )
        text = self._slash_date.sub(
            lambda m: self._date(int(m.group(3)), int(m.group(2)), int(m.group(1)), m), text
        )
        text = self._dotted_time.sub(
            lambda m: f"{m.group(1)} {self._clock(int(m.group(2)), int(m.group(3)))}", text
        )
        text = self._time.sub(self._time_words, text)
        text = self._range.sub(lambda m: f"{m.group(1)} {self.words.to} {m.group(2)}", text)
        text = self._ordinal.sub(self._ordinal_words, text)
        text = self._temperature.sub(self._temperature_words, text)
        text = self._percent.sub(lambda m: f"{self.number(m.group(1))} {self.words.percent}", text)
        text = self._money.sub(self._money_words, text)
        text = self._entity.sub(lambda m: f"{m[1]} {self.words.dot} {m[2]}".replace("_", " "), text)
        text = self._unit.sub(self._unit_words, text)
        text = self._number.sub(self._number_words, text)
        return re.sub(r"\b(un')\s+", r"\1", text) if self.lang_code == "i" else text

    def _number_words(self, match: re.Match[str]) -> str:
        words = self.number(match.group(0))
        noun = _NEXT_WORD.match(match.string, match.end())
        if noun is None or not re.fullmatch(r"[-−]?\d+", match.group(0)):
            return words
        return agree(words, noun.group(1), self.lang_code)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# The number before a noun agrees with it: "una ventana", "um dia", "duas lâmpadas",
# "doscientas casas", "une fenêtre". num2words says the masculine form only, so a noun's
# gender is guessed from its ending, with the common exceptions, and a French list.
_FEMININE_ENDINGS = {
    "e": ("a", "as", "ción", "ciones", "sión", "siones", "dad", "dades", "tud", "tudes",
          "umbre", "umbres"),
    "p": ("a", "as", "ção", "ções", "são", "sões", "dade", "dades", "agem", "agens"),
    "i": ("a", "zione", "sione", "tà"),
    "f": ("tion", "tions", "sion", "sions", "ure", "ures", "ette", "ettes", "elle", "elles",
          "ée", "ées", "ière", "ières", "euse", "euses", "ité", "ités", "ance", "ances",
          "ence", "ences"),
}  # fmt: skip
_FEMININE_WORDS = {
    "e": _word_set("luz luces noche noches tarde tardes llave llaves calle calles vez veces "
                   "red redes flor flores nube nubes parte partes gente mujer mujeres clase "
                   "clases fuente fuentes imagen imágenes"),
    "p": _word_set("luz luzes vez vezes noite noites tarde tardes chave chaves rede redes "
                   "parte partes cor cores flor flores mulher mulheres gente"),
    "i": _word_set("luce luci notte notti chiave chiavi parte parti"),
    "f": _word_set("fenêtre fenêtres lampe lampes porte portes chambre chambres pièce "
                   "pièces cuisine maison maisons prise prises ampoule ampoules heure heures "
                   "minute minutes seconde secondes personne personnes alarme alarmes semaine "
                   "semaines fois lumière lumières voiture voitures machine machines "
                   "batterie batteries"),
}  # fmt: skip
_MASCULINE_WORDS = _word_set(
    "día días dia dias mapa mapas problema problemas sistema sistemas programa programas "
    "programma programmi clima climas tema temas idioma idiomas planeta planetas sofá "
    "sofás esquema esquemas aroma aromas"
)
# Not nouns: the number before them keeps its own form ("el uno por ciento").
_NOT_NOUNS = _word_set(
    "por de del y o a al en con para que e ou em do da dos das com per di in il la le "
    "pour et à avec sur des du les"
)


def _feminine(noun: str, lang_code: str) -> bool:
    word = noun.lower()
    if word in _MASCULINE_WORDS:
        return False
    return word in _FEMININE_WORDS.get(lang_code, ()) or word.endswith(
        _FEMININE_ENDINGS.get(lang_code, ())
    )


def agree(words: str, noun: str, lang_code: str) -> str:
    """A cardinal's words (num2words: masculine) as said before ``noun``."""
    noun = re.split(r"[\s-]", noun)[0]  # quilowatt-hora: the head noun
    if noun.lower() in _NOT_NOUNS:
        return words
    feminine = _feminine(noun, lang_code)
    *head, last = words.split(" ")
    if lang_code == "e":
        if last.endswith("uno"):  # un grado, veintiún grados, una ventana, veintiuna
            last = (
                last[:-1] + "a" if feminine else ("veintiún" if last == "veintiuno" else last[:-1])
            )
        if feminine:
            head = [w.replace("ientos", "ientas") for w in head]
            last = last.replace("ientos", "ientas")
    elif lang_code == "p" and feminine:  # uma lâmpada, duas, duzentas
        last = {"um": "uma", "dois": "duas"}.get(last, last).replace("entos", "entas")
        head = [w.replace("entos", "entas") for w in head]
    elif lang_code == "i" and last.endswith("uno"):
        if feminine:
            last = last[:-1] + ("'" if noun[:1].lower() in "aeiouàèéìòù" else "a")
        elif last == "uno" and not re.match(r"(?i)(s[^aeiouàèéìòù]|z|gn|ps|x|y)", noun):
            last = "un"  # un grado, uno studio
    elif lang_code == "f" and feminine and last == "un":  # une fenêtre, vingt et une
        last = "une"
    return " ".join([*head, last])


_NEXT_WORD = re.compile(r"\s+([^\W\d_]+)")  # the word after a number (its noun?)
_TEXT_END = re.compile(r"\s*$")


def _expanded(words: str, match: re.Match[str]) -> str:
    """An abbreviation's words; its point stays where it ends the text (the sentence)."""
    ends = match.group(0).endswith(".") and _TEXT_END.match(match.string, match.end()) is not None
    return words + ("." if ends else "")


# Kokoro language letter -> num2words language, for the languages above
NUM2WORDS_LANGUAGES = {code: words.num2words_lang for code, words in _LANGUAGES.items()}


def supported(lang_code: str) -> bool:
    return lang_code in _LANGUAGES
