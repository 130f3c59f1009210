"""Index generations on disk: one plain directory each, a manifest, and an atomic `current` switch.

Layout under the index root:
    generations/<id>/manifest.json, dense.faiss, bm25_chunks/, bm25_articles/, chunks.jsonl,
                     articles.jsonl
    current -> generations/<id>      (a symlink replaced with rename(2), so readers never see half)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from index.errors import BuildBusyError, IndexInvalidError, IndexNotFoundError, NewsqaError
from index.models import IndexInfo

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
# Manifest settings key of a daily build: its base and the stories beside it (`index.delta`).
SEGMENTS = "segments"
CURRENT = "current"
GENERATIONS = "generations"
# The mode bits a published generation's files keep (its read bits, as the umask gave them):
# it is never written again, and may be shared.
READ_ONLY = 0o444


@dataclass(frozen=True)
class Manifest:
    """What a generation holds and how it was made; loading checks every field that matters."""

    schema_version: int
    generation: str
    built_at: str
    embedder: str
    dimension: int
    index_type: str
    stories: int
    articles: int
    chunks: int
    files: dict[str, str]  # story file -> sha256 of its bytes
    artifacts: dict[str, str]  # artifact path -> sha256, to catch truncation and corruption
    skipped: dict[str, str] = field(default_factory=dict)  # story file -> why it was skipped
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Every field checked for its type and range: a manifest that is valid JSON but not a
        manifest (a count of 1e400, a list where a table belongs) is a refused generation."""
        try:
            settings = _table(data.get("settings", {}), "settings")
            segments = settings.get(SEGMENTS)
            if segments is not None:
                _check_segments(segments)
            return cls(
                schema_version=_count(data["schema_version"], "schema_version"),
                generation=_text(data["generation"], "generation"),
                built_at=_text(data["built_at"], "built_at"),
                embedder=_text(data["embedder"], "embedder"),
                dimension=_count(data["dimension"], "dimension"),
                index_type=_text(data["index_type"], "index_type"),
                stories=_count(data["stories"], "stories"),
                articles=_count(data["articles"], "articles"),
                chunks=_count(data["chunks"], "chunks"),
                files=_names(data["files"], "files"),
                artifacts=_names(data["artifacts"], "artifacts"),
                skipped=_names(data.get("skipped", {}), "skipped"),
                settings=settings,
            )
        except KeyError as exc:
            raise IndexInvalidError(f"manifest is malformed: no {exc.args[0]!r}") from exc

    def info(self) -> IndexInfo:
        segments = self.settings.get(SEGMENTS)
        return IndexInfo(
            generation=self.generation,
            built_at=self.built_at,
            embedder=self.embedder,
            dimension=self.dimension,
            stories=self.stories,
            articles=self.articles,
            chunks=self.chunks,
            index_type=self.index_type,
            delta_chunks=self.chunks - int(segments["base_chunks"]) if segments else 0,
        )


def _malformed(field_name: str, expected: str, value: object) -> IndexInvalidError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return IndexInvalidError(f"manifest is malformed: {field_name} is {shown}, not {expected}")


