"""Constraint-swapped twins: the swapped constraint is one the paragraph states, and its
replacement is one the paragraph does not."""

from __future__ import annotations

import random

import pytest

from index.reader.swaps import Swapper, mentions, twins

PARAGRAPH = "2024年,聂荣县第十三批驻村工作队走访群众7700余名,开展远程会诊90余场次。"


def test_years_ordinals_and_county_names_are_constraints() -> None:
    found = {(m.kind, m.text) for m in mentions("2024年聂荣县第十三批驻村工作队走访了多少群众")}
    assert ("year", "2024") in found
    assert ("ordinal", "第十三批") in found
    assert ("place", "聂荣县") in found


def test_a_question_without_constraints_has_no_mentions() -> None:
    assert mentions("远程会诊开展了多少场次") == ()


@pytest.mark.parametrize(
    ("question", "kind", "found"),
    [
        ("2024年聂荣县远程会诊多少场", "year", "2024"),
        ("第十三批驻村工作队走访了多少群众", "ordinal", "第十三批"),
    ],
)
def test_a_twin_replaces_a_stated_constraint_with_an_unstated_one(
    question: str, kind: str, found: str
) -> None:
    swapper = Swapper([(question, "a")])
    for seed in range(20):
        twin = swapper.twin(question, PARAGRAPH, "a", random.Random(seed))
        assert twin is not None
        if twin.kind != kind:
            continue
        assert twin.found == found and twin.asked not in PARAGRAPH
        assert twin.question == question.replace(found, twin.asked)
        return
    pytest.fail(f"no {kind} twin in 20 draws")


def test_ordinals_keep_their_numeral_style() -> None:
    swapper = Swapper([])
    twin = swapper.twin("第十三批工作队去了哪里", PARAGRAPH, "a", random.Random(1))
    assert twin is not None and twin.asked in {"第十一批", "第十二批", "第十四批", "第十五批"}
    twin = swapper.twin("第3届博览会在哪里举行", "第3届博览会在拉萨举行", "a", random.Random(1))
    assert twin is not None and twin.asked in {"第1届", "第2届", "第4届", "第5届"}


def test_names_come_from_the_same_group_first_and_never_from_the_paragraph() -> None:
    questions = [("聂荣县远程会诊多少场", "news"), ("比如县有多少个村", "news")]
    swapper = Swapper(questions)
    twin = swapper.twin("聂荣县远程会诊多少场", PARAGRAPH, "news", random.Random(0))
    assert twin is not None and twin.question == "比如县远程会诊多少场"
    # A name the paragraph states is never a replacement.
    both = PARAGRAPH + "比如县"
    assert swapper.twin("聂荣县远程会诊多少场", both, "news", random.Random(0)) is None


def test_a_constraint_the_paragraph_does_not_state_is_not_swapped() -> None:
    swapper = Swapper([("比如县有多少个村", "news")])
    assert swapper.twin("康马县远程会诊多少场", PARAGRAPH, "news", random.Random(0)) is None


def test_twins_are_reproducible_for_a_seed() -> None:
    rows = [("2024年聂荣县远程会诊多少场", PARAGRAPH, "a")] * 10
    assert twins(rows, 0.5, 7) == twins(rows, 0.5, 7)
    assert 0 < len(twins(rows, 0.5, 7)) < 10
