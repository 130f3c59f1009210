"""Compare answer-stage policies offline on the reader's candidate dumps.

Usage: .venv/bin/python benchmarks/answer_policies.py [--dumps var/eval] [--tag r3]

Reads `{heldout,cmrc,dev}_cands_{tag}.jsonl` written by `benchmarks/reader_candidates.py` and
reports, per set, highlight exact, abstention on unanswerable questions and false abstention
for: the reranker fitted on the held-out articles (and its 2-fold cross-validated figure
there), a veto keeping only figures in the asked unit when there is one, and abstention gates
(the rule extractor's counted-noun and key-term checks, a logistic trust model). The reranker
and trust model are fitted on the held-out articles only; CMRC trial and the news dev set are
never fitted on.

It also fits how `auto` settles a Chinese question between the rules and the reader
(`index.reader.agreement`): how deep in the reader's ranking the rules' highlight must be, and
the margin the reader needs when the rules find nothing; `--write` keeps them in rerank.json.
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

from index.evaluate import contains_any
from index.models import Chunk, Hit
from index.question import has_latin_words, matching_form
from index.quoting import quote_span
from index.reader import TRAINED_DIR
from index.reader.agreement import Agreement, Verdict
from index.reader.metrics import highlight_exact
from index.reader.readings import Reading, ReadSpan
from index.reader.rerank import (
    FEATURE_NAMES,
    RERANK_FILE,
    Candidate,
    Linear,
    Reranker,
    features,
    load_reranker,
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


# Agreement depths reported; the fitted one is the middle: on the held-out articles 5, 10 and
# 20 are within 0.013 highlight of each other, deeper trusts the rules more.
AGREE_TOPS = (5, 10, 20)
AGREE_TOP = 10
# The most false abstention the margin for questions the rules find nothing in may cost.
AGREE_MAX_FALSE_ABSTENTION = 0.05


def reading_of(row: Row, reranker: Reranker) -> Reading:
    """What `PassageReader.read` gave for this question, rebuilt from its dump (no trust model)."""
    candidates = candidates_of(row)
    if not candidates:
        return Reading((), False, float("-inf"))
    order, _ = reranker.rank(row["question"], candidates)
    ranked = tuple(_span(candidates[i]) for i in order)
    margin = float(row["candidates"][0]["margin"])
    return Reading(ranked, margin >= row["abstain_margin"], margin)


def _span(candidate: Candidate) -> ReadSpan:
    """A span of the candidate's passage (a stand-in chunk: only its text is read)."""
    chunk = Chunk("", "", 0, "", 0, 0, candidate.passage)
    return ReadSpan(Hit(chunk, 0.0), candidate.start, candidate.end, 0.0, candidate.margin)


def agreed(row: Row, reading: Reading, agreement: Agreement | None) -> tuple[str, str] | None:
    """(answer text, highlight) under `auto` (None: abstains); `agreement` None: the rules."""
    rules = row["rules"] if row["rules"] and row["rules"].get("highlight") else None
    ruled = (rules["text"], rules["highlight"]) if rules else None
    read = reading.answer
    by_reader = None
    if read is not None:
        by_reader = (quote_span(read.hit.chunk.text, read.start, read.end)[0], read.text)
    if has_latin_words(row["question"]):
        return by_reader
    if agreement is None:
        return ruled
    verdict = agreement.settle(rules["highlight"] if rules else None, reading)
    return ruled if verdict is Verdict.RULES else by_reader if verdict is Verdict.READER else None


def agreement_scores(
    rows: Sequence[Row], readings: Sequence[Reading], agreement: Agreement | None
) -> tuple[float, float, float, float]:
    """answer@1 (the quote holds a gold answer), highlight exact, abstention, false abstention."""
    held = right = answerable = refused = unanswerable = false = 0
    for row, reading in zip(rows, readings, strict=True):
        out = agreed(row, reading, agreement)
        if row["gold"]:
            answerable += 1
            false += out is None
            if out is not None:
                held += contains_any(out[0], row["gold"])
                right += highlight_exact(out[1], tuple(row["gold"]))
        else:
            unanswerable += 1
            refused += out is None
    n = max(1, answerable)
    return held / n, right / n, refused / max(1, unanswerable), false / n


def fit_agreement(rows: Sequence[Row], readings: Sequence[Reading], floor: float) -> Agreement:
    """The highest margin (from the reader's own, in half logits) that keeps false abstention
    within AGREE_MAX_FALSE_ABSTENTION on `rows`, at depth AGREE_TOP."""
    best = Agreement(AGREE_TOP, floor)
    for step in range(64):
        trial = Agreement(AGREE_TOP, floor + step / 2)
        if agreement_scores(rows, readings, trial)[3] > AGREE_MAX_FALSE_ABSTENTION:
            break
        best = trial
    return best


def report_agreement(data: dict[str, list[Row]], write: bool) -> None:
    reranker = load_reranker(TRAINED_DIR)
    assert reranker is not None, "the shipped reader has no reranker"
    readings = {name: [reading_of(row, reranker) for row in rows] for name, rows in data.items()}
    floor = float(data["heldout"][0]["abstain_margin"])
    fitted = fit_agreement(data["heldout"], readings["heldout"], floor)
    print(f"\nauto on Chinese questions (fitted on held-out: {fitted})")
    print(f"{'policy':36s}" + "".join(f"{n + ' ans / hl / abst / FA':>34s}" for n in SETS))
    policies: list[tuple[str, Agreement | None]] = [("rules alone (before)", None)]
    policies += [(f"agree top {k}, reader's margin", Agreement(k, floor)) for k in AGREE_TOPS]
    policies += [
        (f"agree top {k}, fitted margin", Agreement(k, fitted.silent_margin)) for k in AGREE_TOPS
    ]
    for label, agreement in policies:
        cells = [agreement_scores(data[n], readings[n], agreement) for n in SETS]
        print(
            f"{label:36s}"
            + "".join("{:>10.3f} /{:6.3f} /{:6.3f} /{:6.3f}".format(*c) for c in cells)
        )
    if write:
        path = TRAINED_DIR / RERANK_FILE
        kept = json.loads(path.read_text("utf-8"))
        kept["agreement"] = {
            **fitted.to_json(),
            "fitted_on": "held-out articles' candidate dump (benchmarks/answer_policies.py)",
            "held_out": dict(
                zip(
                    ("answer_at_1", "highlight", "abstention", "false_abstention"),
                    (
                        round(v, 4)
                        for v in agreement_scores(data["heldout"], readings["heldout"], fitted)
                    ),
                    strict=True,
                )
            ),
        }
        path.write_text(json.dumps(kept, ensure_ascii=False, indent=2) + "\n", "utf-8")
        print(f"-> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, default=Path("var/eval"))
    parser.add_argument("--tag", default="r3")
    parser.add_argument("--write", action="store_true", help="keep the fitted agreement")
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
    report_agreement(data, args.write)


if __name__ == "__main__":
    main()
