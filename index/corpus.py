"""The chunks and articles of a generation, by row, by chunk id and by article.

A generation keeps them as `chunks.jsonl` and `articles.jsonl`, one JSON object a line, and
`lookups/` beside them: the byte offset of every line and the tables that find a chunk by id
or an article's chunks, all plain numpy arrays. `MappedCorpus` memory-maps these, so loading
takes no time whatever the archive's size and a question reads only the lines it cites;
`MemoryCorpus` holds lists (a backend generation's side data, tests).
"""

from __future__ import annotations

import contextlib
import json
import mmap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, overload

import numpy as np
import numpy.typing as npt

from index.models import Article, Chunk, Paragraph

CHUNKS_FILE = "chunks.jsonl"
ARTICLES_FILE = "articles.jsonl"
LOOKUPS_DIR = "lookups"
CHUNK_OFFSETS = "chunk_offsets.npy"  # byte offset of each line of chunks.jsonl, and the end
ARTICLE_OFFSETS = "article_offsets.npy"  # the same for articles.jsonl
CHUNK_ARTICLES = "chunk_articles.npy"  # article row of each chunk (never decreasing)
CHUNK_IDS = "chunk_ids.npy"  # chunk ids, sorted
CHUNK_ID_ROWS = "chunk_id_rows.npy"  # the chunk row of each sorted id
ARTICLE_FILES = "article_files.json"  # story files in article order
FILE_FIRST_ARTICLE = "file_first_article.npy"  # article row where each of those files starts


class Corpus(Protocol):
    """What search and answers read of a generation's chunks and articles."""

    def __len__(self) -> int: ...

    def __getitem__(self, row: int) -> Chunk: ...

    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def article(self, file: str, index: int) -> Article | None: ...

    def article_chunks(self, file: str, index: int) -> tuple[Chunk, ...]: ...

    def articles(self) -> Iterator[Article]: ...


def article_to_json(article: Article) -> dict[str, object]:
    return {
        "file": article.file,
        "index": article.index,
        "headline": article.headline,
        "byline": article.byline,
        "paragraphs": [[p.number, p.text] for p in article.paragraphs],
    }


def article_from_json(data: dict[str, object]) -> Article:
    paragraphs = data["paragraphs"]
    if not isinstance(paragraphs, list):
        raise TypeError("an article's paragraphs are not a list")
    return Article(
        file=str(data["file"]),
        index=int(str(data["index"])),
        headline=str(data["headline"]),
        byline=str(data.get("byline", "")),
        paragraphs=tuple(Paragraph(number=int(n), text=str(t)) for n, t in paragraphs),
    )


def chunk_article_rows(chunks: Sequence[Chunk], articles: Sequence[Article]) -> np.ndarray:
    """The article row of each chunk."""
    rows = {(a.file, a.index): row for row, a in enumerate(articles)}
    return np.array([rows[(c.file, c.article_index)] for c in chunks], dtype=np.int64)


def write_corpus(
    directory: Path,
    chunks: Sequence[Chunk],
    articles: Sequence[Article],
    offsets: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
) -> None:
    """chunks.jsonl, articles.jsonl and their lookups into `directory`. `offsets`: the line
    offsets of chunks.jsonl and articles.jsonl when they are written already (`LinesWriter`)."""
    lookups = directory / LOOKUPS_DIR
    lookups.mkdir(parents=True, exist_ok=True)
    if offsets is None:
        offsets = (
            _write_lines(directory / CHUNKS_FILE, (c.to_json() for c in chunks)),
            _write_lines(directory / ARTICLES_FILE, (article_to_json(a) for a in articles)),
        )
    np.save(lookups / CHUNK_OFFSETS, offsets[0])
    np.save(lookups / ARTICLE_OFFSETS, offsets[1])
    rows = chunk_article_rows(chunks, articles)
    if len(rows) and np.any(np.diff(rows) < 0):
        raise ValueError("chunks are not in article order")
    np.save(lookups / CHUNK_ARTICLES, rows.astype(np.int32))
    ids = np.array([c.id.encode("utf-8") for c in chunks], dtype=bytes)
    by_id = np.argsort(ids, kind="stable")
    np.save(lookups / CHUNK_IDS, ids[by_id])
    np.save(lookups / CHUNK_ID_ROWS, by_id.astype(np.int32))
    files: list[str] = []
    starts: list[int] = []
    for row, article in enumerate(articles):
        if not files or files[-1] != article.file:
            files.append(article.file)
            starts.append(row)
    (lookups / ARTICLE_FILES).write_text(json.dumps(files, ensure_ascii=False), "utf-8")
    np.save(lookups / FILE_FIRST_ARTICLE, np.array(starts, dtype=np.int64))


def corpus_line(row: dict[str, object]) -> bytes:
    """One line of chunks.jsonl or articles.jsonl, its newline left off."""
    return json.dumps(row, ensure_ascii=False).encode("utf-8")


