"""`newsqa eval`'s per-kind figures: the question kinds and the strict highlight."""

from __future__ import annotations

import pytest

from index.evaluate import QAItem, Scores, highlight_strict, question_kind
from index.models import AnswerSpan, QAResult, Source


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("聂荣县远程会诊多少场", "count"),
        ("入股分红和放牧工资哪个多", "comparison"),
        ("巴宜区防疫的七个一工作法具体是哪七个", "list"),
        ("为什么要开展百日走访", "why/how"),
        ("How does the county deliver care?", "why/how"),
        ("How many sessions were held?", "count"),
        ("第一书记是谁", "person"),
        ("交流会什么时候开幕", "date"),
        ("名医工作室叫什么", "other"),
    ],
)
def test_question_kinds(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_strict_highlight_is_the_fact_up_to_punctuation() -> None:
    assert highlight_strict("90余场次", ["90余场次"])
    assert highlight_strict("“90余场次”。", ["90余场次"])
    assert not highlight_strict("完成90余场次", ["90余场次"])
    assert not highlight_strict(None, ["90余场次"])


def _result(highlight: str | None) -> QAResult:
    answer = None
    if highlight is not None:
        answer = AnswerSpan(f"完成{highlight}远程服务", highlight, Source("a.txt", "h", 1))
    return QAResult("q", abstained=answer is None, answer=answer)


def test_scores_count_kinds_strictness_and_refusals_per_kind() -> None:
    scores = Scores("newsqa")
    count = QAItem("1", "远程会诊多少场", ("90余场次",), "a.txt", "zh", "number")
    scores.add(count, _result("90余场次"))
    scores.add(count, _result("完成90余场次"))
    scores.add(QAItem("2", "比如县远程会诊多少场", (), None, "zh", "swap:place"), _result(None))
    scores.add(QAItem("3", "x", (), None, "zh", "unanswerable"), _result("1"))
    rows = scores.rows()
    assert rows["highlight strict"] == "0.500 (1/2)"
    assert rows["highlight exact"] == "1.000 (2/2)"
    assert rows["[count] answer@1 / exact / strict"] == "1.00 / 1.00 / 0.50 (2)"
    assert rows["abstention [swap:place]"] == "1.000 (1/1)"
    assert rows["abstention [unanswerable]"] == "0.000 (0/1)"
