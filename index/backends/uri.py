"""NEWSQA_BACKEND as a URI: which engine holds the index and how to reach it.

''  or file://[/path]            embedded FAISS + bm25s generations (the default)
milvus:///abs/path/to.db         milvus-lite in this process (tests, one box)
milvus://relative/path/to.db     the same, relative to the working directory
milvus+http://host:19530         a Milvus server or cluster (milvus+https:// for TLS)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from index.errors import NewsqaError
from index.settings import Settings

BackendKind = Literal["file", "milvus-lite", "milvus"]
TOKEN_FILE = "milvus-token"
# milvus-lite drops long RPCs with "too_many_pings" under pymilvus's default keepalive.
LITE_GRPC_OPTIONS: dict[str, int | str] = {
    "grpc.keepalive_time_ms": 2**31 - 1,
    "grpc.keepalive_permit_without_calls": 0,
}


class BackendConfigError(NewsqaError):
    """NEWSQA_BACKEND or its credentials cannot be used."""


@dataclass(frozen=True)
class BackendSpec:
    """A parsed NEWSQA_BACKEND: `path` for files and lite, `address` for a server."""

    kind: BackendKind
    path: Path | None = None
    address: str | None = None

    @property
    def embedded(self) -> bool:
        return self.kind == "file"


def parse_backend(uri: str) -> BackendSpec:
    """Read a backend URI; anything unknown is refused with the accepted forms."""
    uri = uri.strip()
    if not uri:
        return BackendSpec("file")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        where = parts.netloc + parts.path
        return BackendSpec("file", path=Path(where) if where else None)
    if scheme == "milvus":
        where = parts.netloc + parts.path
        if not where.endswith(".db"):
            raise BackendConfigError(
                f"NEWSQA_BACKEND={uri!r}: milvus-lite needs a file ending in .db "
                "(milvus:///path/to/newsqa.db)"
            )
        return BackendSpec("milvus-lite", path=Path(where))
    if scheme in ("milvus+http", "milvus+https"):
        if not parts.hostname:
            raise BackendConfigError(f"NEWSQA_BACKEND={uri!r}: no host")
        transport = scheme.split("+", 1)[1]
        port = f":{parts.port}" if parts.port else ""
        return BackendSpec("milvus", address=f"{transport}://{parts.hostname}{port}")
    raise BackendConfigError(
        f"NEWSQA_BACKEND={uri!r} is not a backend newsqa knows: use file://…, "
        "milvus:///path/to.db or milvus+http://host:19530"
    )


def backend_spec(settings: Settings) -> BackendSpec:
    return parse_backend(settings.backend)


def index_root(settings: Settings) -> Path:
    """Where embedded generations live: file://PATH names it, else NEWSQA_INDEX_DIR."""
    spec = backend_spec(settings)
    return spec.path if spec.embedded and spec.path is not None else settings.index_dir


def milvus_token(settings: Settings) -> str:
    """The server token: the systemd credential file first, then NEWSQA_MILVUS_TOKEN; '' = none.

    Never a command-line flag: it would show in `ps`. milvus-lite has no authentication."""
    token = ""
    if settings.credentials_directory is not None:
        path = settings.credentials_directory / TOKEN_FILE
        if path.is_file():
            try:
                token = path.read_text("utf-8").strip()
            except OSError as exc:
                raise BackendConfigError(f"cannot read the Milvus token in {path}: {exc}") from exc
    if not token and settings.milvus_token is not None:
        token = settings.milvus_token.get_secret_value().strip()
    return token


def client_arguments(spec: BackendSpec, settings: Settings) -> dict[str, object]:
    """Keyword arguments for pymilvus.MilvusClient for this backend."""
    options: dict[str, int | str] = {}
    if spec.kind == "milvus-lite":
        assert spec.path is not None
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        options.update(LITE_GRPC_OPTIONS)
        options.update(settings.milvus_grpc_options)
        return {"uri": str(spec.path.resolve()), "grpc_options": options}
    if spec.kind != "milvus" or spec.address is None:
        raise BackendConfigError(f"{spec.kind} is not a Milvus backend")
    options.update(settings.milvus_grpc_options)
    arguments: dict[str, object] = {"uri": spec.address}
    token = milvus_token(settings)
    if token:
        arguments["token"] = token
    if options:
        arguments["grpc_options"] = options
    return arguments
