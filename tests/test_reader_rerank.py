"""The reranker's features, its fit and its choice, on small hand-made reads."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from index.reader.rerank import (
    FEATURE_NAMES,
    Candidate,
    Linear,
    Reranker,
    features,
    question_kinds,
    with_units,
    word_boundaries,
)
from index.reader.rerank_fit import ReadQuestion, fit, measure

PASSAGE = "全县实现县、乡、村三级远程会诊全覆盖。截至目前,已累计完成90余场次远程服务。"


def _span(text: str, margin: float, passage: str = PASSAGE, rank: int = 0) -> Candidate:
    start = passage.index(text)
    return Candidate(passage, start, start + len(text), margin, margin + 5.0, rank)


def test_a_bare_figure_gets_a_completed_twin_that_keeps_the_reader_scores() -> None:
    bare = _span("90", 1.0)
    out = with_units([bare, _span("三级", 2.0)])
    texts = [c.text for c in out]
    assert texts == ["90", "90余场次", "三级"]
    assert out[1].margin == bare.margin and out[1].origin == bare.origin


def test_question_kinds_read_chinese_and_english() -> None:
    assert question_kinds("远程会诊多少场")["count"] == 1.0
    assert question_kinds("How many experts were sent?")["count"] == 1.0
    assert question_kinds("专家是从哪些地方请来的")["list"] == 1.0
    assert question_kinds("交流会哪天开幕")["time"] == 1.0
    assert question_kinds("交流会哪天开幕")["count"] == 0.0


def test_features_mark_the_figure_counted_in_the_asked_unit() -> None:
    candidates = with_units([_span("三级", 2.0), _span("90", 1.0)])
    rows = features("远程会诊多少场", candidates)
    assert rows.shape == (len(candidates), len(FEATURE_NAMES))
    column = FEATURE_NAMES.index("asked_unit_follows_figure")
    by_text = {c.text: row[column] for c, row in zip(candidates, rows, strict=True)}
    assert by_text == {"三级": 0.0, "90": 0.0, "90余场次": 1.0}


def _column(question: str, candidates: list[Candidate], name: str) -> dict[str, float]:
    rows = features(question, candidates)
    column = FEATURE_NAMES.index(name)
    return {c.text: float(row[column]) for c, row in zip(candidates, rows, strict=True)}


def test_a_figure_followed_by_an_approximation_mark_is_not_a_unit_of_its_own() -> None:
    # `90余` is a figure cut short, not a count in the unit 余.
    column = _column("远程会诊多少场", [_span("90余", 1.0)], "other_unit_follows_figure")
    assert column == {"90余": 0.0}


def test_boundary_features_mark_spans_that_cut_a_word_a_list_a_quote_or_a_figure() -> None:
    passage = "专家来自上海市、山东省。苏林‘医心’向党名医工作室揭牌,比例为13%左右。"
    spans = [
        _span(t, 1.0, passage) for t in ("上海市", "上海市、山东省", "苏林‘医心", "13%", "海市")
    ]
    cuts_list = _column("专家来自哪些地方", spans, "cuts_enumeration")
    assert cuts_list["上海市"] == 1.0 and cuts_list["上海市、山东省"] == 0.0
    unpaired = _column("工作室叫什么", spans, "unpaired_mark")
    assert unpaired["苏林‘医心"] == 1.0 and unpaired["上海市"] == 0.0
    cuts_figure = _column("比例多少", spans, "cuts_figure")
    assert cuts_figure["13%"] == 1.0 and cuts_figure["上海市"] == 0.0
    inside = _column("专家来自哪里", spans, "starts_inside_word")
    assert inside["海市"] == 1.0 and inside["上海市"] == 0.0


def test_word_boundaries_are_where_jiebas_words_meet() -> None:
    text = "已累计完成90余场次远程服务"
    cuts = sorted(word_boundaries(text))
    assert cuts[0] == 0 and cuts[-1] == len(text)
    assert "".join(text[a:b] for a, b in pairwise(cuts)) == text
    assert text.index("远程") in cuts


def _toy_reads(count: int) -> list[ReadQuestion]:
    """The reader's best span is a bare figure; the right highlight is the figure with its unit."""
    reads = []
    for i in range(count):
        passage = f"第{i}批共有{i + 10}名队员参加,比赛持续三天。"
        wrong = _span("三天", 2.0, passage)
        bare = _span(f"{i + 10}", 1.5, passage)
        reads.append(ReadQuestion("有多少名队员参加", (f"{i + 10}名",), (wrong, bare)))
    return reads


def test_fitting_learns_what_the_reader_missed_and_measure_shows_it() -> None:
    reads = _toy_reads(12)
    reranker = fit(reads, steps=100)
    assert measure(None, reads, margin=0.0).highlight_exact == 0.0
    assert measure(reranker, reads, margin=0.0).highlight_exact == 1.0


def test_weights_survive_json_and_choose_the_same_span() -> None:
    reads = _toy_reads(6)
    reranker = fit(reads, steps=50)
    again = Reranker.from_json(reranker.to_json())
    candidates = with_units(reads[0].candidates)
    assert again.choose(reads[0].question, candidates) == pytest.approx(
        reranker.choose(reads[0].question, candidates)
    )
    assert np.allclose(again.choice.weights, reranker.choice.weights, atol=1e-5)


def test_weights_fitted_on_other_features_are_refused() -> None:
    data = _toy_reads_reranker().to_json()
    data["features"] = ["margin"]
    with pytest.raises(ValueError, match="other features"):
        Reranker.from_json(data)


def _toy_reads_reranker() -> Reranker:
    n = len(FEATURE_NAMES)
    return Reranker(Linear(np.zeros(n), np.ones(n), np.zeros(n), 0.0))


def test_the_trust_model_refuses_reads_that_look_like_unanswerable_ones() -> None:
    answerable = _toy_reads(20)
    unanswerable = [
        ReadQuestion("有多少名教练", (), (_span("三天", -6.0, q.candidates[0].passage),))
        for q in answerable
    ]
    assert fit(answerable + unanswerable, steps=100).trust is None  # off unless asked
    reranker = fit(answerable + unanswerable, steps=100, trust=True)
    assert reranker.trust is not None
    figures = measure(reranker, answerable + unanswerable, margin=-100.0)
    assert figures.abstention == 1.0 and figures.false_abstention <= 0.05
    assert figures.highlight_exact >= 0.95
