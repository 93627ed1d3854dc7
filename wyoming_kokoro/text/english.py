"""English text normalization: what a smart home writes, as a person would say it.

Numbers, decimals, negatives, ordinals, ranges, times, dates, temperatures, percentages,
units, currencies, phone numbers, versions, IP addresses, URLs, e-mail addresses and
domains, abbreviations and symbols become words before G2P. Number words come from
num2words, the unit and abbreviation words from english_words.py; which pattern means
what is written here. ALL-CAPS acronyms are left alone: Misaki spells unknown ones letter
by letter and reads known words.

Rules run in order, most specific first (an IP address before a decimal, a date before
a range), and each rewrites only text the earlier ones left as digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from .english_words import (
    CURRENCIES,
    CURRENCY_CODES,
    DECADES,
    DIGITS,
    FRACTIONS,
    MONTH_ABBREVIATIONS,
    MONTHS,
    PER_WORDS,
    SCALES,
    SEPARATOR_WORDS,
    STANDALONE_UNITS,
    SYMBOL_RULES,
    UNITS,
    VULGAR_FRACTIONS,
    WEEKDAYS,
    WORD_RULES,
)

_BARE_UNIT_SYMBOLS = "|".join(re.escape(unit) for unit in STANDALONE_UNITS)
_BARE_UNIT = rf"(?<![\w.])({_BARE_UNIT_SYMBOLS})(?![\w²³/])"
# Units that are also prose ("1 in 3", "2 A grades"): a unit only before the end of the
# text or punctuation. "s" needs a space before it ("1990s" is a decade, "5s" a plural).
_PROSE_UNITS = {"in", "A"}

# A number starts where no digit (or digit and point) is before it: long digit runs are
# tried once, not from every digit (which made the unit rules quadratic).
_NUMBER = r"(?<!\d)(?<!\d\.)(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_END = r"(?!\w|\.\w)"  # after a number: not inside a word or a longer dotted number
_SIGNED = rf"(?:(?<![\w.,])[-−–](?=\d))?{_NUMBER}"


def _unit_pattern() -> str:
    symbols = sorted(UNITS, key=len, reverse=True)
    single = "|".join(re.escape(symbol) for symbol in symbols)
    per = "|".join(sorted(PER_WORDS, key=len, reverse=True))
    # a compound unit (km/h, µg/m³, W/m², kWh/day) or a single one
    return rf"(?:(?:{single})/(?:(?:{per})\b|{single})|{single})"


_UNIT = _unit_pattern()
_PER = "|".join(sorted(PER_WORDS, key=len, reverse=True))
_DENOMINATOR = rf"(?:(?:{_PER})\b|{_UNIT})"  # what a price is per: €0.32/kWh, $5/month
_TLDS = (
    "com|org|net|io|dev|app|co|uk|de|fr|nl|eu|info|edu|gov|ai|me|tv|local|lan|home|arpa|"
    "us|ca|au|it|es|ch|be|at|se|no|dk|fi|pl|jp|cn|in|br|biz|xyz|site|online|tech|cloud"
)
_URL_END = r"[^\s<>\".,;:!?)\]]"  # a URL's last character: not the sentence's punctuation
_EMAIL = r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
_URL = (
    rf"\b(?:https?://|www\.)[^\s<>\"]+{_URL_END}"
    rf"|(?<![\w.-])(?:[A-Za-z0-9-]+\.)+(?:{_TLDS})\b(?::\d{{2,5}})?(?:/[^\s<>\"]*{_URL_END})?"
)
_IP = rf"(?<![\w.])(\d{{1,3}})\.(\d{{1,3}})\.(\d{{1,3}})\.(\d{{1,3}})(?::(\d{{1,5}}))?{_END}"
# (555) 123-4567, 555-123-4567, +1 555.123.4567; or + and 3-6 groups: +44 20 7946 0958
_PHONE = r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{3}[.-])\d{3}[ .-]\d{4}(?!\w)"
_PHONE_INTERNATIONAL = r"(?<![\w+])\+\d{1,3}(?:[ .-]\d{1,4}){2,5}(?!\w)"
_ISO_DATE = r"(?<![\w.])(\d{4})-(\d{2})-(\d{2})(?![\w-])"
# 2024-11-25T10:00(:00)(Z|+01:00)
_ISO_DATETIME = (
    r"(?<![\w.])(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?(?![\w:])"
)
_SLASH_DATE = r"(?<![\w./])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\w/])"
_DOTTED_DATE = rf"(?<![\w.])(\d{{1,2}})\.(\d{{1,2}})\.(\d{{4}}){_END}"
_VERSION = (
    r"\b(?:([Vv]ersion\s)|[vV])(\d+(?:\.\d+)*)\b"
    rf"|(?<![\w.])(\d+\.\d+\.\d+(?:\.\d+)*){_END}"
)
_MONTH_NAMES = (
    r"(January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)"
)
_MONTH_FIRST = _MONTH_NAMES + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?"
_DAY_FIRST = (
    r"(?:\b[Tt]he\s+)?\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
    + _MONTH_NAMES
    + r"(?:,?\s+(\d{4})\b)?"
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR_AFTER = r"(?:,?\s+(\d{4})\b)?"
_MONTH_RANGE = rf"{_MONTH_NAMES}\s+{_DAY}\s*[-–—]\s*{_DAY}\b{_YEAR_AFTER}"  # May 12-14
_DAY_RANGE = (
    rf"(?<![\w.,])(?:[Tt]he\s+)?{_DAY}\s*[-–—]\s*{_DAY}\s+(?:of\s+)?{_MONTH_NAMES}{_YEAR_AFTER}"
)
# AM/PM: "6:30 AM", "6:30pm", "6 a.m."; the final period stays when it ends the sentence
_HALF = r"([AaPp])\.?\s?[Mm](?:\.(?=\s+[a-z]|[,;]|\s*[—–)]))?"
_CLOCK = rf"(?<![\w:])(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?(?:\s*{_HALF})?(?![\w:])"
_DOTTED_CLOCK = rf"(?<![\w:.])(\d{{1,2}})\.(\d{{2}})()\s*{_HALF}(?!\w)"  # 5.30pm
_HOUR = rf"(?<![\w:.])(\d{{1,2}})\s*{_HALF}(?!\w)"
_AMOUNT = rf"{_NUMBER}|\d+,\d{{2}}(?!\d)"  # 12,50 is a decimal comma in a price
_MONEY_BEFORE = (
    rf"((?<![\w.,])[-−])?([$€£¥])\s?({_AMOUNT})"
    rf"(?:\s?(thousand|million|billion|trillion|[kK]|M|bn)\b)?(?:/({_DENOMINATOR})(?![\w²³]))?"
)
_MONEY_AFTER = (
    rf"(?<![\w.,])({_AMOUNT})\s?(?:([€$£¥])|(USD|EUR|GBP)\b)(?:/({_DENOMINATOR})(?![\w²³]))?"
)
_DECADE = r"(?<![\w'])(?:(1\d|20)(\d0)|'(\d0)|([2-9]0))'?s\b"
_YEAR = (
    rf"\b(in|since|until|by|from|of|year|before|after|during|around|till)\s+"
    rf"(1[1-9]\d\d|20\d\d)\b(?![.,]\d)(?!\s?(?:{_UNIT})(?![\w²³]))"
)
_RANGE_DASH = r"(?:[–—]|-(?=\d))"
_UNIT_RANGE = (
    rf"({_SIGNED})(\s?(?:{_UNIT}))?\s*(?:{_RANGE_DASH}|\bto\b)\s*"
    rf"({_SIGNED})\s?({_UNIT})(?![\w²³/])"
)
_RANGE = rf"({_SIGNED})\s*{_RANGE_DASH}\s*({_NUMBER}){_END}"
_QUANTITY = rf"({_SIGNED})(\s?)({_UNIT})(?![\w²³/])"
_SCALED = r"(?<![\w.])(\d+(?:\.\d+)?)\s?(k|[Mm]illion|[Bb]illion|bn)\b"  # not "4K TV"
_ENTITY = r"(?<![\w.])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]+)(?!\w|\.\w)"
_BY = r"(?<![\w.])(\d+)\s?[x×]\s?(\d+)(?!\w|\.\w)"  # 1920x1080, 3 x 4
# A time range: at least one side has minutes or AM/PM (9-5 is a plain range): 9am-5pm
_TIME = r"\d{1,2}(?::\d{2})?(?:\s?[AaPp]\.?\s?[Mm]\b\.?)?"
_TIME_END = r"\d{1,2}(?::\d{2})?(?:\s?[AaPp]\.?\s?[Mm]\b)?"  # its dot may end the sentence
_TIME_RANGE = rf"(?<![\w:.])({_TIME})\s*[-–—]\s*({_TIME_END})(?![\w:])"
_DURATION = r"(?<![\w.:])(\d+)\s?h\s?(\d{1,2})(?:\s?(?:m|mins?)\b)?(?![\w:])"  # 1h 20m, 2h30
_MIXED = r"(?<![\w/.,])(\d+)(?:\s?([½¼¾⅓⅔⅛])|\s+([1-7])/([2348]))(?![\w/]|\.\d)"  # 1½, 1 1/2
_WEEKDAY = r"\b(Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)\b(\.(?=\s*[\d,:\-–—]))?"
_WEEKDAY_NAME = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_SCHEDULE_AFTER = re.compile(r"\.?\s*(?:[:,\-–—/]|\d)")  # Sat: 10 °C, Sat-Sun, Sat 12
_WEEKDAY_RANGE = rf"\b({_WEEKDAY_NAME})\s?[-–—]\s?(?={_WEEKDAY_NAME}\b)"


class EnglishNormalizer:
    """Rewrites English text for speaking (``british`` picks metre/litre and "and")."""

    def __init__(self, british: bool = False) -> None:
        self.british = british
        self._rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
            (re.compile(r"\b0x([0-9A-Fa-f]+)\b"), self._hex),  # Zigbee and Z-Wave ids
            (re.compile(_EMAIL), self._email),
            (re.compile(_URL), self._url),
            (re.compile(_IP), self._ip),
            (re.compile(_PHONE), self._phone),
            (re.compile(_PHONE_INTERNATIONAL), self._phone),
            (re.compile(_WEEKDAY), self._weekday),
            (re.compile(_WEEKDAY_RANGE), lambda m: f"{m.group(1)} to "),
            (re.compile(_ISO_DATETIME), self._iso_datetime),
            (re.compile(_ISO_DATE), self._iso_date),
            (re.compile(_SLASH_DATE), self._slash_date),
            (re.compile(_DOTTED_DATE), self._dotted_date),
            (re.compile(_VERSION), self._version),
            (re.compile(_MONTH_RANGE), self._month_range),
            (re.compile(_DAY_RANGE), self._day_range),
            (re.compile(_MONTH_FIRST), self._month_day),
            (re.compile(_DAY_FIRST), self._day_month),
            (re.compile(_TIME_RANGE), self._time_range),
            (re.compile(_CLOCK), self._clock),
            (re.compile(_DOTTED_CLOCK), self._clock),
            (re.compile(_HOUR), self._hour),
            (re.compile(_MONEY_BEFORE), self._currency_before),
            (re.compile(_MONEY_AFTER), self._currency_after),
            (re.compile(r"#(?=\d)"), lambda _: "number "),
            (re.compile(r"\bNo\.\s?(?=\d)|\bnr\.\s?(?=\d)"), lambda _: "number "),
            (re.compile(_DECADE), self._decade),
            (re.compile(_YEAR, re.IGNORECASE), self._year),
            (re.compile(_BY), lambda m: f"{self.number(m.group(1))} by {self.number(m.group(2))}"),
            (re.compile(_DURATION), self._hours_minutes),
            (re.compile(_MIXED), self._mixed),
            (re.compile(_UNIT_RANGE), self._unit_range),
            (re.compile(_RANGE), self._range),
            (re.compile(_QUANTITY), self._quantity),
            (re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE), self._ordinal),
            (re.compile(r"(?<![\w/])24/7(?![\w/])"), lambda _: "twenty-four seven"),
            (re.compile(r"(?<![\w/.])50/50(?![\w/])"), lambda _: "fifty-fifty"),
            (re.compile(r"(?<![\w/.])(\d{1,3}(?:\.\d)?)/(\d{1,3})(?![\w/]|\.\d)"), self._fraction),
            (re.compile(r"(?<![\w.])(\d{4,5})\s?K\b"), lambda m: f"{self.number(m[1])} kelvin"),
            (re.compile(_SCALED), self._scaled),
            (re.compile(r"(?<![\w.])(\d+)x\b"), lambda m: f"{self.number(m.group(1))} times"),
            # digits inside a name (ESP32, 3D, Zigbee2MQTT) are left to the G2P
            (
                re.compile(rf"(?<![A-Za-z]){_SIGNED}(?![A-Za-z\d])"),
                lambda m: self.number(m.group(0)),
            ),
            (re.compile(_BARE_UNIT), self._bare_unit),
            # entity ids and file names: light.living_room
            (re.compile(_ENTITY), self._dotted),
        ]
        self._words = [(re.compile(pattern), words) for pattern, words in WORD_RULES]

    # -- numbers ---------------------------------------------------------------------

    def cardinal(self, value: int) -> str:
        words: str = num2words(value, lang="en").replace(",", "")
        return words if self.british else words.replace(" and ", " ")

    def number(self, text: str) -> str:
        """A number as written (``-1,234.5``) in words."""
        text = text.replace(",", "")
        negative = text[:1] in "-−–"
        text = text.lstrip("-−–+")
        whole, _, fraction = text.partition(".")
        if len(whole) > 1 and whole.startswith("0") or len(whole) > 15:
            words = self.digits(whole)  # 007, or longer than any number anyone says
        else:
            words = self.cardinal(int(whole or "0"))
        if fraction:
            words += " point " + self.digits(fraction)
        return ("minus " if negative else "") + words

    @staticmethod
    def digits(text: str) -> str:
        return " ".join(DIGITS[int(d)] for d in text if d.isdigit())

    def ordinal(self, value: int) -> str:
        words: str = num2words(value, lang="en", to="ordinal").replace(",", "")
        return words if self.british else words.replace(" and ", " ")

    def year(self, value: int) -> str:
        if 2000 <= value <= 2009 or value % 1000 == 0:
            return self.cardinal(value)
        words: str = num2words(value, lang="en", to="year")
        return words if self.british else words.replace(" and ", " ")

    def unit(self, symbol: str, plural: bool) -> str:
        if "/" in symbol and symbol not in UNITS:
            top, bottom = symbol.split("/", 1)
            per = PER_WORDS.get(bottom) or self.unit(bottom, False)
            words = f"{self.unit(top, plural)} per {per}"
        else:
            words = UNITS[symbol][1 if plural else 0]
        if self.british:
            words = words.replace("meter", "metre").replace("liter", "litre")
        return words

    # -- rules -----------------------------------------------------------------------

    def _email(self, match: re.Match[str]) -> str:
        local, _, domain = match.group(0).partition("@")
        return f"{self._spell_name(local)} at {self._domain(domain)}"

    def _spell_name(self, text: str) -> str:
        out = []
        for part in re.split(r"([._+-])", text):
            if part in SEPARATOR_WORDS:
                out.append(SEPARATOR_WORDS[part])
            elif part.isdigit():
                out.append(self.digits(part))
            elif part:
                out.append(part)
        return " ".join(out)

    def _domain(self, domain: str) -> str:
        labels = [label for label in domain.lower().split(".") if label]
        if len(labels) > 2 and labels[0] == "www":
            labels = labels[1:]  # nobody says it
        return " dot ".join(label.replace("-", " ") for label in labels)

    def _url(self, match: re.Match[str]) -> str:
        url = re.sub(r"^https?://", "", match.group(0))
        url = re.split(r"[?#]", url, maxsplit=1)[0]
        host, _, path = url.partition("/")
        host, _, port = host.partition(":")
        ip = re.fullmatch(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", host)
        words = [self._octets(ip.groups()) if ip else self._domain(host)]
        if port.isdigit():
            words.append(f"port {self.digits(port)}")
        for segment in path.split("/"):
            if segment:
                words.append("slash " + segment.replace("-", " ").replace("_", " "))
        return " ".join(words)

    def _octets(self, octets: tuple[str, ...] | list[str]) -> str:
        return " dot ".join(self.cardinal(int(o)) for o in octets)

    def _ip(self, match: re.Match[str]) -> str:
        octets = match.groups()[:4]
        if any(int(octet) > 255 for octet in octets):
            return " point ".join(self.number(o) for o in octets)  # a version, not an address
        words = self._octets(octets)
        if match.group(5):
            words += f" port {self.digits(match.group(5))}"
        return words

    def _phone(self, match: re.Match[str]) -> str:
        text = match.group(0)
        groups = [g for g in re.split(r"[\s().-]+", text) if g]
        spoken = []
        for group in groups:
            prefix = "plus " if group.startswith("+") else ""
            spoken.append(prefix + self.digits(group))
        return ", ".join(spoken)

    @staticmethod
    def month_name(month: int) -> str:
        if not 1 <= month <= 12:
            raise ValueError(f"{month} is not a month")
        return MONTHS[month - 1]

    def date(self, year: int | None, month: int, day: int) -> str:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError("not a date")
        name = MONTHS[month - 1]
        if self.british:
            date = f"the {self.ordinal(day)} of {name}"
        else:
            date = f"{name} {self.ordinal(day)}"
        return date if year is None else f"{date}, {self.year(year)}"

    def _date_or_text(self, match: re.Match[str], year: int, month: int, day: int) -> str:
        try:
            return self.date(year, month, day)
        except ValueError:  # 2024-13-45 is not a date: leave it to the number rules
            return match.group(0)

    def _iso_date(self, match: re.Match[str]) -> str:
        year, month, day = (int(g) for g in match.groups())
        return self._date_or_text(match, year, month, day)

    def _slash_date(self, match: re.Match[str]) -> str:
        first, second, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year += 2000
        month, day = (second, first) if self.british or first > 12 else (first, second)
        if month > 12:
            month, day = day, month
        return self._date_or_text(match, year, month, day)

    def _dotted_date(self, match: re.Match[str]) -> str:
        day, month, year = (int(g) for g in match.groups())
        return self._date_or_text(match, year, month, day)

    def _version(self, match: re.Match[str]) -> str:
        prefix = match.group(1) or ("version " if match.group(2) else "")
        parts = (match.group(2) or match.group(3)).split(".")
        # Home Assistant 2024.11.2: the first part of a calendar version is a year
        calendar = len(parts[0]) == 4 and parts[0][:2] in ("19", "20")
        words = [self.number(p) for p in parts]
        if calendar:
            words[0] = self.year(int(parts[0]))
        return prefix + " point ".join(words)

    def _month_day(self, match: re.Match[str]) -> str:
        month = _month_number(match.group(1))
        year = int(match.group(3)) if match.group(3) else None
        try:
            return self.date(year, month, int(match.group(2)))
        except ValueError:
            return match.group(0)

    def _month_range(self, match: re.Match[str]) -> str:
        month, first, second, year = match.groups()
        return self._date_range(match, month, first, second, year)

    def _day_range(self, match: re.Match[str]) -> str:
        first, second, month, year = match.groups()
        return self._date_range(match, month, first, second, year)

    def _date_range(
        self, match: re.Match[str], month: str, first: str, second: str, year: str | None
    ) -> str:
        """May 12-14, 12-14 May: from one day to another of a month."""
        start, end = int(first), int(second)
        if not 1 <= start < end <= 31:
            return match.group(0)
        name = MONTHS[_month_number(month) - 1]
        if self.british:
            words = f"the {self.ordinal(start)} to the {self.ordinal(end)} of {name}"
        else:
            words = f"{name} {self.ordinal(start)} to {self.ordinal(end)}"
        return words if year is None else f"{words}, {self.year(int(year))}"

    def _day_month(self, match: re.Match[str]) -> str:
        month = _month_number(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
        day = int(match.group(1))
        if not 1 <= day <= 31:
            return match.group(0)
        date = f"the {self.ordinal(day)} of {MONTHS[month - 1]}"
        return date if year is None else f"{date}, {self.year(year)}"

    def _iso_datetime(self, match: re.Match[str]) -> str:
        year, month, day, hour, minute = (int(g) for g in match.groups())
        date = self._date_or_text(match, year, month, day)
        if date == match.group(0) or hour > 23 or minute > 59:
            return match.group(0)
        return f"{date}, at {self._clock_words(hour, minute, None, None)}"

    def _clock(self, match: re.Match[str]) -> str:
        hour, minute = int(match.group(1)), int(match.group(2))
        seconds = match.group(3)
        half = match.group(4)
        if hour > 23 or minute > 59 or (half and not 1 <= hour <= 12):
            return match.group(0)
        before = match.string[max(0, match.start() - 40) : match.start()].lower()
        if seconds and not self._time_of_day(hour, before):
            return self._duration(hour, minute, int(seconds))  # a timer: 00:05:00, 1:23:45
        if not half and not self.british and match.group(1).startswith("0") and hour:
            half = "A"  # a 24-hour time (07:00) in en-US: seven AM
        return self._clock_words(hour, minute, seconds, half)

    @staticmethod
    def _time_of_day(hour: int, before: str) -> bool:
        """With seconds, a time of day only after the words that introduce one ("at",
        "sunrise is", "set for"), not a timer's or a duration's ("the timer is")."""
        if re.search(r"\b(at|by|until|till|from)\s*$", before):
            return True
        if not re.search(r"\b(for|is|was|to)\s*:?\s*$", before):
            return False
        durations = r"\b(timer|remaining|duration|left|elapsed|runtime|uptime|countdown)\b"
        return hour > 0 and not re.search(durations, before)

    def _duration(self, hours: int, minutes: int, seconds: int) -> str:
        parts = [
            f"{self.cardinal(count)} {name}{'s' if count != 1 else ''}"
            for count, name in ((hours, "hour"), (minutes, "minute"), (seconds, "second"))
            if count
        ]
        if not parts:
            return "zero seconds"
        return parts[0] if len(parts) == 1 else f"{' '.join(parts[:-1])} and {parts[-1]}"

    def _clock_words(self, hour: int, minute: int, seconds: str | None, half: str | None) -> str:
        if not half and not self.british and 13 <= hour <= 23:
            hour, half = hour - 12, "P"  # en-US says 15:30 as "three thirty PM"
        if half:
            spoken = self.cardinal(hour)
            if minute:
                spoken += " " + self._minutes(minute)
            spoken += " AM" if half in "Aa" else " PM"
        elif minute == 0 and not seconds:
            if hour == 0:
                spoken = "midnight"
            elif hour == 12:
                spoken = "noon"
            elif hour < 12:
                spoken = f"{self.cardinal(hour)} o'clock"
            else:
                spoken = f"{self.cardinal(hour)} hundred"
        elif hour == 0:
            spoken = f"twelve {self._minutes(minute)} AM"  # 00:30
        else:
            spoken = f"{self.cardinal(hour)} {self._minutes(minute)}"
        if seconds and int(seconds):
            count = int(seconds)
            spoken += f" and {self.cardinal(count)} second{'s' if count != 1 else ''}"
        return spoken

    def _minutes(self, minute: int) -> str:
        if minute == 0:
            return "hundred"
        return f"oh {self.cardinal(minute)}" if minute < 10 else self.cardinal(minute)

    def _hour(self, match: re.Match[str]) -> str:
        hour = int(match.group(1))
        if not 1 <= hour <= 12:
            return match.group(0)
        return f"{self.cardinal(hour)} {'AM' if match.group(2) in 'Aa' else 'PM'}"

    def _money(self, amount: str, symbol: str, scale: str | None) -> str:
        major, minor, minor_one = CURRENCIES[symbol]
        if re.fullmatch(r"\d+,\d{2}", amount):
            amount = amount.replace(",", ".")  # 12,50 € (a decimal comma)
        if scale:
            scale_word = SCALES.get(scale, scale.lower())
            return f"{self.number(amount)} {scale_word} {major[1]}"
        whole, _, cents = amount.replace(",", "").partition(".")
        units = int(whole or "0")
        if len(cents) > 2:  # $0.125: more precise than money is spoken
            return f"{self.number(amount)} {major[1]}"
        cent_count = int(cents.ljust(2, "0")) if cents else 0
        parts = []
        if units or not cent_count:
            parts.append(f"{self.cardinal(units)} {major[0] if units == 1 else major[1]}")
        if cent_count:
            parts.append(f"{self.cardinal(cent_count)} {minor_one if cent_count == 1 else minor}")
        return " and ".join(parts)

    def _per(self, unit: str | None) -> str:
        if not unit:
            return ""
        return f" per {PER_WORDS.get(unit) or self.unit(unit, False)}"  # €0.32/kWh, $5/month

    def _currency_before(self, match: re.Match[str]) -> str:
        sign, symbol, amount, scale, unit = match.groups()
        minus = "minus " if sign else ""
        return minus + self._money(amount, symbol, scale) + self._per(unit)

    def _currency_after(self, match: re.Match[str]) -> str:
        symbol = match.group(2) or CURRENCY_CODES[match.group(3)]
        return self._money(match.group(1), symbol, None) + self._per(match.group(4))

    def _decade(self, match: re.Match[str]) -> str:
        if match.group(4):  # her 20s
            return DECADES[int(match.group(4)[0])]
        if match.group(3):
            return DECADES[int(match.group(3)[0])]
        century, decade = match.group(1), int(match.group(2)[0])
        if century == "20" and decade == 0:
            return "two thousands"
        return f"{self.cardinal(int(century))} {DECADES[decade]}"

    def _year(self, match: re.Match[str]) -> str:
        return f"{match.group(1)} {self.year(int(match.group(2)))}"

    def _quantity_words(self, number: str, symbol: str) -> str:
        number = re.sub(r"\.0+$", "", number)  # 20.0 °C, as Home Assistant shows it
        plural = number.replace(",", "").lstrip("-−–") != "1"
        return f"{self.number(number)} {self.unit(symbol, plural)}"

    def _unit_range(self, match: re.Match[str]) -> str:
        first, first_unit, second, unit = match.groups()
        if first_unit and first_unit.strip() != unit:
            first_words = self._quantity_words(first, first_unit.strip())
        else:
            first_words = self.number(first)
        return f"{first_words} to {self._quantity_words(second, unit)}"

    def _range(self, match: re.Match[str]) -> str:
        return f"{self.number(match.group(1))} to {self.number(match.group(2))}"

    def _quantity(self, match: re.Match[str]) -> str:
        number, space, symbol = match.groups()
        end = match.end()
        rest = match.string[end:]
        prose = symbol in _PROSE_UNITS and not re.match(r"\s*([.,;:!?)]|$)", rest)
        if prose:  # "1 in 3 people", "2 A grades"
            return f"{self.number(number)}{space}{symbol}"
        return self._quantity_words(number, symbol)

    def _hex(self, match: re.Match[str]) -> str:
        chars = [DIGITS[int(c)] if c.isdigit() else c.upper() + "." for c in match[1]]
        return "hex " + " ".join(chars)

    def _weekday(self, match: re.Match[str]) -> str:
        name = WEEKDAYS[match.group(1)]
        if match.group(1) not in ("Sat", "Sun"):
            return name
        # "Sat" and "Sun" are words too: a day only in a schedule (Sat: 10 °C, Fri-Sun)
        before = match.string[max(0, match.start() - 12) : match.start()]
        if (
            _SCHEDULE_AFTER.match(match.string, match.end())
            or re.search(r"[-–—/]\s?$", before)
            or re.search(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat)\w*\.?,?\s(?:and\s|&\s)?$", before)
        ):
            return name
        return match.group(0)

    def _time_range(self, match: re.Match[str]) -> str:
        first, second = match.groups()
        if not re.search(r"[:AaPp]", first + second):
            return match.group(0)  # 9-5: the number range's
        return f"{first} to {second}"  # each side is then read as a time

    def _hours_minutes(self, match: re.Match[str]) -> str:
        hours, minutes = int(match.group(1)), int(match.group(2))
        if minutes >= 60:
            return match.group(0)
        return self._duration(hours, minutes, 0)

    def _mixed(self, match: re.Match[str]) -> str:
        whole = self.cardinal(int(match.group(1)))
        if match.group(2):
            return f"{whole} and {VULGAR_FRACTIONS[match.group(2)]}"
        top, bottom = int(match.group(3)), int(match.group(4))
        if top >= bottom:
            return match.group(0)
        names = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"),
                 8: ("eighth", "eighths")}  # fmt: skip
        one, many = names[bottom]
        fraction = (
            ("an " if one == "eighth" else "a ") + one
            if top == 1
            else f"{self.cardinal(top)} {many}"
        )
        return f"{whole} and {fraction}"

    def _ordinal(self, match: re.Match[str]) -> str:
        return self.ordinal(int(match.group(1)))

    def _fraction(self, match: re.Match[str]) -> str:
        if "." in match.group(1):  # rated 4.5/5
            return f"{self.number(match.group(1))} out of {self.number(match.group(2))}"
        top, bottom = int(match.group(1)), int(match.group(2))
        if bottom in FRACTIONS and 0 < top < bottom * 2:
            one, many = FRACTIONS[bottom]
            return f"{self.cardinal(top)} {one if top == 1 else many}"
        # thirds and eighths are a recipe's; "3/5 on", "7/10" are counts and scores
        if bottom in (3, 8, 16) and 0 < top < bottom:
            name = self.ordinal(bottom)
            return f"{self.cardinal(top)} {name}{'s' if top != 1 else ''}"
        if 0 <= top <= bottom:
            return f"{self.cardinal(top)} out of {self.cardinal(bottom)}"
        return f"{self.cardinal(top)} slash {self.cardinal(bottom)}"

    def _scaled(self, match: re.Match[str]) -> str:
        scale = match.group(2)
        return f"{self.number(match.group(1))} {SCALES.get(scale, scale.lower())}"

    @staticmethod
    def _dotted(match: re.Match[str]) -> str:
        return f"{match.group(1)} dot {match.group(2)}"

    def _bare_unit(self, match: re.Match[str]) -> str:
        return self.unit(match.group(1), False)

    # -- all together ----------------------------------------------------------------

    def __call__(self, text: str) -> str:
        ends_sentence = text.rstrip().endswith(".")
        for pattern, words in self._words:
            text = pattern.sub(words, text)
        for pattern, rule in self._rules:
            text = pattern.sub(rule, text)
        for pattern, replacement in SYMBOL_RULES:
            text = pattern.sub(replacement, text)
        text = re.sub(r"\s+([,.;:!?])", r"\1", text)
        text = re.sub(r"\s{2,}", " ", text).strip()
        if ends_sentence and text and text[-1] not in ".!?":
            text += "."  # "Main St." said as "Main Street" still ends the sentence
        return text


def _month_number(name: str) -> int:
    return MONTH_ABBREVIATIONS[name.lower().rstrip(".")[:3]]