class LinesWriter:
    """chunks.jsonl or articles.jsonl written some lines at a time (a page's, as a build cuts
    or finds them), keeping each line's byte offset."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("wb")
        self._lengths: list[int] = []

    def write(self, lines: Sequence[bytes]) -> None:
        if lines:
            self._handle.write(b"\n".join(lines) + b"\n")
            self._lengths += [len(line) + 1 for line in lines]

    def abandon(self) -> None:
        """Close the file after a failure (the staging directory goes with it)."""
        with contextlib.suppress(OSError):
            self._handle.close()

    def close(self) -> npt.NDArray[np.int64]:
        """The byte offset of every line, and the end."""
        self._handle.close()
        offsets = np.zeros(len(self._lengths) + 1, dtype=np.int64)
        np.cumsum(self._lengths, out=offsets[1:])
        return offsets


def _write_lines(path: Path, rows: Iterator[dict[str, object]]) -> npt.NDArray[np.int64]:
    writer = LinesWriter(path)
    try:
        for row in rows:
            writer.write([corpus_line(row)])
        return writer.close()
    finally:
        writer.abandon()


class _Lines:
    """The lines of a JSONL file, memory-mapped, by number."""

    def __init__(self, path: Path, offsets: npt.NDArray[np.int64]) -> None:
        size = path.stat().st_size
        if len(offsets) == 0 or offsets[0] != 0 or int(offsets[-1]) != size:
            raise ValueError(f"{path.name} does not match its line offsets")
        self._offsets = offsets
        self._map: mmap.mmap | bytes
        if size:
            with path.open("rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        else:
            self._map = b""

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def json(self, row: int) -> dict[str, object]:
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        data = json.loads(self._map[start:end])
        if not isinstance(data, dict):
            raise ValueError(f"line {row + 1} is not a JSON object")
        return data


class ChunkRows:
    """`corpus[row]` and `corpus[a:b]` (rows from the end when negative) over `chunk_at`."""

    def __len__(self) -> int:
        raise NotImplementedError

    def chunk_at(self, row: int) -> Chunk:
        """The chunk of a row in range."""
        raise NotImplementedError

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self.chunk_at(r) for r in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self.chunk_at(row)


class MappedCorpus(ChunkRows):
    """A generation's chunks and articles, read from its files as they are asked for."""

    def __init__(self, directory: Path) -> None:
        lookups = directory / LOOKUPS_DIR

        def load(name: str) -> np.ndarray:
            array: np.ndarray = np.load(lookups / name, mmap_mode="r")
            return array

        self._chunks = _Lines(directory / CHUNKS_FILE, np.load(lookups / CHUNK_OFFSETS))
        self._articles = _Lines(directory / ARTICLES_FILE, np.load(lookups / ARTICLE_OFFSETS))
        self.chunk_articles: npt.NDArray[np.int32] = load(CHUNK_ARTICLES)
        self._ids: np.ndarray = load(CHUNK_IDS)
        self._id_rows: npt.NDArray[np.int32] = load(CHUNK_ID_ROWS)
        files = json.loads((lookups / ARTICLE_FILES).read_text("utf-8"))
        self._file_numbers = {str(f): n for n, f in enumerate(files)}
        self._file_starts: npt.NDArray[np.int64] = np.load(lookups / FILE_FIRST_ARTICLE)
        n = len(self._chunks)
        if not (len(self.chunk_articles) == len(self._ids) == len(self._id_rows) == n):
            raise ValueError("the chunk lookups disagree with chunks.jsonl")
        if len(self._file_starts) != len(self._file_numbers):
            raise ValueError("the article lookups disagree with each other")
        # Parsing the first and last lines catches a store that is not JSON at all at load.
        for row in {0, n - 1} if n else set():
            Chunk.from_json(self._chunks.json(row))

    def __len__(self) -> int:
        return len(self._chunks)

    def article_count(self) -> int:
        return len(self._articles)

    def chunk_at(self, row: int) -> Chunk:
        return Chunk.from_json(self._chunks.json(row))

    def chunk(self, chunk_id: str) -> Chunk | None:
        key = chunk_id.encode("utf-8")
        at = int(np.searchsorted(self._ids, key))
        if at < len(self._ids) and self._ids[at] == key:
            return self[int(self._id_rows[at])]
        return None

    def article_row(self, file: str, index: int) -> int | None:
        number = self._file_numbers.get(file)
        if number is None or index < 0:
            return None
        start = int(self._file_starts[number])
        end = (
            int(self._file_starts[number + 1])
            if number + 1 < len(self._file_starts)
            else len(self._articles)
        )
        return start + index if start + index < end else None

    def article(self, file: str, index: int) -> Article | None:
        row = self.article_row(file, index)
        return None if row is None else article_from_json(self._articles.json(row))

    def article_chunks(self, file: str, index: int) -> tuple[Chunk, ...]:
        row = self.article_row(file, index)
        if row is None:
            return ()
        first = int(np.searchsorted(self.chunk_articles, row, side="left"))
        end = int(np.searchsorted(self.chunk_articles, row, side="right"))
        return tuple(sorted((self[r] for r in range(first, end)), key=lambda c: c.position))

    def articles(self) -> Iterator[Article]:
        for row in range(len(self._articles)):
            yield article_from_json(self._articles.json(row))


class MemoryCorpus:
    """Chunks and articles held in lists (a backend's side data, tests)."""

    def __init__(self, chunks: Sequence[Chunk], articles: Sequence[Article]) -> None:
        self._chunks = list(chunks)
        self._articles = {(a.file, a.index): a for a in articles}
        self._by_id = {c.id: c for c in self._chunks}
        self._by_article: dict[tuple[str, int], tuple[Chunk, ...]] | None = None

    def __len__(self) -> int:
        return len(self._chunks)

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        return self._chunks[row]

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._by_id.get(chunk_id)

    def article(self, file: str, index: int) -> Article | None:
        return self._articles.get((file, index))

    def article_chunks(self, file: str, index: int) -> tuple[Chunk, ...]:
        if self._by_article is None:
            # Built on first use; a race only builds it twice (both results are equal).
            grouped: dict[tuple[str, int], list[Chunk]] = {}
            for chunk in self._chunks:
                grouped.setdefault((chunk.file, chunk.article_index), []).append(chunk)
            self._by_article = {
                key: tuple(sorted(group, key=lambda c: c.position))
                for key, group in grouped.items()
            }
        return self._by_article.get((file, index), ())

    def articles(self) -> Iterator[Article]:
        return iter(self._articles.values())
