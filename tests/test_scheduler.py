"""The deadline scheduler's ordering (pure: tickets and a clock, no threads, no timing)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from wyoming_kokoro.engine.scheduler import (
    CONTENDED_PART_S,
    DEADLINE,
    FIRST_SEGMENT_POLICY,
    INLINE_ALLOWANCE,
    SAFETY_S,
    URGENT_S,
    InferenceScheduler,
    Ticket,
    pick,
)

RATE = 0.01  # seconds per phoneme


def later(order: int, queued: float, until: float | None, phonemes: int = 100) -> Ticket:
    return Ticket(order, queued, first=False, phonemes=phonemes, due=lambda: until)


def first(order: int, queued: float) -> Ticket:
    return Ticket(order, queued, first=True, phonemes=20)


def test_a_new_request_goes_before_a_long_answer_with_audio_in_hand() -> None:
    # The long answer has 10 s of audio left (its segment takes 1 s to make).
    tickets = [later(0, queued=0.0, until=110.0), first(1, queued=100.0)]
    assert pick(tickets, DEADLINE, RATE) == 1


def test_a_long_answer_about_to_run_dry_goes_before_a_new_request() -> None:
    # Its audio runs out in 1.2 s and its segment takes 1 s + the safety margin.
    tickets = [later(0, queued=0.0, until=101.2), first(1, queued=100.0)]
    assert pick(tickets, DEADLINE, RATE) == 0


def test_priority_ages_a_new_request_waits_behind_earlier_ones() -> None:
    # Requests queued later are due later: the first one queued runs first.
    tickets = [first(2, queued=100.5), first(1, queued=100.2), first(3, queued=100.9)]
    assert pick(tickets, DEADLINE, RATE) == 1


def test_a_longer_segment_must_start_earlier() -> None:
    # Same deadline; the longer one's latest start is earlier.
    tickets = [later(0, 0.0, until=105.0, phonemes=50), later(1, 0.0, until=105.0, phonemes=300)]
    assert pick(tickets, DEADLINE, RATE) == 1


def test_a_requests_segments_keep_their_order() -> None:
    until = 104.0
    tickets = [later(5, 1.0, until), later(4, 1.0, until)]
    assert pick(tickets, DEADLINE, RATE) == 1


def test_a_later_segment_before_any_audio_is_due_when_queued() -> None:
    # None made yet (its request's first segment is still running): due at once.
    tickets = [first(1, queued=100.0), later(0, queued=99.0, until=None, phonemes=0)]
    assert pick(tickets, DEADLINE, RATE) == 1
    assert tickets[1].deadline() == 99.0


def test_the_deadline_is_read_when_the_engine_picks() -> None:
    until = [120.0]
    ticket = Ticket(0, 0.0, first=False, phonemes=10, due=lambda: until[0])
    tickets = [ticket, first(1, queued=100.0)]
    assert pick(tickets, DEADLINE, RATE) == 1
    until[0] = 100.0 + SAFETY_S  # its audio now runs out sooner (the earlier part was short)
    assert pick(tickets, DEADLINE, RATE) == 0


def test_the_first_segment_policy_ignores_deadlines_until_one_is_about_to_run_dry() -> None:
    tickets = [later(0, queued=0.0, until=100.1), first(1, queued=100.0)]
    assert pick(tickets, FIRST_SEGMENT_POLICY, RATE) == 1
    assert pick(tickets, DEADLINE, RATE) == 0
    # With the clock: a later segment with its first part and URGENT_S still in hand
    # waits for the first segments; one whose audio runs out sooner goes before them.
    first_part = min(100 * RATE, CONTENDED_PART_S)
    plenty = 100.1 - first_part - URGENT_S - 0.01
    assert pick(tickets, FIRST_SEGMENT_POLICY, RATE, now=plenty) == 1
    assert pick(tickets, FIRST_SEGMENT_POLICY, RATE, now=plenty + 0.02) == 0
    nothing_made = [later(0, queued=0.0, until=None), first(1, queued=100.0)]
    assert pick(nothing_made, FIRST_SEGMENT_POLICY, RATE, now=1e9) == 1


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="policy"):
        InferenceScheduler(policy="lottery")


async def test_the_thread_runs_jobs_by_deadline() -> None:
    clock = [100.0]
    scheduler = InferenceScheduler(clock=lambda: clock[0])
    gate = threading.Event()
    order: list[str] = []

    def job(name: str) -> None:
        if name == "busy":
            gate.wait(5)
        order.append(name)

    busy = scheduler.submit(True, job, "busy")
    while scheduler.pending():  # the thread took it
        await asyncio.sleep(0.01)
    relaxed = scheduler.submit(False, job, "relaxed", phonemes=10, due=lambda: 1e12)
    urgent = scheduler.submit(False, job, "urgent", phonemes=10, due=lambda: 0.0)
    clock[0] = 101.0
    new = scheduler.submit(True, job, "new")
    gone = scheduler.submit(True, job, "gone")
    gone.cancel()
    gate.set()
    await asyncio.gather(busy, relaxed, urgent, new)
    assert order == ["busy", "urgent", "new", "relaxed"]
    scheduler.close()


class Owner:
    """A request's own object (its playout clock), as the renderer passes it."""


