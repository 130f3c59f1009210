"""👍/👎 votes appended to a JSON-lines file from a worker thread, never blocking an answer."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Vote = Literal["up", "down"]


@dataclass(frozen=True)
class Feedback:
    """One vote on one answer message; the question is kept so the log can be read alone."""

    vote: Vote
    chat_id: int
    message_id: int
    user_id: int
    question: str
    at: str

    @classmethod
    def now(
        cls, vote: Vote, chat_id: int, message_id: int, user_id: int, question: str
    ) -> Feedback:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(vote, chat_id, message_id, user_id, question, stamp)


class FeedbackLog:
    """Appends votes to a JSONL file; writes happen in a thread, one at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    async def record(self, feedback: Feedback) -> bool:
        """Append one vote off the event loop; False (and a warning) if the disk refused."""
        try:
            await asyncio.to_thread(self._append, feedback)
        except OSError as exc:
            log.warning("could not record feedback in %s: %s", self.path, exc)
            return False
        return True

    def read(self) -> list[Feedback]:
        """Every vote recorded so far (for tests and reports)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as lines:
            return [Feedback(**json.loads(line)) for line in lines if line.strip()]

    def _append(self, feedback: Feedback) -> None:
        line = json.dumps(asdict(feedback), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
