"""Explain extraction on a QA set: every miss with its highlight, sentence and abstention reason.

Usage: .venv/bin/python benchmarks/answer_dev.py [--qa FILE] [--docs DIR] [--index DIR] [--all]

`newsqa eval` gives the scores; this script shows why a question was missed, using the real
engine (hybrid search, the lexicon's translations for English) and `index.answer` directly.
Without --index it builds a throwaway index from --docs first.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer import abstention_reason, extract_answer
from index.question import normalize_question
from index.settings import Settings

_SPACE = re.compile(r"\s+")


def _squash(text: str | None) -> str:
    return _SPACE.sub("", text or "")


def explain(engine: Any, rows: list[dict[str, Any]], show_all: bool) -> None:
    settings = engine._settings
    counts = {"answer": 0, "highlight": 0, "answerable": 0, "abstained": 0, "unanswerable": 0}
    false_abstentions = 0
    timings: list[float] = []
    for row in rows:
        query = normalize_question(row["question"])
        hits = engine.search(query, settings.candidates)
        started = time.perf_counter()
        extraction = extract_answer(
            query,
            hits,
            engine.embedder,
            max_chars=settings.max_answer_chars,
            translations=engine._searcher.lexicon.expand(query),
        )
        reason = abstention_reason(query, extraction, hits)
        timings.append((time.perf_counter() - started) * 1000)
        gold = row.get("answer")
        if gold:
            counts["answerable"] += 1
            right_file = extraction is not None and extraction.chunk.file == row["file"]
            answer_ok = right_file and reason is None and _squash(gold) in _squash(extraction.text)
            highlight = _squash(extraction.highlight if extraction else None)
            limit = max(2 * len(_squash(gold)), len(_squash(gold)) + 8)
            highlight_ok = right_file and _squash(gold) in highlight and len(highlight) <= limit
            counts["answer"] += answer_ok
            counts["highlight"] += highlight_ok
            false_abstentions += reason is not None
            missed = not (answer_ok and highlight_ok)
        else:
            counts["unanswerable"] += 1
            counts["abstained"] += reason is not None
            missed = reason is None
        if missed or show_all:
            print(f"{row['id']} [{row.get('kind', '')}/{row.get('lang', '')}] {row['question']}")
            print(f"    gold: {gold}  abstained: {reason}")
            if extraction is not None:
                print(f"    highlight: {extraction.highlight}  ({extraction.chunk.file})")
                print(f"    text: {extraction.text[:120]}")
    answerable = counts["answerable"] or 1
    print(
        f"\nanswer@1 {counts['answer'] / answerable:.3f}  "
        f"highlight {counts['highlight'] / answerable:.3f}  "
        f"abstention {counts['abstained'] / (counts['unanswerable'] or 1):.3f}  "
        f"false abstention {false_abstentions / answerable:.3f}  "
        f"extraction p50 {statistics.median(timings):.1f} ms "
        f"p95 {sorted(timings)[int(0.95 * (len(timings) - 1))]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qa", type=Path, default=Path("../shared/eval/stories_qa_dev.jsonl"))
    parser.add_argument("--docs", type=Path, default=Path("../shared/stories"))
    parser.add_argument("--index", type=Path, help="an index root built from --docs")
    parser.add_argument("--all", action="store_true", help="show every question, not misses")
    args = parser.parse_args()

    from index.build import build_generation
    from index.service import load_engine

    rows = [json.loads(line) for line in args.qa.read_text("utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="answer-dev-") as tmp:
        settings = Settings(docs_dir=args.docs, index_dir=args.index or Path(tmp) / "index")
        if args.index is None:
            build_generation(settings, progress=False)
        explain(load_engine(settings), rows, args.all)


if __name__ == "__main__":
    main()
