"""Files → decoded pages: detect the encoding, normalise whitespace, skip what cannot be read."""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from index.models import Page

logger = logging.getLogger(__name__)

# Decoded text with more than this share of control / unassigned / private-use characters is
# binary that happened to decode (GB18030 maps almost any byte pair to something).
MAX_UNPRINTABLE_SHARE = 0.02
ALLOWED_CONTROLS = frozenset("\n\r\t\f")
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})

LINE_BREAK = re.compile(r"\r\n?|[\u2028\u2029\x85]")
INVISIBLE_CHARS = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
WIDE_OR_HARD_SPACE = re.compile(r"[\u3000\u00a0\u2007\u202f\t\f\v]")
RUN_OF_SPACES = re.compile(r" {2,}")


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


def load_pages(docs_dir: Path, pattern: str = "**/*.txt") -> LoadReport:
    """Read every story under `docs_dir`; a bad file is skipped with a warning, never fatal."""
    pages: list[Page] = []
    skipped: list[SkippedFile] = []
    for path in sorted(docs_dir.glob(pattern), key=lambda p: p.relative_to(docs_dir).as_posix()):
        name = path.relative_to(docs_dir).as_posix()
        outcome = load_page(path, name)
        if isinstance(outcome, Page):
            pages.append(outcome)
        else:
            logger.warning("skipping %s: %s", name, outcome.reason)
            skipped.append(outcome)
    return LoadReport(pages=tuple(pages), skipped=tuple(skipped))


def load_page(path: Path, name: str) -> Page | SkippedFile:
    """Read and decode one file, or say why it cannot be used."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return SkippedFile(name, f"unreadable ({exc.strerror or type(exc).__name__})")
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
    unprintable = sum(
        1
        for ch in text
        if ch not in ALLOWED_CONTROLS and unicodedata.category(ch) in UNPRINTABLE_CATEGORIES
    )
    return unprintable <= MAX_UNPRINTABLE_SHARE * max(len(text), 1)


def normalize_whitespace(text: str) -> str:
    """One newline convention and plain spaces, so block splitting and matching see one form."""
    text = LINE_BREAK.sub("\n", text)
    text = INVISIBLE_CHARS.sub("", text)
    text = WIDE_OR_HARD_SPACE.sub(" ", text)
    lines = (RUN_OF_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines).strip("\n") + "\n"
