"""The last build's vectors, text analyses and IVF lists, kept whole beside the caches.

The SQLite caches hold shards, so a killed build resumes; reading an archive's worth of rows
back from them is most of a daily build. So each build also leaves its arrays here, in plain
numpy files keyed by text hash, and the next build reads them memory-mapped for every text
the last one had and asks the caches only for the rest. Like the caches it only saves time:
a text whose hash is not here, another embedder, a term table that changed or IVF centroids
that changed, and the caches (or the work itself) answer instead. Each array's checksum is kept
with it and checked before its first use (vectors are also checked to be finite), so a damaged
array is passed over with a warning, never reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

LAST_BUILD = "last-build"
META = "meta.json"
# 2: every array's checksum in the meta (a format-1 folder has none and is not read).
FORMAT = 2
# The lock file in a build's staging folder, held while the build that writes it lives.
OWNER = ".owner"
# A staging folder without an owner file (its build died between making the folder and
# locking it) is collected once this old: by then no live build is still writing into it.
STALE_AFTER_S = 6 * 3600.0
# Bytes checksummed (and checked finite) at a time: an archive's vectors are not copied whole.
CHECK_BLOCK_BYTES = 16 << 20
CHUNK_TEXTS = "chunks"
ARTICLE_TEXTS = "articles"
PINYIN = "pinyin"

Keys = npt.NDArray[np.bytes_]
Rows = npt.NDArray[np.int64]


def key_array(keys: Sequence[str]) -> Keys:
    """Text hashes (hex sha256) as one fixed-width array, to match by numpy search."""
    return np.array(keys, dtype="S64")


def terms_digest(terms: Sequence[str], count: int) -> str:
    """What identifies the first `count` terms of a term table (analyses store their ids)."""
    return hashlib.sha256("\x00".join(terms[:count]).encode("utf-8")).hexdigest()


def vectors_digest(matrix: npt.NDArray[np.float32]) -> str:
    """What identifies a set of IVF centroids."""
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float32).tobytes()).hexdigest()


def ragged_positions(starts: Rows, lengths: Rows) -> Rows:
    """Positions of runs `starts[i] : starts[i] + lengths[i]`, one after another, without a
    loop over runs (gathers texts' values from, or scatters them into, arrays laid end to end)."""
    ends = np.cumsum(lengths)
    positions: Rows = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
    positions += np.repeat(starts - (ends - lengths), lengths)
    return positions


def joined_strings(strings: Sequence[str]) -> npt.NDArray[np.uint8] | None:
    """Strings as one array of UTF-8 bytes, NUL between them; None if one holds a NUL."""
    text = "\x00".join(strings)
    if text.count("\x00") != max(len(strings) - 1, 0):
        return None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def copy_rows(source: npt.NDArray[Any], rows: Rows, target: npt.NDArray[Any], at: Rows) -> None:
    """`target[at] = source[rows]`, a run of rows at a time where both run on (a daily
    build's, mostly: one slice copy from a memory-mapped file each, no gathered copy)."""
    if not len(rows):
        return
    breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(at) != 1)) + 1
    if len(breaks) * 64 > len(rows):
        target[at] = source[rows]
        return
    for first, last in zip([0, *breaks.tolist()], [*breaks.tolist(), len(rows)], strict=True):
        start, end = int(rows[first]), int(rows[last - 1]) + 1
        target[int(at[first]) : int(at[first]) + end - start] = source[start:end]


def _digest(array: npt.NDArray[Any]) -> str:
    digest, _ = _scan(array, finite=False)
    return digest


