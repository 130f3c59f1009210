"""Text analyses a build needs (BM25 tokens, the lexicon's words), in parallel and cached.

Each analysis is a pure function of one text, so texts are cut into shards and analysed by
the build's worker pool. Results are kept in a SQLite cache beside the embedding cache,
keyed by analysis id + text hash, as arrays of ids into the cache's own term table; a
daily build analyses only the texts it has not seen, and a killed one keeps every shard it
finished. Like the embedding cache it only saves time: an unusable cache never stops a build.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.crosslingual import words_and_pairs
from index.embedding import text_key
from index.parallel import ShardPool, shards
from index.progress import stage_bar
from index.reuse import LastBuild, key_array, ragged_positions
from index.sqlite_cache import connect_checked, open_cache
from index.tokenize import jieba_module, text_tokens

log = logging.getLogger(__name__)

# Analysis ids: a new id whenever what an analysis returns changes (never reuse one).
# BM25: each distinct token of a text with its count (stored as ids, then counts).
BM25_TERMS = "bm25-terms/2"
LEXICON_WORDS = "lexicon-words/1"
LEXICON_PAIRS = "lexicon-pairs/1"
ANALYSES = (BM25_TERMS, LEXICON_WORDS, LEXICON_PAIRS)
COUNTED = frozenset({BM25_TERMS})
# Texts per shard: large enough to amortise a round trip, small enough to resume cheaply.
SHARD_TEXTS = 1000

Ids = npt.NDArray[np.int32]


def init_analysis_worker() -> None:
    """Worker initializer: load jieba's dictionary once per process, quietly."""
    jieba_module()


def analyse_text(kinds: Sequence[str], text: str) -> list[list[str] | dict[str, int]]:
    """The terms of each analysis in `kinds` for one text (BM25: each distinct token with its
    count, in order of first use)."""
    out: list[list[str] | dict[str, int]] = []
    words: tuple[list[str], list[str]] | None = None
    for kind in kinds:
        if kind == BM25_TERMS:
            out.append(token_counts(text))
        elif kind in (LEXICON_WORDS, LEXICON_PAIRS):
            words = words or words_and_pairs(text)
            out.append(words[0] if kind == LEXICON_WORDS else words[1])
        else:
            raise ValueError(f"unknown analysis {kind!r}")
    return out


def token_counts(text: str) -> dict[str, int]:
    """BM25 tokens of a text and how often each occurs; an empty text still gets a token, as
    in bm25s's own index."""
    counts: dict[str, int] = {}
    for token in text_tokens(text) or ("",):
        counts[token] = counts.get(token, 0) + 1
    return counts


@dataclass(frozen=True)
class ShardAnalysis:
    """One shard's analyses: its own small vocabulary and, per kind, flat ids and lengths (and
    for counted kinds, each id's count)."""

    terms: list[str]
    ids: dict[str, Ids]
    lengths: dict[str, npt.NDArray[np.int64]]
    counts: dict[str, Ids]


def analyse_shard(work: tuple[tuple[str, ...], Sequence[str]]) -> ShardAnalysis:
    """Analyse a shard of texts (run in a worker process)."""
    kinds, texts = work
    vocabulary: dict[str, int] = {}
    ids: dict[str, list[int]] = {kind: [] for kind in kinds}
    lengths: dict[str, list[int]] = {kind: [] for kind in kinds}
    counts: dict[str, list[int]] = {kind: [] for kind in kinds if kind in COUNTED}
    for text in texts:
        for kind, terms in zip(kinds, analyse_text(kinds, text), strict=True):
            ids[kind].extend(vocabulary.setdefault(term, len(vocabulary)) for term in terms)
            lengths[kind].append(len(terms))
            if isinstance(terms, dict):
                counts[kind].extend(terms.values())
    return ShardAnalysis(
        terms=list(vocabulary),
        ids={kind: np.asarray(ids[kind], dtype=np.int32) for kind in kinds},
        lengths={kind: np.asarray(lengths[kind], dtype=np.int64) for kind in kinds},
        counts={kind: np.asarray(counts[kind], dtype=np.int32) for kind in counts},
    )


@dataclass(frozen=True)
class Analysed:
    """One analysis of many texts: term ids (into `terms`) of all texts, one after another."""

    ids: Ids
    offsets: npt.NDArray[np.int64]  # text i's ids are ids[offsets[i]:offsets[i + 1]]
    terms: Sequence[str]  # term of each id
    counts: Ids | None = None  # how often each id occurs in its text (counted analyses)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def text_terms(self, row: int) -> list[str]:
        return [self.terms[i] for i in self.ids[self.offsets[row] : self.offsets[row + 1]]]


