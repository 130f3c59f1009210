"""Display names for story files, so a reader sees `西藏日报 2024-05-01` rather than a file
name made of a content hash.

An operator may put `names.tsv` beside the stories: one story a line, the file name (as under
the docs folder), a tab, then the name; blank lines and lines starting with `#` are skipped.
A build copies it into the generation, so a serving bot reads the names of the stories it
serves without the docs folder. A file without a name is cited by its headline alone.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

NAMES_FILE = "names.tsv"
MAX_NAME_CHARS = 60  # a citation is one line: longer names are cut
MAX_NAMES_BYTES = 5_000_000  # the docs folder is untrusted input: a larger file is ignored


def parse_names(text: str) -> dict[str, str]:
    """`file<TAB>name` lines as a mapping; malformed lines are skipped (and logged)."""
    names: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        file, tab, name = line.partition("\t")
        name = " ".join(name.split())[:MAX_NAME_CHARS]
        if not tab or not file.strip() or not name:
            log.warning("%s line %d is not 'file<TAB>name'; skipped", NAMES_FILE, number)
            continue
        names[file.strip()] = name
    return names


def read_names(directory: Path) -> dict[str, str]:
    """The names file in `directory` (a docs folder or a generation), or {} without one."""
    path = directory / NAMES_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_NAMES_BYTES:
            return {}
        return parse_names(path.read_text("utf-8", errors="replace"))
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}


def copy_names(docs_dir: Path, generation: Path) -> None:
    """Record the docs folder's names file in a generation being built (when there is one)."""
    source = docs_dir / NAMES_FILE
    if source.is_file() and source.stat().st_size <= MAX_NAMES_BYTES:
        shutil.copyfile(source, generation / NAMES_FILE)
