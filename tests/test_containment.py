"""Fragments of longer paragraphs: the Aho–Corasick pass against the pairwise definition."""

from __future__ import annotations

import random
import time

from index.containment import MAX_PATTERN_CHARS, contained_keys, contained_keys_pairwise


def test_a_key_inside_a_longer_key_is_contained() -> None:
    keys = [
        "医师到相关县医疗卫生机构开展基层行活动",
        "选派15名医师到相关县医疗卫生机构开展基层行活动",
    ]
    assert contained_keys(keys, 10) == {keys[0]}


def test_equal_keys_do_not_contain_each_other() -> None:
    assert contained_keys(["同一段落出现了两次的文字", "同一段落出现了两次的文字"], 10) == set()


def test_keys_shorter_than_the_minimum_are_never_contained() -> None:
    assert contained_keys(["健康理念扎根", "让健康理念扎根高原地区"], 10) == set()
    assert contained_keys(["健康理念扎根", "让健康理念扎根高原地区"], 6) == {"健康理念扎根"}


def test_no_keys_no_fragments() -> None:
    assert contained_keys([], 10) == set()
    assert contained_keys(["", "短"], 1) == set()


def test_matches_the_pairwise_check_on_random_keys() -> None:
    # A two-letter alphabet makes keys inside, overlapping and repeating each other common.
    rng = random.Random(3)
    for _ in range(300):
        keys = ["".join(rng.choice("ab") for _ in range(rng.randrange(0, 14))) for _ in range(30)]
        for min_chars in (1, 4, 10):
            assert contained_keys(keys, min_chars) == contained_keys_pairwise(keys, min_chars)


def test_keys_longer_than_the_automatons_cut_match_the_pairwise_check() -> None:
    rng = random.Random(4)
    for _ in range(40):
        base = "".join(rng.choice("ab") for _ in range(MAX_PATTERN_CHARS * 3))
        keys = [
            base[rng.randrange(50) :][: rng.randrange(MAX_PATTERN_CHARS, 400)] for _ in range(8)
        ]
        keys += ["".join(rng.choice("ab") for _ in range(300)) for _ in range(4)]
        assert contained_keys(keys, 10) == contained_keys_pairwise(keys, 10)


def test_many_keys_sharing_a_cut_match_the_pairwise_check() -> None:
    # Groups of more keys than are searched one by one: looked up where their cut occurs.
    rng = random.Random(5)
    for _ in range(200):
        cut = "".join(rng.choice("ab") for _ in range(MAX_PATTERN_CHARS))
        keys: list[str] = []
        for _ in range(rng.randrange(1, 40)):
            tail = "".join(rng.choice("ab") for _ in range(rng.randrange(0, 12)))
            roll = rng.random()
            if roll < 0.5:
                keys.append(cut + tail)
            elif roll < 0.7:  # the cut inside, once or twice
                keys.append(tail + cut + tail + (cut if rng.random() < 0.3 else ""))
            elif roll < 0.8:  # repetitive: a start of the cut over and over
                keys.append((cut[: rng.randrange(1, MAX_PATTERN_CHARS)] + tail) * 20)
            else:  # a piece of an earlier key
                key = rng.choice(keys) + "a" if keys else tail + "a"
                start = rng.randrange(len(key))
                keys.append(key[start : start + rng.randrange(1, 200)])
        for min_chars in (1, 10, MAX_PATTERN_CHARS + 2):
            assert contained_keys(keys, min_chars) == contained_keys_pairwise(keys, min_chars)


def test_repetitive_paragraphs_are_checked_in_linear_time() -> None:
    # One character 200,000 times: every failure link is followed at every character unless
    # keys are cut; uncut, this took minutes.
    keys = ["哈" * 200_000, "哈" * 199_999 + "嘿", "哈" * 150_000, "0" * 100_000]
    started = time.perf_counter()
    assert contained_keys(keys, 10) == {"哈" * 150_000}
    assert time.perf_counter() - started < 5
