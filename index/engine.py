"""The question-answering surface that the CLI, the console chat and the bot share."""

from __future__ import annotations

from typing import Protocol

from index.models import IndexInfo, Passage, PassageContext, QAResult, Topic


class QAEngine(Protocol):
    """A loaded index generation that answers questions; safe to call from worker threads."""

    @property
    def info(self) -> IndexInfo: ...

    def answer(self, question: str, *, context: Topic | None = None) -> QAResult:
        """Answer one question, or abstain; never raises on odd user text. With `context`
        (the conversation's last topic) a follow-up is answered in that story."""
        ...

    def topic(self, chunk_id: str) -> Topic | None:
        """The story behind a cited chunk, as the scope of a reply to that answer."""
        ...

    def more_passages(self, question: str, offset: int, limit: int) -> tuple[Passage, ...]:
        """Further ranked passages for the "更多" button (offset counts from the first passage)."""
        ...

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        """The passage behind a chunk id with `radius` neighbouring paragraphs, or None."""
        ...
