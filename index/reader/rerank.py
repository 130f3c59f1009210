"""Choose among the reader's candidate spans with a small learned model over span features.

The span head scores boundaries; it does not know that `多少场` wants a figure counted in 场, that
`哪些` wants the whole enumeration, or that an answer seldom repeats the question. These are
cheap features of (question, span); a logistic model over them and the reader's own scores is
fitted on the held-out articles of the training data (never on the news dev set) and picks
the highlight. Its weights are a few dozen numbers kept next to the reader's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

from index.reader.quantity import quantity_end
from index.tokenize import jieba_module

RERANK_FILE = "rerank.json"

_DIGIT = re.compile(r"[0-9０-９]")
_CN_NUMERAL = re.compile(r"[一二两三四五六七八九十百千万亿]")
_CARDINAL = re.compile(r"(?<!第)(?:[0-9０-９]|[一二两三四五六七八九十百千]+)")
_DATE = re.compile(r"[0-9０-９一二三四五六七八九十]+\s*[年月日号]|[0-9]{4}|[上下]午|凌晨|晚")
# A figure and the measure word right after it (`三级`, `90余场次`).
_COUNTED = re.compile(r"[0-9０-９一二两三四五六七八九十百千万][余多]?([\u4e00-\u9fff%])(?<![余多])")
_CLAUSE_MARK = re.compile(r"[，。；！？,;!?]")
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Marks a well-formed answer holds in pairs (`苏林‘医心’向党…`, not `苏林‘医心`).
_PAIRS = (
    ("“", "”"),
    ("‘", "’"),
    ("《", "》"),
    ("「", "」"),
    ("『", "』"),
    ("（", "）"),
    ("(", ")"),
)
# What continues an unfinished figure: its approximation, magnitude or more digits (`13%左右`).
_FIGURE_GOES_ON = re.compile(r"左右|以上|以下|之多|[余多万亿0-9０-９.%]")
# The measure word a count question asks for: `多少场` → 场, `几个` → 个.
_ASKED_UNIT = re.compile(r"(?:多少|几)\s*([\u4e00-\u9fff%])")

_QUESTION_KINDS: dict[str, re.Pattern[str]] = {
    "count": re.compile(
        r"多少|几[个名人位户家次场项件条种天年岁]|how (?:many|much)|比例|百分之", re.I
    ),
    "time": re.compile(
        r"何时|什么时候|哪[一]?[天年月日]|几[月号点]|日期|when|what (?:time|date|year)", re.I
    ),
    "who": re.compile(r"谁|哪位|名字|叫什么|who|whom", re.I),
    "where": re.compile(r"哪里|哪儿|何处|什么地方|where", re.I),
    "list": re.compile(r"哪些|哪几|哪[二三四五六七八九十]|有什么|包括|which (?:ones|\w+s)\b", re.I),
    "why": re.compile(r"为什么|为何|原因|why", re.I),
    "what": re.compile(r"什么|啥|what", re.I),
}


@dataclass(frozen=True)
class Candidate:
    """One span the reader proposes, in the passage it was read from."""

    passage: str
    start: int
    end: int
    margin: float
    score: float
    rank: int  # retrieval rank of the passage
    origin: int = 0  # which of the reader's spans this came from

    @property
    def text(self) -> str:
        return self.passage[self.start : self.end]


def with_units(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Every candidate, plus its unit-completed form where it is a bare figure (`87` → `87名`);
    the completed form keeps the reader's scores and is told apart by its features."""
    out: list[Candidate] = []
    seen: set[tuple[str, int, int]] = set()
    for candidate in candidates:
        end = quantity_end(candidate.passage, candidate.start, candidate.end)
        for variant in (candidate, _replace_end(candidate, end)):
            key = (variant.passage, variant.start, variant.end)
            if key not in seen:
                seen.add(key)
                out.append(variant)
    return out


def _replace_end(candidate: Candidate, end: int) -> Candidate:
    return replace(candidate, end=end)


