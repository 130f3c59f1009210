"""The real Application over HTTP against FakeBotApi, with a fake engine: who gets which reply."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.feedback import FeedbackLog
from bot.reload import PROBE_QUESTION
from tests.bot_harness import (
    HEADLINE,
    OTHER_HEADLINE,
    EngineSource,
    FakeEngine,
    RunningBot,
    bot_settings,
    eventually,
    running_bot,
)
from tests.fake_bot_api import (
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeBotApi,
    block_quotes,
    bold_parts,
    buttons,
    visible_text,
)

GROUP = -100123


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def bot(api: FakeBotApi, engine: FakeEngine, tmp_path: Path) -> AsyncIterator[RunningBot]:
    source = EngineSource(engine)
    settings = bot_settings(api, tmp_path)
    async with running_bot(
        settings, api, load=source.load, read_generation=source.read_generation
    ) as running:
        yield running


async def ask(api: FakeBotApi, chat: dict[str, Any], user: dict[str, Any], text: str) -> Any:
    """Send one message and return the bot's single reply to it."""
    message = await api.send_text(chat, user, text)
    await api.wait_for(lambda: bool(api.replies_to(message)), what=f"a reply to {text[:20]!r}")
    await api.settle()
    replies = api.replies_to(message)
    assert len(replies) == 1, [visible_text(r["text"]) for r in replies]
    return replies[0]


async def test_private_question_gets_one_cited_answer(bot: RunningBot) -> None:
    api = bot.api
    reply = await ask(api, api.private_chat(1001), api.user(1001), "聂荣县远程会诊多少场")
    text = visible_text(reply["text"])
    answer, citation, *_ = text.split("\n")
    assert "90余场次" in answer and bold_parts(reply["text"]) == ["90余场次"]
    # The paragraph counts within the article; no file name or hash reaches the reader.
    assert citation == f"—— 《{HEADLINE}》 · 第1段"
    assert ".txt" not in text and "¶" not in text and "a156c6055a039714" not in text
    # The other passages in one collapsed quote, one headline per article, never the quoted one.
    [(sources, expandable)] = block_quotes(reply["text"])
    assert expandable and sources.startswith("相关来源：\n")
    assert sources.count(HEADLINE) == 1 and sources.count(OTHER_HEADLINE) == 1
    assert f"1. 《{HEADLINE}》\n第3段：段落3 " in sources
    assert f"2. 《{OTHER_HEADLINE}》\n第2段：段落2 " in sources
    assert "段落1 " not in text
    assert "<script>alert('x')</script>" in text  # story text is shown literally
    shown = {(b["text"], b["callback_data"]) for b in buttons(reply)}
    # One 原文 per article; the first opens the quoted passage.
    assert {("原文 1", "src:gen-1-c001"), ("原文 2", "src:gen-1-c002")} <= shown
    assert {"更多", "👍", "👎"} <= {label for label, _ in shown}
    assert ("更多", "more:5") in shown  # the next page starts after the five passages
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(reply))
    [sent] = api.calls_to("sendMessage")
    assert sent.params["link_preview_options"]["is_disabled"] is True
    assert api.calls_to("sendChatAction")


async def test_private_chats_may_show_sources_open(api: FakeBotApi, tmp_path: Path) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, private_sources_open=True)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        private = await ask(api, api.private_chat(1101), api.user(1101), "聂荣县远程会诊多少场")
        group = await ask(api, api.group_chat(GROUP), api.user(1101), "/ask 聂荣县远程会诊多少场")
    [(_, folded)] = block_quotes(private["text"])
    assert not folded
    [(_, group_folded)] = block_quotes(group["text"])
    assert group_folded  # groups are never flooded, whatever the setting


async def test_command_menu_is_set_in_both_languages(bot: RunningBot) -> None:
    commands = bot.api.commands
    assert {c["command"] for c in commands[""]} == {"start", "help", "ask", "about", "new"}
    assert {c["description"] for c in commands["zh"]} >= {"使用说明", "索引信息"}


