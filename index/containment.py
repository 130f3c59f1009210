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


def contained_keys(keys: Collection[str], min_chars: int) -> frozenset[str]:
    """Keys of at least `min_chars` characters that occur inside a strictly longer key."""
    patterns = {key for key in keys if len(key) >= min_chars}
    if not patterns:
        return frozenset()
    automaton = ahocorasick.Automaton()
    for pattern in patterns:
        automaton.add_word(pattern, pattern)
    automaton.make_automaton()
    found: set[str] = set()
    for key in {key for key in keys if len(key) > min_chars}:
        found.update(pattern for _, pattern in automaton.iter(key) if len(pattern) < len(key))
    return frozenset(found)


def contained_keys_pairwise(keys: Collection[str], min_chars: int) -> frozenset[str]:
    """The former check, every key against every other: the reference the fast one must equal,
    and the baseline `newsqa bench` measures it against."""
    return frozenset(key for key in set(keys) if is_contained(key, keys, min_chars))


def is_contained(key: str, others: Iterable[str], min_chars: int) -> bool:
    """Whether one key is long enough to judge and occurs inside a strictly longer other."""
    return len(key) >= min_chars and any(len(other) > len(key) and key in other for other in others)
