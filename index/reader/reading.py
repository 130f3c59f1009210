"""Read the top retrieved passages with the trained reader and pick the answer span, or none.

Each passage is read as `headline + chunk`: the headline often names the subject the chunk
leaves out (全县 for 聂荣县), but spans are only taken from the chunk, which is what gets
cited. All windows of one question run as one packed sequence (no padding computed).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from index.models import Hit
from index.question import simplified_same_length
from index.reader.encoder import pack_rows
from index.reader.model import TRAINED_DIR, LoadedReader, load_trained
from index.reader.rerank import Candidate, Reranker, load_reranker, with_units
from index.reader.windows import Window, make_windows, question_ids, span_candidates


@dataclass(frozen=True)
class ReadSpan:
    """The reader's answer: a character span of `hit.chunk.text` and how sure it is."""

    hit: Hit
    start: int
    end: int
    score: float  # start + end logit of the span
    margin: float  # span score minus its window's no-answer score
    rank: int = 0  # the passage's place in retrieval order

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class _Read:
    window: Window
    hit: Hit
    body_start: int  # characters before this offset are the headline
    rank: int


class PassageReader:
    """Thread-safe: torch inference holds no state between calls; one lock keeps two questions
    from fighting over the same two cores."""

    def __init__(
        self,
        loaded: LoadedReader,
        passages: int = 3,
        threads: int = 1,
        reranker: Reranker | None = None,
    ) -> None:
        self.loaded = loaded
        self.reranker = reranker
        self.passages = passages
        self.threads = threads
        self.abstain_margin = float(loaded.manifest.get("abstain_margin", 0.0))
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return str(self.loaded.manifest.get("name", "reader"))

    def _windows(self, question: str, hits: Sequence[Hit]) -> list[_Read]:
        tokenizer = self.loaded.tokenizer
        asked = question_ids(tokenizer, question)
        reads: list[_Read] = []
        for rank, hit in enumerate(hits[: self.passages]):
            headline = hit.chunk.headline.strip()
            prefix = f"{headline}\n" if headline else ""
            passage = simplified_same_length(prefix + hit.chunk.text)
            for window in make_windows(tokenizer, asked, tokenizer.encode(passage)):
                reads.append(_Read(window, hit, len(prefix), rank))
        return reads

    def answer(self, question: str, hits: Sequence[Hit]) -> ReadSpan | None:
        """The answer span, or None to abstain. The reranker, when there is one, decides which
        span it is, and with its trust model whether there is one; else the reader's margin."""
        spans = self.candidates(question, hits)
        if not spans:
            return None
        if self.reranker is None:
            return None if self.abstains(spans[0]) else spans[0]
        if self.reranker.trust is None and self.abstains(spans[0]):
            return None
        candidates = with_units(
            [
                Candidate(s.hit.chunk.text, s.start, s.end, s.margin, s.score, s.rank, i)
                for i, s in enumerate(spans)
            ]
        )
        choice = self.reranker.choose(question, candidates)
        if choice is None:
            return None
        chosen = candidates[choice[0]]
        return replace(spans[chosen.origin], start=chosen.start, end=chosen.end)

    def candidates(self, question: str, hits: Sequence[Hit], limit: int = 20) -> list[ReadSpan]:
        """The highest-margin spans over the top passages, best first."""
        reads = self._windows(question, hits)
        if not reads:
            return []
        packed = pack_rows([r.window.input_ids for r in reads])
        with self._lock, torch.inference_mode():
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                start, end = self.loaded.model.packed(packed)
            finally:
                torch.set_num_threads(previous)
        starts, ends = start.tolist(), end.tolist()
        spans: list[ReadSpan] = []
        for read, at in zip(reads, packed.starts, strict=True):
            stop = at + len(read.window.input_ids)
            for span in span_candidates(
                read.window, starts[at:stop], ends[at:stop], min_char=read.body_start, limit=limit
            ):
                spans.append(
                    ReadSpan(
                        read.hit,
                        span.start_char - read.body_start,
                        span.end_char - read.body_start,
                        span.score,
                        span.score - span.null_score,
                        read.rank,
                    )
                )
        spans.sort(key=lambda span: -span.margin)
        return spans[:limit]

    def abstains(self, span: ReadSpan | None) -> bool:
        return span is None or not math.isfinite(span.margin) or span.margin < self.abstain_margin


def load_reader(folder: Path = TRAINED_DIR, passages: int = 3, threads: int = 1) -> PassageReader:
    return PassageReader(
        load_trained(folder), passages=passages, threads=threads, reranker=load_reranker(folder)
    )


@lru_cache(maxsize=2)
def shared_reader(folder: Path | None, passages: int, threads: int) -> PassageReader:
    """One reader per process: reloading an index generation does not reload the model."""
    return load_reader(folder or TRAINED_DIR, passages=passages, threads=threads)
