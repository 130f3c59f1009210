"""Bot paths that could flood a chat or loop: each bounded, over the real Application."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.feedback import FeedbackLog
from bot.reload import EngineHolder, IndexReloader
from bot.render import MESSAGE_LIMIT
from index.models import Paragraph, PassageContext
from index.settings import Settings
from tests.bot_harness import (
    FILE,
    HEADLINE,
    EngineSource,
    FakeEngine,
    RunningBot,
    bot_settings,
    eventually,
    running_bot,
)
from tests.fake_bot_api import FakeBotApi, buttons, visible_text

GROUP = -100777
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


class HugePassageEngine(FakeEngine):
    """Its "原文" is one paragraph of 200,000 characters, the kind that once sent 50 messages."""

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        huge = Paragraph(2, "聂荣县远程会诊 & <b>" * 20_000)
        around = (Paragraph(1, "前一段。"), huge, Paragraph(3, "后一段。"))
        return PassageContext(chunk_id, FILE, HEADLINE, around, focus=2)


@pytest.fixture
async def huge_bot(api: FakeBotApi, tmp_path: Path) -> AsyncIterator[RunningBot]:
    source = EngineSource(HugePassageEngine())
    async with running_bot(
        bot_settings(api, tmp_path), api, load=source.load, read_generation=source.read_generation
    ) as running:
        yield running


async def test_the_source_button_sends_one_message_however_long_the_passage(
    huge_bot: RunningBot,
) -> None:
    api = huge_bot.api
    chat, user = api.private_chat(5001), api.user(5001)
    question = await api.send_text(chat, user, "聂荣县远程会诊多少场")
    await api.wait_for(lambda: bool(api.replies_to(question)), what="the answer")
    (answer,) = api.replies_to(question)
    source = next(b for b in buttons(answer) if b["text"] == "原文 1")
    await api.press(answer, source["callback_data"], user)
    await api.wait_for(lambda: len(api.sent) >= 2, what="the passage")
    await api.settle()
    assert len(api.sent) == 2
    text = api.sent[1]["text"]
    assert len(text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
    assert "原文过长" in visible_text(text) and "聂荣县远程会诊" in visible_text(text)


async def test_anonymous_admins_of_different_groups_have_their_own_buckets(
    api: FakeBotApi, tmp_path: Path
) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, rate_limit_burst=2, rate_limit_per_minute=1)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        groups = [api.group_chat(GROUP - n, f"Group {n}") for n in range(3)]
        for group, n in itertools.product(groups, range(2)):
            message = api._new_message(
                group, ANONYMOUS_ADMIN, text=f"/ask 聂荣县远程会诊多少场 {n}"
            )
            message["sender_chat"] = group
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": 4}]
            await api.push_update({"message": message})
        await api.wait_for(lambda: len(api.sent) >= 6, what="two answers in each group")
        await api.settle()
    for group in groups:
        texts = [visible_text(m["text"]) for m in api.sent_to(group["id"])]
        assert sum("90余场次" in t for t in texts) == 2, texts


async def test_a_button_without_a_chat_is_refused_by_the_allow_list(
    api: FakeBotApi, tmp_path: Path
) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, allowed_chats=[1111])
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        await api.push_update(
            {
                "callback_query": {
                    "id": "inline-1",
                    "from": api.user(3333),
                    "inline_message_id": "AAAA",
                    "chat_instance": "ci-inline",
                    "data": "fb:up",
                }
            }
        )
        await api.wait_for(lambda: bool(api.calls_to("answerCallbackQuery")), what="a refusal")
        await api.settle()
    (refusal,) = api.calls_to("answerCallbackQuery")
    assert "指定的聊天" in refusal.params["text"]
    assert not Path(settings.feedback_path).exists()


async def test_a_refused_current_is_remembered_not_reloaded_at_every_check() -> None:
    """`current` refused, an older generation served in its place: load only when it changes."""
    good = FakeEngine("gen-1")
    source, holder = EngineSource(good), EngineHolder()

    def falls_back(settings: Settings) -> FakeEngine:
        source.loads += 1
        return good  # what index.service.load_engine does when `current` is refused

    watcher = IndexReloader(Settings(), holder, falls_back, source.read_generation)
    source.current = "gen-2"  # `current` names a generation that the loader refuses
    await watcher.load_initial()
    assert holder.serving is not None and holder.serving.generation == "gen-1"
    for _ in range(5):
        assert await watcher.check() is False
    assert source.loads == 1
    source.current = "gen-3"  # a new `current`: worth one more load
    await watcher.check()
    assert source.loads == 2
    await watcher.check(forced=True)  # SIGHUP still retries
    assert source.loads == 3


async def test_votes_count_only_on_the_bots_own_answers(api: FakeBotApi, tmp_path: Path) -> None:
    """A client can send any callback data for any message: only 👍/👎 under an answer count."""
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, rate_limit_burst=20)
    log = FeedbackLog(settings.feedback_path)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        chat, user = api.private_chat(5101), api.user(5101)
        question = await api.send_text(chat, user, "聂荣县远程会诊多少场")
        await api.wait_for(lambda: bool(api.replies_to(question)), what="the answer")
        (answer,) = api.replies_to(question)
        more = next(b for b in buttons(answer) if b["text"] == "更多")
        await api.press(answer, more["callback_data"], user)
        await api.wait_for(lambda: len(api.sent) == 2, what="page 2")
        page = api.sent[1]  # the bot's, with buttons, but no 👍/👎
        await api.press(answer, "fb:sideways", user)  # no such button
        await api.press(question, "fb:up", user)  # the user's own message
        await api.press(page, "fb:up", user)
        await api.wait_for(lambda: len(api.calls_to("answerCallbackQuery")) == 4, what="acks")
        await api.press(answer, "fb:up", user)
        await eventually(lambda: bool(log.read()), "the one real vote")
        await api.settle()
    (vote,) = log.read()
    assert (vote.vote, vote.message_id) == ("up", answer["message_id"])
    refused = api.calls_to("answerCallbackQuery")[1:4]
    assert all("text" not in call.params for call in refused)


async def test_feedback_file_stays_within_its_limit(api: FakeBotApi, tmp_path: Path) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, feedback_max_votes=3, rate_limit_burst=20)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        chat = api.private_chat(5201)
        question = await api.send_text(chat, api.user(5201), "聂荣县远程会诊多少场")
        await api.wait_for(lambda: bool(api.replies_to(question)), what="the answer")
        (answer,) = api.replies_to(question)
        for voter in range(5202, 5212):
            await api.press(answer, "fb:down", api.user(voter))
        await api.wait_for(lambda: len(api.calls_to("answerCallbackQuery")) == 10, what="thanks")
        await api.settle()
    lines = Path(settings.feedback_path).read_text("utf-8").splitlines()
    assert 1 <= len(lines) <= 3


async def test_edits_and_channel_posts_off_the_allow_list_get_no_reply(
    api: FakeBotApi, tmp_path: Path
) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, allowed_chats=[1111])
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        stranger = api.user(2222)
        edited = api._new_message(api.private_chat(2222), stranger, text="聂荣县远程会诊多少场")
        await api.edit_text(edited, "聂荣县远程会诊多少场?")
        channel = {"id": -100555, "type": "channel", "title": "Newswire"}
        post = api._new_message(channel, stranger, text="聂荣县远程会诊多少场")
        del post["from"]  # channel posts are sent by the channel itself
        post["sender_chat"] = channel
        await api.push_update({"channel_post": post})
        await api.push_update({"edited_channel_post": dict(post, edit_date=post["date"] + 1)})
        # The allowed chat is answered; by the time all is quiet the others had their chance.
        allowed = await api.send_text(
            api.private_chat(1111), api.user(1111), "聂荣县远程会诊多少场"
        )
        await api.wait_for(lambda: bool(api.replies_to(allowed)), what="the allowed answer")
        await api.settle()
    assert [m["chat"]["id"] for m in api.sent] == [1111]
    assert not api.calls_to("leaveChat")
