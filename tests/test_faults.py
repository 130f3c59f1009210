"""Faults an operator meets: each ends in one `Error:` line (or a warning for a skipped file),
a distinct exit status, and the previous generation still answering."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import index.embedding
from index.cli import main
from index.failures import (
    EXIT_DATA,
    EXIT_IO,
    EXIT_NO_MEMORY,
    EXIT_READ_ONLY,
)
from index.reuse import LAST_BUILD
from index.store import CURRENT, current_generation
from tests.fakes import STORY_A, STORY_B, HashingEmbedder

REPO = Path(__file__).resolve().parents[1]
CANONICAL = "聂荣县远程会诊多少场"
FAKE = "fake/hashing-64"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """NEWSQA_* for a two-story corpus; every command embeds with the hashing fake."""
    real = index.embedding.load_embedder

    def fake_or_real(name: str, *args: object, **kwargs: object) -> object:
        return HashingEmbedder() if name == FAKE else real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index.embedding, "load_embedder", fake_or_real)
    docs = tmp_path / "stories"
    docs.mkdir()
    (docs / "a.txt").write_text(STORY_A, "utf-8")
    (docs / "b.txt").write_text(STORY_B, "utf-8")
    return {
        "NEWSQA_DOCS_DIR": str(docs),
        "NEWSQA_INDEX_DIR": str(tmp_path / "index"),
        "NEWSQA_CACHE_DIR": str(tmp_path / "cache"),
        "NEWSQA_EMBEDDER": FAKE,
        "NEWSQA_ANSWERER": "rules",
    }


def newsqa(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def old(env: dict[str, str]) -> str:
    """A first generation, which every failure below must leave serving."""
    built = newsqa(env, "index", "build", "--quiet")
    assert built.exit_code == 0, built.output
    generation = current_generation(Path(env["NEWSQA_INDEX_DIR"]))
    assert generation is not None
    return generation


def assert_one_error(result: Result, status: int, *words: str) -> str:
    """Exactly one `Error:` line on stderr, no traceback, the expected status; the line."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == status, (result.exit_code, result.stderr)
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def assert_still_serving(env: dict[str, str], generation: str) -> None:
    assert current_generation(Path(env["NEWSQA_INDEX_DIR"])) == generation
    asked = newsqa(env, "ask", CANONICAL, "--json")
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)["answer"]
    assert answer is not None and "90余场次" in answer["text"]