async def test_group_answers_only_when_addressed(bot: RunningBot) -> None:
    api = bot.api
    group, user = api.group_chat(GROUP), api.user(2001)
    chatter = await api.send_text(group, user, "聂荣县远程会诊多少场")
    other_bot_command = await api.send_text(group, user, "/ask@some_other_bot 聂荣县")
    await api.settle()
    assert api.replies_to(chatter) == []
    assert api.replies_to(other_bot_command) == []

    mention = await ask(api, group, user, f"@{BOT_USERNAME} 聂荣县远程会诊多少场")
    assert "90余场次" in visible_text(mention["text"])
    # In a group: a reply to the question, sources folded, no 更多 pages.
    assert mention["reply_to_message"]["text"] == f"@{BOT_USERNAME} 聂荣县远程会诊多少场"
    assert [folded for _, folded in block_quotes(mention["text"])] == [True]
    assert "更多" not in [b["text"] for b in buttons(mention)]
    command = await ask(api, group, user, f"/ask@{BOT_USERNAME} 聂荣县远程会诊多少场")
    assert "90余场次" in visible_text(command["text"])
    plain_command = await ask(api, group, user, "/ask 聂荣县远程会诊多少场")
    assert "90余场次" in visible_text(plain_command["text"])
    # The engine saw the question without the command or the mention.
    assert set(bot_engine_calls(bot)) == {"聂荣县远程会诊多少场"}

    follow_up = await api.send_text(group, user, "聂荣县呢？", reply_to=mention)
    await api.wait_for(lambda: bool(api.replies_to(follow_up)), what="a reply to a reply")
    empty = await ask(api, group, user, "/ask")
    assert "/ask" in visible_text(empty["text"])


def bot_engine_calls(bot: RunningBot) -> list[str]:
    serving = bot.application.bot_data.services.engines.serving
    assert serving is not None
    engine = serving.engine
    assert isinstance(engine, FakeEngine)
    return [q for q in engine.calls if q != PROBE_QUESTION]


async def test_edits_and_other_bots_are_ignored(bot: RunningBot) -> None:
    api = bot.api
    chat, user = api.private_chat(3001), api.user(3001)
    answered = await ask(api, chat, user, "聂荣县远程会诊多少场")
    await api.edit_text(answered, "聂荣县？")
    robot = {"id": 42, "is_bot": True, "first_name": "Other", "username": "other_bot"}
    from_bot = await api.send_text(api.private_chat(42), robot, "聂荣县远程会诊多少场")
    await api.settle()
    assert api.replies_to(from_bot) == []
    assert len(api.sent) == 1


async def test_source_button_shows_the_passage_with_neighbours(bot: RunningBot) -> None:
    api = bot.api
    chat, user = api.private_chat(4001), api.user(4001)
    answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    source = next(b for b in buttons(answer) if b["text"] == "原文 2")
    await api.press(answer, source["callback_data"], user)
    await api.wait_for(lambda: len(api.sent) == 2, what="the passage")
    passage = api.sent[1]
    assert source["callback_data"] == "src:gen-1-c002"  # the other article's first passage
    text = visible_text(passage["text"])
    assert text.startswith(f"《{HEADLINE}》\n\n")
    assert "第1段 段落1" in text and "第3段 段落3" in text  # numbered within the article
    assert ".txt" not in text and "¶" not in text
    assert bold_parts(passage["text"])[-1] == "段落2：聂荣县 <i>原文</i> & 医疗"
    assert api.calls_to("answerCallbackQuery")


async def test_unknown_source_gets_an_alert(bot: RunningBot) -> None:
    api = bot.api
    chat, user = api.private_chat(4101), api.user(4101)
    answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    await api.press(answer, "src:gone-c001", user)
    await api.wait_for(lambda: bool(api.calls_to("answerCallbackQuery")), what="an alert")
    alert = api.calls_to("answerCallbackQuery")[0].params
    assert "不在当前索引" in alert["text"]
    assert len(api.sent) == 1


async def test_more_pages_on_from_the_replied_question(bot: RunningBot) -> None:
    api = bot.api
    chat, user = api.private_chat(5001), api.user(5001)
    answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    more = next(b for b in buttons(answer) if b["text"] == "更多")
    await api.press(answer, more["callback_data"], user)
    await api.wait_for(lambda: len(api.sent) == 2, what="page 2")
    page = api.sent[1]
    # Passages 6-8, grouped by article: 6 and 8 of the other story, 7 of the answer's.
    assert visible_text(page["text"]) == (
        f"更多相关段落：\n1. 《{OTHER_HEADLINE}》\n"
        f"第6段：段落6 <script>alert('x')</script> & 聂荣县 [gen-1]\n"
        f"第8段：段落8 <script>alert('x')</script> & 聂荣县 [gen-1]\n2. 《{HEADLINE}》\n"
        f"第7段：段落7 <script>alert('x')</script> & 聂荣县 [gen-1]"
    )
    assert [b["text"] for b in buttons(page)] == ["原文 1", "原文 2", "更多"]
    # The page replies to the original question, so its own 更多 still finds it.
    assert page["reply_to_message"]["text"] == "聂荣县远程会诊多少场"
    next_more = next(b for b in buttons(page) if b["text"] == "更多")
    assert next_more["callback_data"] == "more:8"
    await api.press(page, next_more["callback_data"], user)
    await api.wait_for(lambda: len(api.sent) == 3, what="page 3")
    last = api.sent[2]
    assert visible_text(last["text"]) == "没有更多相关段落了。"
    assert buttons(last) == []


