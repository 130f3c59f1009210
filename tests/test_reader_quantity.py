"""Number answers take their unit, as CMRC and DRCD mark them; anything else is left alone."""

from __future__ import annotations

import pytest

from index.reader.quantity import quantity_end


def _complete(context: str, answer: str) -> str:
    start = context.index(answer)
    return context[start : quantity_end(context, start, start + len(answer))]


@pytest.mark.parametrize(
    ("context", "answer", "expected"),
    [
        ("共有129名成员参加", "129", "129名"),
        ("累计完成90余场次远程服务", "90", "90余场次"),
        ("收入1.7万多元", "1.7万", "1.7万多元"),
        ("约有40,000人注册", "40,000", "40,000人"),
        ("占比13%左右", "13", "13%左右"),
        ("修订了四次", "四", "四次"),
        ("协议于1604年达成", "1604", "1604年"),
    ],
)
def test_a_bare_figure_gains_the_unit_that_follows_it(
    context: str, answer: str, expected: str
) -> None:
    assert _complete(context, answer) == expected


@pytest.mark.parametrize(
    ("context", "answer"),
    [
        ("共有129名成员参加", "129名"),  # already has its unit
        ("编号是12349,全天开通", "12349"),  # nothing that is a unit follows
        ("由上海市派出专家", "上海市"),  # not a figure
        ("第三人民医院", "第三"),  # an ordinal is not a bare figure
    ],
)
def test_other_answers_keep_their_end(context: str, answer: str) -> None:
    assert _complete(context, answer) == answer
