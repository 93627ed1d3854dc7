"""Words for English normalization: units, currencies, months, abbreviations, symbols.

Data only; the rules that use it are in ``english.py``.
"""

from __future__ import annotations

import re

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MONTH_ABBREVIATIONS = {name[:3].lower(): index for index, name in enumerate(MONTHS, 1)}

# symbol -> (singular, plural). Only ever read after a number (or, for the symbols in
# STANDALONE_UNITS, on their own), so "in", "A" or "m" in prose are never touched.
UNITS: dict[str, tuple[str, str]] = {
    "°C": ("degree Celsius", "degrees Celsius"),
    "ºC": ("degree Celsius", "degrees Celsius"),
    "℃": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "ºF": ("degree Fahrenheit", "degrees Fahrenheit"),
    "℉": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
    "‰": ("per mille", "per mille"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "Wh": ("watt hour", "watt hours"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "MWh": ("megawatt hour", "megawatt hours"),
    "GWh": ("gigawatt hour", "gigawatt hours"),
    "VA": ("volt-ampere", "volt-amperes"),
    "V": ("volt", "volts"),
    "mV": ("millivolt", "millivolts"),
    "kV": ("kilovolt", "kilovolts"),
    "A": ("amp", "amps"),
    "mA": ("milliamp", "milliamps"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "Ah": ("amp hour", "amp hours"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "lx": ("lux", "lux"),
    "lm": ("lumen", "lumens"),
    "ppm": ("part per million", "parts per million"),
    "ppb": ("part per billion", "parts per billion"),
    "µg": ("microgram", "micrograms"),
    "μg": ("microgram", "micrograms"),
    "ug": ("microgram", "micrograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "kg": ("kilogram", "kilograms"),
    "t": ("ton", "tons"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "Pa": ("pascal", "pascals"),
    "hPa": ("hectopascal", "hectopascals"),
    "kPa": ("kilopascal", "kilopascals"),
    "mbar": ("millibar", "millibars"),
    "bar": ("bar", "bar"),
    "psi": ("PSI", "PSI"),
    "inHg": ("inch of mercury", "inches of mercury"),
    "mmHg": ("millimeter of mercury", "millimeters of mercury"),
    "mm": ("millimeter", "millimeters"),
    "cm": ("centimeter", "centimeters"),
    "m": ("meter", "meters"),
    "km": ("kilometer", "kilometers"),
    "mi": ("mile", "miles"),
    "in": ("inch", "inches"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "m²": ("square meter", "square meters"),
    "m2": ("square meter", "square meters"),
    "cm²": ("square centimeter", "square centimeters"),
    "km²": ("square kilometer", "square kilometers"),
    "ft²": ("square foot", "square feet"),
    "m³": ("cubic meter", "cubic meters"),
    "m3": ("cubic meter", "cubic meters"),
    "ft³": ("cubic foot", "cubic feet"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "kn": ("knot", "knots"),
    "L": ("liter", "liters"),
    "l": ("liter", "liters"),
    "mL": ("milliliter", "milliliters"),
    "ml": ("milliliter", "milliliters"),
    "cl": ("centiliter", "centiliters"),
    "dl": ("deciliter", "deciliters"),
    "gal": ("gallon", "gallons"),
    "dB": ("decibel", "decibels"),
    "dBm": ("decibel milliwatt", "decibel milliwatts"),
    "ms": ("millisecond", "milliseconds"),
    "s": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "kB": ("kilobyte", "kilobytes"),
    "KB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "rpm": ("revolution per minute", "revolutions per minute"),
    "kcal": ("kilocalorie", "kilocalories"),
}
# Units read even without a number before them ("price per kWh"): none is an English word.
STANDALONE_UNITS = (
    "°C",
    "°F",
    "℃",
    "℉",
    "kWh",
    "MWh",
    "Wh",
    "kW",
    "hPa",
    "mbar",
    "µg/m³",
    "μg/m³",
    "ug/m3",
    "km/h",
    "m/s",
    "mph",
    "ppm",
    "dB",
    "mL",
    "kHz",
    "MHz",
    "GHz",
)


SEPARATOR_WORDS = {".": "dot", "_": "underscore", "-": "dash", "+": "plus"}
CURRENCIES = {
    "$": (("dollar", "dollars"), "cents", "cent"),
    "€": (("euro", "euros"), "cents", "cent"),
    "£": (("pound", "pounds"), "pence", "penny"),
    "¥": (("yen", "yen"), "sen", "sen"),
}
CURRENCY_CODES = {"USD": "$", "EUR": "€", "GBP": "£"}
SCALES = {"k": "thousand", "K": "thousand", "M": "million", "bn": "billion"}
DECADES = (
    "hundreds",
    "tens",
    "twenties",
    "thirties",
    "forties",
    "fifties",
    "sixties",
    "seventies",
    "eighties",
    "nineties",
)
FRACTIONS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
# Fraction characters after a whole number: "1½ cups" is one and a half.
VULGAR_FRACTIONS = {
    "½": "a half",
    "¼": "a quarter",
    "¾": "three quarters",
    "⅓": "a third",
    "⅔": "two thirds",
    "⅛": "an eighth",
}
# What a compound unit may be per, besides a unit: "$5/month", "6.5 kWh/day".
PER_WORDS = {
    "day": "day",
    "d": "day",
    "week": "week",
    "wk": "week",
    "month": "month",
    "mo": "month",
    "year": "year",
    "yr": "year",
    "night": "night",
    "person": "person",
    "hour": "hour",
    "minute": "minute",
}
WEEKDAYS = {
    "Mon": "Monday",
    "Tue": "Tuesday",
    "Tues": "Tuesday",
    "Wed": "Wednesday",
    "Thu": "Thursday",
    "Thur": "Thursday",
    "Thurs": "Thursday",
    "Fri": "Friday",
    "Sat": "Saturday",
    "Sun": "Sunday",
}

# Abbreviations (before the number rules, so "No. 5" and "approx. 5" keep their numbers).
WORD_RULES: list[tuple[str, str]] = [
    # pollutants and particle sizes: "CO2", "PM2.5" (letters then digits)
    (r"\bCO2\b", "C.O. 2"),
    (r"\bNO2\b", "N.O. 2"),
    (r"\bSO2\b", "S.O. 2"),
    (r"\bO3\b", "ozone"),
    (r"\b(PM|VOC)(?=\d)", r"\1 "),
    # an address (a number, a name, then St. or Dr.) ends in a street: "12 Main St. The
    # driver…" is Main Street, and its point still ends the sentence
    (r"\b(\d+[A-Za-z]?\s+(?:[A-Z][\w'-]*\s+){1,3})St\.(?=\s+[A-Z])", r"\1Street."),
    (r"\b(\d+[A-Za-z]?\s+(?:[A-Z][\w'-]*\s+){1,3})Dr\.(?=\s+[A-Z])", r"\1Drive."),
    (r"\bDr\.(?=\s+[A-Z])", "Doctor"),
    (r"\bDr\.", "Drive"),
    (r"\bSt\.(?=\s+[A-Z])", "Saint"),
    (r"\bSt\.", "Street"),
    (r"\bMrs\.", "Missus"),
    (r"\bMr\.", "Mister"),
    (r"\bMs\.", "Miz"),
    (r"\bProf\.", "Professor"),
    (r"\bJr\.", "Junior"),
    (r"\bSr\.", "Senior"),
    (r"\bMt\.", "Mount"),
    (r"\bAve\.(?=\s+[A-Z])", "Avenue."),  # the next sentence begins
    (r"\bAve\.", "Avenue"),
    (r"\bBlvd\.(?=\s+[A-Z])", "Boulevard."),  # the next sentence begins
    (r"\bBlvd\.", "Boulevard"),
    (r"\bRd\.(?=\s+[A-Z])", "Road."),  # the next sentence begins
    (r"\bRd\.", "Road"),
    (r"\b[Vv]s\.?(?=\s)", "versus"),
    (r"\b[Aa]pprox\.?(?=\s)", "approximately"),
    (r"\betc\.", "et cetera"),
    (r"\b[Ee]\.[Gg]\.", "for example"),
    (r"\b[Ii]\.[Ee]\.", "that is"),
    (r"\bmins?\.(?=\s+[a-z])", "minutes"),
    (r"(?<=\d)\s*\*\s*(?=\d)", " times "),  # 5 * 3 (before the numbers are words)
]

SYMBOL_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\s*@\s*"), " at "),
    (re.compile(r"(?<=\w)\s*\+\s*(?=\w)"), " plus "),
    (re.compile(r"(?<![\w+])\+(?=\w)"), "plus "),
    (re.compile(r"\bw/(?=\s)"), "with"),
    # A/C, N/A, I/O: letters, not choices (dotted, or "A" is read as the article)
    (re.compile(r"\b([A-Z])/([A-Z])\b\.?"), r"\1.\2."),
    (re.compile(r"\b([Aa]nd)/or\b"), r"\1 or"),
    (re.compile(r"\s+/\s+"), " or "),  # 21.5 °C / 70.7 °F
    (re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])"), " or "),
    (re.compile(r"\s*±\s*"), " plus or minus "),
    (re.compile(r"\s*=>\s*"), " to "),
    (re.compile(r"\s*=\s*"), " equals "),
    (re.compile(r"\s*[×]\s*"), " times "),
    (re.compile(r"\s*≈\s*|(?<!\w)~\s*(?=\w)"), " about "),
    (re.compile(r"\s*≤\s*|\s*<=\s*"), " at most "),
    (re.compile(r"\s*≥\s*|\s*>=\s*"), " at least "),
    (re.compile(r"\s+<\s+"), " less than "),
    (re.compile(r"\s+>\s+"), " greater than "),
    (re.compile(r"\s*[→⇒]\s*"), " to "),
    (re.compile(r"#(?=\w)"), ""),
    (re.compile(r"(?<=\w)_(?=\w)"), " "),
    (re.compile(r"[*_^`~|\\]+"), " "),
]
