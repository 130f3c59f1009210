"""The memory-mapped chunk store finds what the lists it was written from hold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.build import build_generation
from index.corpus import LOOKUPS_DIR, MappedCorpus, MemoryCorpus, article_from_json
from index.models import Chunk
from index.service import load_generation
from index.settings import Settings
from index.store import MANIFEST
from tests.fakes import HashingEmbedder


@pytest.fixture(scope="module")
def generation(tmp_path_factory: pytest.TempPathFactory, stories_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    settings = Settings(docs_dir=stories_dir, index_dir=root / "index", cache_dir=root / "cache")
    return build_generation(settings, embedder=HashingEmbedder()).path


def in_memory(path: Path) -> MemoryCorpus:
    lines = (path / "chunks.jsonl").read_text("utf-8").splitlines()
    chunks = [Chunk.from_json(json.loads(line)) for line in lines]
    lines = (path / "articles.jsonl").read_text("utf-8").splitlines()
    articles = [article_from_json(json.loads(line)) for line in lines]
    return MemoryCorpus(chunks, articles)


def test_rows_ids_and_articles_match_the_lists(generation: Path) -> None:
    mapped, memory = MappedCorpus(generation), in_memory(generation)
    assert len(mapped) == len(memory) > 100
    assert [mapped[i] for i in range(len(mapped))] == [memory[i] for i in range(len(memory))]
    assert mapped[-1] == memory[len(memory) - 1]
    for chunk in (memory[0], memory[len(memory) // 2], memory[len(memory) - 1]):
        assert mapped.chunk(chunk.id) == chunk
        assert mapped.article(chunk.file, chunk.article_index) == memory.article(
            chunk.file, chunk.article_index
        )
        assert mapped.article_chunks(chunk.file, chunk.article_index) == memory.article_chunks(
            chunk.file, chunk.article_index
        )
    assert list(mapped.articles()) == list(memory.articles())
    assert mapped.chunk("0000000000000000") is None
    assert mapped.article("no-such-file.txt", 0) is None
    assert mapped.article(memory[0].file, 10_000) is None
    assert mapped.article_chunks("no-such-file.txt", 0) == ()
    with pytest.raises(IndexError):
        mapped[len(mapped)]


def test_a_store_that_disagrees_with_its_offsets_is_refused(
    generation: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    (copy / LOOKUPS_DIR).mkdir(parents=True)
    for path in generation.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(generation)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(generation)).write_bytes(path.read_bytes())
    with (copy / "chunks.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("{}\n")
    with pytest.raises(ValueError, match="offsets"):
        MappedCorpus(copy)


def test_a_generation_from_before_the_lookups_still_serves(
    generation: Path, tmp_path: Path, stories_dir: Path
) -> None:
    old = tmp_path / "old"
    for path in generation.rglob("*"):
        if path.is_file() and LOOKUPS_DIR not in path.relative_to(generation).parts:
            (old / path.relative_to(generation)).parent.mkdir(parents=True, exist_ok=True)
            (old / path.relative_to(generation)).write_bytes(path.read_bytes())
    manifest = json.loads((old / MANIFEST).read_text("utf-8"))
    manifest["artifacts"] = {
        k: v for k, v in manifest["artifacts"].items() if not k.startswith(LOOKUPS_DIR)
    }
    (old / MANIFEST).write_text(json.dumps(manifest), "utf-8")
    settings = Settings(docs_dir=stories_dir, index_dir=tmp_path / "unused")
    before = load_generation(old, settings, embedder=HashingEmbedder())
    now = load_generation(generation, settings, embedder=HashingEmbedder())
    for question in ("聂荣县远程会诊多少场", "康马县委书记叫什么名字"):
        assert before.search(question, 10) == now.search(question, 10)
    rows = np.load(generation / LOOKUPS_DIR / "chunk_articles.npy")
    assert rows.tolist() == sorted(rows.tolist())
