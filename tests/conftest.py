"""Shared fixtures: paths to the shared corpus and a real index built once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from index.settings import Settings
from tests.fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STORIES = SHARED / "stories"


@pytest.fixture(scope="session")
def stories_dir() -> Path:
    if not STORIES.is_dir():
        pytest.skip(f"shared corpus not found at {STORIES}")
    return STORIES


@pytest.fixture(scope="session")
def real_index_settings(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> Settings:
    """A real index of ../shared/stories with the bundled model, built once per session."""
    from index.build import build_generation

    root = tmp_path_factory.mktemp("real-index")
    settings = Settings(docs_dir=stories_dir, index_dir=root / "index", cache_dir=root / "cache")
    build_generation(settings)
    return settings


@pytest.fixture(scope="session")
def real_engine(real_index_settings: Settings) -> object:
    from index.service import load_engine

    return load_engine(real_index_settings)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A Bot API emulator on 127.0.0.1 for the real python-telegram-bot Application."""
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()
