"""CMRC 2018-style scores: exact match and character F1 after dropping punctuation and spaces."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    return _SPACE.sub("", text)


def highlight_exact(highlight: str | None, answers: Sequence[str]) -> bool:
    """The highlight holds a gold answer (spaces aside) and is not much longer than it."""
    if not highlight:
        return False
    flat = squash(highlight)
    for answer in answers:
        gold = squash(answer)
        if gold in flat and len(flat) <= max(2 * len(gold), len(gold) + 8):
            return True
    return False


def _normalize(text: str) -> str:
    return "".join(
        c.lower() for c in text if not c.isspace() and not unicodedata.category(c).startswith("P")
    )


def _lcs(a: str, b: str) -> int:
    previous = [0] * (len(b) + 1)
    best = 0
    for ca in a:
        current = [0] * (len(b) + 1)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def char_f1(prediction: str, gold: str) -> float:
    """F1 over the longest common substring, as CMRC's official script computes it."""
    p, g = _normalize(prediction), _normalize(gold)
    if not p or not g:
        return float(p == g)
    common = _lcs(p, g)
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def exact(prediction: str, gold: str) -> float:
    return float(_normalize(prediction) == _normalize(gold))


def best_over(golds: Sequence[str], prediction: str) -> tuple[float, float]:
    """(EM, F1) against the closest gold answer."""
    if not golds:
        return 0.0, 0.0
    return max(exact(prediction, g) for g in golds), max(char_f1(prediction, g) for g in golds)


def length_bucket(answer: str) -> str:
    """Short facts (news answers) and long clauses (most CMRC golds) score very differently."""
    n = len(answer)
    return "<=6" if n <= 6 else "7-15" if n <= 15 else ">15"
