"""Who gets an answer: allow-list, per-user token bucket, addressed-in-group, question shape."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from telegram import Message, MessageEntity
from telegram.constants import ChatType
from telegram.ext import filters

# Beyond this many users the bucket table is pruned of users whose buckets are full again,
# so a crowd of one-off askers cannot grow memory without bound.
_MAX_TRACKED_USERS = 10_000


class _FromHuman(filters.MessageFilter):
    """Messages sent by a person: other bots and channel posts get no answers."""

    def filter(self, message: Message) -> bool:
        if message.sender_chat is not None:
            # An anonymous group admin writes as the group itself (via @GroupAnonymousBot).
            return message.sender_chat.id == message.chat.id
        return message.from_user is not None and not message.from_user.is_bot


FROM_HUMAN = _FromHuman(name="FROM_HUMAN")


class RateDecision(enum.Enum):
    """ALLOW: answer; NOTIFY: refuse and say why; SILENT: refuse without a word (already said)."""

    ALLOW = "allow"
    NOTIFY = "notify"
    SILENT = "silent"


class QuestionProblem(enum.Enum):
    """Why a question is not searched: each gets its own polite reply."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_WORDS = "no_words"


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    told: bool = False  # the user was told they are limited; say it once per empty spell


class TokenBucket:
    """Per-user token buckets: `burst` questions at once, refilled at `per_minute`."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def take(self, key: int) -> RateDecision:
        """Spend one token for `key`, or say whether to tell them they are limited."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._prune(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.told = False
            return RateDecision.ALLOW
        if bucket.told:
            return RateDecision.SILENT
        bucket.told = True
        return RateDecision.NOTIFY

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        if len(self._buckets) < _MAX_TRACKED_USERS:
            return
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]


class AllowList:
    """Chat ids the bot serves; an empty list serves everyone."""

    def __init__(self, chat_ids: Collection[int]) -> None:
        self._ids = frozenset(chat_ids)

    def allows(self, chat_id: int | None) -> bool:
        """None (a button under an inline message: no chat) passes only an empty list."""
        return not self._ids or chat_id in self._ids


def question_problem(question: str, max_chars: int) -> QuestionProblem | None:
    """None if the question can be searched, else the reason it cannot."""
    if not question.strip():
        return QuestionProblem.EMPTY
    if len(question) > max_chars:
        return QuestionProblem.TOO_LONG
    if not any(ch.isalnum() for ch in question):
        return QuestionProblem.NO_WORDS
    return None


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def is_reply_to_bot(message: Message, bot_id: int) -> bool:
    """A reply to one of the bot's own messages counts as addressing the bot."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def mentions_bot(message: Message, bot_username: str, bot_id: int) -> bool:
    """@botname in the text, or a text mention that links to the bot."""
    return bool(_bot_mentions(message, bot_username, bot_id))


def question_text(message: Message, bot_username: str, bot_id: int) -> str:
    """The message's text without a leading /ask[@bot] and without mentions of the bot."""
    text = message.text or ""
    entities = message.parse_entities([MessageEntity.BOT_COMMAND])
    for entity, command in entities.items():
        name = command.split("@", 1)[0].lower()
        if entity.offset == 0 and name == "/ask":
            text = text[len(command) :]
            break
    for mention in _bot_mentions(message, bot_username, bot_id):
        text = text.replace(mention, " ")
    return " ".join(text.split())


def addressed_question(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question in a plain text message, or None when the bot is not addressed.

    In a private chat every text is a question; in a group only a mention or a reply to the bot.
    """
    if message.text is None:
        return None
    if (
        is_private(message)
        or mentions_bot(message, bot_username, bot_id)
        or is_reply_to_bot(message, bot_id)
    ):
        return question_text(message, bot_username, bot_id)
    return None


def _bot_mentions(message: Message, bot_username: str, bot_id: int) -> list[str]:
    handle = "@" + bot_username.lower()
    found = []
    entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    for entity, text in entities.items():
        by_name = entity.type == MessageEntity.MENTION and text.lower() == handle
        linked = entity.user.id if entity.user is not None else None
        by_link = entity.type == MessageEntity.TEXT_MENTION and linked == bot_id
        if by_name or by_link:
            found.append(text)
    return found
