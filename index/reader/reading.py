"""Read the top retrieved passages with the trained reader and pick the answer span, or none.

Each passage is read as `headline + chunk`: the headline often names the subject the chunk
leaves out (全县 for 聂荣县), but spans are only taken from the chunk, which is what gets
cited. All windows of one question run as one batch.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from index.models import Hit
from index.question import simplified_same_length
from index.reader.encoder import pad_batch
from index.reader.model import TRAINED_DIR, LoadedReader, load_trained
from index.reader.windows import Window, best_span, make_windows, question_ids


@dataclass(frozen=True)
class ReadSpan:
    """The reader's answer: a character span of `hit.chunk.text` and how sure it is."""

    hit: Hit
    start: int
    end: int
    score: float  # start + end logit of the span
    margin: float  # span score minus its window's no-answer score

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class _Read:
    window: Window
    hit: Hit
    body_start: int  # characters before this offset are the headline


class PassageReader:
    """Thread-safe: torch inference holds no state between calls; one lock keeps two questions
    from fighting over the same two cores."""

    def __init__(self, loaded: LoadedReader, passages: int = 4, threads: int = 1) -> None:
        self.loaded = loaded
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
        for hit in hits[: self.passages]:
            headline = hit.chunk.headline.strip()
            prefix = f"{headline}\n" if headline else ""
            passage = simplified_same_length(prefix + hit.chunk.text)
            for window in make_windows(tokenizer, asked, tokenizer.encode(passage)):
                reads.append(_Read(window, hit, len(prefix)))
        return reads

    def read(self, question: str, hits: Sequence[Hit]) -> ReadSpan | None:
        """The best span over the top passages (by margin over no-answer), or None."""
        reads = self._windows(question, hits)
        if not reads:
            return None
        ids, mask = pad_batch([r.window.input_ids for r in reads], self.loaded.tokenizer.pad)
        with self._lock, torch.inference_mode():
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                start, end = self.loaded.model(ids, mask)
            finally:
                torch.set_num_threads(previous)
        best: ReadSpan | None = None
        for row, read in enumerate(reads):
            span = best_span(
                read.window, start[row].tolist(), end[row].tolist(), min_char=read.body_start
            )
            if span is None:
                continue
            margin = span.score - span.null_score
            candidate = ReadSpan(
                read.hit,
                span.start_char - read.body_start,
                span.end_char - read.body_start,
                span.score,
                margin,
            )
            if best is None or candidate.margin > best.margin:
                best = candidate
        return best

    def abstains(self, span: ReadSpan | None) -> bool:
        return span is None or not math.isfinite(span.margin) or span.margin < self.abstain_margin


def load_reader(folder: Path = TRAINED_DIR, passages: int = 4, threads: int = 1) -> PassageReader:
    return PassageReader(load_trained(folder), passages=passages, threads=threads)


@lru_cache(maxsize=2)
def shared_reader(folder: Path | None, passages: int, threads: int) -> PassageReader:
    """One reader per process: reloading an index generation does not reload the model."""
    return load_reader(folder or TRAINED_DIR, passages=passages, threads=threads)
