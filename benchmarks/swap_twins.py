"""Constraint-swapped twins of a QA set: each answerable question beside a copy that asks about
another place, person, organisation, year or ordinal than its story states.

Usage: .venv/bin/python benchmarks/swap_twins.py --qa QA.jsonl --docs STORIES --out TWINS.jsonl

The copy is unanswerable from the stories (the replacement occurs nowhere in the gold story
file), so `newsqa eval --qa TWINS.jsonl --docs STORIES` scores both halves side by side:
false abstention on the originals, abstention on the twins per swapped kind
(`abstention [swap:place]`, ...). Twins of sets the reader never trained on (CMRC trial, the
held-out articles, the news dev set) measure "not this" without tuning on it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.constraints import places_in
from index.evaluate import read_qa
from index.reader.swaps import Swapper

KINDS = ("place", "person", "organisation", "year", "ordinal")


def _text(path: Path) -> str:
    return path.read_text("utf-8", errors="replace")


def twin_rows(qa: Path, docs: Path, kinds: tuple[str, ...], seed: int) -> list[dict[str, object]]:
    items = read_qa(qa)
    stories = {i.file: _text(docs / i.file) for i in items if i.answerable and i.file}
    named = [p.name for f in sorted(docs.iterdir()) if f.is_file() for p in places_in(_text(f))]
    swapper = Swapper(((i.question, i.file or "") for i in items), places=named)
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for item in items:
        row = {
            "id": item.id,
            "question": item.question,
            "answers": list(item.answers),
            "file": item.file,
            "lang": item.lang,
            "kind": item.kind,
        }
        rows.append(row)
        if not item.answerable or not item.file:
            continue
        twin = swapper.twin(item.question, stories[item.file], item.file, rng)
        if twin is None or twin.kind not in kinds:
            continue
        rows.append(
            {
                "id": f"{item.id}#swap",
                "question": twin.question,
                "answers": [],
                "file": None,
                "lang": item.lang,
                "kind": f"swap:{twin.kind}",
                "twin_of": item.id,
                "asked": twin.asked,
                "found": twin.found,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, required=True)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds swapped")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    rows = twin_rows(args.qa, args.docs, kinds, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    twins = [r for r in rows if str(r["kind"]).startswith("swap:")]
    by_kind: dict[str, int] = {}
    for row in twins:
        by_kind[str(row["kind"])] = by_kind.get(str(row["kind"]), 0) + 1
    print(f"{len(rows) - len(twins)} questions + {len(twins)} twins {by_kind} in {args.out}")


if __name__ == "__main__":
    main()
