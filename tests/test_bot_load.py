"""Load: 50 chats × 4 questions at once through the real handlers, each answered exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.bot_harness import EngineSource, FakeEngine, bot_settings, running_bot
from tests.fake_bot_api import FakeBotApi, visible_text

CHATS, QUESTIONS = 50, 4


# 0: no AIORateLimiter (a self-hosted Bot API); 200: AIORateLimiter in the path, kept fast.
@pytest.mark.parametrize("max_rate", [0, 200])
async def test_every_question_answered_exactly_once(
    api: FakeBotApi, tmp_path: Path, max_rate: int
) -> None:
    engine = FakeEngine(delay_s=0.005)  # a little real work in the worker threads
    source = EngineSource(engine)
    settings = bot_settings(api, tmp_path, telegram_max_rate=max_rate)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        users = [(api.private_chat(20_000 + n), api.user(20_000 + n)) for n in range(CHATS)]
        questions = await asyncio.gather(
            *(
                api.send_text(chat, user, f"聂荣县远程会诊多少场 #{n}-{k}")
                for k in range(QUESTIONS)
                for n, (chat, user) in enumerate(users)
            )
        )
        await api.wait_for(
            lambda: all(api.replies_to(q) for q in questions), 120, "all 200 answers"
        )
        await api.settle()
    counts = [len(api.replies_to(q)) for q in questions]
    assert counts == [1] * CHATS * QUESTIONS
    assert all("90余场次" in visible_text(api.replies_to(q)[0]["text"]) for q in questions)
    assert len(api.sent) == CHATS * QUESTIONS  # nothing else: no errors, no rate-limit notices
    latencies = sorted(api.reply_latency(q) for q in questions)
    assert latencies[int(0.95 * len(latencies))] < 60
