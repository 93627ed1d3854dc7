"""One inference thread, fair to short requests: a request's first segment goes first.

Jobs wait in a priority queue: priority 0 (the first segment of a request, what a user is
waiting for in silence) runs before priority 1 (later segments, whose audio is only needed
once the earlier audio has played); equal priorities run in arrival order. A long
paragraph therefore never holds the engine for more than one segment while a short
request waits. A job whose future was cancelled (the client went away) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_SEGMENT = 0
LATER_SEGMENT = 1


class InferenceScheduler:
    def __init__(self, name: str = "inference") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, priority: int, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``fn(*args)``; the returned future resolves on the caller's event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((priority, next(self._order), (fn, args, loop, future)))
        return future

    def pending(self) -> int:
        return self._queue.qsize()

    def _work(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            fn, args, loop, future = job
            if future.cancelled():
                continue
            try:
                result, error = fn(*args), None
            except BaseException as err:  # delivered to the awaiting coroutine
                result, error = None, err
            # The loop may be gone (a shutdown during this run): nobody is waiting then.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)

    def close(self) -> None:
        self._queue.put((-1, -1, None))
        self._thread.join(timeout=5)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