class AnalysisCache:
    """Term ids per (analysis, text hash), and the term table they index."""

    def __init__(self, path: Path, lock_timeout_s: float = 10.0) -> None:
        self._path = path
        self._failed = False
        self._db = connect_checked(
            path,
            "CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS analyses (kind TEXT NOT NULL, key TEXT NOT NULL,"
            " ids BLOB NOT NULL, PRIMARY KEY (kind, key));"
            "CREATE TABLE IF NOT EXISTS pinyin (word TEXT PRIMARY KEY, key TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS pages (key TEXT PRIMARY KEY, data BLOB NOT NULL);",
            lock_timeout_s,
        )
        self._terms: list[str] | None = None
        self._ids: dict[str, int] = {}

    @classmethod
    def open(cls, path: Path, lock_timeout_s: float = 10.0) -> AnalysisCache | None:
        """The cache at `path`; a corrupt file is moved aside, a locked or unusable one gives
        None (the build goes on uncached)."""
        return open_cache(lambda: cls(path, lock_timeout_s), path, "analysis cache", lock_timeout_s)

    def close(self) -> None:
        self._db.close()

    def _gave_up(self, exc: sqlite3.Error, doing: str) -> None:
        log.warning(
            "analysis cache %s failed while %s (%s); going on without it", self._path, doing, exc
        )
        self._failed = True

    def _select(self, sql: str, keys: Sequence[str], *before: object) -> list[Any] | None:
        """Rows of `sql` for `keys` (its `{marks}` stand for them), 500 keys a statement to stay
        under sqlite's variable limit; None once reading failed."""
        rows: list[Any] = []
        try:
            for start in range(0, len(keys), 500):
                batch = list(keys[start : start + 500])
                marks = ",".join("?" * len(batch))
                rows.extend(self._db.execute(sql.format(marks=marks), [*before, *batch]))
        except sqlite3.Error as exc:
            self._gave_up(exc, "reading")
            return None
        return rows

    def _write(self, sql: str, rows: Iterable[Sequence[object]], doing: str = "writing") -> None:
        """Store and commit at once, so a killed build keeps every shard it finished."""
        try:
            self._db.executemany(sql, rows)
            self._db.commit()
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
            self._gave_up(exc, doing)

    def terms(self) -> list[str]:
        """The term table (read once; new terms are appended as they come)."""
        if self._terms is None:
            self._terms = []
            if not self._failed:
                try:
                    rows = self._db.execute("SELECT id, term FROM terms ORDER BY id").fetchall()
                except sqlite3.Error as exc:
                    self._gave_up(exc, "reading terms")
                    rows = []
                # Ids are dense from 0 when written by `term_ids`; anything else is distrusted.
                # They are distinct and in order: dense when the first is 0 and the last n - 1.
                if not rows or (rows[0][0] == 0 and rows[-1][0] == len(rows) - 1):
                    self._terms = [term for _, term in rows]
                else:
                    self._failed = True
            self._ids = dict(zip(self._terms, range(len(self._terms)), strict=True))
        return self._terms

    def term_ids(self, terms: Sequence[str]) -> Ids:
        """Ids of `terms` in the term table, adding the new ones."""
        table = self.terms()
        new: list[tuple[int, str]] = []
        out = np.empty(len(terms), dtype=np.int32)
        for n, term in enumerate(terms):
            found = self._ids.get(term)
            if found is None:
                found = len(table)
                table.append(term)
                self._ids[term] = found
                new.append((found, term))
            out[n] = found
        if new and not self._failed:
            self._write("INSERT INTO terms (id, term) VALUES (?, ?)", new, "writing terms")
        return out

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Ids]:
        found: dict[str, Ids] = {}
        if self._failed:
            return found
        rows = self._select(
            "SELECT key, ids FROM analyses WHERE kind = ? AND key IN ({marks})", keys, kind
        )
        if rows is None:
            return {}
        for key, blob in rows:
            found[key] = np.frombuffer(blob, dtype=np.int32)
        # Another build sharing the cache may have added terms since the table was read.
        known = len(self.terms())
        if any(len(ids) and int(ids.max()) >= known for ids in found.values()):
            known = self._read_new_terms()
            found = {k: v for k, v in found.items() if not len(v) or int(v.max()) < known}
        return found

    def _read_new_terms(self) -> int:
        """Append the terms other builds wrote since this one read the table; its length."""
        table = self.terms()
        try:
            rows = self._db.execute(
                "SELECT id, term FROM terms WHERE id >= ? ORDER BY id", (len(table),)
            ).fetchall()
        except sqlite3.Error as exc:
            self._gave_up(exc, "reading terms")
            return len(table)
        for row_id, term in rows:
            if row_id != len(table) or term in self._ids:
                break
            self._ids[term] = len(table)
            table.append(term)
        return len(table)

    def put_many(self, kind: str, items: dict[str, Ids]) -> None:
        """Store and commit at once, so a killed build keeps every shard it finished."""
        if self._failed:
            return
        self._write(
            "INSERT OR REPLACE INTO analyses (kind, key, ids) VALUES (?, ?, ?)",
            [(kind, key, np.asarray(v, dtype=np.int32).tobytes()) for key, v in items.items()],
        )

    def get_pages(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Cleaned and chunked pages (`index.stages.clean_and_chunk`), zlib-compressed JSON."""
        if self._failed:
            return {}
        return dict(self._select("SELECT key, data FROM pages WHERE key IN ({marks})", keys) or [])

    def put_pages(self, pages: dict[str, bytes]) -> None:
        if not self._failed:
            self._write("INSERT OR REPLACE INTO pages VALUES (?, ?)", pages.items())

    def get_pinyin(self, words: Sequence[str]) -> dict[str, str]:
        if self._failed:
            return {}
        return dict(
            self._select("SELECT word, key FROM pinyin WHERE word IN ({marks})", words) or []
        )

    def put_pinyin(self, keys: dict[str, str]) -> None:
        if not self._failed:
            self._write("INSERT OR REPLACE INTO pinyin VALUES (?, ?)", keys.items())


class MemoryTerms:
    """A term table for a build without a cache."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self._ids: dict[str, int] = {}

    def term_ids(self, terms: Sequence[str]) -> Ids:
        out = np.empty(len(terms), dtype=np.int32)
        for n, term in enumerate(terms):
            found = self._ids.get(term)
            if found is None:
                found = self._ids[term] = len(self.table)
                self.table.append(term)
            out[n] = found
        return out


@dataclass
class AnalysisStats:
    """How many texts an analysis run computed, and how many it found cached."""

    computed: int = 0
    reused: int = 0


def analyse_texts(
    texts: Sequence[str],
    kinds: tuple[str, ...],
    cache: AnalysisCache | None,
    pool: ShardPool,
    progress: bool = False,
    label: str = "tokenising",
    stats: AnalysisStats | None = None,
    previous: tuple[LastBuild, str] | None = None,
    keys: Sequence[str] | None = None,
) -> dict[str, Analysed]:
    """Every analysis in `kinds` of every text: those of the last build's texts read from its
    arrays (`previous`: it, and which of its texts), cached ones read, the rest computed by
    `pool` shard by shard (each stored as it finishes). `keys`: the texts' hashes, if known."""
    keys = [text_key(t) for t in texts] if keys is None else list(keys)
    memory = MemoryTerms()
    # The term table first: a distrusted one turns the cache off before anything is read.
    table: Sequence[str] = cache.terms() if cache else memory.table
    earlier = _earlier_analyses(keys, kinds, previous, table if cache else None)
    # Per kind, the keys the last build's arrays do not hold.
    absent = {
        kind: {keys[n] for n in np.flatnonzero(earlier[kind][0] < 0).tolist()} for kind in kinds
    }
    found: dict[str, dict[str, Ids]] = {
        kind: cache.get_many(kind, sorted(absent[kind])) if cache else {} for kind in kinds
    }
    unique = dict(zip(keys, texts, strict=True))
    # The texts some analysis of which neither the arrays nor the cache hold.
    missing = sorted(set().union(*(absent[kind].difference(found[kind]) for kind in kinds)))
    terms_of: Callable[[Sequence[str]], Ids] = cache.term_ids if cache else memory.term_ids
    if stats is not None:
        stats.computed += len(missing)
        stats.reused += len(unique) - len(missing)
    with stage_bar(label, len(missing), "text", progress) as bar:
        work = shards(missing, SHARD_TEXTS)
        jobs = [(kinds, [unique[k] for k in shard]) for shard in work]
        for number, result in pool.imap(analyse_shard, jobs):
            to_global = terms_of(result.terms)
            for kind in kinds:
                ends = np.cumsum(result.lengths[kind])
                starts = ends - result.lengths[kind]
                ids = to_global[result.ids[kind]] if len(result.ids[kind]) else result.ids[kind]
                computed = {
                    key: ids[s:e] for key, s, e in zip(work[number], starts, ends, strict=True)
                }
                if kind in COUNTED:  # stored as the ids, then their counts
                    tally = result.counts[kind]
                    computed = {
                        key: np.concatenate([computed[key], tally[s:e]])
                        for key, s, e in zip(work[number], starts, ends, strict=True)
                    }
                if cache:
                    cache.put_many(kind, computed)
                found[kind].update(computed)
            bar.update(len(work[number]))
    return {
        kind: _in_text_order(keys, found.pop(kind), earlier[kind], kind in COUNTED, table)
        for kind in kinds
    }


# One analysis of the last build's texts: each text's row there (-1: not there), and its
# (offsets, ids, counts) arrays.
Earlier = tuple[npt.NDArray[np.int64], tuple[Any, ...] | None]


def _earlier_analyses(
    keys: Sequence[str],
    kinds: tuple[str, ...],
    previous: tuple[LastBuild, str] | None,
    table: Sequence[str] | None,
) -> dict[str, Earlier]:
    """Where each text's analyses are among the last build's arrays, per kind; none where
    there is no cache (its ids index the cache's term table) or the table changed."""
    nowhere: Earlier = (np.full(len(keys), -1, dtype=np.int64), None)
    if previous is None or table is None:
        return dict.fromkeys(kinds, nowhere)
    last, texts = previous
    arrays = {kind: last.analysis(texts, kind, table) for kind in kinds}
    if all(a is None for a in arrays.values()):
        return dict.fromkeys(kinds, nowhere)
    rows = last.rows(texts, key_array(keys))
    return {kind: nowhere if a is None else (rows, a) for kind, a in arrays.items()}


def _in_text_order(
    keys: Sequence[str],
    arrays: dict[str, Ids],
    earlier: Earlier,
    counted: bool,
    table: Sequence[str],
) -> Analysed:
    """One analysis of every text, in text order: the last build's texts gathered from its
    arrays at once, the others copied one by one, each array let go once copied (an archive's
    analyses would not fit twice)."""
    half = 2 if counted else 1
    rows, previous = earlier
    old = np.flatnonzero(rows >= 0)
    new = np.flatnonzero(rows < 0)
    lengths = np.zeros(len(keys), dtype=np.int64)
    if previous is not None and len(old):
        lengths[old] = np.diff(previous[0])[rows[old]]
    lengths[new] = np.fromiter(
        (len(arrays[keys[n]]) // half for n in new.tolist()), np.int64, len(new)
    )
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.empty(int(offsets[-1]), dtype=np.int32)
    counts = np.empty(int(offsets[-1]), dtype=np.int32) if counted else None
    if previous is not None and len(old):
        _copy_runs(rows[old], old, np.asarray(previous[0]), offsets, previous, ids, counts)
    last = {keys[n]: n for n in new.tolist()}
    for row in new.tolist():
        key = keys[row]
        array = arrays[key] if last[key] > row else arrays.pop(key)
        start, end = offsets[row], offsets[row + 1]
        ids[start:end] = array[: end - start]
        if counts is not None:
            counts[start:end] = array[end - start :]
    return Analysed(ids, offsets, table, counts)


def _copy_runs(
    source_rows: npt.NDArray[np.int64],
    target_rows: npt.NDArray[np.int64],
    source_offsets: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    previous: tuple[Any, ...],
    ids: Ids,
    counts: Ids | None,
) -> None:
    """Copy the last build's values of texts `source_rows` into rows `target_rows` here.
    Texts that follow each other in both builds (a daily build's, mostly) are copied a run
    at a time, slice to slice; a shuffled order falls back to gathering position by position."""
    breaks = np.flatnonzero((np.diff(source_rows) != 1) | (np.diff(target_rows) != 1)) + 1
    if len(breaks) * 64 > len(source_rows):
        lengths = np.diff(source_offsets)[source_rows]
        source = ragged_positions(source_offsets[source_rows], lengths)
        target = ragged_positions(offsets[target_rows], lengths)
        ids[target] = previous[1][source]
        if counts is not None:
            counts[target] = previous[2][source]
        return
    firsts = np.concatenate([[0], breaks]).tolist()
    lasts = np.concatenate([breaks, [len(source_rows)]]).tolist()
    for first, last in zip(firsts, lasts, strict=True):
        a, b = (
            int(source_offsets[source_rows[first]]),
            int(source_offsets[source_rows[last - 1] + 1]),
        )
        start = int(offsets[target_rows[first]])
        ids[start : start + b - a] = previous[1][a:b]
        if counts is not None:
            counts[start : start + b - a] = previous[2][a:b]
