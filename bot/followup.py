"""Which earlier answer a Telegram message follows on from: the conversation it belongs to, and
the answer it replies to.

A conversation is one user in one chat (in a group, each member has their own). A reply to
one of the bot's answers is scoped to that answer's story for anyone who replies: the bot
remembers the topic of the answers it sent (bounded, in memory), and after a restart reads the
story from the answer's "原文" button, which carries the cited chunk id.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from telegram import InlineKeyboardMarkup, Message

from bot.render import SOURCE_PREFIX
from index.models import Topic

# Answers whose topics are remembered for replies; older ones fall back to their button.
MAX_REMEMBERED_ANSWERS = 10_000

ConversationKey = tuple[int, int]  # (chat id, sender id)
MessageKey = tuple[int, int]  # (chat id, message id)


def conversation_key(message: Message, user_id: int) -> ConversationKey:
    """One user in one chat; anonymous admins and channels speak as their own chat."""
    sender = message.sender_chat
    return (message.chat.id, sender.id if sender else user_id)


def cache_key(question: str, context: Topic | None) -> str:
    """Answers are shared between askers only when they were asked in the same context."""
    if context is None:
        return question
    scope = "reply" if context.reply else "follow-up"
    parts = (question, scope, context.file, str(context.article_index), *context.terms)
    return "\x00".join(parts)


def cited_chunk(message: Message) -> str | None:
    """The chunk id behind the first "原文" button under one of the bot's answers."""
    markup = message.reply_markup
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    for row in markup.inline_keyboard:
        for button in row:
            data = button.callback_data
            if isinstance(data, str) and data.startswith(SOURCE_PREFIX):
                return data.removeprefix(SOURCE_PREFIX)
    return None


def replied_bot_message(message: Message, bot_id: int) -> Message | None:
    """The bot's own message this one replies to, if any."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
        return None
    return replied


class AnswerTopics:
    """The topic of each answer the bot sent, by (chat id, message id): least recently sent
    ones are dropped beyond `size`."""

    def __init__(self, size: int = MAX_REMEMBERED_ANSWERS) -> None:
        self._size = size
        self._topics: OrderedDict[MessageKey, Topic] = OrderedDict()

    def remember(self, key: MessageKey, topic: Topic) -> None:
        self._topics[key] = replace(topic, reply=True)
        self._topics.move_to_end(key)
        while len(self._topics) > self._size:
            self._topics.popitem(last=False)

    def get(self, key: MessageKey) -> Topic | None:
        return self._topics.get(key)

    def __len__(self) -> int:
        return len(self._topics)