def question_kinds(question: str) -> dict[str, float]:
    return {kind: float(bool(p.search(question))) for kind, p in _QUESTION_KINDS.items()}


def features(question: str, candidates: Sequence[Candidate]) -> np.ndarray:
    """One row per candidate; column names in `FEATURE_NAMES`."""
    kinds = question_kinds(question)
    asked_unit = _ASKED_UNIT.search(question)
    asked = set(_CJK.findall(question))
    best = max((c.margin for c in candidates), default=0.0)
    rows = []
    for position, candidate in enumerate(candidates):
        text = candidate.text
        sentence = _clause_around(candidate)
        cardinal = bool(_CARDINAL.search(text))
        bare = bool(text) and quantity_end(candidate.passage, candidate.start, candidate.end) != (
            candidate.end
        )
        chars = _CJK.findall(text)
        repeated = sum(ch in asked for ch in chars) / max(1, len(chars))
        context = _CJK.findall(sentence)
        support = len(asked & set(context)) / max(1, len(asked))
        unit_match = bool(
            asked_unit
            and re.search(
                r"[0-9０-９一二两三四五六七八九十百千万余多]" + re.escape(asked_unit.group(1)), text
            )
        )
        counted = _COUNTED.search(text)
        unit_mismatch = bool(
            asked_unit and counted and not unit_match and counted.group(1) != asked_unit.group(1)
        )
        listed = "、" in text or "和" in text
        before = candidate.passage[candidate.start - 1 : candidate.start]
        after = candidate.passage[candidate.end : candidate.end + 2]
        boundaries = word_boundaries(candidate.passage)
        short_name = 2 <= len(text) <= 4 and len(chars) == len(text)
        rows.append(
            [
                candidate.margin,
                candidate.margin - best,
                candidate.score,
                math.log1p(position),
                float(candidate.rank),
                math.log1p(len(text)),
                float(bool(_DIGIT.search(text))),
                float(cardinal),
                float(bare),
                float(bool(_CLAUSE_MARK.search(text))),
                float(listed),
                repeated,
                support,
                float(bool(_LATIN.search(question))),
                *kinds.values(),
                kinds["count"] * cardinal,
                kinds["count"] * bare,
                float(unit_match),
                float(unit_mismatch),
                kinds["time"] * float(bool(_DATE.search(text))),
                kinds["list"] * float(listed),
                kinds["who"] * float(short_name),
                kinds["why"] * math.log1p(len(text)),
                kinds["what"] * math.log1p(len(text)),
                float(candidate.start not in boundaries),
                float(candidate.end not in boundaries),
                float(before == "、" or after[:1] == "、"),
                float(any(text.count(a) != text.count(b) for a, b in _PAIRS)),
                float(
                    bool(_DIGIT.search(text[-1:]) or text[-1:] == "%")
                    and bool(_FIGURE_GOES_ON.match(after))
                ),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), len(FEATURE_NAMES))


FEATURE_NAMES = (
    "margin",
    "margin_gap",
    "score",
    "log_position",
    "passage_rank",
    "log_length",
    "has_digit",
    "has_cardinal",
    "bare_figure",
    "crosses_clause",
    "enumeration",
    "repeats_question",
    "clause_support",
    "latin_question",
    *(f"asks_{kind}" for kind in _QUESTION_KINDS),
    "count_x_cardinal",
    "count_x_bare",
    "asked_unit_follows_figure",
    "other_unit_follows_figure",
    "time_x_date",
    "list_x_enumeration",
    "who_x_short_name",
    "why_x_length",
    "what_x_length",
    "starts_inside_word",
    "ends_inside_word",
    "cuts_enumeration",
    "unpaired_mark",
    "cuts_figure",
)


@lru_cache(maxsize=256)
def word_boundaries(passage: str) -> frozenset[int]:
    """Offsets where jieba's words of `passage` begin or end: a span that starts or stops
    inside a word (`…温度’。”拉` of `拉巴卓玛`) is seldom an answer."""
    lengths = [len(word) for word in jieba_module().lcut(passage)]
    return frozenset(accumulate(lengths, initial=0))


