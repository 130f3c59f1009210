"""How `auto` settles a Chinese question between the rule extractor and the reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.models import Chunk, Hit
from index.reader.agreement import Agreement, Verdict, load_agreement, unfitted
from index.reader.readings import Reading, ReadSpan
from index.reader.rerank import RERANK_FILE, Candidate, Linear, Reranker, features

PASSAGE = "全县实现县、乡、村三级远程会诊全覆盖。截至目前,已累计完成90余场次远程服务。"
HIT = Hit(Chunk("c1", "001.txt", 0, "聂荣县", 1, 0, PASSAGE), 1.0)


def _reading(*texts: str, answers: bool = True, margin: float = 5.0) -> Reading:
    spans = []
    for text in texts:
        start = PASSAGE.index(text)
        spans.append(ReadSpan(HIT, start, start + len(text), 9.0, margin))
    return Reading(tuple(spans), answers, margin)


AGREE = Agreement(top=2, silent_margin=1.0)


def test_the_rules_answer_stands_when_the_reader_ranks_its_highlight_high() -> None:
    assert AGREE.settle("90余场次", _reading("三级", "90余场次")) is Verdict.RULES
    # Spaces the extraction keeps or drops do not make a disagreement.
    assert AGREE.settle("90余 场次", _reading("三级", "90余场次")) is Verdict.RULES


def test_the_reader_answers_when_the_rules_highlight_is_not_among_its_best() -> None:
    assert AGREE.settle("90余场次", _reading("三级", "全覆盖", "90余场次")) is Verdict.READER
    # ... and nobody answers when the reader itself abstains.
    reading = _reading("三级", "全覆盖", "90余场次", answers=False)
    assert AGREE.settle("90余场次", reading) is Verdict.ABSTAIN


def test_with_no_rules_answer_the_reader_needs_the_fitted_margin() -> None:
    assert AGREE.settle(None, _reading("90余场次", margin=1.5)) is Verdict.READER
    assert AGREE.settle(None, _reading("90余场次", margin=0.5)) is Verdict.ABSTAIN
    assert AGREE.settle(None, _reading("90余场次", margin=1.5, answers=False)) is Verdict.ABSTAIN
    assert AGREE.settle(None, Reading((), False, float("-inf"))) is Verdict.ABSTAIN


def test_the_fitted_settings_come_from_rerank_json_else_the_readers_margin(
    tmp_path: Path,
) -> None:
    assert load_agreement(tmp_path) is None
    assert unfitted(-7.5) == Agreement(top=10, silent_margin=-7.5)
    (tmp_path / RERANK_FILE).write_text(
        json.dumps({"agreement": {"top": 4, "silent_margin": -2.25}}), "utf-8"
    )
    assert load_agreement(tmp_path) == Agreement(top=4, silent_margin=-2.25)


def test_the_shipped_reader_carries_fitted_settings() -> None:
    from index.reader import TRAINED_DIR

    fitted = json.loads((TRAINED_DIR / RERANK_FILE).read_text("utf-8"))["agreement"]
    assert load_agreement(TRAINED_DIR) == Agreement(
        int(fitted["top"]), float(fitted["silent_margin"])
    )


def test_rank_orders_candidates_as_choose_picks_them() -> None:
    candidates = [
        Candidate(PASSAGE, PASSAGE.index(t), PASSAGE.index(t) + len(t), m, m + 5.0, 0, i)
        for i, (t, m) in enumerate([("三级", 1.0), ("90余场次", 3.0), ("全覆盖", 2.0)])
    ]
    width = features("远程会诊多少场", candidates).shape[1]
    weights = np.zeros(width)
    weights[0] = 1.0  # the margin alone
    reranker = Reranker(Linear(np.zeros(width), np.ones(width), weights, 0.0))
    order, trusted = reranker.rank("远程会诊多少场", candidates)
    assert order == [1, 2, 0] and trusted
    assert reranker.choose("远程会诊多少场", candidates) == (1, pytest.approx(0.665, abs=1e-3))
    assert reranker.rank("远程会诊多少场", []) == ([], False)
