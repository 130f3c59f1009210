"""The bot end to end on a real Milvus server, when NEWSQA_TEST_MILVUS_URI names one: the steps
of tests/test_backend_bot_e2e.py (milvus-lite) under a throwaway alias whose collections are
dropped afterwards. Skipped without a server (docs/milvus.md says how to run one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.settings import Settings
from tests.bot_harness import bot_settings
from tests.fake_bot_api import FakeBotApi
from tests.test_backend_bot_e2e import answer_and_reload
from tests.test_milvus_server_rules import (
    SERVER_TOKEN_ENV,
    drop_alias_collections,
    needs_server,
    server_settings,
)

pytestmark = [pytest.mark.slow, needs_server]


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
        await answer_and_reload(api, settings, 602)
    finally:
        drop_alias_collections(settings)
