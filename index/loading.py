"""Files → decoded pages: detect the encoding, unify line breaks, skip what cannot be read."""

from __future__ import annotations

import codecs
import fnmatch
import functools
import hashlib
import logging
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.models import Page
from index.progress import stage_items

logger = logging.getLogger(__name__)

# Decoded text with more than this share of control / unassigned / private-use characters is
# binary that happened to decode (GB18030 maps almost any byte pair to something).
MAX_UNPRINTABLE_SHARE = 0.02
ALLOWED_CONTROLS = frozenset("\n\r\t\f")
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})
BMP_SIZE = 0x10000

# What `str.splitlines` takes for a line break, other than the file separators.
LINE_BREAK_CHARS = "\r\u2028\u2029\x85\f\v"
LINE_BREAK = re.compile(r"\r\n?|[\u2028\u2029\x85\f\v]")
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
INVISIBLE_CHARS = re.compile(f"[{INVISIBLE}]")
# Story files are untrusted: a larger one is skipped rather than read into memory.
DEFAULT_MAX_STORY_BYTES = 20_000_000
# A page of more lines is skipped: cleaning is linear in lines, and this bounds the time one
# page holds the build (a million short lines clean in about half a minute, docs/operations.md).
DEFAULT_MAX_STORY_LINES = 1_000_000
# Archives nest by year, month, day and section; a folder deeper than this is skipped, so a
# hostile tree of thousands of levels costs a warning, not the build.
MAX_FOLDER_DEPTH = 64
# Terminal escape sequences in a story (coloured text pasted from a terminal): the whole
# sequence goes, so no `31m` is left in front of a figure for an answer to quote. CSI (ESC [ or
# 0x9B, parameters, intermediates, final byte); OSC, DCS, SOS, PM and APC strings up to their
# BEL or ST (a string left open loses only its opening); any other ESC and its final byte.
MAX_ESCAPE_STRING_CHARS = 512
TERMINAL_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    rf"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]{{0,{MAX_ESCAPE_STRING_CHARS}}}"
    r"(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
ESCAPE_STARTS = "\x1b\x9b\x90\x98\x9d\x9e\x9f"
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FILE_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


@dataclass(frozen=True)
class SkippedFile:
    """A story file left out of the build, and why (shown in the build summary)."""

    file: str
    reason: str


