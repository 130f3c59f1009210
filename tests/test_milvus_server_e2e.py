"""The bot end to end on a real Milvus server, when NEWSQA_TEST_MILVUS_URI names one: build with
the bundled model, ask the canonical question, press "原文 1", rebuild and follow the alias.
The same steps as tests/test_backend_bot_e2e.py (milvus-lite), under a throwaway alias whose
collections are dropped afterwards. Skipped without a server (docs/milvus.md says how to run
one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.backends.factory import current_generation
from index.build import build_generation
from index.settings import Settings
from tests.bot_harness import bot_settings, running_bot
from tests.fake_bot_api import FakeBotApi, buttons, visible_text
from tests.test_milvus_server_rules import (
    SERVER_TOKEN_ENV,
    drop_alias_collections,
    needs_server,
    server_settings,
)

pytestmark = [pytest.mark.slow, needs_server]

QUESTION = "聂荣县远程会诊多少场"
HEADLINE = "党建搭台强根基 医疗服务惠民生"
ANSWER_WAIT_S = 180.0


async def test_the_bot_answers_and_reloads_on_a_milvus_server(
    api: FakeBotApi, real_index_settings: Settings, stories_dir: Path, tmp_path: Path
) -> None:
    server = server_settings()
    settings = bot_settings(
        api,
        tmp_path,
        docs_dir=stories_dir,
        backend=server.backend,
        milvus_collection=server.milvus_collection,
        milvus_token=server.milvus_token,
        cache_dir=real_index_settings.cache_dir,  # its embeddings are already computed
        answerer="rules",
    )
    assert settings.milvus_token is None or os.environ.get(SERVER_TOKEN_ENV)
    try:
        first = build_generation(settings).generation

        def read_generation(_: Path) -> str | None:
            return current_generation(settings)

        async with running_bot(settings, api, read_generation=read_generation) as bot:
            user = api.user(602)
            question = await api.send_text(api.private_chat(602), user, QUESTION)
            await api.wait_for(lambda: bool(api.replies_to(question)), ANSWER_WAIT_S, "answer")
            [answer] = api.replies_to(question)
            source = next(b for b in buttons(answer) if b["text"] == "原文 1")
            await api.press(answer, source["callback_data"], user)
            await api.wait_for(lambda: len(api.sent_to(602)) == 2, ANSWER_WAIT_S, "passage")

            second = build_generation(settings).generation
            reloader = bot.application.bot_data.services.reloader
            assert await reloader.check(forced=True)
            serving = bot.application.bot_data.services.engines.serving
            assert serving is not None and serving.generation == second != first
    finally:
        drop_alias_collections(settings)

    text = visible_text(answer["text"])
    assert "90余场次" in text and HEADLINE in text
    passage = visible_text(api.sent_to(602)[1]["text"])
    assert HEADLINE in passage and "90余场次" in passage
