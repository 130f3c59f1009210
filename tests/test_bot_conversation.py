"""Follow-ups, /new, replies to answers and inline mode through the real Application over HTTP
(fake Bot API, fake engine: a question starting with 那 is a follow-up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.bot_harness import HEADLINE, EngineSource, FakeEngine, RunningBot, bot_settings
from tests.bot_harness import running_bot as run
from tests.fake_bot_api import BOT_USERNAME, FakeBotApi, visible_text

GROUP = -100777
NOTE = f"（接上文：《{HEADLINE}》）"


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@asynccontextmanager
async def _bot(
    api: FakeBotApi, engine: FakeEngine, tmp_path: Path, **settings: object
) -> AsyncIterator[RunningBot]:
    source = EngineSource(engine)
    async with run(
        bot_settings(api, tmp_path, **settings),
        api,
        load=source.load,
        read_generation=source.read_generation,
    ) as running:
        yield running


@pytest.fixture
async def bot(api: FakeBotApi, engine: FakeEngine, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with _bot(api, engine, tmp_path) as running:
        yield running


async def ask(
    api: FakeBotApi,
    chat: dict[str, Any],
    user: dict[str, Any],
    text: str,
    reply_to: dict[str, Any] | None = None,
) -> str:
    message = await api.send_text(chat, user, text, reply_to=reply_to)
    await api.wait_for(lambda: bool(api.replies_to(message)), what=f"a reply to {text!r}")
    await api.settle(quiet_s=0.2)
    return visible_text(api.replies_to(message)[0]["text"])


def last_answer(api: FakeBotApi, chat_id: int) -> dict[str, Any]:
    return api.sent_to(chat_id)[-1]


async def test_a_follow_up_is_answered_in_the_last_story_and_says_so(
    bot: RunningBot, engine: FakeEngine
) -> None:
    chat, user = bot.api.private_chat(41), bot.api.user(41)
    first = await ask(bot.api, chat, user, "聂荣县远程会诊多少场")
    follow = await ask(bot.api, chat, user, "那开到哪天")
    assert NOTE not in first and "90余场次" in first
    assert follow.startswith(NOTE) and "90余场次" in follow
    asked, followed = engine.contexts[-2:]  # after the reloader's probe question
    assert asked is None
    assert followed is not None and followed.headline == HEADLINE


async def test_new_forgets_the_story_and_others_never_share_it(
    bot: RunningBot, engine: FakeEngine
) -> None:
    chat, user = bot.api.private_chat(42), bot.api.user(42)
    await ask(bot.api, chat, user, "聂荣县远程会诊多少场")
    assert "重新开始" in await ask(bot.api, chat, user, "/new")
    after_new = await ask(bot.api, chat, user, "那开到哪天")
    other = await ask(bot.api, bot.api.private_chat(43), bot.api.user(43), "那开到哪天")
    assert NOTE not in after_new and "没有在报道中找到" in after_new
    assert NOTE not in other and engine.contexts[-1] is None


async def test_in_a_group_each_member_has_their_own_conversation(bot: RunningBot) -> None:
    group = bot.api.group_chat(GROUP)
    alice, bob = bot.api.user(44), bot.api.user(45)
    await ask(bot.api, group, alice, f"@{BOT_USERNAME} 聂荣县远程会诊多少场")
    bobs = await ask(bot.api, group, bob, f"@{BOT_USERNAME} 那开到哪天")
    alices = await ask(bot.api, group, alice, "/ask 那开到哪天")
    assert NOTE not in bobs
    assert alices.startswith(NOTE)


async def test_a_reply_to_an_answer_is_scoped_to_its_story_for_anyone(
    bot: RunningBot, engine: FakeEngine
) -> None:
    group = bot.api.group_chat(GROUP)
    alice, bob = bot.api.user(46), bot.api.user(47)
    await ask(bot.api, group, alice, f"@{BOT_USERNAME} 聂荣县远程会诊多少场")
    answer = last_answer(bot.api, GROUP)
    # No 那: as a fresh question it would not carry over; as a reply it does, for Bob too.
    replied = await ask(bot.api, group, bob, "建了几个", reply_to=answer)
    assert replied.startswith(NOTE) and "90余场次" in replied
    context = engine.contexts[-1]
    assert context is not None and context.reply


async def test_a_reply_after_a_restart_finds_the_story_from_the_source_button(
    api: FakeBotApi, engine: FakeEngine, tmp_path: Path
) -> None:
    chat, user = api.private_chat(48), api.user(48)
    async with _bot(api, engine, tmp_path) as running:
        await ask(running.api, chat, user, "聂荣县远程会诊多少场")
    answer = last_answer(api, 48)
    async with _bot(api, engine, tmp_path) as running:  # a fresh process: nothing remembered
        replied = await ask(running.api, chat, user, "建了几个", reply_to=answer)
    assert replied.startswith(NOTE)


async def test_inline_query_gets_the_answer_and_its_citation(bot: RunningBot) -> None:
    query = await bot.api.inline_query(bot.api.user(49), "聂荣县远程会诊多少场")
    await bot.api.wait_for(lambda: bot.api.inline_answer(query) is not None, what="inline")
    answered = bot.api.inline_answer(query)
    assert answered is not None
    results = answered["results"]
    assert 1 <= len(results) <= 3
    assert results[0]["title"] == "90余场次"
    shared = visible_text(results[0]["input_message_content"]["message_text"])
    assert shared.endswith(f"—— 《{HEADLINE}》 · 第1段") and "90余场次" in shared
    assert ".txt" not in shared
    # The other results are the passages after the quoted one, cited as readers cite them.
    assert results[1]["title"] == "《草原生态修复》 · 第2段"
    assert int(answered["cache_time"]) == 30


async def test_inline_not_found_shows_the_nearest_passage(bot: RunningBot) -> None:
    query = await bot.api.inline_query(bot.api.user(50), "火星探测器")
    await bot.api.wait_for(lambda: bot.api.inline_answer(query) is not None, what="inline")
    answered = bot.api.inline_answer(query)
    assert answered is not None
    first = answered["results"][0]
    assert first["title"] == "没有找到答案"
    assert "第1段" in visible_text(first["input_message_content"]["message_text"])


async def test_inline_queries_only_for_users_on_the_allow_list(
    api: FakeBotApi, engine: FakeEngine, tmp_path: Path
) -> None:
    async with _bot(api, engine, tmp_path, allowed_chats=[51]) as running:
        allowed = await running.api.inline_query(running.api.user(51), "聂荣县远程会诊多少场")
        refused = await running.api.inline_query(running.api.user(52), "聂荣县远程会诊多少场")
        queries = (allowed, refused)
        await running.api.wait_for(
            lambda: all(api.inline_answer(q) is not None for q in queries),
            what="both inline answers",
        )
    ok, no = api.inline_answer(allowed), api.inline_answer(refused)
    assert ok is not None and no is not None
    assert ok["results"] and str(ok["is_personal"]).lower() == "true"
    assert no["results"] == []
