"""`newsqa chat`: the bot's conversation in a terminal, same wording, plain text, no token."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot.gate import QuestionProblem, question_problem
from bot.render import (
    SOURCES_SHOWN,
    about_blocks,
    answer_blocks,
    context_blocks,
    more_blocks,
    to_plain,
)
from bot.texts import Lang, detect_language, texts_for
from index.conversation import Conversations
from index.engine import QAEngine
from index.models import Passage
from index.render import terminal_safe
from index.service import load_engine  # lazy: the retrieval stack is heavy
from index.settings import Settings

PROMPT = "> "
_CONSOLE = "console"  # the one conversation a terminal session holds
_CONSOLE_HELP = {
    "zh": "终端命令：/more 更多段落 · /src n 第 n 个出处的原文 · /new 重新开始 · /about · /help"
    " · /quit",
    "en": "Console commands: /more · /src n (source n) · /new (start afresh) · /about · /help"
    " · /quit",
}


@dataclass
class ConsoleSession:
    """One terminal conversation: remembers the last question and the passages shown."""

    engine: QAEngine
    settings: Settings
    lang: Lang = "zh"
    question: str | None = None
    shown: list[Passage] = field(default_factory=list)
    conversation: Conversations | None = None  # the last topic, for follow-up questions

    def __post_init__(self) -> None:
        if self.conversation is None:
            self.conversation = Conversations(idle_s=self.settings.conversation_idle_s)

    def reply(self, line: str) -> str | None:
        """The text to print for one input line, or None to end the conversation."""
        text = line.strip()
        command, _, rest = text.partition(" ")
        words = texts_for(self.lang)
        if command in ("/quit", "/exit"):
            return None
        if command in ("/start", "/help"):
            body = words.start if command == "/start" else words.help.format(bot="newsqa")
            return f"{body}\n{_CONSOLE_HELP[self.lang]}"
        if command == "/about":
            return to_plain(about_blocks(self.engine.info, self.lang))
        if command == "/new":
            assert self.conversation is not None
            self.conversation.forget(_CONSOLE)
            return words.new_conversation
        if command == "/more":
            return self._more()
        if command == "/src":
            return self._source(rest)
        if not text:
            return ""
        return self._answer(text)

    def _answer(self, question: str) -> str:
        self.lang = detect_language(question, fallback=self.lang)
        words = texts_for(self.lang)
        problem = question_problem(question, self.settings.max_question_chars)
        if problem is QuestionProblem.TOO_LONG:
            return words.too_long.format(limit=self.settings.max_question_chars)
        if problem is not None:
            return words.no_words
        assert self.conversation is not None
        result = self.engine.answer(question, context=self.conversation.recall(_CONSOLE))
        self.conversation.remember(_CONSOLE, result)
        self.question = question
        self.shown = list(result.passages[:SOURCES_SHOWN])
        return to_plain(answer_blocks(result, self.lang))

    def _more(self) -> str:
        if self.question is None:
            return texts_for(self.lang).question_gone
        offset = len(self.shown)
        page = self.engine.more_passages(self.question, offset, SOURCES_SHOWN)
        self.shown.extend(page)
        return to_plain(more_blocks(page, offset, self.lang))

    def _source(self, number: str) -> str:
        words = texts_for(self.lang)
        if not number.isdigit() or not 1 <= int(number) <= len(self.shown):
            return words.source_gone
        context = self.engine.context(self.shown[int(number) - 1].chunk_id)
        return to_plain(context_blocks(context)) if context else words.source_gone


def chat(
    settings: Settings,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    load: Callable[[Settings], QAEngine] | None = None,
) -> None:
    """Read questions line by line and print the answers until /quit or end of input."""
    source, sink = stdin or sys.stdin, stdout or sys.stdout
    if load is None:
        load = load_engine
    # A NewsqaError (no index …) goes up to the CLI: one `Error: …` line and its status.
    engine = load(settings)
    session = ConsoleSession(engine, settings)
    sink.write((session.reply("/start") or "") + "\n")
    try:
        while True:
            sink.write(PROMPT)
            sink.flush()
            line = source.readline()
            answer = session.reply(line) if line else None
            if answer is None:
                break
            # Story text may hold terminal escapes; the terminal shows them, never obeys them.
            sink.write(terminal_safe(answer) + "\n\n")
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the conversation like /quit, without a traceback
    sink.write("\n")