async def test_feedback_is_recorded_once_per_user_per_answer(
    bot: RunningBot, tmp_path: Path
) -> None:
    api = bot.api
    chat, user = api.private_chat(6001), api.user(6001)
    answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    await api.press(answer, "fb:up", user)
    await eventually(lambda: len(log.read()) == 1, "the first vote")
    await api.press(answer, "fb:down", user)  # a change of mind replaces the vote
    await api.wait_for(lambda: len(api.calls_to("answerCallbackQuery")) == 2, what="thanks")
    await api.settle()
    votes = log.read()
    assert [v.vote for v in votes] == ["down"]
    assert votes[0].question == "聂荣县远程会诊多少场"
    assert votes[0].message_id == answer["message_id"]
    assert api.calls_to("answerCallbackQuery")[0].params["text"] == "谢谢反馈！"


async def test_abstention_says_so_and_offers_passages(bot: RunningBot) -> None:
    api = bot.api
    reply = await ask(api, api.private_chat(7001), api.user(7001), "月球上有几个县？")
    text = visible_text(reply["text"])
    assert text.startswith("没有在报道中找到这个问题的答案")
    [(nearest, _)] = block_quotes(reply["text"])
    assert f"1. 《{HEADLINE}》\n第1段：" in nearest and f"2. 《{OTHER_HEADLINE}》" in nearest


async def test_english_question_gets_english_wording(bot: RunningBot) -> None:
    api = bot.api
    user = api.user(7101, language_code="zh-hans")
    reply = await ask(api, api.private_chat(7101), user, "How many trains run daily?")
    assert visible_text(reply["text"]).startswith("I could not find the answer")
    assert [b["text"] for b in buttons(reply)][:2] == ["Source 1", "Source 2"]


@pytest.mark.parametrize(
    ("language_code", "command", "expected"),
    [
        ("zh-hans", "/start", "你好"),
        ("en", "/start", "Hello"),
        ("en", "/help", "How to use"),
        ("zh-hans", "/help", "用法"),
        ("en", "/about", "253 chunks"),
        ("zh", "/about", "片段 253 个"),
    ],
)
async def test_commands_in_the_users_language(
    bot: RunningBot, language_code: str, command: str, expected: str
) -> None:
    api = bot.api
    user = api.user(8001, language_code=language_code)
    reply = await ask(api, api.private_chat(8001), user, command)
    assert expected in visible_text(reply["text"])


