"""Which paragraph keys are a leftover piece of a longer paragraph on the same page.

Layouts cut a paragraph and print the piece again (at a column break, under a photo), so a
key that occurs inside a strictly longer key on its page is a fragment to drop. Comparing every
paragraph with every other grows with the square of the page; one Aho–Corasick pass over the
page (pyahocorasick, in C) finds every key inside every other in time near the page's length.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import ahocorasick

# (every key of the page, shortest key that counts) → the keys inside a longer one
Containment = Callable[[Collection[str], int], frozenset[str]]
# Keys enter the automaton cut to this many characters: pyahocorasick follows every failure
# link at each character it reads, which over repetitive text (`哈哈哈…`, `000…`) costs as
# much as the deepest key. A longer key found by its cut is confirmed with one substring test.
MAX_PATTERN_CHARS = 128


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
    members = list(groups.values())
    found: set[str] = set()
    for haystack in {key for key in keys if len(key) > min_chars}:
        seen: set[int] = set()  # a cut occurring again in this haystack adds nothing
        for _, number in automaton.iter(haystack):
            if number in seen:
                continue
            seen.add(number)
            found.update(
                key
                for key in members[number]
                if len(key) < len(haystack) and (len(key) <= MAX_PATTERN_CHARS or key in haystack)
            )
    return frozenset(found)


def contained_keys_pairwise(keys: Collection[str], min_chars: int) -> frozenset[str]:
    """The former check, every key against every other: the reference the fast one must equal,
    and the baseline `newsqa bench` measures it against."""
    return frozenset(key for key in set(keys) if is_contained(key, keys, min_chars))


def is_contained(key: str, others: Iterable[str], min_chars: int) -> bool:
    """Whether one key is long enough to judge and occurs inside a strictly longer other."""
    return len(key) >= min_chars and any(len(other) > len(key) and key in other for other in others)