def _count(value: object, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 62:
        raise _malformed(field_name, "a count", value)
    return value


def _text(value: object, field_name: str) -> str:
    if not isinstance(value, str):
        raise _malformed(field_name, "a string", value)
    return value


def _table(value: object, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(field_name, "a JSON object", value)
    return value


def _names(value: object, field_name: str) -> dict[str, str]:
    """A table of names to strings (story file -> sha256, artifact -> sha256, file -> why)."""
    table = _table(value, field_name)
    for key, item in table.items():
        if not isinstance(item, str):
            raise _malformed(f"{field_name}[{key!r}]", "a string", item)
    return table


def _check_segments(value: object) -> None:
    """A daily build's record of its base (`index.delta`), read by loading and the next build."""
    segments = _table(value, SEGMENTS)
    _text(segments.get("base_generation"), "segments.base_generation")
    _count(segments.get("base_chunks"), "segments.base_chunks")
    _count(segments.get("base_articles"), "segments.base_articles")
    files = segments.get("delta_files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise _malformed("segments.delta_files", "a list of story files", files)


def new_generation_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{os.urandom(3).hex()}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_hashes(directory: Path) -> dict[str, str]:
    """sha256 of every file in a generation except the manifest itself."""
    return {
        path.relative_to(directory).as_posix(): file_sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def staging_directory(index_root: Path) -> Path:
    """A fresh directory next to the generations, so the final rename stays on one filesystem.

    Made with the umask's mode (not mkdtemp's 0700), so a generation built by the operator can
    be served by the bot's user through the group."""
    generations = index_root / GENERATIONS
    generations.mkdir(parents=True, exist_ok=True)
    while True:
        staging = generations / f".staging-{os.urandom(6).hex()}"
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        return staging


def publish_generation(
    index_root: Path,
    staging: Path,
    manifest: Manifest,
    check: Callable[[Path], object] | None = None,
) -> Path:
    """Write the manifest last, make every file read-only, `check` the staged generation (it
    raises when the generation does not load), move it into place, then switch `current`."""
    manifest_tmp = staging / (MANIFEST + ".tmp")
    manifest_tmp.write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), "utf-8")
    _fsync_file(manifest_tmp)
    os.replace(manifest_tmp, staging / MANIFEST)
    make_read_only(staging)
    if check is not None:
        check(staging)
    final = index_root / GENERATIONS / manifest.generation
    os.replace(staging, final)
    switch_current(index_root, manifest.generation)
    return final


def make_read_only(directory: Path) -> None:
    """No write bits on any file of a generation (0444 under the usual umask): a daily build
    hardlinks its base's files into the next generation, and an edit in place would change
    every generation sharing them."""
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(stat.S_IMODE(path.stat().st_mode) & READ_ONLY)


def check_switchable(index_root: Path) -> None:
    """Refuse, before any work, a `current` that a switch could not replace: a directory or a
    file someone put there in place of the link."""
    link = index_root / CURRENT
    if link.exists() and not link.is_symlink():
        kind = "directory" if link.is_dir() else "file"
        raise IndexInvalidError(
            f"{link} is a {kind}, not the symlink newsqa switches; move it away and rebuild"
        )


def switch_current(index_root: Path, generation: str) -> None:
    """Point `current` at a generation with one rename, so a reader sees the old or the new."""
    check_switchable(index_root)
    target = Path(GENERATIONS) / generation
    if not (index_root / target / MANIFEST).is_file():
        raise IndexNotFoundError(f"generation {generation} has no manifest under {index_root}")
    link_tmp = index_root / f".{CURRENT}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    os.symlink(target, link_tmp)
    os.replace(link_tmp, index_root / CURRENT)
    _fsync_dir(index_root)


def current_generation(index_root: Path) -> str | None:
    """Cheap: which generation `current` points at (the bot polls this to notice rebuilds)."""
    try:
        target = Path(os.readlink(index_root / CURRENT))
    except (FileNotFoundError, OSError):
        return None
    return target.name if _confined(index_root, target) else None


def _confined(index_root: Path, target: Path) -> bool:
    """Whether a `current` link's target names a generation of this root."""
    if target.parent == Path(GENERATIONS):
        return True
    return target.is_absolute() and target.parent.resolve() == (index_root / GENERATIONS).resolve()


def current_directory(index_root: Path) -> Path | None:
    """The generation directory `current` points at, None when there is no `current`; a
    `current` that is not newsqa's link, or that leads out of this root's generations, is
    refused (a generation is only ever served from the root it was built in)."""
    check_switchable(index_root)
    link = index_root / CURRENT
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link))
    directory = index_root / GENERATIONS / target.name
    if not _confined(index_root, target):
        raise IndexInvalidError(
            f"{link} points to {target}, outside {index_root / GENERATIONS}; "
            "run `newsqa index rollback` or a build to reset it"
        )
    if not directory.is_dir():
        raise IndexInvalidError(f"{link} points to {target}, which does not exist")
    return directory


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise IndexInvalidError(f"{directory.name}: no manifest (partial build?)") from exc
    except (OSError, ValueError) as exc:
        raise IndexInvalidError(f"{directory.name}: manifest unreadable: {exc}") from exc
    except RecursionError as exc:
        raise IndexInvalidError(f"{directory.name}: manifest nested too deeply") from exc
    if not isinstance(data, dict):
        raise IndexInvalidError(f"{directory.name}: manifest is not a JSON object")
    try:
        return Manifest.from_json(data)
    except IndexInvalidError as exc:
        raise IndexInvalidError(f"{directory.name}: {exc}") from exc


