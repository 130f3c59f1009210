"""Same answers before and after a change: record what `newsqa ask --batch --json` answers for a
QA set's questions over one index, then compare two recordings.

Usage:
  .venv/bin/python benchmarks/same_answers.py record --qa QA.jsonl --index INDEX --out A.jsonl
  .venv/bin/python benchmarks/same_answers.py compare A.jsonl B.jsonl

`record` runs the installed `newsqa` (beside this interpreter) once over every question of the
set, in file order, and writes each answer as one line without `elapsed_ms` (the only field that
differs from run to run). `compare` exits 0 when both files hold the same answers byte for byte,
else 1 with the first question that differs and the two answers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

TIMING = "elapsed_ms"


def questions(qa: Path) -> list[str]:
    """The questions of a QA jsonl, in file order (one line each: a question holds no newline)."""
    rows = [json.loads(line) for line in qa.read_text("utf-8").splitlines() if line.strip()]
    return [" ".join(str(row["question"]).splitlines()) for row in rows]


def newsqa_command() -> str:
    """The `newsqa` installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("newsqa")
    return str(beside) if beside.exists() else "newsqa"


def without_timing(line: str) -> str:
    """One answer line with `elapsed_ms` removed, written back in a fixed form."""
    answer = json.loads(line)
    answer.pop(TIMING, None)
    return json.dumps(answer, ensure_ascii=False, sort_keys=True)


def record(qa: Path, index: Path, out: Path) -> int:
    asked = questions(qa)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("".join(q + "\n" for q in asked))
        batch = Path(f.name)
    try:
        run = subprocess.run(
            [newsqa_command(), "ask", "--batch", str(batch), "--json", "--index", str(index)],
            capture_output=True,
            check=False,
        )
    finally:
        batch.unlink()
    if run.returncode != 0:
        sys.stderr.write(run.stderr.decode("utf-8", "replace"))
        print(f"newsqa ask exited {run.returncode}", file=sys.stderr)
        return run.returncode
    lines = run.stdout.decode("utf-8").splitlines()
    if len(lines) != len(asked):
        print(f"{len(asked)} questions but {len(lines)} answers", file=sys.stderr)
        return 1
    out.write_text("".join(without_timing(line) + "\n" for line in lines), "utf-8")
    print(f"{len(lines)} answers written to {out}")
    return 0


def compare(first: Path, second: Path) -> int:
    a = first.read_text("utf-8").splitlines()
    b = second.read_text("utf-8").splitlines()
    for number, (left, right) in enumerate(zip(a, b, strict=False), start=1):
        if left != right:
            question = json.loads(left).get("question", "")
            print(f"answer {number} differs ({question}):\n< {left}\n> {right}")
            return 1
    if len(a) != len(b):
        print(f"{first} holds {len(a)} answers, {second} {len(b)}")
        return 1
    print(f"{len(a)} answers identical")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="answer a QA set's questions over an index")
    rec.add_argument("--qa", type=Path, required=True, help="QA jsonl (a 'question' per line)")
    rec.add_argument("--index", type=Path, required=True, help="index root (NEWSQA_INDEX_DIR)")
    rec.add_argument("--out", type=Path, required=True, help="where the answers go")
    cmp = commands.add_parser("compare", help="exit 1 at the first answer that differs")
    cmp.add_argument("first", type=Path)
    cmp.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args.qa, args.index, args.out)
    return compare(args.first, args.second)


if __name__ == "__main__":
    sys.exit(main())
