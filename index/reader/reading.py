"""Read the top retrieved passages with the trained reader and pick the answer span, or none.

Each passage is read as `headline + chunk`: the headline often names the subject the chunk
leaves out (全县 for 聂荣县), but spans are only taken from the chunk, which is what gets
cited. A question's windows are packed into a few sequences (no padding computed), read side
by side on the reader's own threads.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from index.models import Hit
from index.question import simplified_same_length
from index.reader import TRAINED_DIR
from index.reader.agreement import Agreement, load_agreement, unfitted
from index.reader.encoder import pack_rows
from index.reader.model import LoadedReader, load_trained
from index.reader.readings import Reading, ReadSpan
from index.reader.rerank import Candidate, Reranker, load_reranker, with_units
from index.reader.windows import Window, make_windows, question_ids, span_candidates


@dataclass(frozen=True)
class _Read:
    window: Window
    hit: Hit
    body_start: int  # characters before this offset are the headline
    rank: int


class PassageReader:
    """Thread-safe: torch inference holds no state between calls, and every question's windows
    are read by the same `threads` threads, one torch thread each."""

    def __init__(
        self,
        loaded: LoadedReader,
        passages: int = 3,
        threads: int = 1,
        reranker: Reranker | None = None,
        agreement: Agreement | None = None,
    ) -> None:
        self.loaded = loaded
        self.reranker = reranker
        self.passages = passages
        self.threads = threads
        self.abstain_margin = float(loaded.manifest.get("abstain_margin", 0.0))
        # How the rules' answer and this reader's settle a Chinese question under 'auto'.
        self.agreement = agreement or unfitted(self.abstain_margin)
        self._making_pool = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None

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
        """The answer span, or None to abstain."""
        return self.read(question, hits).answer

    def read(self, question: str, hits: Sequence[Hit]) -> Reading:
        """Every candidate span in the reranker's order (the margin's without one), and whether
        the reader answers: the reranker's trust model decides when it has one, else the margin."""
        spans = self.candidates(question, hits)
        if not spans:
            return Reading((), False, -math.inf)
        margin = spans[0].margin
        if self.reranker is None:
            return Reading(tuple(spans), not self.abstains(spans[0]), margin)
        candidates = with_units(
            [
                Candidate(s.hit.chunk.text, s.start, s.end, s.margin, s.score, s.rank, i)
                for i, s in enumerate(spans)
            ]
        )
        order, trusted = self.reranker.rank(question, candidates)
        ranked = tuple(
            replace(spans[candidates[i].origin], start=candidates[i].start, end=candidates[i].end)
            for i in order
        )
        if self.reranker.trust is None:
            trusted = not self.abstains(spans[0])
        return Reading(ranked, trusted, margin)

    def candidates(self, question: str, hits: Sequence[Hit], limit: int = 20) -> list[ReadSpan]:
        """The highest-margin spans over the top passages, best first."""
        reads = self._windows(question, hits)
        if not reads:
            return []
        groups = _balanced(reads, self.threads)
        logits = list(self._pool().map(self._logits, groups))
        by_read: dict[int, tuple[list[float], list[float]]] = {}
        for group, (starts, ends) in zip(groups, logits, strict=True):
            at = 0
            for read in group:
                stop = at + len(read.window.input_ids)
                by_read[id(read)] = starts[at:stop], ends[at:stop]
                at = stop
        spans: list[ReadSpan] = []
        for read in reads:  # in reading order: spans of equal margin keep it
            starts, ends = by_read[id(read)]
            for span in span_candidates(
                read.window, starts, ends, min_char=read.body_start, limit=limit
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

    def _logits(self, group: Sequence[_Read]) -> tuple[list[float], list[float]]:
        """Start and end logits of one group of windows, packed into one sequence (on a pool
        thread: torch's thread count set here holds for that thread only, under OpenMP)."""
        torch.set_num_threads(1)
        with torch.inference_mode():
            start, end = self.loaded.model.packed(pack_rows([r.window.input_ids for r in group]))
        return start.tolist(), end.tolist()

    def _pool(self) -> ThreadPoolExecutor:
        """The threads that read groups of windows, `threads` of them for every question: two
        questions at once queue their groups here rather than fight over the cores."""
        with self._making_pool:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.threads, thread_name_prefix="reader")
            return self._threads

    def abstains(self, span: ReadSpan | None) -> bool:
        return span is None or not math.isfinite(span.margin) or span.margin < self.abstain_margin


def load_reader(folder: Path = TRAINED_DIR, passages: int = 3, threads: int = 1) -> PassageReader:
    return PassageReader(
        load_trained(folder),
        passages=passages,
        threads=threads,
        reranker=load_reranker(folder),
        agreement=load_agreement(folder),
    )


@lru_cache(maxsize=2)
def shared_reader(folder: Path | None, passages: int, threads: int) -> PassageReader:
    """One reader per process: reloading an index generation does not reload the model."""
    return load_reader(folder or TRAINED_DIR, passages=passages, threads=threads)


def _balanced(reads: list[_Read], groups: int) -> list[list[_Read]]:
    """`reads` in at most `groups` groups of about equal length, each in reading order: the
    longest window goes to the lightest group first. Packing windows costs attention over
    their whole length squared, so separate groups are also cheaper than one."""
    bins: list[list[_Read]] = [[] for _ in range(max(1, min(groups, len(reads))))]
    sizes = [0] * len(bins)
    order = sorted(range(len(reads)), key=lambda i: -len(reads[i].window.input_ids))
    chosen: dict[int, int] = {}
    for i in order:
        lightest = sizes.index(min(sizes))
        chosen[i] = lightest
        sizes[lightest] += len(reads[i].window.input_ids)
    for i, read in enumerate(reads):
        bins[chosen[i]].append(read)
    return bins
