"""Sentence segmentation, streamed sentence assembly and the 510-token phoneme limit."""

from __future__ import annotations

import pytest

from wyoming_kokoro.engine.voices import STYLE_DIM, STYLE_ROWS, VoiceCatalogue
from wyoming_kokoro.text.segment import (
    MAX_PHONEMES,
    Ending,
    SegmentPlanner,
    Sentence,
    SentenceBuffer,
    chunk_phonemes,
    closed,
    split_sentences,
    split_text,
)


def test_sentences_split_on_terminal_punctuation() -> None:
    assert split_sentences("Hello there. How are you? Fine!  Thanks") == [
        "Hello there.",
        "How are you?",
        "Fine!",
        "Thanks",
    ]


def test_decimals_abbreviations_and_initials_do_not_split() -> None:
    text = "It is 21.5 degrees at Dr. Smith's house on Main St. today. J. R. Tolkien wrote it."
    assert split_sentences(text) == [
        "It is 21.5 degrees at Dr. Smith's house on Main St. today.",
        "J. R. Tolkien wrote it.",
    ]


def test_line_breaks_and_quotes_end_sentences() -> None:
    assert split_sentences('He said "stop." Then left\n- first item\n- second') == [
        'He said "stop."',
        "Then left",
        "- first item",
        "- second",
    ]


def test_empty_and_blank_text_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\t ") == []


def test_stream_buffer_waits_for_whitespace_after_punctuation() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("The temperature is 21.") == []  # could still be 21.5
    assert buffer.feed("5 degr") == []
    assert buffer.feed("ees. Wi") == ["The temperature is 21.5 degrees."]
    assert buffer.feed("nd is low") == []
    assert buffer.flush() == ["Wind is low"]
    assert buffer.flush() == []


def test_stream_buffer_matches_one_shot_split_for_any_cut() -> None:
    text = "Hello there. The kitchen lights are on, and Dr. Who is here! Bye?"
    expected = split_sentences(text)
    for size in (1, 2, 3, 7, 13):
        buffer = SentenceBuffer()
        got: list[str] = []
        for start in range(0, len(text), size):
            got += buffer.feed(text[start : start + size])
        got += buffer.flush()
        assert got == expected, size


def test_a_pause_never_ends_a_sentence_inside_a_number_or_after_an_abbreviation() -> None:
    """A stream that pauses (settled) right after "Dr." or "21." speaks what it holds only
    where the one-shot split would end a sentence: a slow LLM's pause between tokens must
    not make "Dr. Smith" "Drive. Smith" or "21.5" "21. Five"."""
    for text in (
        "I will meet Dr. Smith at 6:30 p.m. on Main St. today.",
        "It is 21.5 degrees, and 1,234,567 people use v2.3.1 now.",
        "Steps:\n1. Open the door.\n2. Close it.",
    ):
        ends, pos = set(), 0
        for sentence in split_sentences(text):  # where the one-shot split ends sentences
            pos = text.index(sentence, pos) + len(sentence)
            ends.add(pos)
        for cut in range(1, len(text)):
            buffer = SentenceBuffer()
            got = buffer.feed(text[:cut]) + [s.text for s in buffer.settled()]
            got += buffer.feed(text[cut:]) + buffer.flush()
            pos = 0
            for piece in got:  # each ends at a sentence end, or at a clause mark and a space
                pos = text.index(piece, pos) + len(piece)
                at_clause = piece[-1] in ",;:" and text[pos : pos + 1].isspace()
                assert pos in ends or at_clause, (text, cut, got)
    buffer = SentenceBuffer()
    assert buffer.feed("The door is locked.") == []
    assert [s.text for s in buffer.settled()] == ["The door is locked."]  # a real end: spoken
    assert buffer.feed("It is 21. ") == ["It is 21."]  # spaced: the number is over