def validate_generation(
    directory: Path,
    embedder_id: str | None = None,
    required: Iterable[str] = (),
    checksums: dict[tuple[int, ...], str] | None = None,
) -> Manifest:
    """Refuse a partial, corrupt or mismatched generation with one clear sentence; every
    `required` file or folder must be covered by the manifest's checksums. `checksums` keeps
    the digests of files already read in one pass over several generations, by inode."""
    manifest = read_manifest(directory)
    name = directory.name
    if not manifest.artifacts:
        raise IndexInvalidError(f"{name}: the manifest lists no checksums, so nothing is trusted")
    for needed in required:
        if not any(a == needed or a.startswith(needed + "/") for a in manifest.artifacts):
            raise IndexInvalidError(f"{name}: the manifest has no checksum for {needed}")
    if manifest.schema_version != SCHEMA_VERSION:
        raise IndexInvalidError(
            f"{name}: index format {manifest.schema_version}, this newsqa reads "
            f"{SCHEMA_VERSION}; rebuild with `newsqa index build`"
        )
    if embedder_id is not None and manifest.embedder != embedder_id:
        raise IndexInvalidError(
            f"{name}: built with embedder {manifest.embedder!r} but {embedder_id!r} is "
            "configured; rebuild or set NEWSQA_EMBEDDER to match"
        )
    for artifact, expected in manifest.artifacts.items():
        path = directory / artifact
        if not path.is_file():
            raise IndexInvalidError(f"{name}: {artifact} is missing")
        if _checksum(path, checksums) != expected:
            raise IndexInvalidError(f"{name}: {artifact} is truncated or corrupt (checksum)")
    return manifest


def _checksum(path: Path, known: dict[tuple[int, ...], str] | None) -> str:
    if known is None:
        return file_sha256(path)
    stat = path.stat()
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in known:
        known[key] = file_sha256(path)
    return known[key]


def generation_dirs(index_root: Path) -> list[Path]:
    """Published generations, newest first (ids sort by build time)."""
    root = index_root / GENERATIONS
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(dirs, key=lambda p: p.name, reverse=True)


def list_generations(index_root: Path) -> list[tuple[bool, IndexInfo]]:
    """(serving, info) per generation, newest first. Serving is what a loader would serve: not
    a refused `current`, but the newest valid generation in its place."""
    current, _ = serving_generation(index_root)
    rows: list[tuple[bool, IndexInfo]] = []
    for directory in generation_dirs(index_root):
        try:
            info = read_manifest(directory).info()
        except NewsqaError as exc:
            log.warning("skipping %s: %s", directory.name, exc)
            continue
        rows.append((directory.name == current, info))
    return rows


def serving_generation(
    index_root: Path, required: Iterable[str] = ()
) -> tuple[str | None, dict[str, str]]:
    """The generation a loader would serve (`current` if valid, else the newest valid one) and
    why each generation tried before it was refused."""
    current = current_generation(index_root)
    published = generation_dirs(index_root)
    order = [d for d in published if d.name == current] + [
        d for d in published if d.name != current
    ]
    refused: dict[str, str] = {}
    if current is not None and not any(d.name == current for d in published):
        refused[current] = "`current` points to a generation that does not exist"
    for directory in order:
        try:
            validate_generation(directory, required=required)
        except IndexInvalidError as exc:
            refused[directory.name] = str(exc)
            continue
        return directory.name, refused
    return None, refused


@contextmanager
def build_lock(index_root: Path) -> Iterator[None]:
    """One writer at a time per index root: builds, rollbacks (a timer and an operator may
    start one together, and a rollback must not be undone by a build switching after it)."""
    index_root.mkdir(parents=True, exist_ok=True)
    with (index_root / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildBusyError(f"another build is running on {index_root}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def rollback(index_root: Path) -> str:
    """Switch `current` to the newest valid generation older than the current one, under the
    build lock."""
    with build_lock(index_root):
        current = current_generation(index_root)
        if current is None:
            raise IndexNotFoundError(f"no current generation under {index_root}")
        older = [d for d in generation_dirs(index_root) if d.name < current]
        for directory in older:
            try:
                validate_generation(directory)
            except IndexInvalidError as exc:
                log.warning("not rolling back to %s: %s", directory.name, exc)
                continue
            switch_current(index_root, directory.name)
            return directory.name
        raise IndexNotFoundError(f"no valid generation older than {current} to roll back to")


def prune_generations(index_root: Path, keep: int) -> list[str]:
    """Delete generations beyond the newest `keep` valid ones; never `current`, never a valid
    generation while fewer than `keep` newer ones are valid (so the last one that loads always
    stays), and a refused generation only once it is older than the kept ones. Leftovers of
    interrupted builds (staging directories) go too."""
    current = current_generation(index_root)
    removed: list[str] = []
    valid = 0
    checksums: dict[tuple[int, ...], str] = {}  # daily generations share their base's files
    for position, directory in enumerate(generation_dirs(index_root)):
        if valid >= keep and position >= keep and directory.name != current:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory.name)
            continue
        try:
            validate_generation(directory, checksums=checksums)
        except IndexInvalidError as exc:
            log.warning(
                "generation %s does not load, so it does not count as kept: %s", directory.name, exc
            )
            continue
        valid += 1
    root = index_root / GENERATIONS
    if root.is_dir():
        for stale in root.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
    return removed


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
