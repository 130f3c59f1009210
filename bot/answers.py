"""Answers remembered per loaded index: a repeated question skips the search, and identical
questions asked at the same moment (a group reading the same story) share one search."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from index.models import QAResult

DEFAULT_SIZE = 256


class AnswerCache:
    """LRU of answers by normalised question, plus the searches still running."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._done: OrderedDict[str, QAResult] = OrderedDict()
        self._running: dict[str, asyncio.Task[QAResult]] = {}

    async def answer(self, question: str, search: Callable[[], Awaitable[QAResult]]) -> QAResult:
        """The remembered answer, the one being searched right now, or a new search's."""
        key = _key(question)
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(search())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # shield: one asker giving up (shutdown, a cancelled handler) does not cancel the others.
        return await asyncio.shield(task)

    def remembers(self, question: str) -> bool:
        """True if the answer is at hand, no search needed."""
        return _key(question) in self._done

    def __len__(self) -> int:
        return len(self._done)

    def _finished(self, key: str, task: asyncio.Task[QAResult]) -> None:
        self._running.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return  # failures are not remembered: the next asker searches again
        self._done[key] = task.result()
        while len(self._done) > self._size:
            self._done.popitem(last=False)


def _key(question: str) -> str:
    return " ".join(question.split())
