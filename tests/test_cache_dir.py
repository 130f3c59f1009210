"""A cache folder the build cannot write is refused before any work, in one line."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import index.embedding
from index.cli import main
from index.failures import EXIT_IO, EXIT_NO_PERMISSION, EXIT_READ_ONLY
from index.sqlite_cache import CacheDirError, check_cache_dir
from tests.fakes import HashingEmbedder

FAKE = "fake/hashing-64"
STORY = "# 远程医疗进乡村\n\n聂荣县依托远程会诊平台,截至目前已累计完成90余场次远程服务。\n"


@pytest.fixture
def embedders(monkeypatch: pytest.MonkeyPatch) -> list[HashingEmbedder]:
    """Every embedder the command loads (the hashing fake)."""
    loaded: list[HashingEmbedder] = []

    def fake(name: str, *args: object, **kwargs: object) -> HashingEmbedder:
        loaded.append(HashingEmbedder())
        return loaded[-1]

    monkeypatch.setattr(index.embedding, "load_embedder", fake)
    return loaded


@pytest.mark.parametrize("where", ["file", "file/cache"])
def test_a_cache_path_that_is_a_file_is_refused_before_any_work(
    tmp_path: Path, embedders: list[HashingEmbedder], where: str
) -> None:
    docs = tmp_path / "stories"
    docs.mkdir()
    (docs / "a.txt").write_text(STORY, "utf-8")
    (tmp_path / "file").write_text("not a folder", "utf-8")
    cache = tmp_path / where
    env = {
        "NEWSQA_DOCS_DIR": str(docs),
        "NEWSQA_INDEX_DIR": str(tmp_path / "index"),
        "NEWSQA_CACHE_DIR": str(cache),
        "NEWSQA_EMBEDDER": FAKE,
    }
    result = CliRunner().invoke(main, ["index", "build", "--quiet"], env=env)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == EXIT_IO, result.output
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(cache) in errors[0] and "file" in errors[0], errors[0]
    assert sum(e.calls for e in embedders) == 0  # nothing was embedded
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").iterdir())


@pytest.mark.parametrize(
    ("code", "status"),
    [(errno.EACCES, EXIT_NO_PERMISSION), (errno.EROFS, EXIT_READ_ONLY), (errno.ENOSPC, EXIT_IO)],
)
def test_an_unwritable_cache_folder_is_refused_with_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, status: int
) -> None:
    # As root nothing is unwritable by mode, so the refusal the kernel would give is made here.
    def refused(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(code, "refused", str(tmp_path / "cache"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(CacheDirError) as raised:
        check_cache_dir(tmp_path / "cache")
    assert raised.value.exit_status == status
    assert str(tmp_path / "cache") in str(raised.value)


def test_a_writable_cache_folder_passes_and_is_left_as_it_was(tmp_path: Path) -> None:
    check_cache_dir(tmp_path / "new" / "cache")
    assert list((tmp_path / "new" / "cache").iterdir()) == []
