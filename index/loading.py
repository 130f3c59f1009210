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
from collections.abc import Iterator
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
    follow_outside_symlinks: bool = False,
    progress: bool = False,
) -> LoadReport:
    """Read every story under `docs_dir`; a bad file is skipped with a warning, never fatal.

    The folder is untrusted: symlinks leading outside it, FIFOs, sockets, devices and files
    over `max_bytes` are skipped without being read, so no read can hang or exhaust memory.
    """
    pages: list[Page] = []
    skipped: list[SkippedFile] = []
    root = docs_dir.resolve()
    paths = sorted(story_paths(docs_dir, pattern, skipped))
    for name, path in stage_items(paths, "loading", "file", progress):
        raw = read_story(path, root, max_bytes, follow_outside_symlinks)
        outcome = page_from_bytes(raw, name) if isinstance(raw, bytes) else SkippedFile(name, raw)
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
    docs_dir: Path, pattern: str, skipped: list[SkippedFile]
) -> Iterator[tuple[str, Path]]:
    """(printable relative name, path) of every entry matching `pattern`; symlinked folders are
    not followed (they could lead anywhere, or loop) and are reported as skipped."""

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename or docs_dir)
        name = safe_name(where.relative_to(docs_dir).as_posix()) if where != docs_dir else "."
        skipped.append(SkippedFile(name + "/", f"unreadable folder ({exc.strerror})"))

    for folder, dirnames, filenames in os.walk(docs_dir, onerror=unreadable):
        base = Path(folder)
        dirnames.sort()
        for dirname in dirnames:
            name = safe_name((base / dirname).relative_to(docs_dir).as_posix())
            if (base / dirname).is_symlink():
                skipped.append(SkippedFile(name + "/", "symlinked folder, not followed"))
            elif fnmatch.fnmatchcase(dirname, pattern):
                skipped.append(SkippedFile(name, "unreadable (a directory)"))
        for filename in filenames:
            if fnmatch.fnmatchcase(filename, pattern):
                path = base / filename
                name = path.relative_to(docs_dir).as_posix()
                shown = safe_name(name)
                if shown != name:
                    logger.warning(
                        "file name %s is not printable UTF-8; indexed as written here", shown
                    )
                yield shown, path


def read_story(path: Path, root: Path, max_bytes: int, follow_outside: bool) -> bytes | str:
    """The file's bytes, or why it is not read; the file type is checked before it is opened."""
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


def page_from_bytes(raw: bytes, name: str) -> Page | SkippedFile:
    """Decode one story's bytes, or say why they cannot be used."""
    if not raw.strip():
        return SkippedFile(name, "empty")
    try:
        text, encoding = decode_story_bytes(raw)
    except UndecodableError as exc:
        return SkippedFile(name, str(exc))
    text = normalize_whitespace(text)
    if not text.strip():
        return SkippedFile(name, "empty")
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
        if looks_like_text(text):
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
