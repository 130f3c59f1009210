"""The README's exit-status table is what every command does: one row of this table per cause,
each run in-process through `newsqa`, each ending in exactly one `Error: …` line."""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.cli import main
from index.store import build_lock

REPO = Path(__file__).resolve().parents[1]


def _raises(exc: BaseException) -> Callable[..., object]:
    def fail(*_: object, **__: object) -> object:
        raise exc

    return fail


@dataclass(frozen=True)
class Case:
    """One command line, what it needs around it, and what it must end in."""

    args: tuple[str, ...]
    status: int
    words: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # written under the test's folder
    patch: tuple[str, BaseException] | None = None  # (index.backends.factory name, raised)
    locked: bool = False  # a build holds the index root's lock meanwhile


CASES = {
    "ask before any build": Case(("ask", "q"), 1, ("no index under",)),
    "chat before any build": Case(("chat",), 1, ("no index under",)),
    "rollback with nothing to roll back to": Case(("index", "rollback"), 1, ("no current",)),
    "build without a story folder": Case(("index", "build", "--quiet"), 1, ("does not exist",)),
    "ask with neither question nor --batch": Case(("ask",), 2, ("give either",)),
    "an unknown option": Case(("index", "list", "--nope"), 2, ("--nope",)),
    "a bad option value": Case(("bench", "--archive", "5"), 2, ("--archive",)),
    "a question that is not UTF-8": Case(("ask", "聂荣县\udcff"), 65, ("0xff",)),
    "eval: a line that is not JSON": Case(
        ("eval", "--qa", "{tmp}/qa.jsonl"),
        65,
        ("qa.jsonl", "line 2"),
        files={"qa.jsonl": b'{"id": 1, "question": "q", "answer": "a"}\n{broken\n'},
    ),
    "eval: a line without a question": Case(
        ("eval", "--qa", "{tmp}/qa.jsonl"),
        65,
        ("qa.jsonl", "line 1", "question"),
        files={"qa.jsonl": b'{"id": 1, "answer": "a"}\n'},
    ),
    "eval: a line that is not UTF-8": Case(
        ("eval", "--qa", "{tmp}/qa.jsonl"),
        65,
        ("qa.jsonl", "line 1", "UTF-8"),
        files={"qa.jsonl": b'{"id": 1, "question": "\xff"}\n'},
    ),
    "ask --batch: a missing file": Case(
        ("ask", "--batch", "{tmp}/missing.txt"), 66, ("not found", "missing.txt")
    ),
    "ask --batch: a folder": Case(("ask", "--batch", "{tmp}"), 66, ("folder",)),
    "eval --qa: a missing file": Case(
        ("eval", "--qa", "{tmp}/missing.jsonl"), 66, ("not found", "missing.jsonl")
    ),
    "bench --reader-data: a missing folder": Case(
        ("bench", "--archive", "100", "--reader-data", "{tmp}/nothing"), 66, ("nothing",)
    ),
    "an unexpected error": Case(
        ("index", "rollback"), 70, ("KeyError", "-v"), patch=("rollback", KeyError("x"))
    ),
    "out of memory": Case(
        ("index", "rollback"), 71, ("memory",), patch=("rollback", MemoryError())
    ),
    "a read-only filesystem": Case(
        ("index", "rollback"),
        73,
        ("read-only", "{tmp}/index"),
        patch=("rollback", OSError(errno.EROFS, "Read-only file system")),
    ),
    "a full disk": Case(
        ("index", "rollback"),
        74,
        ("disk full", "{tmp}/index", "No space left on device"),
        patch=("rollback", OSError(errno.ENOSPC, "No space left on device")),
    ),
    "another build running": Case(("index", "rollback"), 75, ("another build",), locked=True),
    "permission denied": Case(
        ("index", "rollback"),
        77,
        ("permission denied", "{tmp}/index/current"),
        patch=(
            "rollback",
            PermissionError(errno.EACCES, "Permission denied", "{tmp}/index/current"),
        ),
    ),
    "an invalid setting": Case(
        ("index", "list"), 78, ("NEWSQA_BUILD_JOBS", "integer"), env={"NEWSQA_BUILD_JOBS": "x"}
    ),
    "serve: an invalid setting": Case(
        ("serve",), 78, ("NEWSQA_TOP_K",), env={"NEWSQA_TOP_K": "many"}
    ),
    "serve: no Telegram token": Case(("serve",), 78, ("no Telegram token",)),
    "serve: a malformed token": Case(
        ("serve",), 78, ("malformed",), env={"NEWSQA_TELEGRAM_TOKEN": "not-a-token"}
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_cause_exits_with_its_status_and_one_error_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    for variable in ("NEWSQA_TELEGRAM_TOKEN", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(variable, raising=False)
    for file, data in case.files.items():
        (tmp_path / file).write_bytes(data)
    if case.patch is not None:
        raised = case.patch[1]
        if isinstance(raised, OSError) and raised.filename:
            raised.filename = raised.filename.format(tmp=tmp_path)
        monkeypatch.setattr(f"index.backends.factory.{case.patch[0]}", _raises(raised))
    env = {
        "NEWSQA_INDEX_DIR": str(tmp_path / "index"),
        "NEWSQA_DOCS_DIR": str(tmp_path / "stories"),
        "NEWSQA_CACHE_DIR": str(tmp_path / "cache"),
        **case.env,
    }
    args = [arg.format(tmp=tmp_path) for arg in case.args]
    with contextlib.ExitStack() as stack:
        if case.locked:
            stack.enter_context(build_lock(tmp_path / "index"))
        ran = CliRunner().invoke(main, args, env=env, input="")
    errors = [line for line in ran.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, ran.stderr
    assert "Traceback" not in ran.output + ran.stderr
    assert ran.exit_code == case.status, (ran.exit_code, ran.stderr)
    for word in case.words:
        assert word.format(tmp=tmp_path) in errors[0], errors[0]


def test_the_readme_table_lists_exactly_the_statuses_the_commands_use() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    table = readme[readme.index("| exit status |") :].split("\n\n", 1)[0]
    listed = {int(status) for status in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert listed == {0} | {case.status for case in CASES.values()}


def test_an_unreadable_input_file_is_permission_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("q\n", "utf-8")
    # The tests may run as root, whom no file mode stops: the access check is what is asked.
    monkeypatch.setattr("os.access", lambda path, mode: Path(path) != questions)
    ran = CliRunner().invoke(main, ["ask", "--batch", str(questions)])
    assert ran.exit_code == 77, ran.stderr
    assert ran.stderr == f"Error: permission denied at {questions} (Permission denied)\n"


def test_bench_needs_the_reader_data_only_for_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone without ../shared runs `newsqa bench`; only `--archive` asks for the files."""
    monkeypatch.chdir(tmp_path)  # no ../shared/data/reader from here
    monkeypatch.setattr("index.bench.run_benchmarks", lambda *_, **__: "measured")
    env = {"NEWSQA_CACHE_DIR": str(tmp_path / "cache"), "NEWSQA_DOCS_DIR": str(REPO / "examples")}
    ran = CliRunner().invoke(main, ["bench", "--quick"], env=env)
    assert ran.exit_code == 0, ran.stderr
    assert ran.output.strip() == "measured"
    ran = CliRunner().invoke(main, ["bench", "--archive", "100"], env=env)
    assert ran.exit_code == 66, ran.stderr
    assert "--reader-data ../shared/data/reader is not a folder" in ran.stderr