def _scan(array: npt.NDArray[Any], finite: bool) -> tuple[str, bool]:
    """The sha256 of an array's type, shape and values; and, with `finite`, whether every
    value is finite (one pass, a block at a time, over a memory-mapped file)."""
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    flat = np.ascontiguousarray(array).reshape(-1)
    step = max(1, CHECK_BLOCK_BYTES // max(array.itemsize, 1))
    whole = True
    for start in range(0, len(flat), step):
        block = flat[start : start + step]
        digest.update(block.view(np.uint8).data)
        if finite and whole:
            whole = bool(np.isfinite(block).all())
    return digest.hexdigest(), whole


def _decoded(array: npt.NDArray[Any]) -> list[str]:
    text = np.asarray(array).tobytes().decode("utf-8")
    return text.split("\x00") if text else []


def _name(kind: str) -> str:
    return kind.replace("/", "-")


class LastBuild:
    """The arrays a previous build left in `cache_dir/last-build`, read memory-mapped."""

    def __init__(self, directory: Path, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.meta = meta
        self._rows: dict[str, tuple[Keys, Rows]] = {}
        # Each array once checked against its checksum: the array, or None when damaged.
        self._checked: dict[str, npt.NDArray[Any] | None] = {}
        # The last answer of `rows` per kind of text: a build asks it for the same chunk keys
        # for their vectors, their IVF lists and their analyses.
        self._found: dict[str, tuple[Keys, Rows]] = {}

    @classmethod
    def open(cls, cache_dir: Path) -> LastBuild | None:
        directory = cache_dir / LAST_BUILD
        try:
            meta = json.loads((directory / META).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            return None
        return cls(directory, meta)

    def _load(self, name: str) -> npt.NDArray[Any]:
        """The array `name`, memory-mapped, once its checksum held (and, for floats, every
        value is finite); ValueError when it did not."""
        if name in self._checked:
            checked = self._checked[name]
            if checked is None:
                raise ValueError(f"{name} is damaged")
            return checked
        try:
            array: npt.NDArray[Any] = np.load(self.directory / f"{name}.npy", mmap_mode="r")
        except FileNotFoundError:
            raise  # not kept by that build (IVF lists of a flat index, counts): no warning
        except (OSError, ValueError) as exc:
            self._damaged(name, f"unreadable: {exc}")
            raise ValueError(f"{name} is damaged") from exc
        digest, finite = _scan(array, finite=array.dtype.kind in "fc")
        if self.meta.get(f"{name}.sha256") != digest:
            self._damaged(name, "its checksum does not match")
        elif not finite:
            self._damaged(name, "it holds values that are not finite (NaN or infinity)")
        else:
            self._checked[name] = array
            return array
        raise ValueError(f"{name} is damaged")

    def _damaged(self, name: str, why: str) -> None:
        self._checked[name] = None
        log.warning("last build's %s in %s is not reused: %s", name, self.directory, why)

    def rows(self, texts: str, keys: Keys) -> Rows:
        """The row here of each key's text among `texts` (chunks or articles); -1 if absent.
        Read-only: the same keys asked again get the same array."""
        asked = self._found.get(texts)
        if asked is not None and np.array_equal(asked[0], keys):
            return asked[1]
        found = self._lookup(texts, keys)
        found.flags.writeable = False
        self._found[texts] = keys, found
        return found

    def _lookup(self, texts: str, keys: Keys) -> Rows:
        try:
            if texts not in self._rows:
                mine = np.asarray(self._load(f"{texts}.keys"))
                self._rows[texts] = mine, np.argsort(mine, kind="stable")
            mine, order = self._rows[texts]
        except (OSError, ValueError) as exc:
            log.info("last build's %s keys not used (%s); using the caches", texts, exc)
            return np.full(len(keys), -1, dtype=np.int64)
        if not len(mine):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(mine, keys, sorter=order), len(mine) - 1)
        found = order[at]
        return np.where(mine[found] == keys, found, -1).astype(np.int64)

    def vectors(self, embedder_id: str, dimension: int) -> npt.NDArray[np.float32] | None:
        """The chunk vectors, when they were made by this embedder."""
        if self.meta.get("embedder") != embedder_id or self.meta.get("dimension") != dimension:
            return None
        vectors = self._array("vectors")
        if vectors is None or vectors.shape != (self._count(CHUNK_TEXTS), dimension):
            return None
        return vectors

    def ivf_lists(self, centroids: str) -> Rows | None:
        """The IVF list of each chunk, when the lists were chosen by these centroids."""
        lists = self._array("ivf_lists") if self.meta.get("centroids") == centroids else None
        return lists if lists is not None and len(lists) == self._count(CHUNK_TEXTS) else None

    def analysis(
        self, texts: str, kind: str, terms: Sequence[str]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int32] | None] | None:
        """(offsets, ids, counts or None) of one analysis of `texts`, when its ids index the
        same term table as `terms` does."""
        count = int(self.meta.get("terms", -1))
        if (
            count < 0
            or count > len(terms)
            or self.meta.get("terms_digest") != terms_digest(terms, count)
        ):
            return None
        prefix = f"{texts}.{_name(kind)}"
        offsets, ids = self._array(f"{prefix}.offsets"), self._array(f"{prefix}.ids")
        counts = self._array(f"{prefix}.counts")
        if (
            offsets is None
            or ids is None
            or len(offsets) != self._count(texts) + 1
            or int(offsets[-1]) != len(ids)
            or (counts is not None and len(counts) != len(ids))
        ):
            return None
        return offsets, ids, counts

    def strings(self, name: str) -> list[str] | None:
        """Strings kept by `LastBuildWriter.save_joined`, when whole (their checksum holds)."""
        array = self._array(name)
        if array is None:
            return None
        try:
            return _decoded(array)
        except UnicodeDecodeError:
            return None

    def has_pinyin(self) -> bool:
        """Whether the last build's pinyin arrays are here and whole."""
        return all(self._array(f"{PINYIN}.{part}") is not None for part in ("words", "keys"))

    def pinyin(self, words: Sequence[str]) -> dict[str, str]:
        """The pinyin keys the last build's lexicon had for any of `words`."""
        kept, keys = self.strings(f"{PINYIN}.words"), self.strings(f"{PINYIN}.keys")
        if kept is None or keys is None or len(kept) != len(keys):
            return {}
        table = dict(zip(kept, keys, strict=True))
        return {word: table[word] for word in words if word in table}

    def _count(self, texts: str) -> int:
        """How many texts of this kind the last build had (-1: unknown)."""
        keys = self._array(f"{texts}.keys")
        return -1 if keys is None else len(keys)

    def _array(self, name: str) -> npt.NDArray[Any] | None:
        try:
            return self._load(name)
        except (OSError, ValueError):
            return None


class LastBuildWriter:
    """The arrays of the build under way, written into a fresh folder that replaces
    `last-build` at `commit` (a build that fails leaves the last one's in place)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.meta: dict[str, Any] = {"format": FORMAT}
        self.directory: Path | None = None
        self._owner: int | None = None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.directory = cache_dir / f".{LAST_BUILD}-{os.urandom(6).hex()}"
            self.directory.mkdir()
            # Held until commit or discard; the kernel lets go of it when this process dies,
            # which is how a later build tells this folder from a killed build's.
            self._owner = os.open(self.directory / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._owner, fcntl.LOCK_EX)
        except OSError as exc:
            log.info("cannot keep this build's arrays (%s)", exc)
            self.discard()

    def save(self, name: str, array: npt.NDArray[Any]) -> None:
        """Keep `array` and its checksum (checked before the next build uses it)."""
        if self.directory is None:
            return
        try:
            array = np.asarray(array)
            np.save(self.directory / f"{name}.npy", array)
            self.meta[f"{name}.sha256"] = _digest(array)
        except OSError as exc:
            log.info("cannot keep this build's arrays (%s)", exc)
            self.discard()

    def save_joined(self, name: str, joined: npt.NDArray[np.uint8] | None) -> None:
        """Strings as `joined_strings` joins them (`strings` reads them back)."""
        if joined is not None:
            self.save(name, joined)

    def save_pinyin(self, keys: dict[str, str]) -> None:
        """The pinyin key of each word a lexicon looked up (`LastBuild.pinyin`)."""
        self.save_joined(f"{PINYIN}.words", joined_strings(list(keys)))
        self.save_joined(f"{PINYIN}.keys", joined_strings(list(keys.values())))

    def save_analysis(
        self,
        texts: str,
        kind: str,
        offsets: npt.NDArray[np.int64],
        ids: npt.NDArray[np.int32],
        counts: npt.NDArray[np.int32] | None,
    ) -> None:
        prefix = f"{texts}.{_name(kind)}"
        self.save(f"{prefix}.offsets", offsets)
        self.save(f"{prefix}.ids", ids)
        if counts is not None:
            self.save(f"{prefix}.counts", counts)

    def commit(self) -> None:
        """Replace the last build's arrays with these (a reader sees the old or the new)."""
        if self.directory is None:
            return
        target = self.cache_dir / LAST_BUILD
        aside = self.cache_dir / f".{LAST_BUILD}-old-{os.urandom(6).hex()}"
        try:
            (self.directory / META).write_text(json.dumps(self.meta), "utf-8")
            # Still locked: a folder without its owner file is left alone for hours.
            (self.directory / OWNER).unlink()
            with contextlib.suppress(FileNotFoundError):
                target.rename(aside)
            self.directory.rename(target)
        except OSError as exc:
            log.info("cannot keep this build's arrays (%s)", exc)
            self.discard()
        shutil.rmtree(aside, ignore_errors=True)
        self.directory = None
        self._release()

    def discard(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None
        self._release()

    def _release(self) -> None:
        if self._owner is not None:
            os.close(self._owner)
        self._owner = None


def collect_stale(cache_dir: Path) -> list[Path]:
    """Remove what builds that died left in `cache_dir` (a kill after embedding leaves an
    archive's arrays in a staging folder); the folders removed.

    Several index roots may share one cache folder (the default, ~/.cache/newsqa, is per user,
    not per index), so one root's build lock says nothing of a build on another: a staging
    folder goes only when no process holds its owner lock (its build is gone, whatever its
    pid became) or, without an owner file, once `STALE_AFTER_S` old; so this needs no build
    lock, and every build calls it first (`index.sqlite_cache.check_cache_dir`). A folder
    set aside by `commit` is read by nobody and goes at once."""
    removed: list[Path] = []
    try:
        entries = [e for e in cache_dir.iterdir() if e.name.startswith(f".{LAST_BUILD}-")]
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(f".{LAST_BUILD}-old-") or _abandoned(entry):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if removed:
        log.info("removed %d folder(s) left by builds that did not finish", len(removed))
    return removed


def _abandoned(staging: Path) -> bool:
    """Whether no live build writes into `staging` (its owner lock is free, or it has no
    owner file and is old); the lock is held for the instant of the check only."""
    try:
        owner = os.open(staging / OWNER, os.O_RDONLY)
    except FileNotFoundError:
        try:
            return time.time() - staging.stat().st_mtime > STALE_AFTER_S
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: its build is alive
    finally:
        os.close(owner)
    return True
