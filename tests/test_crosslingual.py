"""English questions find Chinese words through CC-CEDICT glosses and pinyin of corpus names."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.crosslingual import (
    CrossLingualLexicon,
    corpus_words_and_pairs,
    english_words,
    gloss_phrases,
    word_variants,
)


def test_english_words_drop_stop_words() -> None:
    assert english_words("How many experts did the hospital send?") == [
        "experts",
        "hospital",
        "send",
    ]
    assert english_words("聂荣县远程会诊多少场") == []


def test_word_variants_reach_base_forms() -> None:
    assert "committee" in word_variants("committees")
    assert "pilot" in word_variants("piloting")
    assert "donate" in word_variants("donated")


def test_gloss_phrases_skip_classifiers_and_notes() -> None:
    assert gloss_phrases("to carry out trial") == ["carry out trial"]
    assert gloss_phrases("CL:個|个[ge4]") == []
    assert gloss_phrases("expert (in a field); specialist") == ["expert", "specialist"]


@pytest.fixture(scope="module")
def lexicon() -> CrossLingualLexicon:
    words, pairs = corpus_words_and_pairs(
        ["苏州市立医院派出专家8名。", "乔拉岗牧场扶贫林卡紧邻国道。", "全县党委开展试点。"]
    )
    return CrossLingualLexicon.build(words, pairs)


def test_dictionary_translation_is_restricted_to_corpus_words(
    lexicon: CrossLingualLexicon,
) -> None:
    expanded = lexicon.expand("How many experts were sent?")
    assert "专家" in expanded
    assert all(
        word in "苏州市立医院派出专家8名乔拉岗牧场扶贫林卡紧邻国道全县党委开展试点"
        for word in expanded
    )


def test_romanised_names_match_pinyin_of_corpus_words(lexicon: CrossLingualLexicon) -> None:
    assert "苏州市" in lexicon.expand("Suzhou hospital")
    assert any("乔拉" in w for w in lexicon.expand("the Qiaolagang pasture"))


def test_chinese_questions_are_not_expanded(lexicon: CrossLingualLexicon) -> None:
    assert lexicon.expand("苏州派了几名专家") == []


def test_lexicon_round_trips_through_json(lexicon: CrossLingualLexicon, tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    lexicon.save(path)
    loaded = CrossLingualLexicon.load(path)
    assert loaded.expand("experts from Suzhou") == lexicon.expand("experts from Suzhou")