async def test_between_parts_the_engine_serves_what_must_start_first() -> None:
    """A job vocoded in parts gives the engine back between them: a new request's first
    segment runs there; a later segment with audio in hand waits for the job's end."""
    scheduler = InferenceScheduler()
    order: list[str] = []
    queued = threading.Event()
    plenty = [1e12]  # the running job's listener has audio in hand

    def long_answer() -> None:
        order.append("part 1")
        queued.wait(5)
        scheduler.between(0.5, due=lambda: plenty[0])
        order.append("part 2")
        plenty[0] = 0.0  # now it is about to run dry: nothing goes before its next part
        scheduler.between(0.5, due=lambda: plenty[0])
        order.append("part 3")

    def job(name: str) -> None:
        order.append(name)

    answer = Owner()
    running = scheduler.submit(False, long_answer, due=lambda: plenty[0], owner=answer)
    while scheduler.pending():
        await asyncio.sleep(0.01)
    # The answer's own next segment is urgent, but cannot go before the rest of this one.
    own_next = scheduler.submit(False, job, "next", phonemes=10, due=lambda: 0.0, owner=answer)
    relaxed = scheduler.submit(False, job, "relaxed", phonemes=10, due=lambda: 1e12)
    new = scheduler.submit(True, job, "new")
    other = scheduler.submit(True, job, "other")
    queued.set()
    await asyncio.gather(running, own_next, relaxed, new, other)
    # Both first segments ran at the first break; at the second the answer was due at
    # once, and the relaxed later segment waited for its end.
    assert order == ["part 1", "new", "other", "part 2", "part 3", "next", "relaxed"]
    scheduler.close()


async def test_a_job_run_between_parts_lets_nothing_go_before_the_one_it_interrupted() -> None:
    """A job run between another's parts may offer the engine back in turn, but only to
    what suits the interrupted job as well: once that is about to run dry, it comes next."""
    scheduler = InferenceScheduler()
    order: list[str] = []
    queued = threading.Event()
    outer_until = [1e12]

    def outer() -> None:
        queued.wait(5)
        scheduler.between(0.5, due=lambda: outer_until[0])
        order.append("outer rest")

    def inner() -> None:
        outer_until[0] = 0.0  # meanwhile the interrupted answer is about to run dry
        scheduler.between(0.5, due=lambda: 1e12)  # inner itself has plenty in hand
        order.append("inner")

    running = scheduler.submit(False, outer, due=lambda: outer_until[0], owner=Owner())
    while scheduler.pending():
        await asyncio.sleep(0.01)
    first_in = scheduler.submit(True, inner)
    other = scheduler.submit(True, lambda: order.append("other"))
    queued.set()
    await asyncio.gather(running, first_in, other)
    assert order == ["inner", "outer rest", "other"]
    scheduler.close()


