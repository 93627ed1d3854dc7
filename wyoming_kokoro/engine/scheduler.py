"""One inference thread, and the order it takes jobs in: two policies.

``first-segment`` (the server's default): every request's first segment before any later
one, each kind in arrival order, except a later segment whose listener is about to run
dry (its audio runs out within its first part's time and ``URGENT_S``): that one goes
first. It measured best here (benchmarks/deadline.py, README "Under load"): a long answer
runs whenever no first segment waits, so its audio builds up far ahead of its listener,
and a steady stream of new commands cannot hold back its next segment until it runs dry.
A one-shot is planned as whole as one inference allows, so a segment may take seconds of
vocoding: once its first part is out, the engine serves the first segments that wait
between its parts (its rest is later audio), as long as each will be done (its expected
time taken ``INLINE_ALLOWANCE`` times) before that audio in hand runs out.

``deadline``: every job carries a *deadline*: the moment (``time.monotonic``) its
request's audio sent so far runs out. A request's first segment is due at once (its
deadline is when it was queued: someone waits in silence); a later segment is due when
the audio made before it will have played out, read when the engine picks its next job,
so it follows the request's progress. The engine runs the job whose *latest start*
(deadline minus the job's expected run time) comes first: a new short command goes
ahead of a long answer that still has seconds of audio in hand, and the long answer goes
first once waiting longer would let it run dry. Priority therefore ages by itself: a job
queued earlier has the earlier deadline. Equal keys run in arrival order, so a
request's segments keep their order.

A job is one segment, and a segment vocoded in parts (engine/split.py) gives the engine
back between its parts: :meth:`InferenceScheduler.between` runs, on the inference
thread, the queued jobs whose latest start comes before the running job's next part's.
So a short command that arrives while a long answer's sentence is being vocoded waits
for one part, not the whole sentence. While more than one request is using the engine
(:meth:`InferenceScheduler.contended`), a long segment is cut into parts of at most
``CONTENDED_PART_S`` of vocoding for that reason, under either policy.

Run just in time, a request runs dry whenever an estimate is off by more than
``SAFETY_S``; in the benchmark it ran dry more often than ``first-segment``.

A job whose future was cancelled (the client went away) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

DEADLINE = "deadline"
FIRST_SEGMENT_POLICY = "first-segment"
POLICIES = (DEADLINE, FIRST_SEGMENT_POLICY)

# Seconds of inference per phoneme before any run was measured (a slow CPU's figure:
# starting a long answer's segment early costs little, starting it late stalls it).
INITIAL_S_PER_PHONEME = 0.004
# A running job counts as moving until it has taken this many times its expected time.
HUNG_FACTOR = 3.0
# While another request has work queued or running, or audio still playing, the engine is
# shared, and a segment's vocoding goes in parts of at most this long, so a new request
# waits for one part at most (each cut costs the vocoder 10 frames of overlap, ~8 % at
# this bound on a machine at 5 ms per frame).
CONTENDED_PART_S = 0.6
# Under first-segment, a later segment whose request's audio runs out within this long
# (after its expected first part) goes before the first segments that wait: with new
# commands arriving all the time, a long answer's next segment would otherwise wait until
# none is left, and its listener run dry (it has a command's time and a part's to spare).
URGENT_S = 1.5
# Under first-segment, a first segment runs between another job's parts only if it is done
# before that job runs dry with its expected time taken this many times: a short command
# costs more per phoneme than the long segments that teach the estimate (its text side
# and first part weigh more), and one run late by its error leaves the long answer dry
# (benchmarks/deadline.py at 80 %: 0.2 s dry with the bare estimate).
INLINE_ALLOWANCE = 1.5
# Started this much before the latest start: the thread may be busy with another job's
# part when that comes (and the estimates are estimates).
SAFETY_S = 0.5 + 2 * CONTENDED_PART_S


@dataclass
class Ticket:
    """One queued job as the ordering sees it."""

    order: int  # arrival
    queued: float  # monotonic time it was queued
    first: bool  # a request's first segment
    phonemes: int  # its size, for the expected run time
    # When the request's audio made so far runs out (None: none made yet).
    due: Callable[[], float | None] | None = None
    job: Any = field(default=None, repr=False)
    owner: object | None = field(default=None, repr=False)  # the request

    def deadline(self) -> float:
        due = self.due() if self.due is not None else None
        return self.queued if self.first or due is None else due


def order_key(
    ticket: Ticket, policy: str, s_per_phoneme: float, now: float | None = None
) -> tuple[float, int]:
    """Smaller runs first (pure: the scheduler's whole ordering; ``now`` is the clock's
    time, for a later segment about to run dry under ``first-segment``)."""
    if policy == FIRST_SEGMENT_POLICY:
        if not ticket.first and now is not None and ticket.due is not None:
            due = ticket.due()
            first_part = min(ticket.phonemes * s_per_phoneme, CONTENDED_PART_S)
            if due is not None and due - first_part - URGENT_S <= now:
                return (-1.0, ticket.order)  # its listener is about to run dry
        return (0.0 if ticket.first else 1.0, ticket.order)
    if ticket.first:
        return (ticket.queued, ticket.order)
    cost = ticket.phonemes * s_per_phoneme + SAFETY_S
    return (ticket.deadline() - cost, ticket.order)


def pick(
    tickets: Sequence[Ticket], policy: str, s_per_phoneme: float, now: float | None = None
) -> int:
    """The index of the ticket to run next."""
    keys = [order_key(t, policy, s_per_phoneme, now) for t in tickets]
    return min(range(len(tickets)), key=keys.__getitem__)


class InferenceScheduler:
    def __init__(
        self,
        name: str = "inference",
        policy: str = DEADLINE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown scheduler policy {policy!r}")
        self.policy = policy
        self._clock = clock
        self._pending: list[Ticket] = []
        self._ready = threading.Condition()
        self._closed = False
        self._order = itertools.count()
        self.s_per_phoneme = INITIAL_S_PER_PHONEME  # learned from the runs
        # When the engine last started or finished a job (see last_progress).
        self._moved = time.monotonic()
        # Each job on the thread's stack: when it began, and its expected seconds.
        self._jobs: list[tuple[float, float]] = []
        # Each request (its owner object, while it lives): when its audio runs out.
        self._seen: weakref.WeakKeyDictionary[object, Callable[[], float | None] | None] = (
            weakref.WeakKeyDictionary()
        )
        self.inline_s = 0.0  # seconds spent on jobs run between another job's parts
        self._running: list[object | None] = []  # owners of the jobs on the thread's stack
        # The jobs waiting on the stack for a job run between their parts: (due, next part s).
        self._suspended: list[tuple[Callable[[], float | None], float]] = []
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(
        self,
        first: bool,
        fn: Callable[..., T],
        *args: Any,
        phonemes: int = 0,
        due: Callable[[], float | None] | None = None,
        owner: object | None = None,
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args)``; the returned future resolves on the caller's event loop.

        ``first``: the request's first segment; ``due``: when its audio made so far runs
        out (read at each pick); ``phonemes``: its size; ``owner``: the request (any
        object it keeps, for :meth:`contended`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        ticket = Ticket(next(self._order), self._clock(), first, phonemes, due)
        ticket.job, ticket.owner = (fn, args, loop, future), owner
        with self._ready:
            self._pending.append(ticket)
            if owner is not None:
                self._seen[owner] = due
            self._ready.notify()
        return future

    def contended(self, owner: object) -> bool:
        """Another request than ``owner``'s uses the engine: it has a job queued or running,
        or audio still playing (the box is serving another listener now: more may come).
        Requests one after another, each after the last one's audio, are not."""
        with self._ready:
            owners = [t.owner for t in self._pending] + self._running
            if any(o is not None and o is not owner for o in owners):
                return True
            others = [due for o, due in self._seen.items() if o is not owner]
        now = self._clock()
        for due in others:
            until = due() if due is not None else None
            if until is not None and until > now:
                return True
        return False

    def between(self, next_part_s: float, due: Callable[[], float | None]) -> None:
        """Called on the inference thread between two parts of the running job, whose next
        part takes about ``next_part_s`` and whose request's audio runs out at ``due()``:
        run the queued jobs that must start before that part, then return to it.

        Under ``first-segment`` the waiting first segments go here instead, in arrival
        order, after any other request's later segment about to run dry (``URGENT_S``),
        once each job on the stack has audio out and while each would be done (its
        expected time taken ``INLINE_ALLOWANCE`` times) before any of them runs dry: the
        rest of a segment whose first words are out is later audio, as a later segment
        would be. An urgent segment that would not be done in time lets no first segment
        go before it either. A job run here may offer the engine back between its own
        parts too; what it lets go first must then suit every job waiting on the thread's
        stack, not only it."""
        # Under first-segment the jobs on the stack must only not run dry; under deadline
        # they keep SAFETY_S in hand as well.
        margin = SAFETY_S if self.policy == DEADLINE else 0.0
        while True:
            mine: float | None = None
            for waits, part_s in [*self._suspended, (due, next_part_s)]:
                until = waits()
                if until is None:
                    return  # its listener waits for it: nothing goes first
                latest = until - part_s - margin
                mine = latest if mine is None else min(mine, latest)
            assert mine is not None
            with self._ready:
                # Not a request whose job waits on the stack: its next segment cannot go
                # before the rest of the one in hand.
                waiting = [
                    t
                    for t in self._pending
                    if t.owner is None or all(t.owner is not o for o in self._running)
                ]
                now = self._clock()
                if self.policy == FIRST_SEGMENT_POLICY:
                    # First segments, and later ones about to run dry (which go first).
                    waiting = [
                        t
                        for t in waiting
                        if order_key(t, self.policy, self.s_per_phoneme, now)[0] < 1.0
                    ]
                if self._closed or not waiting:
                    return
                ticket = waiting[pick(waiting, self.policy, self.s_per_phoneme, now)]
                if self.policy == DEADLINE:  # it must start before the next part would
                    goes = order_key(ticket, self.policy, self.s_per_phoneme)[0] < mine
                else:  # it is done before the jobs on the stack run dry
                    expected = INLINE_ALLOWANCE * ticket.phonemes * self.s_per_phoneme
                    goes = now + expected < mine
                if not goes:
                    return
                self._pending = [t for t in self._pending if t is not ticket]
            counted, started = self.inline_s, time.perf_counter()
            self._suspended.append((due, next_part_s))
            try:
                self._run(ticket)
            finally:
                self._suspended.pop()
            # All of its time, what ran between its own parts included (counted once).
            self.inline_s = counted + time.perf_counter() - started

    @property
    def last_progress(self) -> float:
        """When the engine last moved: started or finished a job, or now while the running
        job is within ``HUNG_FACTOR`` times its expected time (a slow machine's long
        segment is slow, not hung). A request whose job waits its turn behind others is
        not stalled while this moves (liveness.StallClock); its own hung job stops it."""
        now, running = time.monotonic(), self._jobs[-1:]  # the stack's top runs now
        if running and now <= running[0][0] + HUNG_FACTOR * running[0][1]:
            return now
        return self._moved

    def pending(self) -> int:
        with self._ready:
            return len(self._pending)

    def _next(self) -> Ticket | None:
        with self._ready:
            while not self._pending and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            index = pick(self._pending, self.policy, self.s_per_phoneme, self._clock())
            return self._pending.pop(index)

    def _work(self) -> None:
        while (ticket := self._next()) is not None:
            self._run(ticket)

    def _run(self, ticket: Ticket) -> None:
        fn, args, loop, future = ticket.job
        if future.cancelled():
            return
        started, inline = time.perf_counter(), self.inline_s
        self._moved = time.monotonic()
        self._running.append(ticket.owner)
        self._jobs.append((self._moved, ticket.phonemes * self.s_per_phoneme))
        try:
            result, error = fn(*args), None
        except BaseException as err:  # delivered to the awaiting coroutine
            result, error = None, err
        finally:
            self._running.pop()
            self._jobs.pop()
        self._moved = time.monotonic()
        if ticket.phonemes > 0 and error is None:
            own = time.perf_counter() - started - (self.inline_s - inline)
            self.s_per_phoneme += 0.2 * (own / ticket.phonemes - self.s_per_phoneme)
        # The loop may be gone (a shutdown during this run): nobody is waiting then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        self._thread.join(timeout=5)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
