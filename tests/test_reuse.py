"""The last build's arrays: checked before they are reused, and what killed builds left of
them collected by the next build."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.build import build_generation
from index.reuse import (
    CHUNK_TEXTS,
    LAST_BUILD,
    STALE_AFTER_S,
    LastBuild,
    LastBuildWriter,
    _digest,
    collect_stale,
    key_array,
)
from index.settings import Settings
from tests.fakes import HashingEmbedder

REPO = Path(__file__).resolve().parents[1]
EMBEDDER, DIMENSION = "fake/hashing-64", 4


def staging_folders(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith(f".{LAST_BUILD}-"))


def stories(docs: Path) -> Path:
    docs.mkdir()
    for n in range(6):
        lines = [
            f"第{n}乡第{p}村今年新建卫生室{n * 7 + p}座,培训村医{n * 11 + p}名。" for p in range(4)
        ]
        (docs / f"{n}.txt").write_text(f"# 乡村医疗{n}\n\n" + "\n\n".join(lines) + "\n", "utf-8")
    return docs


# A full build killed once its arrays are being kept: after embedding, before the commit.
KILLED_AFTER_EMBEDDING = """
import os, signal, sys
from pathlib import Path
from index.build import build_generation
from index.reuse import LastBuildWriter
from index.settings import Settings
from tests.fakes import HashingEmbedder

save = LastBuildWriter.save

def save_then_die(self, name, array):
    save(self, name, array)
    if name == "vectors":
        os.kill(os.getpid(), signal.SIGKILL)

LastBuildWriter.save = save_then_die
docs, index, cache = map(Path, sys.argv[1:4])
settings = Settings(docs_dir=docs, index_dir=index, cache_dir=cache, delta_max_share=0)
build_generation(settings, embedder=HashingEmbedder())
"""


def test_a_build_killed_after_embedding_leaves_nothing_past_the_next_build(
    tmp_path: Path,
) -> None:
    docs, cache = stories(tmp_path / "stories"), tmp_path / "cache"
    # One new story in seven is a delta build's share.
    settings = Settings(
        docs_dir=docs, index_dir=tmp_path / "index", cache_dir=cache, delta_max_share=0.5
    )
    build_generation(settings, embedder=HashingEmbedder())
    args = [str(docs), str(tmp_path / "index"), str(cache)]
    child = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_EMBEDDING, *args],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert child.returncode == -9, child.stderr.decode()
    (left,) = staging_folders(cache)
    assert (cache / left / "vectors.npy").is_file()

    # The next build, a daily one (a delta: it keeps no arrays itself), collects it.
    (docs / "new.txt").write_text("# 新闻\n\n某县今年新建卫生室8座。\n", "utf-8")
    daily = build_generation(settings, embedder=HashingEmbedder())
    assert daily.delta_chunks > 0
    assert staging_folders(cache) == []
    assert (cache / LAST_BUILD / "vectors.npy").is_file()


def test_only_folders_no_live_build_writes_are_collected(tmp_path: Path) -> None:
    # A build on another index root sharing this cache folder, still writing.
    live = LastBuildWriter(tmp_path)
    assert live.directory is not None
    live.save("vectors", np.zeros((2, DIMENSION), dtype=np.float32))
    ownerless_old = tmp_path / f".{LAST_BUILD}-0123456789ab"
    ownerless_new = tmp_path / f".{LAST_BUILD}-ba9876543210"
    set_aside = tmp_path / f".{LAST_BUILD}-old-0123456789ab"
    for folder in (ownerless_old, ownerless_new, set_aside):
        folder.mkdir()
        np.save(folder / "vectors.npy", np.zeros(3))
    long_ago = time.time() - STALE_AFTER_S - 60
    os.utime(ownerless_old, (long_ago, long_ago))
    unrelated = tmp_path / "embeddings.sqlite"
    unrelated.write_bytes(b"")

    assert sorted(collect_stale(tmp_path)) == [ownerless_old, set_aside]
    assert staging_folders(tmp_path) == sorted([live.directory.name, ownerless_new.name])
    assert unrelated.exists()
    live.commit()
    assert staging_folders(tmp_path) == [ownerless_new.name]
    assert (tmp_path / LAST_BUILD / "vectors.npy").is_file()
    assert not (tmp_path / LAST_BUILD / ".owner").exists()


def kept(cache: Path, vectors: np.ndarray) -> Path:
    """A last build of three chunks with these vectors and IVF lists."""
    writer = LastBuildWriter(cache)
    writer.meta.update(embedder=EMBEDDER, dimension=DIMENSION, chunks=3, centroids="c")
    writer.save(f"{CHUNK_TEXTS}.keys", key_array([f"{n:064x}" for n in range(3)]))
    writer.save("vectors", vectors)
    writer.save("ivf_lists", np.array([0, 1, 0], dtype=np.int64))
    writer.commit()
    return cache / LAST_BUILD


def opened(cache: Path) -> LastBuild:
    last = LastBuild.open(cache)
    assert last is not None
    return last


def test_last_build_vectors_are_reused_only_when_whole_and_finite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = np.arange(3 * DIMENSION, dtype=np.float32).reshape(3, DIMENSION)
    folder = kept(tmp_path, vectors)
    reused = opened(tmp_path).vectors(EMBEDDER, DIMENSION)
    assert reused is not None and np.array_equal(reused, vectors)

    # One value changed in place, the file still a valid array: only the checksum tells.
    changed = np.load(folder / "vectors.npy")
    changed[1, 2] = np.nan
    np.save(folder / "vectors.npy", changed)
    with caplog.at_level(logging.WARNING, logger="index.reuse"):
        assert opened(tmp_path).vectors(EMBEDDER, DIMENSION) is None
    assert "vectors" in caplog.text and "checksum" in caplog.text
    assert opened(tmp_path).ivf_lists("c") is not None  # the other arrays still serve

    # The checksum made to match (the NaN came from the embedder, say): still not reused.
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    meta["vectors.sha256"] = _digest(changed)
    (folder / "meta.json").write_text(json.dumps(meta), "utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="index.reuse"):
        assert opened(tmp_path).vectors(EMBEDDER, DIMENSION) is None
    assert "not finite" in caplog.text


def test_damaged_keys_and_lists_are_not_reused(tmp_path: Path) -> None:
    folder = kept(tmp_path, np.ones((3, DIMENSION), dtype=np.float32))
    keys = key_array([f"{n:064x}" for n in range(3)])
    assert opened(tmp_path).rows(CHUNK_TEXTS, keys).tolist() == [0, 1, 2]
    np.save(folder / "ivf_lists.npy", np.array([0, 1, 1], dtype=np.int64))
    assert opened(tmp_path).ivf_lists("c") is None
    np.save(folder / f"{CHUNK_TEXTS}.keys.npy", keys[::-1])  # rows swapped, same keys
    assert opened(tmp_path).rows(CHUNK_TEXTS, keys).tolist() == [-1, -1, -1]
    assert opened(tmp_path).vectors(EMBEDDER, DIMENSION) is None  # counted by the keys


def test_a_last_build_without_checksums_is_not_read(tmp_path: Path) -> None:
    folder = kept(tmp_path, np.ones((3, DIMENSION), dtype=np.float32))
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    unchecked = {k: v for k, v in meta.items() if not k.endswith(".sha256")}
    (folder / "meta.json").write_text(json.dumps({**unchecked, "format": 1}), "utf-8")
    assert LastBuild.open(tmp_path) is None