def test_stream_buffer_endings_match_one_shot_split_for_any_cut() -> None:
    """A paragraph break split across pieces is still a paragraph break."""
    text = "Hello there.\n\nThe lights are on\nand the door is shut.\n \nBye now. Done"
    expected = [(s.text, s.ending) for s in split_text(text)]
    assert Ending.PARAGRAPH in [ending for _, ending in expected]
    for size in range(1, 9):
        buffer = SentenceBuffer()
        got = []
        for start in range(0, len(text), size):
            got += [(s.text, s.ending) for s in buffer.take(text[start : start + size])]
        got += [(s.text, s.ending) for s in buffer.finish()]
        assert got == expected, size


@pytest.mark.parametrize("length", [1, 509, 510])
def test_phonemes_up_to_the_limit_stay_one_chunk(length: int) -> None:
    phonemes = ("ab " * length)[:length].strip() or "a"
    assert chunk_phonemes(phonemes) == [phonemes]


@pytest.mark.parametrize("length", [511, 2000])
def test_long_phonemes_are_cut_below_the_limit_without_losing_symbols(length: int) -> None:
    words = ("hˈɛloʊ wˈɜɹld, ðɪs ɪz ə tˈɛst. " * 200)[: length - 1] + "t"
    chunks = chunk_phonemes(words)
    assert len(chunks) >= 2
    assert all(0 < len(c) <= MAX_PHONEMES for c in chunks)
    assert "".join(chunks).replace(" ", "") == words.replace(" ", "")


def test_cuts_prefer_sentence_punctuation_then_commas_then_spaces() -> None:
    sentence = "a" * 300 + ". " + "b" * 150 + ", " + "c" * 100
    chunks = chunk_phonemes(sentence)
    assert chunks[0] == "a" * 300 + "."
    no_stops = "a" * 300 + ", " + "b" * 300
    assert chunk_phonemes(no_stops)[0] == "a" * 300 + ","
    words = " ".join(["abcdefghi"] * 60)  # 599 symbols, spaces only
    chunks = chunk_phonemes(words)
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in chunks)
    assert all(set(c.split(" ")) == {"abcdefghi"} for c in chunks)


def test_a_single_endless_word_is_cut_hard() -> None:
    chunks = chunk_phonemes("x" * 1200)
    assert [len(c) for c in chunks] == [510, 510, 180]


def test_style_row_is_min_tokens_510_minus_one() -> None:
    import numpy as np

    table = np.arange(STYLE_ROWS * STYLE_DIM, dtype=np.float32).reshape(STYLE_ROWS, STYLE_DIM)
    catalogue = VoiceCatalogue({"af_heart": table})
    for tokens, row in [(1, 0), (50, 49), (509, 508), (510, 509), (511, 509), (2000, 509)]:
        assert np.array_equal(catalogue.style("af_heart", tokens), table[row : row + 1])


def test_stream_buffer_stays_bounded_on_text_without_sentence_ends() -> None:
    buffer = SentenceBuffer()
    out: list[str] = []
    for _ in range(3000):
        out += buffer.feed("a. ")  # "a." reads as an initial: never a sentence end
        assert len(buffer._text) <= SentenceBuffer.MAX_PENDING
    out += buffer.flush()
    assert "".join(out).replace(" ", "") == "a." * 3000


@pytest.mark.parametrize(
    "text",
    ["word " * 4000, "word " * 4000 + ". The end.", "x" * 5000, " " * 3000 + "word " * 500],
)
def test_no_sentence_is_longer_than_the_pending_limit(text: str) -> None:
    """Text without sentence ends is cut as often as needed, not once per feed."""
    sentences = split_sentences(text)
    assert all(0 < len(s) <= SentenceBuffer.MAX_PENDING for s in sentences)
    assert "".join(sentences).replace(" ", "") == text.replace(" ", "")