async def test_under_the_first_segment_policy_only_first_segments_go_between_parts() -> None:
    """A long one-shot (one segment, seconds of vocoding) lets a new request's first
    segment run between its parts once its own first audio is out (its rest is later
    audio), while its audio in hand lasts; later segments of other requests wait for its
    end, and nothing goes first once it is about to run dry."""
    scheduler = InferenceScheduler(policy=FIRST_SEGMENT_POLICY)
    order: list[str] = []
    queued = threading.Event()
    plenty = [1e12]

    def long_answer() -> None:
        order.append("part 1")
        queued.wait(5)
        scheduler.between(0.5, due=lambda: plenty[0])
        order.append("part 2")
        plenty[0] = 0.0  # about to run dry
        late.set()
        arrived.wait(5)
        scheduler.between(0.5, due=lambda: plenty[0])
        order.append("part 3")

    def job(name: str) -> None:
        order.append(name)

    late, arrived = threading.Event(), threading.Event()
    running = scheduler.submit(False, long_answer, due=lambda: plenty[0], owner=Owner())
    while scheduler.pending():
        await asyncio.sleep(0.01)
    other_later = scheduler.submit(False, job, "other later", due=lambda: 1e12, owner=Owner())
    new = scheduler.submit(True, job, "new", owner=Owner())
    queued.set()
    while not late.is_set():
        await asyncio.sleep(0.01)
    newest = scheduler.submit(True, job, "newest", owner=Owner())
    arrived.set()
    await asyncio.gather(running, other_later, new, newest)
    assert order == ["part 1", "new", "part 2", "part 3", "newest", "other later"]
    scheduler.close()


async def test_between_parts_a_first_segment_goes_only_with_time_to_spare() -> None:
    """Under first-segment a new request's first segment runs between another's parts
    only if it is done, its expected time taken INLINE_ALLOWANCE times, before that
    request's audio runs dry: an estimate that is a little off must not leave it dry."""
    now = [100.0]
    scheduler = InferenceScheduler(policy=FIRST_SEGMENT_POLICY, clock=lambda: now[0])
    expected = 100 * scheduler.s_per_phoneme
    order: list[str] = []
    queued = threading.Event()

    def long_answer() -> None:
        queued.wait(5)
        # In hand: its next part (0.5 s) and 1.25 times the new job's expected time, less
        # than the allowance: nothing goes. Then 1.1 times the allowance: it goes.
        scheduler.between(0.5, due=lambda: now[0] + 0.5 + 1.25 * expected)
        order.append("part 2")
        scheduler.between(0.5, due=lambda: now[0] + 0.5 + 1.1 * INLINE_ALLOWANCE * expected)
        order.append("part 3")

    running = scheduler.submit(False, long_answer, due=lambda: 1e12, owner=Owner())
    while scheduler.pending():
        await asyncio.sleep(0.01)
    new = scheduler.submit(True, lambda: order.append("new"), phonemes=100, owner=Owner())
    queued.set()
    await asyncio.gather(running, new)
    assert order == ["part 2", "new", "part 3"]
    scheduler.close()


