"""A build asked for progress shows a bar for every stage; a quiet one writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_generation
from index.progress import stage_bar, stage_items
from index.settings import Settings
from tests.fakes import HashingEmbedder

STORY = "# 远程医疗进乡村\n\n本报记者 张三\n\n聂荣县依托远程会诊平台,已累计完成90余场次远程服务。\n"
STAGES = ("cleaning", "chunking", "embedding", "indexing")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    docs = tmp_path / "stories"
    docs.mkdir()
    (docs / "a.txt").write_text(STORY, "utf-8")
    return Settings(
        docs_dir=docs, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", embedder="fake"
    )


def test_every_stage_of_a_build_shows_a_bar(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    build_generation(settings, progress=True, embedder=HashingEmbedder())
    err = capsys.readouterr().err
    for stage in STAGES:
        assert f"{stage}:" in err, err


def test_a_quiet_build_writes_no_bar(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    build_generation(settings, progress=False, embedder=HashingEmbedder())
    assert capsys.readouterr().err == ""


def test_stage_items_yields_every_item_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(stage_items(["a", "b", "c"], "chunking", "article", True)) == ["a", "b", "c"]
    assert "chunking:" in capsys.readouterr().err


def test_stage_bar_counts_in_its_unit_to_its_total(capsys: pytest.CaptureFixture[str]) -> None:
    with stage_bar("cleaning", 3_000_000, "char", True) as bar:
        bar.update(3_000_000)
        assert bar.n == bar.total
    assert "0.00/3.00M [" in capsys.readouterr().err
