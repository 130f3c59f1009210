"""Which paragraph keys are a leftover piece of a longer paragraph on the same page.

Layouts cut a paragraph and print the piece again (at a column break, under a photo), so a
key that occurs inside a strictly longer key on its page is a fragment to drop. Comparing every
paragraph with every other grows with the square of the page; one Aho–Corasick pass over the
page (pyahocorasick, in C) finds every key inside every other in time near the page's length.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable

import ahocorasick

# (every key of the page, shortest key that counts) → the keys inside a longer one
Containment = Callable[[Collection[str], int], frozenset[str]]
# Keys enter the automaton cut to this many characters: pyahocorasick follows every failure
# link at each character it reads, which over repetitive text (`哈哈哈…`, `000…`) costs as
# much as the deepest key. A longer key found by its cut is confirmed with one substring test.
MAX_PATTERN_CHARS = 128
# A cut standing for more keys than this is looked up where it occurs (`inside`), unless it
# occurs more often than this in one haystack.
MAX_SEARCHED_KEYS = 8
MAX_PLACED_OCCURRENCES = 16


def contained_keys(keys: Collection[str], min_chars: int) -> frozenset[str]:
    """Keys of at least `min_chars` characters that occur inside a strictly longer key."""
    groups: dict[str, list[str]] = {}  # the keys each cut stands for
    for key in {key for key in keys if len(key) >= min_chars}:
        groups.setdefault(key[:MAX_PATTERN_CHARS], []).append(key)
    if not groups:
        return frozenset()
    automaton = ahocorasick.Automaton()
    for number, cut in enumerate(groups):
        automaton.add_word(cut, number)
    automaton.make_automaton()
    cuts = list(groups)
    members = [sorted(group) for group in groups.values()]
    found: set[str] = set()
    for haystack in {key for key in keys if len(key) > min_chars}:
        seen: set[int] = set()  # a cut occurring again in this haystack adds nothing
        for end, number in automaton.iter(haystack):
            if number in seen:
                continue
            seen.add(number)
            cut = cuts[number]
            found.update(inside(members[number], cut, haystack, end - len(cut) + 1))
    return frozenset(found)


def inside(group: list[str], cut: str, haystack: str, first: int) -> Iterable[str]:
    """The keys of a group (sorted; each starts with `cut`) found inside a longer `haystack`,
    where `cut` first occurs at `first`.

    A few keys are each searched for. Many keys sharing one cut (a table of long lines that
    start alike) are looked up where the cut occurs instead, so a haystack costs as much as its
    occurrences of the cut, not the square of the table's lines; a cut occurring over and over
    (repetitive text) goes back to searching."""
    if len(group) <= MAX_SEARCHED_KEYS:
        return [key for key in group if shorter_inside(key, cut, haystack)]
    starts = [first]
    while len(starts) <= MAX_PLACED_OCCURRENCES:
        start = haystack.find(cut, starts[-1] + 1)
        if start < 0:
            return {
                key
                for start in starts
                for key in prefixes_among(group, haystack[start:], len(cut))
                if len(key) < len(haystack)
            }
        starts.append(start)
    return [key for key in group if shorter_inside(key, cut, haystack)]


def shorter_inside(key: str, cut: str, haystack: str) -> bool:
    """Whether a key whose cut occurs in `haystack` is strictly shorter and inside it."""
    return len(key) < len(haystack) and (len(key) <= MAX_PATTERN_CHARS or key in haystack)


def prefixes_among(keys: list[str], text: str, shortest: int) -> Iterable[str]:
    """The keys (sorted, none shorter than `shortest`) that are prefixes of `text`, longest
    first. The greatest key not after the text is the longest such prefix, if any; else every
    prefix lies within what it shares with the text, and the search goes on there."""
    while len(text) >= shortest:
        at = bisect.bisect_right(keys, text)
        if not at:
            return
        key = keys[at - 1]
        if text.startswith(key):
            yield key
            text = key[:-1]
        else:
            text = text[: common_prefix_length(key, text)]


def common_prefix_length(first: str, second: str) -> int:
    """How many leading characters the two share (halving on slices, compared in C)."""
    low, high = 0, min(len(first), len(second))
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def contained_keys_pairwise(keys: Collection[str], min_chars: int) -> frozenset[str]:
    """The former check, every key against every other: the reference the fast one must equal,
    and the baseline `newsqa bench` measures it against."""
    return frozenset(key for key in set(keys) if is_contained(key, keys, min_chars))


def is_contained(key: str, others: Iterable[str], min_chars: int) -> bool:
    """Whether one key is long enough to judge and occurs inside a strictly longer other."""
    return len(key) >= min_chars and any(len(other) > len(key) and key in other for other in others)