@contextlib.contextmanager
def mounted(*command: str) -> Iterator[None]:
    """Run `mount …` for the block, or skip the test where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    target = command[-1]
    done = subprocess.run(["mount", *command], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", target], check=False)


# --- 1. one line, always -------------------------------------------------------------------


def test_disk_full_is_one_line_and_the_old_generation_serves(
    env: dict[str, str], tmp_path: Path
) -> None:
    index_dir = tmp_path / "small"
    index_dir.mkdir()
    env["NEWSQA_INDEX_DIR"] = str(index_dir)
    with mounted("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(index_dir)):
        built = newsqa(env, "index", "build", "--quiet")
        assert built.exit_code == 0, built.output
        generation = current_generation(index_dir)
        assert generation is not None
        # Fill the filesystem so that the next generation cannot be written.
        with contextlib.suppress(OSError), (index_dir / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        failed = newsqa(env, "index", "build", "--quiet")
        assert_one_error(failed, EXIT_IO, "disk full")
        assert_still_serving(env, generation)
        assert not list((index_dir / "generations").glob(".staging-*"))


def test_read_only_index_folder_is_one_line_naming_it(env: dict[str, str], old: str) -> None:
    index_dir = env["NEWSQA_INDEX_DIR"]
    with mounted("--bind", index_dir, index_dir):
        done = subprocess.run(
            ["mount", "-o", "remount,ro,bind", index_dir], capture_output=True, check=False
        )
        if done.returncode != 0:
            pytest.skip("cannot remount read-only here")
        failed = newsqa(env, "index", "build", "--quiet")
        assert_one_error(failed, EXIT_READ_ONLY, "read-only", index_dir)
        assert_still_serving(env, old)


def test_memory_error_is_one_line(
    env: dict[str, str], old: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(*_: object) -> object:
        raise MemoryError

    monkeypatch.setattr("index.build.write_corpus", exhausted)
    assert_one_error(newsqa(env, "index", "build", "--quiet"), EXIT_NO_MEMORY, "out of memory")
    assert_still_serving(env, old)


def test_verbose_adds_the_traceback(
    env: dict[str, str], old: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(*_: object) -> object:
        raise MemoryError

    monkeypatch.setattr("index.build.write_corpus", exhausted)
    failed = newsqa(env, "-v", "index", "build", "--quiet")
    assert "Traceback" in failed.stderr
    assert failed.stderr.rstrip().splitlines()[-1].startswith("Error: out of memory")


def test_invalid_utf8_in_the_ask_argument_is_one_line(env: dict[str, str], old: str) -> None:
    # Python keeps argv bytes that are not UTF-8 as lone surrogates.
    failed = newsqa(env, "ask", "聂荣县\udcff会诊")
    assert_one_error(failed, EXIT_DATA, "not valid UTF-8", "0xff")
    assert_still_serving(env, old)


def test_docs_pointing_at_a_file_says_so(env: dict[str, str], old: str) -> None:
    story = Path(env["NEWSQA_DOCS_DIR"]) / "a.txt"
    failed = newsqa(env, "index", "build", "--quiet", "--docs", str(story))
    assert_one_error(failed, 1, "is a file, not a directory", str(story))
    assert "does not exist" not in failed.stderr
    assert_still_serving(env, old)


def test_a_second_build_while_one_runs_is_a_temporary_failure(
    env: dict[str, str], old: str
) -> None:
    from index.store import build_lock

    with build_lock(Path(env["NEWSQA_INDEX_DIR"])):
        failed = newsqa(env, "index", "build", "--quiet")
    assert_one_error(failed, 75, "another build is running")
    assert_still_serving(env, old)


# --- 2. the embedding cache never blocks a build -------------------------------------------


def test_a_corrupt_cache_is_moved_aside_and_rebuilt(
    env: dict[str, str], old: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = Path(env["NEWSQA_CACHE_DIR"]) / "embeddings.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    built = newsqa(env, "index", "build", "--quiet")
    assert built.exit_code == 0, built.output
    assert "corrupt" in caplog.text
    assert len(list(cache.parent.glob("embeddings.sqlite.corrupt-*"))) == 1
    # The fresh cache was filled: the next build embeds nothing.
    again = newsqa(env, "index", "build", "--quiet")
    assert "(embedded 0," in again.stdout


def test_a_locked_cache_is_waited_for_then_skipped(
    env: dict[str, str], old: str, caplog: pytest.LogCaptureFixture
) -> None:
    env["NEWSQA_CACHE_LOCK_TIMEOUT_S"] = "0.2"
    # The last build's arrays would lend their vectors: without them, only the cache could.
    shutil.rmtree(Path(env["NEWSQA_CACHE_DIR"]) / LAST_BUILD, ignore_errors=True)
    holder = sqlite3.connect(Path(env["NEWSQA_CACHE_DIR"]) / "embeddings.sqlite")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        built = newsqa(env, "index", "build", "--quiet")
    finally:
        holder.rollback()
        holder.close()
    assert built.exit_code == 0, built.output
    assert "locked" in caplog.text
    assert "reused 0 from cache" in built.stdout
    assert current_generation(Path(env["NEWSQA_INDEX_DIR"])) != old


KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
from index.build import build_generation
from index.settings import Settings
from tests.fakes import HashingEmbedder

class DiesMidway(HashingEmbedder):
    batches = 0

    def embed_passages(self, texts):
        self.batches += 1
        if self.batches == 3:  # killed while computing the third batch
            os.kill(os.getpid(), signal.SIGKILL)
        return super().embed_passages(texts)

docs, index, cache = map(Path, sys.argv[1:4])
settings = Settings(docs_dir=docs, index_dir=index, cache_dir=cache, embed_batch_size=4)
build_generation(settings, embedder=DiesMidway())
"""


