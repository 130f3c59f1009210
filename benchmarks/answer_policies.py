"""Compare answer-stage policies offline on the reader's candidate dumps.

Usage: .venv/bin/python benchmarks/answer_policies.py [--dumps var/eval] [--tag r3]

Reads `{heldout,cmrc,dev}_cands_{tag}.jsonl` written by `benchmarks/reader_candidates.py` and
reports, per set, highlight exact, abstention on unanswerable questions and false abstention
for: the reranker fitted on the held-out articles (and its 2-fold cross-validated figure
there), a veto keeping only figures in the asked unit when there is one, and abstention gates
(the rule extractor's counted-noun and key-term checks, a logistic trust model). The reranker
and trust model are fitted on the held-out articles only; CMRC trial and the news dev set are
never fitted on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer import quote_span
from index.evaluate import highlight_exact
from index.question import matching_form
from index.reader.rerank import (
    FEATURE_NAMES,
    Candidate,
    Linear,
    Reranker,
    features,
    with_units,
)
from index.reader.rerank_fit import ReadQuestion, fit, fit_trust

Row = dict[str, Any]
# (question row, features of its candidates, candidates, index chosen) -> abstain?
Gate = Callable[[Row, np.ndarray, list[Candidate], int], bool]
SETS = ("heldout", "cmrc", "dev")


def candidates_of(row: Row) -> list[Candidate]:
    return with_units(
        [
            Candidate(c["chunk"], c["start"], c["end"], c["margin"], c["score"], c["rank"], i)
            for i, c in enumerate(row["candidates"])
        ]
    )


def read(row: Row) -> ReadQuestion:
    return ReadQuestion(row["question"], tuple(row["gold"]), tuple(candidates_of(row)))


def score(
    rows: Sequence[Row], choice: Linear, gate: Gate | None = None, veto: bool = False
) -> tuple[float, float, float]:
    """Highlight exact, abstention and false abstention; the reader's margin always applies."""
    unit = FEATURE_NAMES.index("asked_unit_follows_figure")
    right = answerable = refused = unanswerable = false = 0
    for row in rows:
        candidates = candidates_of(row)
        text = None
        if candidates and row["candidates"][0]["margin"] >= row["abstain_margin"]:
            x = features(row["question"], candidates)
            scores = choice(x)
            if veto and x[:, unit].any():
                scores = np.where(x[:, unit] > 0, scores, -np.inf)
            best = int(np.argmax(scores))
            if gate is None or not gate(row, x, candidates, best):
                text = candidates[best].text
        if row["gold"]:
            answerable += 1
            right += text is not None and highlight_exact(text, tuple(row["gold"]))
            false += text is None
        else:
            unanswerable += 1
            refused += text is None
    return right / answerable, refused / max(1, unanswerable), false / answerable


def counted_noun_missing(row: Row, _x: np.ndarray, c: list[Candidate], best: int) -> bool:
    noun = str(row.get("counted_noun") or "")
    quote = quote_span(c[best].passage, c[best].start, c[best].end)[0]
    return bool(noun) and noun not in matching_form(quote)


def key_term_missing(row: Row, _x: np.ndarray, c: list[Candidate], best: int) -> bool:
    return bool(row["candidates"][c[best].origin].get("missing"))


def trust_gate(rows: Sequence[Row], choice: Linear) -> Gate:
    """The reranker's own logistic trust model (`rerank_fit.fit_trust`, off in the product),
    fitted on `rows`, its threshold at 5% false abstention on their answerable questions."""
    trusting = fit_trust([read(row) for row in rows], Reranker(choice))

    def gate(row: Row, x: np.ndarray, c: list[Candidate], best: int) -> bool:
        return trusting.trusted(row["question"], c) < trusting.trust_below

    return gate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, default=Path("var/eval"))
    parser.add_argument("--tag", default="r3")
    args = parser.parse_args()
    data = {
        name: [json.loads(line) for line in (args.dumps / f"{name}_cands_{args.tag}.jsonl").open()]
        for name in SETS
    }
    held = data["heldout"]
    order = np.random.default_rng(0).permutation(len(held))
    halves = [[held[i] for i in order[::2]], [held[i] for i in order[1::2]]]
    folds = [score(halves[1 - k], fit([read(r) for r in halves[k]]).choice)[0] for k in range(2)]
    print(f"reranker, held-out 2-fold highlight exact: {np.mean(folds):.3f}")
    choice = fit([read(r) for r in held]).choice
    policies: list[tuple[str, Gate | None, bool]] = [
        ("reranker (margin abstains)", None, False),
        ("+ asked-unit veto", None, True),
        ("+ counted-noun gate", counted_noun_missing, False),
        ("+ key-term gate", key_term_missing, False),
        ("+ trust model (5% FA on held-out)", trust_gate(held, choice), False),
    ]
    print(f"{'policy':36s}" + "".join(f"{name + ' hl / abst / FA':>28s}" for name in SETS))
    for label, gate, veto in policies:
        cells = [score(data[name], choice, gate, veto) for name in SETS]
        print(f"{label:36s}" + "".join(f"{h:>12.3f} /{a:6.3f} /{f:6.3f}" for h, a, f in cells))


if __name__ == "__main__":
    main()
