"""BM25 tokens: words plus bigrams so abbreviations match, question words dropped."""

from __future__ import annotations

from pathlib import Path

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


# Real quirks: Latin and digits inside Chinese, decimals, hyphens, percentages, full-width
# marks, rare characters outside jieba's range, traditional characters.
MIXED = (
    "全市PM2.5平均浓度同比下降12.5%，5G远程会诊系统覆盖率达到75%以上。",
    "（Île-de-France）一样，Italo-Norman王子Bohemund在1999年至2003年间……",
    "巴宜区2024年新建项目总投资3.2亿元，covid-19疫情后，b超、t恤和3d打印都有。",
    "㐀㐁䶵是扩展A区的字，鿕鿖在jieba的范围外；臺灣的醫院與診所。",
    "聂荣县远程会诊90余场次，真正让“数据多跑路、群众少跑腿”成为现实",
)


def test_the_fast_cut_is_jiebas_word_for_word(stories_dir: Path) -> None:
    import jieba

    from index.tokenize import cut_for_search, jieba_module

    jieba_module()
    texts = [*MIXED, *(p.read_text("utf-8") for p in sorted(stories_dir.glob("*.txt")))]
    for text in texts:
        lowered = text.lower()
        assert cut_for_search(lowered) == list(jieba.cut_for_search(lowered))


def test_the_fast_word_cut_is_jiebas_word_for_word(stories_dir: Path) -> None:
    import re

    from index.tokenize import cut_words, jieba_module

    jieba = jieba_module()
    texts = [*MIXED, *(p.read_text("utf-8") for p in sorted(stories_dir.glob("*.txt")))]
    for run in (r for t in texts for r in re.findall(r"[\u3400-\u9fff]+", t)):
        assert cut_words(run) == jieba.lcut(run)