def test_a_killed_build_keeps_the_batches_it_finished(tmp_path: Path) -> None:
    from index.build import build_generation
    from index.settings import Settings

    docs = tmp_path / "stories"
    docs.mkdir()
    for n in range(6):
        paragraphs = [
            f"第{n}乡第{p}村今年新建卫生室{n * 7 + p}座,培训村医{n * 11 + p}名。" for p in range(4)
        ]
        (docs / f"{n}.txt").write_text(f"# 乡村医疗{n}\n\n" + "\n\n".join(paragraphs) + "\n")
    args = [str(docs), str(tmp_path / "index"), str(tmp_path / "cache")]
    child = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, *args], cwd=REPO, capture_output=True, check=False
    )
    assert child.returncode == -9, child.stderr.decode()
    settings = Settings(
        docs_dir=docs,
        index_dir=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        embed_batch_size=4,
    )
    summary = build_generation(settings, embedder=HashingEmbedder())
    assert summary.chunks > 12
    # Two batches of four were committed before the kill; only the rest is embedded again.
    assert summary.reused == 8
    assert summary.embedded == summary.chunks - 8


# --- 3. non-UTF-8 file names ---------------------------------------------------------------


def test_non_utf8_file_names_are_indexed_under_an_escaped_name(
    env: dict[str, str], old: str
) -> None:
    docs = os.fsencode(env["NEWSQA_DOCS_DIR"])
    gb_name = "新闻报道.txt".encode("gb18030")
    with open(os.path.join(docs, gb_name), "wb") as story:
        story.write(STORY_A.replace("聂荣县", "巴青县").encode("utf-8"))
    with open(os.path.join(docs, b"caf\xe9.txt"), "wb") as story:
        story.write(STORY_B.encode("utf-8"))
    built = newsqa(env, "index", "build", "--quiet")
    assert built.exit_code == 0, built.output
    assert "4 indexed, 0 skipped" in built.stdout
    manifest = json.loads(
        (Path(env["NEWSQA_INDEX_DIR"]) / CURRENT / "manifest.json").read_text("utf-8")
    )
    assert "caf\\xe9.txt" in manifest["files"]
    # Bytes that happen to form UTF-8 (c5 b1 is "ű") stay; the rest are written \\xNN.
    assert "\\xd0\\xc2\\xceű\\xa8\\xb5\\xc0.txt" in manifest["files"]
    asked = newsqa(env, "ask", "巴青县远程会诊多少场", "--json")
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["answer"]["source"]["file"].endswith("\\xc0.txt")


# --- 4. the story folder is untrusted ------------------------------------------------------