def _clause_around(candidate: Candidate) -> str:
    """The sentence holding the span, for how much of the question it echoes."""
    text = candidate.passage
    a = max(text.rfind(mark, 0, candidate.start) for mark in "。！？\n") + 1
    ends = [i for i in (text.find(mark, candidate.end) for mark in "。！？\n") if i >= 0]
    return text[a : min(ends, default=len(text))]


@dataclass(frozen=True)
class Linear:
    """A linear score over standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(((rows - self.mean) / self.scale) @ self.weights + self.bias)

    def to_json(self) -> dict[str, object]:
        return {
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(self.bias, 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Linear:
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
        )


TRUST_FEATURE_NAMES = (*FEATURE_NAMES, "choice_probability")


def trust_features(rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """The chosen candidate's features and how sure the choice was, one row per question."""
    best = int(np.argmax(probabilities))
    return np.concatenate([rows[best], [probabilities[best]]])[None]


@dataclass(frozen=True)
class Reranker:
    """`choice` scores each candidate (a softmax over one question's candidates picks the
    highlight); `trust` says whether the chosen span answers the question at all (a logistic
    score; below `trust_below` the reader abstains)."""

    choice: Linear
    trust: Linear | None = None
    trust_below: float = 0.0

    def probabilities(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """Softmax over the candidates: the choice model is fitted listwise."""
        if not candidates:
            return np.zeros(0)
        return _softmax(self.choice(features(question, candidates)))

    def trusted(self, question: str, candidates: Sequence[Candidate]) -> float:
        """Probability that the best candidate answers the question (1.0 without a trust model)."""
        if not candidates:
            return 1.0
        rows = features(question, candidates)
        return self._trust(rows, _softmax(self.choice(rows)))

    def _trust(self, rows: np.ndarray, probabilities: np.ndarray) -> float:
        if self.trust is None:
            return 1.0
        score = float(self.trust(trust_features(rows, probabilities))[0])
        return 1.0 / (1.0 + math.exp(-score))

    def rank(self, question: str, candidates: Sequence[Candidate]) -> tuple[list[int], bool]:
        """Candidate indices best first, and whether the best is trusted to answer at all."""
        if not candidates:
            return [], False
        probabilities, trusted = self._judged(question, candidates)
        return np.argsort(-probabilities, kind="stable").tolist(), trusted

    def choose(self, question: str, candidates: Sequence[Candidate]) -> tuple[int, float] | None:
        """Index and probability of the best candidate, or None when it is not trusted."""
        if not candidates:
            return None
        probabilities, trusted = self._judged(question, candidates)
        if not trusted:
            return None
        best = int(np.argmax(probabilities))
        return best, float(probabilities[best])

    def _judged(self, question: str, candidates: Sequence[Candidate]) -> tuple[np.ndarray, bool]:
        """The choice's probabilities, and whether the trust model lets the best stand."""
        rows = features(question, candidates)
        probabilities = _softmax(self.choice(rows))
        return probabilities, self._trust(rows, probabilities) >= self.trust_below

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURE_NAMES),
            "choice": self.choice.to_json(),
            "trust": None if self.trust is None else self.trust.to_json(),
            "trust_below": round(self.trust_below, 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reranker:
        if list(data["features"]) != list(FEATURE_NAMES):
            raise ValueError("reranker weights were fitted on other features")
        trust = data.get("trust")
        return cls(
            choice=Linear.from_json(data["choice"]),
            trust=None if trust is None else Linear.from_json(trust),
            trust_below=float(data.get("trust_below", 0.0)),
        )


def _softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max())
    return np.asarray(exp / exp.sum(), dtype=np.float64)


def load_reranker(folder: Path) -> Reranker | None:
    path = folder / RERANK_FILE
    if not path.exists():
        return None
    return Reranker.from_json(json.loads(path.read_text(encoding="utf-8")))