def test_each_sentence_says_what_ended_it() -> None:
    sentences = split_text("Hello there. How are you\nFine!\n\nNew paragraph. " + "a " * 700)
    assert [s.ending for s in sentences] == [
        Ending.SENTENCE,
        Ending.SENTENCE,  # a line break
        Ending.PARAGRAPH,
        Ending.SENTENCE,
        Ending.CUT,  # cut for length
        Ending.SENTENCE,  # the end of the text
    ]
    planner = SegmentPlanner("en")
    segments = planner.plan_sentences(
        split_text("Good evening, the house is ready. All set.\n\nBye.")
    )
    assert [(s.text, s.ending) for s in segments] == [
        ("Good evening,", Ending.CLAUSE),
        ("the house is ready. All set.", Ending.PARAGRAPH),  # never joined across a paragraph
        ("Bye.", Ending.SENTENCE),
    ]


def test_lines_without_a_mark_keep_their_end_when_joined() -> None:
    # a list, a heading, table rows: the line break ends each, and Kokoro must hear it
    planner = SegmentPlanner("en", whole=True)
    segments = planner.plan_sentences(split_text("## Weather\nSunny\n1. Milk\n2. Eggs?\n3. Bread"))
    assert segments == [("## Weather. Sunny. 1. Milk. 2. Eggs? 3. Bread", Ending.SENTENCE)]
    planner = SegmentPlanner("zh", whole=True)
    segments = planner.plan_sentences(split_text("客厅的灯开了\n厨房的灯关了", "zh"))
    assert segments == [("客厅的灯开了。厨房的灯关了", Ending.SENTENCE)]
    # a clause keeps its own mark, and a piece cut only for its length gets none
    assert closed(Sentence("Kitchen: on,", Ending.CLAUSE)) == "Kitchen: on,"
    assert closed(Sentence("and then it went on", Ending.CUT)) == "and then it went on"
    assert closed(Sentence("(He said “yes.”)", Ending.SENTENCE)) == "(He said “yes.”)"


def test_the_first_sentence_is_a_segment_of_its_own_even_without_a_clause_cut() -> None:
    planner = SegmentPlanner("en")
    segments = planner.plan_sentences(split_text("Wait. Done."))
    assert segments == [("Wait.", Ending.SENTENCE), ("Done.", Ending.SENTENCE)]


def test_a_streams_first_clause_goes_once_it_is_complete() -> None:
    buffer = SentenceBuffer("en")
    buffer.take("The living room is at twenty one degrees,")
    assert buffer.early_clause() is None  # the comma's space has not arrived
    buffer.take(" and the humid")
    assert buffer.early_clause() is None  # 12 characters after the comma, first
    buffer.take("ity is")
    assert buffer.early_clause() == Sentence(
        "The living room is at twenty one degrees,", Ending.CLAUSE
    )
    assert buffer.take(" high. Next.") == [Sentence("and the humidity is high.")]
    # only punctuation cuts a stream's first clause: not a conjunction, not a phrase word
    # ("switched | on" is no boundary), however long the clause grows
    for text in (
        "Your next meeting starts soon and it is in the small room",
        "OK, I have switched on the living room lights in the whole house now",
        "I have switched on the living room lights in the whole house and the garden",
    ):
        buffer = SentenceBuffer("en")
        buffer.take(text)
        clause = buffer.early_clause()
        assert clause is None or clause.ending is Ending.CLAUSE, text
    # a first clause longer than a one-shot's (which would be cut before "at") still goes
    # at its comma, not at the end of its sentence
    buffer = SentenceBuffer("en")
    buffer.take("Living room 41 is at twenty one degrees right now, and the humidity is ")
    assert buffer.early_clause() == Sentence(
        "Living room 41 is at twenty one degrees right now,", Ending.CLAUSE
    )
    # too little after the boundary (the sentence may be about to end), or a decimal comma
    for text in ("The lights are on in here, ok", "La temperatura es 21,5 grados y "):
        buffer = SentenceBuffer("es")
        buffer.take(text)
        assert buffer.early_clause() is None, text
