"""The pronunciation lexicon and inline phonemes, in process: matching rules, languages,
IPA, hot reload by modification time, broken files, and the marks that carry phonemes
from normalization to G2P."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from wyoming_kokoro.text.g2p import Phonemizer
from wyoming_kokoro.text.inline import split_marks
from wyoming_kokoro.text.lexicon import (
    Lexicon,
    LexiconError,
    LexiconFiles,
    builtin_entries,
    parse_lexicon,
)
from wyoming_kokoro.text.normalize import TextNormalizer
from wyoming_kokoro.text.segment import SegmentPlanner, split_first_clause
from wyoming_kokoro.text.ssml import ipa_to_kokoro

USER = """
en:
  HACS: hax
  Philips: fill ups
  Philips Hue: {phonemes: "fˈɪlɪps hjˈu"}
  ESPHome: {ipa: "ˈiː ɛs ˈpiː hoʊm"}
  Shelly: {say: shelley}
  Ring: {say: wring, case_sensitive: true}
  C++: see plus plus
en-gb:
  tomato: {phonemes: "təmˈɑːtQ"}
es:
  HACS: jacs
all:
  Kokoro: {phonemes: "kˈOkəɹO"}
"""


def lexicon(text: str = USER) -> Lexicon:
    return Lexicon(parse_lexicon(text, "test.yaml"))


def apply(text: str, lang: str = "a", source: str = USER) -> tuple[str, list[str]]:
    """The text as the normalizer leaves it (marks shown as /phonemes/), and the keys used."""
    held: list[tuple[str, str]] = []
    applied: list[str] = []
    out = lexicon(source).apply(text, lang, held, applied)
    for index, (_, phonemes) in enumerate(held):
        out = out.replace(f"⟦{index}⟧", f"/{phonemes}/")
    return out, applied


# --------------------------------------------------------------------------- matching


def test_whole_words_only() -> None:
    assert apply("Open HACS now")[0] == "Open hax now"
    assert apply("HACSX xHACS HACS2 _HACS")[0] == "HACSX xHACS HACS2 _HACS"
    assert apply("(HACS), HACS. HACS!")[0] == "(hax), hax. hax!"
    assert apply("Learn C++ today")[0] == "Learn see plus plus today"


def test_case_insensitive_unless_the_entry_says_so() -> None:
    assert apply("hacs Hacs HACS")[0] == "hax hax hax"
    assert apply("Ring the bell: ring")[0] == "wring the bell: ring"
    assert apply("RING")[0] == "RING"


def test_longest_match_first_and_phrases_across_spaces() -> None:
    assert apply("The Philips Hue lamp")[0] == "The /fˈɪlɪps hjˈu/ lamp"
    assert apply("A Philips shaver")[0] == "A fill ups shaver"
    assert apply("philips   hue")[0] == "/fˈɪlɪps hjˈu/"


def test_plurals_and_possessives() -> None:
    assert apply("HACS's store")[0] == "hax's store"
    assert apply("two Shellys, three Shellies and a Shelly’s relay")[0] == (
        "two shelley's, three shelley's and a shelley's relay"
    )
    # phoneme entries get the English ending that fits their last sound
    assert apply("Kokoro's voice")[0] == "/kˈOkəɹOz/ voice"
    assert apply("ESPHome's update")[0] == "/ˈi ɛs ˈpi hOmz/ update"
    sibilant = "en:\n  Bosch: {phonemes: bˈɑʃ}\n  Ecolink: {phonemes: ˈɛkOlˌɪŋk}\n"
    assert apply("Boschs and Ecolinks", source=sibilant)[0] == "/bˈɑʃᵻz/ and /ˈɛkOlˌɪŋks/"
    assert apply("Boschs", "b", sibilant)[0] == "/bˈɑʃɪz/"
    # a plural apostrophe adds no sound; other languages match the word as written only
    assert apply("the HACS' page")[0] == "the hax page"
    assert apply("HACSs", "e")[0] == "HACSs"


def test_languages_and_the_applied_keys() -> None:
    assert apply("HACS y Kokoro", "e") == ("jacs y /kˈOkəɹO/", ["HACS", "Kokoro"])
    assert apply("Kokoro", "j")[0] == "/kˈOkəɹO/"
    assert apply("tomato", "b")[0] == "/təmˈɑːtQ/"
    assert apply("tomato", "a")[0] == "tomato"
    assert apply("HACS", "f") == ("HACS", [])
    # entries outside a section are English; "it" holding a say is the word, not Italian
    flat = "HACS: hax\nit: {say: eet}\n"
    assert apply("HACS it", source=flat)[0] == "hax eet"
    assert apply("HACS it", "i", source=flat)[0] == "HACS it"


def test_ipa_entries_are_mapped_like_ssml_phoneme() -> None:
    entries = parse_lexicon("en:\n  Sonos: {ipa: /ˈsoʊ.noʊs/}\n  church: {ipa: tʃɝtʃ}\n", "t")
    assert entries["a"]["sonos"].phonemes == ipa_to_kokoro("/ˈsoʊ.noʊs/", True) == "ˈsOnOs"
    assert entries["b"]["sonos"].phonemes == ipa_to_kokoro("ˈsoʊnoʊs", True, True) == "ˈsQnQs"
    assert entries["a"]["church"].phonemes == "ʧɜɹʧ"
    assert ipa_to_kokoro("ˈkiːp", True) == "ˈkip"  # American Kokoro has no length marks
    assert ipa_to_kokoro("ˈkiːp", True, british=True) == "ˈkiːp"
    assert ipa_to_kokoro("ˈpe:ro", False) == "ˈpeːɹo".replace("ɹ", "r")


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("en:\n  HACS: hax\n  ESPHome: x: y\n", 3, "not valid YAML"),
        ("en:\n  HACS: hax\n  ESPHome: [a, b\n", 4, "flow sequence on line 3"),
        ("en:\n  HACS: hax\n  ESPHome: {ipa: x, say: y}\n", 3, "exactly one of"),
        ("en:\n  HACS: hax\n\n  ESPHome: {sound: x}\n", 4, "unknown field 'sound'"),
        ("en:\n  HACS:\n", 2, "must be text"),
        ("en:\n  HACS: {say: x, case_sensitive: maybe}\n", 2, "case_sensitive"),
        ("- HACS\n", 1, "expected a mapping"),
    ],
)
def test_errors_name_the_line(text: str, line: int, says: str) -> None:
    with pytest.raises(LexiconError) as err:
        parse_lexicon(text, "my.yaml")
    assert f"my.yaml, line {line}" in str(err.value) and says in str(err.value)


def test_builtin_lexicon_loads_and_user_entries_win(tmp_path: Path) -> None:
    builtin = builtin_entries()
    assert {"2FA", "ESPHome", "HACS", "Zigbee2MQTT", "Z-Wave"} <= {
        e.key for e in builtin["a"].values()
    }
    assert builtin["a"].keys() == builtin["b"].keys()
    user = tmp_path / "lexicon.yaml"
    user.write_text("en:\n  hacs: hax\n", encoding="utf-8")
    normalizer = TextNormalizer(LexiconFiles([user]))
    assert normalizer("Open HACS and enable 2FA.", "a") == "Open hax and enable two F A."
    assert TextNormalizer(LexiconFiles([user], builtin=False))("2FA", "a") == "2FA"


def test_a_user_entry_beats_a_case_sensitive_builtin(tmp_path: Path) -> None:
    """The built-in ``Matter`` and ``Thread`` only match those spellings; a user's
    case-insensitive entry for the same word replaces them in every spelling."""
    assert any(e.key == "Matter" and e.case_sensitive for e in builtin_entries()["a"].values())
    user = tmp_path / "lexicon.yaml"
    user.write_text("en:\n  matter: mattah\n", encoding="utf-8")
    normalizer = TextNormalizer(LexiconFiles([user]))
    assert normalizer("Matter devices; no matter.", "a") == "mattah devices; no mattah."


# --------------------------------------------------------------------------- reload


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, mtime: float) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def said(files: LexiconFiles, text: str = "Open HACS") -> str:
    held: list[tuple[str, str]] = []
    return files.current().apply(text, "a", held)


def test_a_changed_file_is_read_at_most_once_a_second(tmp_path: Path) -> None:
    path, clock = tmp_path / "lexicon.yaml", Clock()
    write(path, "HACS: hax\n", 1000)
    files = LexiconFiles([path], builtin=False, clock=clock)
    assert said(files) == "Open hax"
    write(path, "HACS: hacks\n", 2000)
    clock.now += 0.5
    assert said(files) == "Open hax"  # checked less than a second ago
    clock.now += 0.6
    assert said(files) == "Open hacks"
    path.unlink()
    clock.now += 1.1
    assert said(files) == "Open HACS"  # a removed file's entries no longer apply
    write(path, "HACS: hackies\n", 3000)  # a file that appears later is read then
    clock.now += 1.1
    assert said(files) == "Open hackies"


def test_a_broken_file_warns_once_and_keeps_the_previous_lexicon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, clock = tmp_path / "lexicon.yaml", Clock()
    write(path, "en:\n  HACS: hax\n", 1000)
    files = LexiconFiles([path], builtin=False, clock=clock)
    write(path, "en:\n  HACS: hax\n  Sonos: {ipa: 'ˈsoʊnoʊs'\n", 2000)
    with caplog.at_level(logging.WARNING, logger="wyoming_kokoro.text.lexicon"):
        for _ in range(3):
            clock.now += 1.1
            assert said(files) == "Open hax"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"{path}, line 4" in warnings[0] and "keeping the previous lexicon" in warnings[0]
    write(path, "en:\n  HACS: hacks\n", 3000)  # fixed: used again
    clock.now += 1.1
    assert said(files) == "Open hacks"


# --------------------------------------------------------------------------- inline phonemes


def test_inline_phonemes_survive_markdown_and_the_rules() -> None:
    normalizer = TextNormalizer(LexiconFiles([], builtin=False))
    out = normalizer("**Say** [Kokoro](/kˈOkəɹO/) at 21.5 °C, then [stop](/stˈɑp/).", "a")
    parts = split_marks(out)
    assert ("Kokoro", "kˈOkəɹO") in parts and ("stop", "stˈɑp") in parts
    assert "Say" in out and "**" not in out
    assert "twenty-one point five degrees Celsius" in out
    assert "[" not in out  # a mark, not a link the markdown rules would drop


def test_marks_are_never_cut_by_the_segment_planner() -> None:
    normalizer = TextNormalizer(LexiconFiles([], builtin=False))
    mark = normalizer("[Tom and Jerry](/tˈɑm ænd ʤˈɛɹi/)", "a")
    assert " " not in mark
    sentence = f"The garage light has been switched on {mark} and the door is open."
    assert any(mark in piece for piece in split_first_clause(sentence))
    planned = SegmentPlanner("en").plan([sentence])
    assert sum(piece.count(mark) for piece in planned) == 1


@pytest.fixture(scope="module")
def phonemizer() -> Phonemizer:
    return Phonemizer()


def test_g2p_speaks_the_marked_phonemes(phonemizer: Phonemizer) -> None:
    normalizer = TextNormalizer(LexiconFiles([], builtin=False))
    english = phonemizer.phonemize(normalizer("Hello [Kokoro](/kˈOkəɹO/), bye.", "a"), "a")
    assert "kˈOkəɹO," in english and english.startswith("həlˈO")
    spanish = phonemizer.phonemize(normalizer("Hola [Kokoro](/kˈOkəɹO/), adiós.", "e"), "e")
    assert "kˈOkəɹO," in spanish and "Kokoro" not in spanish
    plain = phonemizer.phonemize("Hello Kokoro, bye.", "a")
    assert "kˈOkəɹO" not in plain


def test_the_text_stage_counts_the_entries_it_applied(tmp_path: Path) -> None:
    """What the stats record's lexicon_entries reports: plain text and SSML alike."""
    from wyoming_kokoro.text.prepare import TextPreparer

    user = tmp_path / "lexicon.yaml"
    user.write_text("en:\n  HACS: hacks\n", encoding="utf-8")
    normalizer = TextNormalizer(LexiconFiles([user], builtin=False))
    for ssml, text in [
        (False, "Open HACS. Then HACS's store, and ESPHome."),
        (True, "<speak>Open HACS. <s>Then HACS's store, and ESPHome.</s></speak>"),
    ]:
        preparer = TextPreparer("a", normalizer, lambda t, _: t, lambda p: p, ssml=ssml)
        planned = preparer.finish([text])
        assert planned and preparer.lexicon_used == ["HACS", "HACS"], (ssml, planned)