async def test_between_parts_a_later_segment_about_to_run_dry_goes_before_first_ones() -> None:
    """Under first-segment, between a long one-shot's parts, another request's later
    segment whose listener is about to run dry goes before the first segments that wait;
    if it could not be done before the one-shot runs dry, no first segment goes instead."""
    now = [100.0]
    scheduler = InferenceScheduler(policy=FIRST_SEGMENT_POLICY, clock=lambda: now[0])
    expected = 100 * scheduler.s_per_phoneme
    order: list[str] = []
    queued = threading.Event()
    in_hand = [1e12]

    def long_answer() -> None:
        queued.wait(5)
        in_hand[0] = now[0] + 0.5 + 0.5 * INLINE_ALLOWANCE * expected  # too little
        scheduler.between(0.5, due=lambda: in_hand[0])
        order.append("part 2")
        in_hand[0] = 1e12
        scheduler.between(0.5, due=lambda: in_hand[0])
        order.append("part 3")

    running = scheduler.submit(False, long_answer, due=lambda: in_hand[0], owner=Owner())
    while scheduler.pending():
        await asyncio.sleep(0.01)
    new = scheduler.submit(True, lambda: order.append("new"), phonemes=10, owner=Owner())
    dry = scheduler.submit(
        False, lambda: order.append("dry"), phonemes=100, due=lambda: now[0], owner=Owner()
    )
    queued.set()
    await asyncio.gather(running, new, dry)
    assert order == ["part 2", "dry", "new", "part 3"]
    scheduler.close()


@pytest.mark.parametrize("policy", [FIRST_SEGMENT_POLICY, DEADLINE])
async def test_between_parts_nothing_goes_first_while_its_listener_waits(policy: str) -> None:
    scheduler = InferenceScheduler(policy=policy)
    order: list[str] = []
    queued = threading.Event()

    def long_answer() -> None:
        queued.wait(5)
        scheduler.between(0.5, due=lambda: None)  # nothing made yet
        order.append("answer")

    running = scheduler.submit(True, long_answer, owner=Owner())
    while scheduler.pending():
        await asyncio.sleep(0.01)
    new = scheduler.submit(True, lambda: order.append("new"), owner=Owner())
    queued.set()
    await asyncio.gather(running, new)
    assert order == ["answer", "new"]
    scheduler.close()


async def test_the_engine_is_contended_while_another_request_uses_it() -> None:
    clock = [100.0]
    scheduler = InferenceScheduler(clock=lambda: clock[0])
    mine, theirs = Owner(), Owner()  # each request's own object (its playout clock)
    plays_until = [105.0]
    await scheduler.submit(True, lambda: None, owner=mine)
    assert not scheduler.contended(mine)  # only my own work
    await scheduler.submit(True, lambda: None, owner=theirs, due=lambda: plays_until[0])
    assert scheduler.contended(mine)  # their audio still plays: more of it may come
    assert not scheduler.contended(theirs)  # mine has none playing (due unknown)
    clock[0] = 106.0  # their audio has played out: requests one after another
    assert not scheduler.contended(mine)
    gate = threading.Event()
    queued = scheduler.submit(True, gate.wait, 5, owner=theirs)  # running or queued
    while not scheduler.pending() and not scheduler._running:
        await asyncio.sleep(0.01)
    assert scheduler.contended(mine)
    gate.set()
    await queued
    scheduler.close()
    other = InferenceScheduler(policy=FIRST_SEGMENT_POLICY, clock=lambda: clock[0])
    await other.submit(True, lambda: None, owner=theirs, due=lambda: plays_until[0])
    clock[0] = 104.0
    assert other.contended(mine)  # under either policy
    other.close()


async def test_a_long_job_moves_until_it_takes_far_longer_than_expected() -> None:
    """A slow machine's long segment is slow, not hung: the engine counts as moving while
    the running job is within a few times its expected time, and stops moving after."""
    for expected, moving in ((100.0, True), (0.0, False)):
        scheduler = InferenceScheduler()
        scheduler.s_per_phoneme = expected  # one phoneme: the expected seconds
        gate, began = threading.Event(), threading.Event()

        def job(began: threading.Event, gate: threading.Event) -> None:
            began.set()
            gate.wait(5)

        running = scheduler.submit(True, job, began, gate, phonemes=1)
        while not began.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        before = time.monotonic()
        assert (scheduler.last_progress >= before) is moving
        gate.set()
        await running
        assert scheduler.last_progress >= before  # it finished: that is progress
        scheduler.close()
