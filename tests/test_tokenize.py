"""BM25 tokens: words plus bigrams so abbreviations match, question words dropped."""

from __future__ import annotations

from index.tokenize import char_bigrams, tokenize


def test_bigrams_cover_cjk_runs_only() -> None:
    assert char_bigrams("巴宜区2024年培训") == ["巴宜", "宜区", "年培", "培训"]


def test_abbreviated_place_shares_tokens_with_full_name() -> None:
    assert set(tokenize("巴宜医保局")) & set(tokenize("巴宜区医疗保障局"))


def test_question_words_and_punctuation_are_dropped() -> None:
    tokens = tokenize("聂荣县远程会诊多少场？")
    assert "多少" not in tokens
    assert "？" not in tokens
    assert "远程" in tokens


def test_english_is_lowercased_without_stop_words() -> None:
    assert tokenize("How many EXPERTS were sent") == ("experts", "sent")
