"""Compare ways of quoting an answer offline, with the answers and highlights held fixed.

Usage: .venv/bin/python benchmarks/quoting_policies.py [--dumps var/eval] [--tag r3]

Rebuilds `auto`'s answer to every answerable question from the reader's candidate dumps
(`benchmarks/reader_candidates.py`; as `benchmarks/answer_policies.py` does), then quotes its
highlight under each policy: from the chunk or from the paragraph the chunk was cut from,
sentences ended by clause marks (；) or by full stops only, and which neighbour a short quote
takes in. Reports, per set, how often the quote holds the gold answer and the median quote
length (longer quotes hold more: read both).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer_policies import SETS, agreed, reading_of

from index.evaluate import contains_any
from index.quoting import CLAUSE_END, FULL_STOP, in_paragraph, quote_span
from index.reader import TRAINED_DIR
from index.reader.agreement import load_agreement
from index.reader.rerank import load_reranker
from index.settings import Settings
from index.stages import load_stories, split_each_page

Row = dict[str, Any]
DOCS = {
    "heldout": Path("var/eval/heldout/stories"),
    "cmrc": Path("../shared/eval/cmrc2018_trial/stories"),
    "dev": Path("../shared/stories"),
}


@dataclass(frozen=True)
class Policy:
    label: str
    whole_paragraph: bool
    ends: re.Pattern[str]
    neighbours: tuple[str, ...]


POLICIES = (
    Policy("chunk, ；-clauses, previous only", False, CLAUSE_END, ("previous",)),
    Policy("paragraph, ；-clauses, previous only", True, CLAUSE_END, ("previous",)),
    Policy("paragraph, full stops, previous only", True, FULL_STOP, ("previous",)),
    Policy("paragraph, full stops, previous, next", True, FULL_STOP, ("previous", "next")),
    Policy("paragraph, full stops, next, previous", True, FULL_STOP, ("next", "previous")),
    Policy("paragraph, full stops, next only", True, FULL_STOP, ("next",)),
)


@dataclass(frozen=True)
class Answer:
    """`auto`'s highlight as [start, end) of the chunk it came from, and its paragraph."""

    chunk: str
    start: int
    end: int
    paragraph: str | None


def paragraphs_by_file(docs: Path) -> dict[str, list[str]]:
    report = load_stories(Settings(docs_dir=docs))
    return {
        page.file: [p.text for article in articles for p in article.paragraphs]
        for page, articles in zip(report.pages, split_each_page(report.pages), strict=True)
    }


def locate(row: Row, text: str, highlight: str, paragraphs: dict[str, list[str]]) -> Answer | None:
    """Where `auto`'s answer sits: the chunk (a candidate passage) or paragraph holding it."""
    for candidate in row["candidates"]:
        chunk = candidate["chunk"]
        at = chunk.find(text)
        if at < 0:
            continue
        start = at + text.find(highlight)
        paragraph = next((p for p in paragraphs.get(candidate["file"], []) if chunk in p), None)
        return Answer(chunk, start, start + len(highlight), paragraph)
    return None


def quoted(answer: Answer, policy: Policy) -> str:
    paragraph = answer.paragraph if policy.whole_paragraph else None
    text, start, end = in_paragraph(paragraph, answer.chunk, answer.start, answer.end)
    return quote_span(text, start, end, ends=policy.ends, neighbours=policy.neighbours)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, default=Path("var/eval"))
    parser.add_argument("--tag", default="r3")
    args = parser.parse_args()
    reranker, agreement = load_reranker(TRAINED_DIR), load_agreement(TRAINED_DIR)
    results: dict[str, list[tuple[float, float]]] = {}
    for name in SETS:
        rows = [json.loads(line) for line in (args.dumps / f"{name}_cands_{args.tag}.jsonl").open()]
        paragraphs = paragraphs_by_file(DOCS[name])
        answerable = [row for row in rows if row["gold"]]
        answers: list[tuple[Row, tuple[str, str] | None, Answer | None]] = []
        for row in answerable:
            out = agreed(row, reading_of(row, reranker), agreement)
            where = locate(row, out[0], out[1], paragraphs) if out and out[1] else None
            answers.append((row, out, where))
        for policy in POLICIES:
            quotes = [
                (row, quoted(where, policy) if where else out[0])
                for row, out, where in answers
                if out is not None
            ]
            held = sum(contains_any(quote, row["gold"]) for row, quote in quotes)
            median = statistics.median(len(quote) for _, quote in quotes)
            results.setdefault(policy.label, []).append((held / len(answerable), median))
    print(f"{'quoting':40s}" + "".join(f"{name + ' ans / median chars':>26s}" for name in SETS))
    for label, cells in results.items():
        print(f"{label:40s}" + "".join(f"{held:>17.3f} / {median:>5.0f}" for held, median in cells))


if __name__ == "__main__":
    main()
