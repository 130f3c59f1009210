"""👍/👎 votes kept in a JSON-lines file from a worker thread, never blocking an answer.

Votes count only on the bot's own answers, once per user per answer (pressing again replaces
the vote), and the file holds a bounded number of them: a client can send any callback data
for any message, and a crowd can press buttons all day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, get_args

from telegram import Message

log = logging.getLogger(__name__)

Vote = Literal["up", "down"]
# (chat, answer message, user): the unit a vote is counted in.
VoteKey = tuple[int, int, int]
# When the file is full it is cut to this share of its limit, so it is rewritten seldom.
KEEP_WHEN_FULL = 0.9


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

    @property
    def key(self) -> VoteKey:
        return (self.chat_id, self.message_id, self.user_id)


def parse_vote(name: str) -> Vote | None:
    """`up` or `down`; anything else a client made up is no vote."""
    return next((vote for vote in get_args(Vote) if vote == name), None)


def is_answer_button(message: Message, data: str, bot_id: int) -> bool:
    """Whether the message is the bot's own and carries a button with this data: the only
    presses that are votes on a known answer (Telegram attaches the real message)."""
    sender, markup = message.from_user, message.reply_markup
    if sender is None or sender.id != bot_id or markup is None:
        return False
    return any(button.callback_data == data for row in markup.inline_keyboard for button in row)


def latest_votes(votes: Iterable[Feedback], limit: int) -> dict[VoteKey, Feedback]:
    """One vote per user per answer, the last one cast, at most `limit` (the newest), oldest
    first."""
    latest: dict[VoteKey, Feedback] = {}
    for vote in votes:
        latest.pop(vote.key, None)
        latest[vote.key] = vote
    return dict(list(latest.items())[-limit:]) if len(latest) > limit else latest


class FeedbackLog:
    """The votes in a JSONL file, oldest first: one per user per answer, at most `max_votes`
    (the oldest dropped first). Writes happen in a thread, one at a time."""

    def __init__(self, path: Path, max_votes: int = 10_000) -> None:
        self.path = path
        self.max_votes = max_votes
        self._lock = threading.Lock()
        self._votes: dict[VoteKey, Feedback] | None = None  # the file's, read at the first vote

    async def record(self, feedback: Feedback) -> bool:
        """Store one vote off the event loop; False (and a warning) if the disk refused."""
        try:
            await asyncio.to_thread(self._store, feedback)
        except OSError as exc:
            log.warning("could not record feedback in %s: %s", self.path, exc)
            return False
        return True

    def read(self) -> list[Feedback]:
        """Every vote in the file, oldest first; a line that is not a vote is skipped."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as lines:
            return [vote for line in lines if (vote := _parse_line(line)) is not None]

    def _store(self, feedback: Feedback) -> None:
        with self._lock:
            try:
                self._store_locked(feedback)
            except OSError:
                self._votes = None  # what the file holds is unknown now: read it again
                raise

    def _store_locked(self, feedback: Feedback) -> None:
        if self._votes is None:
            # A file written before votes were kept once per user per answer is tidied here.
            on_file = self.read()
            self._votes = latest_votes(on_file, self.max_votes)
            if len(self._votes) < len(on_file):
                self._rewrite(self._votes.values())
        votes = self._votes
        again = votes.pop(feedback.key, None) is not None
        votes[feedback.key] = feedback
        if not again and len(votes) <= self.max_votes:
            self._append(feedback)
            return
        if len(votes) > self.max_votes:
            kept = max(1, int(self.max_votes * KEEP_WHEN_FULL))
            self._votes = votes = latest_votes(votes.values(), kept)
        self._rewrite(votes.values())

    def _append(self, feedback: Feedback) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(_line(feedback))

    def _rewrite(self, votes: Iterable[Feedback]) -> None:
        """Replace the file in one rename, so a crash leaves the old votes or the new ones."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.writelines(_line(vote) for vote in votes)
            with contextlib.suppress(FileNotFoundError):  # readable by whom it was before
                os.chmod(temporary, stat.S_IMODE(self.path.stat().st_mode))
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _line(feedback: Feedback) -> str:
    return json.dumps(asdict(feedback), ensure_ascii=False) + "\n"


def _parse_line(line: str) -> Feedback | None:
    if not line.strip():
        return None
    try:
        return Feedback(**json.loads(line))
    except (ValueError, TypeError):
        log.warning("skipping a line of the feedback file that is not a vote: %.80r", line)
        return None