@dataclass(frozen=True)
class LoadReport:
    """What `load_pages` read and what it had to skip."""

    pages: tuple[Page, ...]
    skipped: tuple[SkippedFile, ...]


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we accept."""


def load_pages(
    docs_dir: Path,
    pattern: str = "*.txt",
    *,
    max_bytes: int = DEFAULT_MAX_STORY_BYTES,
    max_lines: int = DEFAULT_MAX_STORY_LINES,
    follow_outside_symlinks: bool = False,
    progress: bool = False,
) -> LoadReport:
    """Read every story under `docs_dir`; a bad file is skipped with a warning, never fatal.

    The folder is untrusted: symlinks and hardlinks leading outside it, FIFOs, sockets,
    devices, files over `max_bytes` and folders nested deeper than `MAX_FOLDER_DEPTH` are
    skipped without being read, so no read can hang or exhaust memory; pages of more than
    `max_lines` lines are skipped after reading, so no page holds the build for long.
    `follow_outside_symlinks` reads symlinked and hardlinked files from outside the folder.
    """
    pages: list[Page] = []
    skipped: list[SkippedFile] = []
    root = docs_dir.resolve()
    links: Counter[tuple[int, int]] = Counter()
    paths = sorted(story_paths(docs_dir, pattern, skipped, links))
    for name, path in stage_items(paths, "loading", "file", progress):
        raw = read_story(path, root, max_bytes, follow_outside_symlinks, links)
        outcome = (
            page_from_bytes(raw, name, max_lines)
            if isinstance(raw, bytes)
            else SkippedFile(name, raw)
        )
        if isinstance(outcome, Page):
            pages.append(outcome)
        else:
            skipped.append(outcome)
    skipped.sort(key=lambda s: s.file)
    for skip in skipped:
        logger.warning("skipping %s: %s", skip.file, skip.reason)
    return LoadReport(pages=tuple(pages), skipped=tuple(skipped))


def safe_name(name: str) -> str:
    """A file name as printable UTF-8: bytes that are not UTF-8 and control characters become
    `\\xNN`, so chunk ids, the manifest and a terminal can all carry it."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def story_paths(
    docs_dir: Path,
    pattern: str,
    skipped: list[SkippedFile],
    links: Counter[tuple[int, int]] | None = None,
) -> Iterator[tuple[str, Path]]:
    """(printable relative name, path) of every entry matching `pattern`; symlinked folders are
    not followed (they could lead anywhere, or loop) and are reported as skipped, as are folders
    deeper than `MAX_FOLDER_DEPTH`. The walk keeps its own stack of folders: recursion would
    end at Python's recursion limit. `links` counts, by (device, inode), the links found in the
    folder to every regular file that has several (`read_story` compares with `st_nlink`)."""

    def skip(relative: str, reason: str) -> None:
        skipped.append(SkippedFile(safe_name(relative), reason))

    folders: list[tuple[str, int]] = [("", 0)]  # (path relative to docs_dir, depth)
    while folders:
        relative, depth = folders.pop()
        folder = docs_dir / relative if relative else docs_dir
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            skip((relative or ".") + "/", f"unreadable folder ({exc.strerror})")
            continue
        inner: list[tuple[str, int]] = []
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            matches = fnmatch.fnmatchcase(entry.name, pattern)
            if is_folder(entry):
                if entry.is_symlink():
                    skip(name + "/", "symlinked folder, not followed")
                    continue
                if matches:
                    skip(name, "unreadable (a directory)")
                if depth + 1 > MAX_FOLDER_DEPTH:
                    skip(name + "/", f"nested deeper than {MAX_FOLDER_DEPTH} folders, not read")
                else:
                    inner.append((name, depth + 1))
                continue
            if links is not None:
                count_links(entry, links)
            if matches:
                shown = safe_name(name)
                if shown != name:
                    logger.warning(
                        "file name %s is not printable UTF-8; indexed as written here", shown
                    )
                yield shown, Path(entry.path)
        folders.extend(reversed(inner))


def is_folder(entry: os.DirEntry[str]) -> bool:
    """A folder or a symlink to one (as `os.walk` sorts them); unreadable counts as not."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def count_links(entry: os.DirEntry[str], links: Counter[tuple[int, int]]) -> None:
    """Count this link of a regular file that has several links (symlinks are not links)."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return  # read_story says why it cannot be read
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        links[(info.st_dev, info.st_ino)] += 1


def read_story(
    path: Path,
    root: Path,
    max_bytes: int,
    follow_outside: bool,
    links: Mapping[tuple[int, int], int] | None = None,
) -> bytes | str:
    """The file's bytes, or why it is not read; the file type is checked before it is opened.

    A regular file with more links than `links` found inside the folder (by device and inode)
    is hardlinked from outside it, and is refused as a symlink leading outside is."""
    try:
        info = path.lstat()
        nofollow = os.O_NOFOLLOW
        if stat.S_ISLNK(info.st_mode):
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                return "unreadable (broken or looping symlink)"
            if not follow_outside and not target.is_relative_to(root):
                return "symlink to outside the story folder"
            info, nofollow = target.stat(), 0
        if not stat.S_ISREG(info.st_mode):
            return f"not a regular file ({FILE_KINDS.get(stat.S_IFMT(info.st_mode), 'special')})"
        inside = (links or {}).get((info.st_dev, info.st_ino), 0)
        if info.st_nlink > 1 and inside < info.st_nlink and not follow_outside:
            return f"hardlink to outside the story folder ({inside} of {info.st_nlink} links in it)"
        if info.st_size > max_bytes:
            return f"too large ({info.st_size:,} bytes; the limit is {max_bytes:,})"
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, open cannot hang.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | nofollow)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return "not a regular file"
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    if len(raw) > max_bytes:
        return f"too large (over {max_bytes:,} bytes; it grew while being read)"
    return raw


