"""Per-conversation memory of the last exchange's topic: bounded, expiring, never on disk.

A conversation is whatever key the caller chooses: (chat, user) in the bot, the `chat` field
of `ask --batch` lines, the one terminal session of `newsqa chat`. Only the last topic is
kept, it expires after `idle_s` without a question, and the oldest conversations are dropped
beyond `max_conversations`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from index.models import QAResult, Topic

DEFAULT_IDLE_S = 600.0
DEFAULT_MAX_CONVERSATIONS = 10_000


class Conversations:
    """Last topic per conversation key; thread-safe, so worker threads may update it."""

    def __init__(
        self,
        idle_s: float = DEFAULT_IDLE_S,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle_s = idle_s
        self._max = max_conversations
        self._clock = clock
        self._topics: OrderedDict[Hashable, tuple[float, Topic]] = OrderedDict()
        self._lock = threading.Lock()

    def recall(self, key: Hashable) -> Topic | None:
        """The conversation's last topic, unless it has been idle too long."""
        with self._lock:
            entry = self._topics.get(key)
            if entry is None:
                return None
            stamp, topic = entry
            if self._clock() - stamp > self._idle_s:
                del self._topics[key]
                return None
            return topic

    def remember(self, key: Hashable, result: QAResult) -> None:
        """Keep the topic a follow-up to `result` is answered in (or forget, if it has none)."""
        with self._lock:
            self._topics.pop(key, None)
            if result.topic is None:
                return
            self._topics[key] = (self._clock(), result.topic)
            while len(self._topics) > self._max:
                self._topics.popitem(last=False)

    def forget(self, key: Hashable) -> bool:
        """`/new`: start afresh; True if there was something to forget."""
        with self._lock:
            return self._topics.pop(key, None) is not None

    def __len__(self) -> int:
        return len(self._topics)
