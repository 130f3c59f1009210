"""AnswerCache: repeats skip the search, simultaneous ones share it, errors are not kept."""

from __future__ import annotations

import asyncio

import pytest

from bot.answers import AnswerCache
from index.models import QAResult


def result(question: str) -> QAResult:
    return QAResult(question, True, None)


async def test_repeated_and_simultaneous_questions_search_once() -> None:
    cache, searches = AnswerCache(), []
    gate = asyncio.Event()

    async def search() -> QAResult:
        searches.append(1)
        await gate.wait()
        return result("q")

    waiting = [asyncio.create_task(cache.answer("聂荣县 远程会诊", search)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*waiting)
    assert len(searches) == 1 and len({id(a) for a in answers}) == 1
    assert cache.remembers("  聂荣县   远程会诊 ") and not cache.remembers("聂荣县")
    assert await cache.answer("  聂荣县   远程会诊 ", search) is answers[0]  # same question
    assert len(searches) == 1


async def test_failures_are_shared_but_not_remembered() -> None:
    cache, calls = AnswerCache(), []

    async def failing() -> QAResult:
        calls.append(1)
        raise RuntimeError("engine exploded")

    outcomes = await asyncio.gather(
        cache.answer("q", failing), cache.answer("q", failing), return_exceptions=True
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes) and len(calls) == 1

    async def working() -> QAResult:
        return result("q")

    assert (await cache.answer("q", working)).question == "q"


async def test_least_recently_used_answers_are_dropped() -> None:
    cache = AnswerCache(size=2)
    for question in ("a", "b", "a", "c"):

        async def search(q: str = question) -> QAResult:
            return result(q)

        await cache.answer(question, search)
    assert len(cache) == 2

    async def must_not_run() -> QAResult:
        raise AssertionError("a should still be remembered")

    assert (await cache.answer("a", must_not_run)).question == "a"
    with pytest.raises(RuntimeError):

        async def gone() -> QAResult:
            raise RuntimeError("b was dropped, so this runs")

        await cache.answer("b", gone)