async def test_hostile_input_gets_bounded_polite_replies(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    caplog.set_level(logging.WARNING)
    chat, user = api.private_chat(9001), api.user(9001)
    markup = await ask(api, chat, user, "<b>聂荣县</b> & <a href='x'>远程会诊</a>多少场")
    assert "90余场次" in visible_text(markup["text"])
    assert bot_engine_calls(bot)[-1] == "<b>聂荣县</b> & <a href='x'>远程会诊</a>多少场"
    too_long = await ask(api, chat, user, "聂" * 4096)
    assert "太长" in visible_text(too_long["text"])
    emoji = await ask(api, chat, user, "🙂🙂🙂")
    assert "文字" in visible_text(emoji["text"])
    sticker = await api.send_sticker(chat, user)
    await api.wait_for(lambda: bool(api.replies_to(sticker)), what="a sticker reply")
    assert "文字问题" in visible_text(api.replies_to(sticker)[0]["text"])
    group_photo = await api.send_photo(api.group_chat(GROUP), user)
    await api.settle()
    assert api.replies_to(group_photo) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_burst_from_one_user_is_rate_limited_once(bot: RunningBot) -> None:
    api = bot.api
    chat, user = api.private_chat(9101), api.user(9101)
    for n in range(30):
        await api.send_text(chat, user, f"聂荣县远程会诊多少场 {n}")
    await api.wait_for(lambda: len(api.sent) >= 6, what="answers and one notice")
    await api.settle()
    texts = [visible_text(m["text"]) for m in api.sent]
    assert sum("90余场次" in t for t in texts) == 5  # the burst allowance
    assert sum("太快" in t for t in texts) == 1  # told once, then silence
    assert len(texts) == 6


async def test_engine_failure_is_logged_and_answered_politely(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    with caplog.at_level(logging.ERROR, logger="bot.handlers"):
        reply = await ask(api, api.private_chat(9201), api.user(9201), "聂荣县 boom")
    assert "出了点问题" in visible_text(reply["text"])
    assert any(r.exc_info and "engine exploded" in str(r.exc_info[1]) for r in caplog.records)


async def test_allow_list_refuses_and_leaves(api: FakeBotApi, tmp_path: Path) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, allowed_chats=[1111, GROUP])
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        served = await ask(api, api.private_chat(1111), api.user(1111), "聂荣县远程会诊多少场")
        assert "90余场次" in visible_text(served["text"])
        stranger = await api.send_text(api.private_chat(2222), api.user(2222), "聂荣县")
        other_group = api.group_chat(-100999, "Elsewhere")
        await api.add_bot_to_group(other_group, api.user(2222))
        await api.wait_for(lambda: -100999 in api.left_chats, what="leaving the group")
        await api.settle()
    refusals = api.replies_to(stranger)
    assert len(refusals) == 1 and "指定的聊天" in visible_text(refusals[0]["text"])
    assert "指定的聊天" in visible_text(api.sent_to(-100999)[0]["text"])
    assert GROUP not in api.left_chats


async def test_token_stays_out_of_logs(
    api: FakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path)
    caplog.set_level(logging.DEBUG)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        await ask(api, api.private_chat(1), api.user(1), "聂荣县远程会诊多少场")
    secret = TOKEN.split(":", 1)[1]
    assert len(caplog.records) > 10  # the run did log, at DEBUG
    assert not [r for r in caplog.records if secret in r.getMessage()]
    assert secret not in caplog.text
    assert BOT_ID  # the bot id (before the colon) is public and may be logged


async def test_buttons_still_work_after_a_restart(api: FakeBotApi, tmp_path: Path) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path)
    chat, user = api.private_chat(9301), api.user(9301)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    # A new Application with nothing in memory: the buttons carry everything they need.
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        more = next(b for b in buttons(answer) if b["text"] == "更多")
        await api.press(answer, more["callback_data"], user)
        source_1 = next(b for b in buttons(answer) if b["text"] == "原文 1")
        await api.press(answer, source_1["callback_data"], user)
        await api.wait_for(lambda: len(api.sent) == 3, what="a page and a passage")
        await api.settle()
    shown = [visible_text(m["text"]) for m in api.sent[1:]]
    assert any(t.startswith("更多相关段落") and "第6段" in t for t in shown)
    assert any("第1段 段落1" in t for t in shown)


async def test_command_and_button_bursts_are_bounded_too(bot: RunningBot) -> None:
    api = bot.api
    chat, user = api.private_chat(9401), api.user(9401)
    answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    for _ in range(30):
        await api.press(answer, "more:3", user)
    for _ in range(30):
        await api.send_text(chat, user, "/help")
    await api.wait_for(lambda: len(api.calls_to("answerCallbackQuery")) == 30, what="30 toasts")
    await api.settle()
    # One answer and four pages (the rest of the burst allowance); the other presses get a
    # toast saying why, and the /help burst that follows gets silence: they were told.
    assert len(api.sent) == 1 + 4
    toasts = [c.params.get("text") for c in api.calls_to("answerCallbackQuery")]
    assert toasts.count("提问太快了，请稍等片刻再问。") == 26


async def test_a_repeated_question_is_answered_from_memory(bot: RunningBot) -> None:
    api = bot.api
    first = await ask(api, api.private_chat(9501), api.user(9501), "聂荣县远程会诊多少场")
    second = await ask(api, api.private_chat(9502), api.user(9502), " 聂荣县远程会诊多少场 ")
    assert visible_text(first["text"]) == visible_text(second["text"])
    assert bot_engine_calls(bot) == ["聂荣县远程会诊多少场"]
    assert len(api.calls_to("sendChatAction")) == 1  # no "typing…" for an instant answer


async def test_flood_wait_is_retried_by_the_rate_limiter(api: FakeBotApi, tmp_path: Path) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path, telegram_max_rate=30)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        api.throttled["sendMessage"] = 1  # Telegram answers the first reply with RetryAfter
        reply = await ask(api, api.private_chat(9601), api.user(9601), "聂荣县远程会诊多少场")
    assert "90余场次" in visible_text(reply["text"])
    assert len(api.calls_to("sendMessage:429")) == 1


async def test_a_stale_button_press_still_gets_its_passage(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    chat, user = api.private_chat(9701), api.user(9701)
    answer = await ask(api, chat, user, "聂荣县远程会诊多少场")
    api.stale_queries = 1
    caplog.set_level(logging.WARNING)
    await api.press(answer, "src:gen-1-c002", user)
    await api.wait_for(lambda: len(api.sent) == 2, what="the passage")
    assert "段落2" in visible_text(api.sent[1]["text"])
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