def test_special_files_outside_symlinks_and_huge_stories_are_skipped(
    env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = Path(env["NEWSQA_DOCS_DIR"])
    os.mkfifo(docs / "pipe.txt")  # opening it for reading would wait for a writer forever
    secret = tmp_path / "outside.txt"
    secret.write_text("机密文件:不应被索引的内容。\n", "utf-8")
    (docs / "leak.txt").symlink_to(secret)
    (docs / "inside.txt").symlink_to(docs / "b.txt")
    (docs / "huge.txt").write_text(STORY_A * 40, "utf-8")
    env["NEWSQA_MAX_STORY_BYTES"] = "4000"

    outcome: list[Result] = []
    worker = threading.Thread(target=lambda: outcome.append(newsqa(env, "index", "build")))
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the build hung on the FIFO"
    (built,) = outcome
    assert built.exit_code == 0, built.output
    assert "3 indexed, 3 skipped" in built.stdout
    assert "skipped pipe.txt: not a regular file (a FIFO)" in built.stdout
    assert "skipped leak.txt: symlink to outside the story folder" in built.stdout
    assert "skipped huge.txt: too large" in built.stdout
    for name in ("pipe.txt", "leak.txt", "huge.txt"):
        assert f"skipping {name}" in caplog.text
    assert "机密" not in (Path(env["NEWSQA_INDEX_DIR"]) / CURRENT / "chunks.jsonl").read_text()

    os.unlink(docs / "pipe.txt")
    env["NEWSQA_FOLLOW_OUTSIDE_SYMLINKS"] = "true"
    allowed = newsqa(env, "index", "build", "--quiet")
    assert "4 indexed, 1 skipped" in allowed.stdout


# --- 7. ask --batch stays aligned ----------------------------------------------------------


def test_batch_answers_line_for_line_whatever_the_bytes(
    env: dict[str, str], old: str, tmp_path: Path
) -> None:
    batch = tmp_path / "questions.txt"
    batch.write_bytes(
        CANONICAL.encode() + b"\n" + b"\xff\xfe\xe4\xb8 bad\n" + "甲\r乙\r\n".encode() + b"\n"
    )
    answered = newsqa(env, "ask", "--batch", str(batch), "--json")
    assert answered.exit_code == 0, answered.output
    lines = [json.loads(line) for line in answered.stdout.splitlines()]
    assert len(lines) == 4
    assert "90余场次" in lines[0]["answer"]["text"]
    assert lines[1]["abstained"] is True and lines[1]["answer"] is None
    assert "line 2 is not valid UTF-8" in lines[1]["error"]
    assert lines[1]["question"] == "\\xff\\xfe\\xe4\\xb8 bad"
    assert lines[2]["question"] == "甲\r乙" and "error" not in lines[2]
    assert lines[3]["question"] == "" and lines[3]["abstained"] is True


# --- 8. odd loader data --------------------------------------------------------------------


def _generation(env: dict[str, str]) -> Path:
    return (Path(env["NEWSQA_INDEX_DIR"]) / CURRENT).resolve()


def _rewrite_manifest(directory: Path, **changes: object) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), "utf-8")


def test_a_manifest_without_checksums_is_refused(
    env: dict[str, str], old: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert newsqa(env, "index", "build", "--quiet").exit_code == 0
    newest = _generation(env)
    _rewrite_manifest(newest, artifacts={})
    assert_still_serving_older(env, old, caplog, "lists no checksums")


def test_a_malformed_chunk_line_is_refused(
    env: dict[str, str], old: str, caplog: pytest.LogCaptureFixture
) -> None:
    from index.store import file_sha256

    assert newsqa(env, "index", "build", "--quiet").exit_code == 0
    newest = _generation(env)
    chunks = newest / "chunks.jsonl"
    lines = chunks.read_text("utf-8").splitlines()
    lines[0] = json.dumps({"id": "x", "file": None, "article_index": [1]})
    chunks.write_text("\n".join(lines) + "\n", "utf-8")
    artifacts = json.loads((newest / "manifest.json").read_text("utf-8"))["artifacts"]
    artifacts["chunks.jsonl"] = file_sha256(chunks)  # consistent checksum, bad content
    _rewrite_manifest(newest, artifacts=artifacts)
    assert_still_serving_older(env, old, caplog, "cannot read index files")


def assert_still_serving_older(
    env: dict[str, str], old: str, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    asked = newsqa(env, "ask", CANONICAL, "--json")
    assert asked.exit_code == 0, asked.output
    assert "90余场次" in json.loads(asked.stdout)["answer"]["text"]
    assert reason in caplog.text
    assert f"serving older generation {old}" in caplog.text


def test_generations_are_readable_by_the_group(env: dict[str, str]) -> None:
    previous = os.umask(0o027)
    try:
        assert newsqa(env, "index", "build", "--quiet").exit_code == 0
    finally:
        os.umask(previous)
    generation = _generation(env)
    assert generation.stat().st_mode & 0o777 == 0o750
    assert (generation / "chunks.jsonl").stat().st_mode & 0o040


def test_index_list_marks_a_refused_current_and_what_serves_instead(
    env: dict[str, str], old: str
) -> None:
    assert newsqa(env, "index", "build", "--quiet").exit_code == 0
    newest = _generation(env)
    (newest / "chunks.jsonl").write_text("truncated", "utf-8")
    listed = newsqa(env, "index", "list")
    assert listed.exit_code == 0, listed.output
    first, second = listed.stdout.splitlines()
    assert first.startswith(f"! {newest.name}") and "refused:" in first and "checksum" in first
    assert second.startswith(f"* {old}")
