"""Index generations on disk: one plain directory each, a manifest, and an atomic `current` switch.

Layout under the index root:
    generations/<id>/manifest.json, dense.faiss, bm25_chunks/, bm25_articles/, chunks.jsonl,
                     articles.jsonl
    current -> generations/<id>      (a symlink replaced with rename(2), so readers never see half)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from index.errors import IndexInvalidError, IndexNotFoundError, NewsqaError
from index.models import IndexInfo

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
# Manifest settings key of a daily build: its base and the stories beside it (`index.delta`).
SEGMENTS = "segments"
CURRENT = "current"
GENERATIONS = "generations"


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
        try:
            return cls(
                schema_version=int(data["schema_version"]),
                generation=str(data["generation"]),
                built_at=str(data["built_at"]),
                embedder=str(data["embedder"]),
                dimension=int(data["dimension"]),
                index_type=str(data["index_type"]),
                stories=int(data["stories"]),
                articles=int(data["articles"]),
                chunks=int(data["chunks"]),
                files={str(k): str(v) for k, v in data["files"].items()},
                artifacts={str(k): str(v) for k, v in data["artifacts"].items()},
                skipped={str(k): str(v) for k, v in data.get("skipped", {}).items()},
                settings=dict(data.get("settings", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexInvalidError(f"manifest is malformed: {exc!r}") from exc

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


def publish_generation(index_root: Path, staging: Path, manifest: Manifest) -> Path:
    """Write the manifest last, move the staged directory into place, then switch `current`."""
    manifest_tmp = staging / (MANIFEST + ".tmp")
    manifest_tmp.write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), "utf-8")
    _fsync_file(manifest_tmp)
    os.replace(manifest_tmp, staging / MANIFEST)
    final = index_root / GENERATIONS / manifest.generation
    os.replace(staging, final)
    switch_current(index_root, manifest.generation)
    return final


def switch_current(index_root: Path, generation: str) -> None:
    """Point `current` at a generation with one rename, so a reader sees the old or the new."""
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
        return Path(os.readlink(index_root / CURRENT)).name
    except (FileNotFoundError, OSError):
        return None


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise IndexInvalidError(f"{directory.name}: no manifest (partial build?)") from exc
    except (OSError, ValueError) as exc:
        raise IndexInvalidError(f"{directory.name}: manifest unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise IndexInvalidError(f"{directory.name}: manifest is not a JSON object")
    return Manifest.from_json(data)


def validate_generation(
    directory: Path, embedder_id: str | None = None, required: Iterable[str] = ()
) -> Manifest:
    """Refuse a partial, corrupt or mismatched generation with one clear sentence; every
    `required` file or folder must be covered by the manifest's checksums."""
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
        if file_sha256(path) != expected:
            raise IndexInvalidError(f"{name}: {artifact} is truncated or corrupt (checksum)")
    return manifest


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


def rollback(index_root: Path) -> str:
    """Switch `current` to the newest valid generation older than the current one."""
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
    """Delete the oldest generations beyond `keep`, never the current one; leftovers of
    interrupted builds (staging directories) go too."""
    current = current_generation(index_root)
    removed: list[str] = []
    for directory in generation_dirs(index_root)[keep:]:
        if directory.name != current:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory.name)
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