def page_from_bytes(
    raw: bytes, name: str, max_lines: int = DEFAULT_MAX_STORY_LINES
) -> Page | SkippedFile:
    """Decode one story's bytes, or say why they cannot be used."""
    if not raw.strip():
        return SkippedFile(name, "empty")
    try:
        text, encoding = decode_story_bytes(raw)
    except UndecodableError as exc:
        return SkippedFile(name, str(exc))
    text = normalize_whitespace(drop_terminal_escapes(text))
    if not text.strip():
        return SkippedFile(name, "empty")
    lines = text.count("\n")
    if lines > max_lines:
        return SkippedFile(name, f"too many lines ({lines:,}; the limit is {max_lines:,})")
    return Page(file=name, text=text, encoding=encoding, sha256=hashlib.sha256(raw).hexdigest())


def decode_story_bytes(raw: bytes) -> tuple[str, str]:
    """Strict UTF-8 first (it almost never accepts anything else), then GB18030."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif b"\x00" in raw:
        raise UndecodableError("binary (NUL bytes)")
    elif raw.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Judged without terminal escapes: they are dropped whole at load, so a short
        # coloured story is text, not binary.
        if looks_like_text(drop_terminal_escapes(text)):
            return text, encoding
        raise UndecodableError(f"binary (control characters when decoded as {encoding})")
    raise UndecodableError("not UTF-8 or GB18030 text")


def looks_like_text(text: str) -> bool:
    """Guard against binary that a permissive codec decoded without error."""
    if "\x00" in text:
        return False
    return count_unprintable(text) <= MAX_UNPRINTABLE_SHARE * max(len(text), 1)


def count_unprintable(text: str) -> int:
    """Characters of `text` that text does not hold (control, unassigned, private use,
    surrogate), allowed line controls aside: a table lookup per character for the Basic
    Multilingual Plane, `unicodedata` for the rest (a story's millions of characters)."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    basic = codes < BMP_SIZE
    count = int(np.count_nonzero(unprintable_table()[codes[basic]]))
    return count + sum(_unprintable(chr(code)) for code in codes[~basic].tolist())


@functools.cache
def unprintable_table() -> npt.NDArray[np.bool_]:
    """Whether each code point of the Basic Multilingual Plane is unprintable (computed once)."""
    return np.array([_unprintable(chr(code)) for code in range(BMP_SIZE)], dtype=bool)


def _unprintable(ch: str) -> bool:
    return ch not in ALLOWED_CONTROLS and unicodedata.category(ch) in UNPRINTABLE_CATEGORIES


def drop_terminal_escapes(text: str) -> str:
    """The text without terminal escape sequences (`TERMINAL_ESCAPE`), each removed whole."""
    # Searched for only where an escape can start, as `normalize_whitespace` does.
    if any(ch in text for ch in ESCAPE_STARTS):
        return TERMINAL_ESCAPE.sub("", text)
    return text


def normalize_whitespace(text: str) -> str:
    """One newline convention, lines trimmed, invisible format characters dropped.

    Spaces inside a line stay as the story wrote them (ideographic, no-break, tabs, runs):
    answers quote the text verbatim, and matching reads its own normalised copy of it."""
    # The expressions only where their characters occur: finding one character is a fast
    # scan, a character class over a story's millions of characters is not.
    if any(ch in text for ch in LINE_BREAK_CHARS):
        text = LINE_BREAK.sub("\n", text)
    if any(ch in text for ch in INVISIBLE):
        text = INVISIBLE_CHARS.sub("", text)
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(lines).strip("\n") + "\n"
