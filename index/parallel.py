"""A local process pool for the build's pure per-shard functions (`shard in → result out`).

Workers are spawned (not forked: the parent may hold FAISS or torch threads) and get their
per-process state (a loaded embedder, jieba's dictionary) once, from an initializer. With
one job, or little work, the same functions run in this process, so a small build pays no
start-up and gives the same output.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(jobs: int) -> int:
    """`jobs` as asked, 0 meaning one per core."""
    return jobs if jobs > 0 else default_jobs()


def shards(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` cut into consecutive pieces of `size` (the last may be shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


class ShardPool:
    """Runs `fn(shard)` for each shard, in worker processes or (one job) in this one."""

    def __init__(
        self,
        jobs: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.jobs = max(1, jobs)
        self._initializer = initializer
        self._initargs = initargs
        self._executor: ProcessPoolExecutor | None = None
        self._initialized_here = False

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            # A killed or failed build must not wait for the queued shards.
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def start(self) -> None:
        """Start the workers now, so that their start-up (imports, dictionaries) overlaps
        what this process does before it hands them work."""
        if self.jobs > 1:
            pool = self._pool()
            for _ in range(self.jobs):
                pool.submit(int)  # a no-op: the executor starts a worker per queued task

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=self._initializer,
                initargs=self._initargs,
            )
        return self._executor

    def imap(
        self, fn: Callable[[T], R], work: Sequence[T], in_flight: int | None = None
    ) -> Iterator[tuple[int, R]]:
        """(shard number, result) as shards finish, not in order; at most `in_flight` shards
        are queued at once, so results do not pile up in memory. A single shard is worked
        here unless the workers are running: starting them would cost more than it saves."""
        if self.jobs == 1 or (len(work) <= 1 and self._executor is None):
            if self._initializer is not None and not self._initialized_here:
                self._initializer(*self._initargs)
                self._initialized_here = True
            for number, shard in enumerate(work):
                yield number, fn(shard)
            return
        limit = in_flight or 2 * self.jobs
        pool = self._pool()
        pending: dict[Future[R], int] = {}
        items = iter(enumerate(work))
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    number, shard = next(items)
                except StopIteration:
                    exhausted = True
                    break
                pending[pool.submit(fn, shard)] = number
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                number = pending.pop(future)
                yield number, future.result()

    def submit(self, fn: Callable[[T], R], work: T) -> Future[R]:
        """`fn(work)` on a worker while this process goes on; with one job, done here now."""
        if self.jobs == 1:
            if self._initializer is not None and not self._initialized_here:
                self._initializer(*self._initargs)
                self._initialized_here = True
            done: Future[R] = Future()
            try:
                done.set_result(fn(work))
            except Exception as exc:
                done.set_exception(exc)
            return done
        return self._pool().submit(fn, work)

    def map_ordered(self, fn: Callable[[T], R], work: Sequence[T]) -> list[R]:
        """`[fn(shard) for shard in work]`, computed by the pool."""
        results: dict[int, R] = dict(self.imap(fn, work))
        return [results[number] for number in range(len(work))]
