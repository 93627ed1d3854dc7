"""The text path before G2P: the normalizer table, other languages, markdown, say-as."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.normalize_table import BRITISH, TABLE
from wyoming_kokoro.text.english_words import UNITS
from wyoming_kokoro.text.normalize import TextNormalizer, spell
from wyoming_kokoro.text.segment import split_sentences

NORMALIZER = TextNormalizer()


def spoken(text: str) -> list[str]:
    """Words only: case, hyphens and punctuation do not change what is said."""
    return re.sub(r"[^\w' ]+", " ", text.lower().replace("-", " ")).split()


def test_the_table_is_big_and_covers_every_unit() -> None:
    assert len(TABLE) >= 80
    inputs = " ".join(row[0] for row in TABLE)
    required = [
        "W",
        "kW",
        "kWh",
        "V",
        "A",
        "Hz",
        "lx",
        "ppm",
        "µg/m³",
        "hPa",
        "mbar",
        "mm",
        "cm",
        "m",
        "km",
        "km/h",
        "m/s",
        "mph",
        "kg",
        "g",
        "lb",
        "oz",
        "L",
        "mL",
        "gal",
        "in",
        "ft",
        "dB",
        "%",
        "°C",
        "°F",
    ]
    for unit in required:
        assert re.search(rf"\d\s?{re.escape(unit)}(?![\w/²³])", inputs), unit
    for currency in "$€£":
        assert re.search(rf"{re.escape(currency)}\d", inputs), currency
    assert sum(heard for *_, heard in TABLE) >= 25


@pytest.mark.parametrize(("written", "said"), [(row[0], row[1]) for row in TABLE])
def test_english(written: str, said: str) -> None:
    assert spoken(NORMALIZER(written, "a")) == spoken(said)


@pytest.mark.parametrize(("written", "said"), BRITISH)
def test_british_english(written: str, said: str) -> None:
    assert spoken(NORMALIZER(written, "b")) == spoken(said)


def test_every_unit_has_words() -> None:
    for symbol in UNITS:
        said = NORMALIZER(f"It is 2 {symbol}.", "a")
        assert symbol not in said.split(), (symbol, said)
        assert not re.search(r"\d", said), (symbol, said)


@pytest.mark.parametrize(
    ("lang", "written", "said"),
    [
        (
            "e",
            "Hace 21,5 °C y la humedad es del 45 %.",
            "Hace veintiuno coma cinco grados Celsius y la humedad es del cuarenta y cinco "
            "por ciento.",
        ),
        (
            "e",
            "Son las 18:45 y hay -3 grados.",
            "Son las dieciocho cuarenta y cinco y hay menos tres grados.",
        ),
        ("e", "Consumo de hoy: 12.4 kWh.", "Consumo de hoy: doce coma cuatro kilovatios hora."),
        (
            "f",
            "Il fait 1 234 watts et -5 °C.",
            "Il fait mille deux cent trente-quatre watts et moins cinq degrés Celsius.",
        ),
        ("f", "Le vent souffle à 15 km/h.", "Le vent souffle à quinze kilomètres heure."),
        (
            "i",
            "Ci sono 21,5 gradi e il 30 % di umidità.",
            "Ci sono ventuno virgola cinque gradi e il trenta per cento di umidità.",
        ),
        (
            "p",
            "A temperatura é 21,5 °C e são 1.000 km.",
            "A temperatura é vinte e um vírgula cinco graus Celsius e são mil quilômetros.",
        ),
        (
            "e",
            "Cuesta 1.234,56 €.",
            "Cuesta mil doscientos treinta y cuatro euros con cincuenta y seis céntimos.",
        ),
        ("e", "El 1º de mayo y la 2ª vez.", "El primero de mayo y la segunda vez."),
        # entity ids: a point inside a word would end the sentence
        ("f", "La light.salon est allumée.", "La light point salon est allumée."),
        (
            "e",
            "El sensor.temperatura_salon marca 20 °C.",
            "El sensor punto temperatura salon marca veinte grados Celsius.",
        ),  # fmt: skip
        # hours, minutes, litres, volts written as symbols
        (
            "f",
            "À 9 h 30, 2,5 l, 5 m/s, 230 V.",
            "À neuf heures trente, deux virgule cinq "
            "litres, cinq mètres par seconde, deux cent trente volts.",
        ),  # fmt: skip
        (
            "e",
            "Dura 1 h 20 min, a las 21:00 h.",
            "Dura una hora veinte minutos, a las veintiuna horas.",
        ),  # fmt: skip
        # a number agrees with its noun (num2words says the masculine form)
        (
            "e",
            "Hay 1 ventana y 21 luces, 1 día, 200 casas, 21 grados y el 1 por ciento.",
            "Hay una ventana y veintiuna luces, un día, doscientas casas, veintiún grados y el "
            "uno por ciento.",
        ),  # fmt: skip
        (
            "p",
            "2 janelas, 1 lâmpada, 1 dia e 1 kWh.",
            "duas janelas, uma lâmpada, um dia e um quilowatt-hora.",
        ),  # fmt: skip
        (
            "i",
            "1 finestra, 1 ora, 1 grado, 1 studio.",
            "una finestra, un'ora, un grado, uno studio.",
        ),  # fmt: skip
        ("f", "1 fenêtre, 21 lampes, 1 degré.", "une fenêtre, vingt et une lampes, un degré."),
        # times, money, dates, ranges and titles as a person reads them
        ("e", "Son las 15:05, a las 7.30.", "Son las quince y cinco, a las siete treinta."),
        ("e", "El Sr. García y la Dra. López.", "El señor García y la doctora López."),
        ("e", "Cuesta 0,15 €/kWh.", "Cuesta quince céntimos por kilovatio hora."),
        (
            "e",
            "Hoy es 07/12/2026, de 10-15 min.",
            "Hoy es siete de diciembre de dos mil veintiséis, de diez a quince minutos.",
        ),  # fmt: skip
        (
            "f",
            "M. Dupont paie 12,99 €.",
            "Monsieur Dupont paie douze euros et quatre-vingt-dix-neuf centimes.",
        ),  # fmt: skip
        (
            "f",
            "Le 2026-12-01, 10-15 minutes.",
            "Le premier décembre deux mille vingt-six, dix à quinze minutes.",
        ),  # fmt: skip
        (
            "i",
            "Il Sig. Rossi arriva alle 7.30, ecc.",
            "Il Signor Rossi arriva alle sette e trenta, eccetera.",
        ),  # fmt: skip
        (
            "i",
            "Vale 7.30 volte, alle 7:05.",
            "Vale sette virgola trenta volte, alle sette e cinque.",
        ),  # fmt: skip
        (
            "p",
            "O Sr. Silva chega às 18h30 e paga R$ 12,99.",
            "O Senhor Silva chega às dezoito "
            "horas e trinta e paga doze reais e noventa e nove centavos.",
        ),  # fmt: skip
        (
            "p",
            "São 1.250 kWh, às 9h.",
            "São mil duzentos e cinquenta quilowatts-hora, às nove horas.",
        ),  # fmt: skip
        (
            "e",
            "El código es 123456789012345678.",
            "El código es uno dos tres cuatro cinco seis siete ocho nueve cero uno dos tres "
            "cuatro cinco seis siete ocho.",
        ),
        ("f", "Rendez-vous à 7h30 ou 18h.", "Rendez-vous à sept heures trente ou dix-huit heures."),
        ("f", "Le 1er mai.", "Le premier mai."),
        (
            "p",
            "Tem 10000000000000000000 pessoas.",
            "Tem um zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero "
            "zero zero zero zero pessoas.",
        ),
    ],
)
def test_numbers_in_other_languages(lang: str, written: str, said: str) -> None:
    assert spoken(NORMALIZER(written, lang)) == spoken(said)


@pytest.mark.parametrize(
    ("lang", "written", "said"),
    [
        # Chinese: after a decimal cn2an drops the point before ℃; dates and times with
        # - and : (a - it reads as minus), ranges, Latin unit symbols
        ("z", "温度是21.5°C，-3℃。", "温度是21.5摄氏度，负3摄氏度。"),
        ("z", "今天是2026-12-07，会议在7:05，闹钟15:30。", "今天是2026年12月7日，会议在7点零5分，闹钟15点30分。"),  # noqa: E501
        ("z", "等10-15分钟，风速5 m/s，电话010-12345678。", "等10到15分钟，风速5米每秒，电话010-12345678。"),  # noqa: E501
        # Japanese: kanji numerals for dates and hours (七日 nanoka, not "nana ka")
        ("j", "今日は2026-12-07です。", "今日は2026年十二月七日です。"),
        ("j", "12月7日(月)、15:30から10-15分、3.2 kWh。", "十二月七日(月曜日)、十五時三十分から10から15分、3点2キロワット時。"),  # noqa: E501
        # Hindi: espeak-ng dropped the minus (−3 °C was "three C") and the decimal point
        ("h", "बाहर -3 °C है, अंदर 21.5 °C है।", "बाहर माइनस 3 डिग्री सेल्सियस है, अंदर 21 दशमलव 5 डिग्री सेल्सियस है।"),  # noqa: E501
        ("h", "₹1,250 और 1,25,000, 45% नमी।", "1250 रुपये और 125000, 45 प्रतिशत नमी।"),
        ("h", "मीटिंग 7:05 बजे है, 10-15 मिनट, 2026-12-07।", "मीटिंग 7 बजकर 5 मिनट है, 10 से 15 मिनट, 7 दिसंबर 2026।"),  # noqa: E501
    ],
)  # fmt: skip
def test_numbers_in_chinese_japanese_and_hindi(lang: str, written: str, said: str) -> None:
    assert NORMALIZER(written, lang) == said


def test_languages_without_rules_are_only_cleaned() -> None:
    # integers in Hindi, Japanese and Mandarin are read by their own G2P
    assert NORMALIZER("**तापमान** 21 डिग्री है 🌡️", "h") == "तापमान 21 डिग्री है"
    assert NORMALIZER("気温は21度です。", "j") == "気温は21度です。"


def test_numbered_list_items_stay_whole_sentences() -> None:
    text = "Here is the plan:\n1. Turn on the lights.\n2. Close the blinds. It is 21.5 °C."
    assert split_sentences(text) == [
        "Here is the plan:",
        "1. Turn on the lights.",
        "2. Close the blinds.",
        "It is 21.5 °C.",
    ]


def test_a_point_that_ends_no_sentence_is_not_kept() -> None:
    # the table compares words only; here the punctuation Kokoro hears matters
    assert NORMALIZER("Pickup at 7:00 a.m. — bins out.", "a") == "Pickup at seven AM — bins out."
    assert NORMALIZER("It was left at 12 Main St. The gate is shut.", "a") == (
        "It was left at twelve Main Street. The gate is shut."
    )


def test_markdown_blocks_disappear() -> None:
    for line in ("```yaml", "```", "---", "| --- | :---: |"):
        assert NORMALIZER(line, "a") == ""
    assert NORMALIZER("| Room | Temp |", "a") == "Room, Temp"
    assert NORMALIZER("![a cat](cat.png) __bold__ and _it_", "a") == "a cat bold and it"
    # to-do items, as an LLM lists a shopping list: the boxes are not read
    for line in ("- [ ] Milk", "- [x] Milk", "* [X] Milk", "1. [ ] Milk"):
        assert NORMALIZER(line, "a") == "Milk", line


@pytest.mark.parametrize(
    ("interpret", "fmt", "text", "said"),
    [
        ("characters", None, "USB3", "U.S.B three"),
        ("spell-out", None, "ok", "O.K"),
        ("cardinal", None, "1234", "one thousand two hundred thirty-four"),
        ("ordinal", None, "3", "third"),
        ("digits", None, "1234", "one two three four"),
        ("date", "mdy", "11/25/2024", "November twenty-fifth, twenty twenty-four"),
        ("date", "dmy", "25.11.2024", "November twenty-fifth, twenty twenty-four"),
        ("date", "ymd", "2024-11-25", "November twenty-fifth, twenty twenty-four"),
        ("date", "my", "11/2024", "November twenty twenty-four"),
        ("time", None, "6:30pm", "six thirty PM"),
        (
            "telephone",
            None,
            "+1 555 123 4567",
            "plus one, five five five, one two three, four five six seven",
        ),
        ("unknown-kind", None, "21.5 °C", "twenty-one point five degrees Celsius"),
    ],
)
def test_say_as(interpret: str, fmt: str | None, text: str, said: str) -> None:
    assert NORMALIZER.say_as(interpret, fmt, text, "a") == said


def test_say_as_in_other_languages() -> None:
    assert NORMALIZER.say_as("cardinal", None, "1234", "e") == "mil doscientos treinta y cuatro"
    assert NORMALIZER.say_as("ordinal", None, "3", "f") == "troisième"
    assert NORMALIZER.say_as("digits", None, "42", "i") == "quattro due"
    assert spell("abc", english=False) == "A B C"


# Text a smart home and an LLM might write: digits and the symbols the rules look for.
_PIECES = st.sampled_from(
    [*"0123456789.,:-–/+%°$€£#@&*_`~|<>()[]", "km/h", "kWh", "µg/m³", " ", "a", "Z", "AM", "\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join), st.sampled_from("abefhipjz"))
def test_normalizer_never_raises_and_stays_bounded(text: str, lang: str) -> None:
    said = NORMALIZER(text, lang)
    assert isinstance(said, str)
    assert len(said) <= 40 * len(text) + 10


def test_long_inputs_stay_linear() -> None:
    """Adversarial 20,000-character inputs (the text limit) for the rules that scan."""
    import time

    for text in (
        "3." + "1415926535" * 2000,
        "a." * 10000,
        "[" * 20000,
        "**a " * 5000,
        "x@" * 10000,
    ):
        for lang in ("a", "e"):
            started = time.perf_counter()
            NORMALIZER(text, lang)
            elapsed = time.perf_counter() - started
            assert elapsed < 5, (text[:20], lang, elapsed)  # quadratic rules took minutes


def test_failing_rules_cost_only_the_normalization(caplog: pytest.LogCaptureFixture) -> None:
    assert NORMALIZER.say_as("date", "m", "13", "a") == "thirteen"  # not a month: read as text
    assert NORMALIZER.say_as("characters", None, "²", "a") == "²"
