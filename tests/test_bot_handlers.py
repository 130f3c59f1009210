"""The real Application over HTTP against FakeBotApi, with a fake engine: who gets which reply."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot_harness import HEADLINE, EngineSource, FakeEngine, bot_settings, running_bot
from tests.fake_bot_api import BOT_ID, BOT_USERNAME, FakeBotApi, bold_parts, buttons, visible_text


@pytest.fixture
async def api() -> FakeBotApi:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


async def test_private_question_gets_one_cited_answer(api: FakeBotApi, tmp_path: Path) -> None:
    source = EngineSource(FakeEngine())
    settings = bot_settings(api, tmp_path)
    async with running_bot(settings, api, load=source.load, read_generation=source.read_generation):
        user = api.user(1001)
        question = await api.send_text(api.private_chat(1001), user, "聂荣县远程会诊多少场")
        await api.wait_for(lambda: bool(api.replies_to(question)), what="an answer")
        await api.settle()
    replies = api.replies_to(question)
    assert len(replies) == 1
    text = visible_text(replies[0]["text"])
    assert "90余场次" in text
    assert f"《{HEADLINE}》 · 001_a156c6055a039714.txt · ¶7" in text
    assert "90余场次" in bold_parts(replies[0]["text"])
    assert "<script>alert('x')</script>" in text  # story text shown literally
    labels = [b["text"] for b in buttons(replies[0])]
    assert labels[:3] == ["原文 1", "原文 2", "原文 3"]
    assert {"更多", "👍", "👎"} <= set(labels)
    assert api.calls_to("sendChatAction")
