"""Display names for story files: parsed from `names.tsv`, recorded in the generation by a
build, and carried with paragraph numbers counted within the article into every citation."""

from __future__ import annotations

import json
from pathlib import Path

from index.build import build_generation
from index.names import NAMES_FILE, parse_names, read_names
from index.service import load_engine
from index.settings import Settings
from index.store import CURRENT
from tests.fakes import HashingEmbedder

STORY = """# 远程医疗进乡村

本报记者 张三

聂荣县果娘村卫生室内,村民坐在电脑前看病。

聂荣县依托远程会诊平台,截至目前已累计完成90余场次远程服务。
"""


def test_names_file_lines_and_what_is_skipped() -> None:
    text = "# file\tname\n\na.txt\t西藏日报  2024-05-01 第3版\nno tab here\nb.txt\t \n c.txt \tC\n"
    assert parse_names(text) == {"a.txt": "西藏日报 2024-05-01 第3版", "c.txt": "C"}
    assert parse_names("a.txt\t" + "名" * 100)["a.txt"] == "名" * 60


def test_build_records_names_and_citations_use_them(tmp_path: Path) -> None:
    docs = tmp_path / "stories"
    docs.mkdir()
    # Blank lines and a headline above: the file paragraph is not the article paragraph.
    (docs / "001_046523daf5b7182a.txt").write_text("\n\n\n" + STORY, "utf-8")
    (docs / NAMES_FILE).write_text("001_046523daf5b7182a.txt\t西藏日报 第3版\n", "utf-8")
    settings = Settings(
        docs_dir=docs,
        index_dir=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        embedder="fake",
        answerer="rules",
    )
    build_generation(settings, embedder=HashingEmbedder())
    generation = (settings.index_dir / CURRENT).resolve()
    assert read_names(generation) == {"001_046523daf5b7182a.txt": "西藏日报 第3版"}
    manifest = json.loads((generation / "manifest.json").read_text("utf-8"))
    assert set(manifest["files"]) == {"001_046523daf5b7182a.txt"}  # not read as a story
    (docs / NAMES_FILE).unlink()  # serving reads the generation's copy, not the docs folder

    engine = load_engine(settings, embedder=HashingEmbedder())
    result = engine.answer("聂荣县远程会诊多少场")
    assert result.answer is not None
    source = result.answer.source
    assert source.story == "西藏日报 第3版"
    assert source.article_paragraph == 2 and source.paragraph > 2
    assert result.answer.to_json()["source"]["article_paragraph"] == 2
    cited = next(p for p in result.passages if p.paragraph == source.paragraph)
    assert (cited.article_paragraph, cited.story) == (2, "西藏日报 第3版")
    context = engine.context(cited.chunk_id)
    assert context is not None and context.story == "西藏日报 第3版"
    assert [context.article_number(p) for p in context.paragraphs] == [1, 2]
