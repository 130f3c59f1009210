"""Fit the reranker on questions the reader has read (held-out data, never the news dev set)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.reader.metrics import highlight_exact
from index.reader.rerank import (
    FEATURE_NAMES,
    RERANK_FILE,
    Candidate,
    Linear,
    Reranker,
    features,
    trust_features,
    with_units,
)

FALSE_ABSTENTION = 0.05


@dataclass(frozen=True)
class ReadQuestion:
    question: str
    answers: tuple[str, ...]  # empty: unanswerable
    candidates: tuple[Candidate, ...]  # the reader's, best margin first


def fit(
    questions: Sequence[ReadQuestion], l2: float = 1e-3, steps: int = 300, trust: bool = False
) -> Reranker:
    """Listwise: a softmax over each answerable question's candidates, trained to put its mass
    on the right highlights (several can be right: `87` and `87名` both hold `87名`).

    `trust` also fits the abstention model. Off by default, measured: fitted on the held-out
    articles it refuses 57% of their unanswerable questions (the reader's margin: 30%), but
    on CMRC trial its false abstention is 0.072 (margin: 0.007), and on the news dev set 0.10."""
    import torch

    blocks, targets = [], []
    for q in questions:
        candidates = with_units(q.candidates)
        right = [float(highlight_exact(c.text, q.answers)) for c in candidates]
        if q.answers and any(right):
            blocks.append(features(q.question, candidates))
            targets.append(np.asarray(right))
    if not blocks:
        raise ValueError("no question has a right candidate to learn from")
    stacked = np.vstack(blocks)
    mean = stacked.mean(axis=0)
    scale = np.where(stacked.std(axis=0) > 1e-9, stacked.std(axis=0), 1.0)
    xs = [torch.tensor((b - mean) / scale, dtype=torch.float64) for b in blocks]
    ys = [torch.tensor(t, dtype=torch.bool) for t in targets]
    weights = torch.zeros(len(FEATURE_NAMES), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        total = sum(
            torch.logsumexp(x @ weights, 0) - torch.logsumexp((x @ weights)[y], 0)
            for x, y in zip(xs, ys, strict=True)
        )
        loss = total / len(xs) + l2 * (weights**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    choice = Linear(mean, scale, weights.detach().numpy().copy(), 0.0)
    return fit_trust(questions, Reranker(choice)) if trust else Reranker(choice)


def fit_trust(questions: Sequence[ReadQuestion], reranker: Reranker) -> Reranker:
    """Logistic: does the chosen span answer the question at all? Answerable questions are the
    positives; the threshold keeps false abstention on them at 5%."""
    from sklearn.linear_model import LogisticRegression

    rows, labels = [], []
    for q in questions:
        candidates = with_units(q.candidates)
        if candidates:
            rows.append(
                trust_features(
                    features(q.question, candidates),
                    reranker.probabilities(q.question, candidates),
                )[0]
            )
            labels.append(int(bool(q.answers)))
    if len(set(labels)) < 2:
        return reranker
    x = np.asarray(rows)
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    model = LogisticRegression(max_iter=2000)
    model.fit((x - mean) / scale, labels)
    trust = Linear(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))
    trusting = Reranker(reranker.choice, trust, 0.0)
    sure = sorted(
        trusting.trusted(q.question, with_units(q.candidates)) for q in questions if q.answers
    )
    threshold = sure[int(FALSE_ABSTENTION * len(sure))] if sure else 0.0
    return Reranker(reranker.choice, trust, threshold)


@dataclass(frozen=True)
class Figures:
    highlight_exact: float
    abstention: float  # on unanswerable questions
    false_abstention: float


def measure(reranker: Reranker | None, questions: Sequence[ReadQuestion], margin: float) -> Figures:
    """Highlight exact and abstention of the reranked choice (or, with None, of the reader's
    best span); the reader's margin decides abstention unless the reranker has a trust model."""
    right = answerable = refused = unanswerable = false = 0
    for q in questions:
        text = None
        if reranker is None:
            if q.candidates and q.candidates[0].margin >= margin:
                text = q.candidates[0].text
        else:
            candidates = with_units(q.candidates)
            choice = reranker.choose(q.question, candidates)
            sure = reranker.trust is not None or (
                bool(candidates) and candidates[0].margin >= margin
            )
            if choice is not None and sure:
                text = candidates[choice[0]].text
        if q.answers:
            answerable += 1
            right += text is not None and highlight_exact(text, q.answers)
            false += text is None
        else:
            unanswerable += 1
            refused += text is None
    return Figures(
        right / max(1, answerable), refused / max(1, unanswerable), false / max(1, answerable)
    )


def fit_and_write(
    questions: Sequence[ReadQuestion], margin: float, out_dir: Path, fitted_on: str
) -> str:
    """Fit, write `rerank.json` (with what it was fitted on and how it did there), report."""
    reranker = fit(questions)
    before, after = measure(None, questions, margin), measure(reranker, questions, margin)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RERANK_FILE).write_text(
        json.dumps(
            {
                **reranker.to_json(),
                "fitted_on": f"{fitted_on} ({len(questions)} questions)",
                "fit_figures": {"reader": asdict(before), "reranked": asdict(after)},
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return (
        f"fitted on {len(questions)} questions of {fitted_on}\n"
        f"reader   {before}\nreranked {after}\n-> {out_dir / RERANK_FILE}"
    )
