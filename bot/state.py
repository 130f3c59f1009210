"""What handlers share, kept in a typed bot_data instead of module globals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.feedback import FeedbackLog
from bot.followup import AnswerTopics
from bot.gate import AllowList, TokenBucket
from bot.reload import EngineHolder, IndexReloader
from bot.systemd import SystemdNotifier
from index.conversation import Conversations
from index.settings import Settings


@dataclass
class BotServices:
    """The settings and the long-lived parts every handler uses."""

    settings: Settings
    engines: EngineHolder
    reloader: IndexReloader
    allow_list: AllowList
    rate: TokenBucket
    feedback: FeedbackLog
    searches: asyncio.Semaphore  # bounds searches running in worker threads
    notifier: SystemdNotifier
    # The last topic per (chat, user), for follow-ups; the topic of each answer sent, for replies.
    conversations: Conversations = field(default_factory=Conversations)
    answer_topics: AnswerTopics = field(default_factory=AnswerTopics)


class BotState:
    """The Application's bot_data: created empty by PTB, bound to the services once at build."""

    def __init__(self) -> None:
        self._services: BotServices | None = None

    def bind(self, services: BotServices) -> None:
        self._services = services

    @property
    def services(self) -> BotServices:
        if self._services is None:
            raise RuntimeError("bot_data is unbound: build the app with build_application()")
        return self._services


AnyDict = dict[Any, Any]
# ExtBot[Any]: the bot's rate-limiter arguments differ with and without AIORateLimiter.
BotContext = CallbackContext[ExtBot[Any], AnyDict, AnyDict, BotState]
BotApplication = Application[ExtBot[Any], BotContext, AnyDict, AnyDict, BotState, None]
