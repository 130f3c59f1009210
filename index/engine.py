"""The question-answering surface that the CLI, the console chat and the bot share."""

from __future__ import annotations

from typing import Protocol

from index.models import IndexInfo, Passage, PassageContext, QAResult


class QAEngine(Protocol):
    """A loaded index generation that answers questions; safe to call from worker threads."""

    @property
    def info(self) -> IndexInfo: ...

    def answer(self, question: str) -> QAResult:
        """Answer one question, or abstain; never raises on odd user text."""
        ...

    def more_passages(self, question: str, offset: int, limit: int) -> tuple[Passage, ...]:
        """Further ranked passages for the "更多" button (offset counts from the first passage)."""
        ...

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        """The passage behind a chunk id with `radius` neighbouring paragraphs, or None."""
        ...
