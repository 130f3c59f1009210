"""End to end: the real Application and the real index of ../shared/stories, over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from index.settings import Settings
from tests.bot_harness import bot_settings, running_bot
from tests.fake_bot_api import (
    BOT_USERNAME,
    TOKEN,
    FakeBotApi,
    block_quotes,
    bold_parts,
    buttons,
    visible_text,
)

pytestmark = pytest.mark.slow

QUESTION = "聂荣县远程会诊多少场"
HEADLINE = "党建搭台强根基 医疗服务惠民生"
STORY = "001_a156c6055a039714.txt"
# The real engine takes seconds per answer on a busy 2-core machine.
ANSWER_WAIT_S = 180.0


async def ask(api: FakeBotApi, chat: dict[str, Any], user: dict[str, Any], text: str) -> Any:
    message = await api.send_text(chat, user, text)
    await api.wait_for(lambda: bool(api.replies_to(message)), ANSWER_WAIT_S, f"reply to {text}")
    return message


async def test_private_group_and_source_button_on_the_real_index(
    api: FakeBotApi,
    real_index_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = bot_settings(
        api,
        tmp_path,
        index_dir=real_index_settings.index_dir,
        cache_dir=real_index_settings.cache_dir,
    )
    async with running_bot(settings, api):  # index.service.load_engine, index.store
        user = api.user(501)
        question = await ask(api, api.private_chat(501), user, QUESTION)

        group, member = api.group_chat(-100500), api.user(502)
        unaddressed = await api.send_text(group, member, QUESTION)
        mention = await ask(api, group, member, f"@{BOT_USERNAME} {QUESTION}")

        [answer] = api.replies_to(question)
        source = next(b for b in buttons(answer) if b["text"] == "原文 1")
        await api.press(answer, source["callback_data"], user)
        await api.wait_for(lambda: len(api.sent_to(501)) == 2, ANSWER_WAIT_S, "the passage")
        await api.settle()

    replies = api.replies_to(question)
    assert len(replies) == 1
    sent = replies[0]["text"]  # the HTML as Telegram received it (and parsed: see FakeBotApi)
    text = visible_text(sent)
    quote, citation, *_ = text.split("\n")
    assert "90余场次" in quote and "90余场次" in bold_parts(sent)
    # One citation line: the headline and the paragraph within the article (the file's ¶33).
    assert citation.startswith("—— 《") and HEADLINE in citation and citation.endswith(" · 第2段")
    assert STORY not in text and ".txt" not in text and "¶" not in text
    [(sources, folded)] = block_quotes(sent)
    assert folded and sources.startswith("相关来源：\n1. 《")
    assert quote.removeprefix("…") not in sources  # the quoted paragraph is not repeated
    labels = [b["text"] for b in buttons(replies[0])]
    assert labels[0] == "原文 1" and len(set(labels)) == len(labels)
    assert api.replies_to(unaddressed) == []
    [in_group] = api.replies_to(mention)
    assert "90余场次" in visible_text(in_group["text"])
    assert [f for _, f in block_quotes(in_group["text"])] == [True]
    assert "更多" not in [b["text"] for b in buttons(in_group)]
    passage = visible_text(api.sent_to(501)[1]["text"])
    assert HEADLINE in passage and "90余场次" in passage
    assert "第2段 " in passage and STORY not in passage
    secret = TOKEN.split(":", 1)[1]
    assert caplog.records and secret not in caplog.text


async def test_rebuild_while_questions_flow_switches_without_failures(
    api: FakeBotApi, real_index_settings: Settings, tmp_path: Path
) -> None:
    from index.build import build_generation

    # A private copy of the session's index, and a corpus where the answer changed.
    index_dir = tmp_path / "index"
    shutil.copytree(real_index_settings.index_dir, index_dir, symlinks=True)
    docs = tmp_path / "stories"
    shutil.copytree(real_index_settings.docs_dir, docs)
    story = docs / STORY
    story.write_text(story.read_text("utf-8").replace("90余场次", "120余场次"), "utf-8")
    settings = bot_settings(
        api,
        tmp_path,
        index_dir=index_dir,
        docs_dir=docs,
        cache_dir=real_index_settings.cache_dir,
        reload_interval_s=0.5,
    )

    async with running_bot(settings, api) as bot:
        holder = bot.application.bot_data.services.engines
        first = holder.serving
        assert first is not None
        asked: list[tuple[dict[str, Any], str | None]] = []

        async def keep_asking(stop: asyncio.Event) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                serving = holder.serving
                chat, user = api.private_chat(10_000 + n), api.user(10_000 + n)
                message = await api.send_text(chat, user, QUESTION)
                asked.append((message, serving.generation if serving else None))
                await asyncio.sleep(0.5)  # a steady trickle, not a flood

        stop_asking = asyncio.Event()
        flow = asyncio.create_task(keep_asking(stop_asking))
        summary = await asyncio.to_thread(build_generation, settings)
        await api.wait_for(
            lambda: holder.serving is not None and holder.serving.generation != first.generation,
            ANSWER_WAIT_S,
            "the bot to pick up the new generation",
        )
        # A few questions asked on the new index, then everyone must have an answer.
        count = len(asked)
        await api.wait_for(lambda: len(asked) >= count + 3, 30, "questions after the switch")
        stop_asking.set()
        await flow
        await api.wait_for(
            lambda: all(api.replies_to(m) for m, _ in asked), ANSWER_WAIT_S, "every answer"
        )
        await api.settle()

    new_generation = summary.generation
    assert holder.serving is not None and holder.serving.generation == new_generation
    failures = []
    for message, generation in asked:
        replies = api.replies_to(message)
        texts = [visible_text(r["text"]) for r in replies]
        if len(texts) != 1 or not ("90余场次" in texts[0] or "120余场次" in texts[0]):
            failures.append(texts)
        elif generation == new_generation:
            assert "120余场次" in texts[0], "a question asked after the switch got an old answer"
    assert failures == []
    assert any(g == first.generation for _, g in asked)
    assert any(g == new_generation for _, g in asked)


@contextlib.asynccontextmanager
async def newsqa_serve(
    api: FakeBotApi, tmp_path: Path, index_dir: Path, cache_dir: Path, **extra: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`newsqa serve` as a child process talking to the emulator; killed if a test fails."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "NEWSQA_TELEGRAM_API_URL": api.base_url,
        "NEWSQA_INDEX_DIR": str(index_dir),
        "NEWSQA_CACHE_DIR": str(cache_dir),
        "NEWSQA_FEEDBACK_PATH": str(tmp_path / "feedback.jsonl"),
        **extra,
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("newsqa")),
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_newsqa_serve_answers_survives_sighup_and_stops_on_sigterm(
    api: FakeBotApi, real_index_settings: Settings, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "telegram-token").write_text(TOKEN + "\n")
    async with newsqa_serve(
        api,
        tmp_path,
        real_index_settings.index_dir,
        real_index_settings.cache_dir,
        CREDENTIALS_DIRECTORY=str(credentials),
    ) as process:
        question = await ask(api, api.private_chat(601), api.user(601), QUESTION)
        assert "90余场次" in visible_text(api.replies_to(question)[0]["text"])
        process.send_signal(signal.SIGHUP)  # Python's default would kill the process
        again = await ask(api, api.private_chat(602), api.user(602), QUESTION)
        assert "90余场次" in visible_text(api.replies_to(again)[0]["text"])
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]
    assert TOKEN.split(":", 1)[1] not in (out + err).decode()


async def test_newsqa_serve_without_an_index_waits_for_the_first_build(
    api: FakeBotApi, real_index_settings: Settings, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    async with newsqa_serve(
        api, tmp_path, index_dir, real_index_settings.cache_dir, NEWSQA_TELEGRAM_TOKEN=TOKEN
    ) as process:
        early = await ask(api, api.private_chat(701), api.user(701), QUESTION)
        assert "索引暂时不可用" in visible_text(api.replies_to(early)[0]["text"])
        # A build appears (a copy of a finished one), and the operator reloads.
        shutil.copytree(real_index_settings.index_dir, index_dir, symlinks=True)
        process.send_signal(signal.SIGHUP)
        for attempt in range(30):
            later = await ask(
                api, api.private_chat(702 + attempt), api.user(702 + attempt), QUESTION
            )
            if "90余场次" in visible_text(api.replies_to(later)[0]["text"]):
                break
            await asyncio.sleep(1)
        else:
            raise AssertionError("the bot never picked up the new index")
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]
    assert "no usable index yet" in err.decode()
    assert "Traceback" not in (out + err).decode()


def test_newsqa_chat_answers_in_the_terminal(real_index_settings: Settings) -> None:
    from click.testing import CliRunner

    from index.cli import main

    runner = CliRunner()
    result = runner.invoke(
        main,
        ["chat", "--index", str(real_index_settings.index_dir)],
        input=f"{QUESTION}\n/src 1\n/quit\n",
        env={"NEWSQA_CACHE_DIR": str(real_index_settings.cache_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "【90余场次】" in result.output
    assert HEADLINE in result.output
    assert result.output.count("¶") >= 4  # the citation, sources, and the passage's paragraphs


async def test_fifty_chats_times_four_questions_on_the_real_index(
    api: FakeBotApi, real_index_settings: Settings, real_engine: Any, tmp_path: Path
) -> None:
    settings = bot_settings(api, tmp_path, telegram_max_rate=30)  # Telegram's real limit
    asks = [
        "聂荣县远程会诊多少场",
        "墨脱县的病人通过什么系统向专家求助",
        "聂荣县有多少个联村党委",
        "How many village doctors were trained?",
    ]
    async with running_bot(
        settings, api, load=lambda s: real_engine, read_generation=lambda p: "session"
    ):
        people = [(api.private_chat(40_000 + n), api.user(40_000 + n)) for n in range(50)]
        sent = await asyncio.gather(
            *(
                api.send_text(chat, user, f"{question} ({n})")
                for question in asks
                for n, (chat, user) in enumerate(people)
            )
        )
        await api.wait_for(lambda: all(api.replies_to(m) for m in sent), 600, "200 answers")
        await api.settle()
    assert [len(api.replies_to(m)) for m in sent] == [1] * 200
    texts = [visible_text(api.replies_to(m)[0]["text"]) for m in sent]
    assert not [t for t in texts if "出了点问题" in t or "went wrong" in t]
    assert all("90余场次" in t for t in texts[:50])
