"""NEWSQA_BACKEND parsing and the Milvus client arguments (token, gRPC options)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from index.backends.uri import (
    LITE_GRPC_OPTIONS,
    BackendConfigError,
    client_arguments,
    index_root,
    parse_backend,
)
from index.settings import Settings


def test_unset_and_file_uris_are_the_embedded_default() -> None:
    assert parse_backend("").embedded
    assert parse_backend("  ").path is None
    spec = parse_backend("file:///var/lib/newsqa/index")
    assert spec.embedded and spec.path == Path("/var/lib/newsqa/index")


def test_milvus_lite_takes_an_absolute_or_relative_db_file() -> None:
    assert parse_backend("milvus:///tmp/x/test.db").path == Path("/tmp/x/test.db")
    spec = parse_backend("milvus://data/newsqa.db")
    assert spec.kind == "milvus-lite" and spec.path == Path("data/newsqa.db")


def test_a_server_address_keeps_its_transport_and_port() -> None:
    assert parse_backend("milvus+http://milvus.internal:19530").address == (
        "http://milvus.internal:19530"
    )
    assert parse_backend("milvus+https://cloud.example").address == "https://cloud.example"


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("milvus:///tmp/newsqa", r"\.db"),
        ("milvus+http://:19530", "no host"),
        ("qdrant://localhost:6333", "not a backend"),
    ],
)
def test_unusable_uris_are_refused_with_the_accepted_forms(uri: str, reason: str) -> None:
    with pytest.raises(BackendConfigError, match=reason):
        parse_backend(uri)


def test_lite_gets_keepalive_options_that_avoid_too_many_pings(tmp_path: Path) -> None:
    settings = Settings(
        backend=f"milvus://{tmp_path / 'a' / 'lite.db'}",
        milvus_grpc_options={"grpc.max_receive_message_length": 1 << 26},
    )
    arguments = client_arguments(parse_backend(settings.backend), settings)
    assert arguments["uri"] == str(tmp_path / "a" / "lite.db")
    assert (tmp_path / "a").is_dir()
    options = arguments["grpc_options"]
    assert isinstance(options, dict)
    assert options == {**LITE_GRPC_OPTIONS, "grpc.max_receive_message_length": 1 << 26}
    assert "token" not in arguments


def test_the_server_token_comes_from_the_credential_file_before_the_environment(
    tmp_path: Path,
) -> None:
    (tmp_path / "milvus-token").write_text("root:from-file\n", "utf-8")
    settings = Settings(
        backend="milvus+https://milvus.internal:443",
        milvus_token=SecretStr("root:from-env"),
        credentials_directory=tmp_path,
    )
    arguments = client_arguments(parse_backend(settings.backend), settings)
    assert arguments == {"uri": "https://milvus.internal:443", "token": "root:from-file"}
    without_file = settings.model_copy(update={"credentials_directory": tmp_path / "none"})
    assert client_arguments(parse_backend(settings.backend), without_file)["token"] == (
        "root:from-env"
    )
    assert "from-env" not in repr(settings)


def test_a_file_uri_names_the_index_root_of_the_default_engine(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "dir")
    assert index_root(settings) == tmp_path / "dir"
    named = settings.model_copy(update={"backend": f"file://{tmp_path / 'uri'}"})
    assert index_root(named) == tmp_path / "uri"
    lite = settings.model_copy(update={"backend": f"milvus://{tmp_path / 'x.db'}"})
    assert index_root(lite) == tmp_path / "dir"
