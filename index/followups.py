"""Score two-turn conversations: does the follow-up get its answer, and do topic switches stay
unscoped? The same scorer runs the repository's set and any held-out set:

    python -m index.followups tests/data/followups.jsonl

One JSON object a line: {"id", "kind", "first": {"question", "answers"}, "second": {…},
"carry": true | false | null}. `kind` "reply" asks the second question as a reply to the first
answer; `carry` says whether the second turn must (true), must not (false) or may (null) be
answered in the first turn's context.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from index.models import QAResult, Topic
from index.service import load_engine
from index.settings import Settings


class ConversingEngine(Protocol):
    def answer(
        self, question: str, within_file: str | None = None, *, context: Topic | None = None
    ) -> QAResult: ...


@dataclass(frozen=True)
class Turn:
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    """Two turns of one user in one chat."""

    id: str
    kind: str
    first: Turn
    second: Turn
    carry: bool | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pair:
        def turn(part: dict[str, Any]) -> Turn:
            return Turn(str(part["question"]), tuple(str(a) for a in part["answers"]))

        carry = data.get("carry")
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            first=turn(data["first"]),
            second=turn(data["second"]),
            carry=None if carry is None else bool(carry),
        )


@dataclass(frozen=True)
class Outcome:
    pair: Pair
    first_ok: bool
    second_ok: bool
    carried: bool

    @property
    def carry_ok(self) -> bool:
        return self.pair.carry is None or self.pair.carry == self.carried


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]

    @property
    def second_answer_at_1(self) -> float:
        return _share(o.second_ok for o in self.outcomes)

    @property
    def switches_carried(self) -> int:
        return sum(1 for o in self.outcomes if o.pair.carry is False and o.carried)

    def describe(self) -> str:
        lines = [
            f"pairs                      {len(self.outcomes)}",
            f"first-turn answer@1        {_share(o.first_ok for o in self.outcomes):.3f}",
            f"second-turn answer@1       {self.second_answer_at_1:.3f}",
            f"carry as expected          {_share(o.carry_ok for o in self.outcomes):.3f}",
            f"topic switches carried     {self.switches_carried}",
        ]
        lines += [
            f"  miss {o.pair.id} ({o.pair.kind}): {o.pair.second.question}"
            + ("" if o.carry_ok else f" [carried={o.carried}]")
            for o in self.outcomes
            if not (o.second_ok and o.carry_ok)
        ]
        return "\n".join(lines)


def read_pairs(path: Path) -> list[Pair]:
    lines = path.read_text("utf-8").splitlines()
    return [Pair.from_json(json.loads(line)) for line in lines if line.strip()]


def answered(result: QAResult, answers: Sequence[str]) -> bool:
    """answer@1 as `newsqa eval` counts it: a gold answer inside the quoted answer text."""
    return result.answer is not None and any(a in result.answer.text for a in answers)


def run_pair(engine: ConversingEngine, pair: Pair) -> Outcome:
    """Ask both turns; the second in the first's context (as a reply when kind is reply)."""
    first = engine.answer(pair.first.question)
    context = first.topic
    if context is not None and pair.kind == "reply":
        context = replace(context, reply=True)
    second = engine.answer(pair.second.question, context=context)
    return Outcome(
        pair=pair,
        first_ok=answered(first, pair.first.answers),
        second_ok=answered(second, pair.second.answers),
        carried=second.context is not None,
    )


def score(engine: ConversingEngine, pairs: Iterable[Pair]) -> Report:
    return Report(tuple(run_pair(engine, pair) for pair in pairs))


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def main(argv: Sequence[str]) -> int:
    """Score a follow-up set against the current index (NEWSQA_* settings apply)."""
    if len(argv) != 1:
        print("usage: python -m index.followups PAIRS.jsonl", file=sys.stderr)
        return 2
    report = score(load_engine(Settings()), read_pairs(Path(argv[0])))
    print(report.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
