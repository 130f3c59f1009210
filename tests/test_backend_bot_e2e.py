"""The bot end to end on the Milvus backend: build with the bundled model, ask, press "原文 1",
then rebuild and watch the alias switch reach the bot. On milvus-lite always; on a real server
too when NEWSQA_TEST_MILVUS_URI names one (tests/test_milvus_server_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.backends.factory import current_generation
from index.build import build_generation
from index.settings import Settings
from tests.bot_harness import bot_settings, running_bot
from tests.fake_bot_api import FakeBotApi, buttons, visible_text

pytestmark = pytest.mark.slow

QUESTION = "聂荣县远程会诊多少场"
HEADLINE = "党建搭台强根基 医疗服务惠民生"
ANSWER_WAIT_S = 180.0


async def answer_and_reload(api: FakeBotApi, settings: Settings, user_id: int) -> None:
    """Build, ask the canonical question, open its source, rebuild: the bot serves the new
    generation after the alias switch, and the answer and passage hold the fact."""
    first = build_generation(settings).generation

    def read_generation(_: Path) -> str | None:
        return current_generation(settings)

    async with running_bot(settings, api, read_generation=read_generation) as bot:
        user = api.user(user_id)
        question = await api.send_text(api.private_chat(user_id), user, QUESTION)
        await api.wait_for(lambda: bool(api.replies_to(question)), ANSWER_WAIT_S, "the answer")
        [answer] = api.replies_to(question)
        source = next(b for b in buttons(answer) if b["text"] == "原文 1")
        await api.press(answer, source["callback_data"], user)
        await api.wait_for(lambda: len(api.sent_to(user_id)) == 2, ANSWER_WAIT_S, "the passage")

        second = build_generation(settings).generation
        reloader = bot.application.bot_data.services.reloader
        assert await reloader.check(forced=True)
        serving = bot.application.bot_data.services.engines.serving
        assert serving is not None and serving.generation == second != first

    text = visible_text(answer["text"])
    assert "90余场次" in text and HEADLINE in text
    passage = visible_text(api.sent_to(user_id)[1]["text"])
    assert HEADLINE in passage and "90余场次" in passage


async def test_the_bot_answers_and_reloads_on_milvus_lite(
    api: FakeBotApi, real_index_settings: Settings, stories_dir: Path, tmp_path: Path
) -> None:
    settings = bot_settings(
        api,
        tmp_path,
        docs_dir=stories_dir,
        backend=f"milvus://{tmp_path / 'newsqa.db'}",
        cache_dir=real_index_settings.cache_dir,  # its embeddings are already computed
        answerer="rules",
    )
    await answer_and_reload(api, settings, 601)
