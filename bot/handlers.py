"""Thin async handlers: parse the update, ask the engine off the loop, render, send."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from telegram import (
    CallbackQuery,
    Chat,
    ChatMemberUpdated,
    InlineQuery,
    InlineQueryResultArticle,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.feedback import Feedback, is_answer_button, parse_vote
from bot.followup import cache_key, cited_chunk, conversation_key, replied_bot_message
from bot.gate import (
    QuestionProblem,
    RateDecision,
    addressed_question,
    question_problem,
    question_text,
)
from bot.inline import inline_results
from bot.render import (
    FEEDBACK_PREFIX,
    GROUP_STYLE,
    MORE_PREFIX,
    SOURCE_PREFIX,
    SOURCES_SHOWN,
    AnswerStyle,
    Rendered,
    about_blocks,
    render_answer,
    render_context,
    render_more,
    render_words,
    to_html,
)
from bot.state import BotContext, BotServices
from bot.texts import Lang, Texts, detect_language, language_of_user, texts_for
from index.engine import QAEngine
from index.models import Topic

log = logging.getLogger(__name__)
T = TypeVar("T")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def start(update: Update, context: BotContext) -> None:
    """/start: greet in the user's language."""
    message = update.effective_message
    if message is None:
        return
    lang = _command_language(message, update.effective_user)
    if await _admitted(message, update.effective_user, context, lang):
        await _reply(message, render_words(texts_for(lang).start))


async def help_command(update: Update, context: BotContext) -> None:
    """/help: how to ask in private chats and groups."""
    message = update.effective_message
    if message is None:
        return
    lang = _command_language(message, update.effective_user)
    if await _admitted(message, update.effective_user, context, lang):
        words = texts_for(lang)
        await _reply(message, render_words(words.help.format(bot=context.bot.username)))


async def about(update: Update, context: BotContext) -> None:
    """/about: what the serving index holds and when it was built."""
    message = update.effective_message
    if message is None:
        return
    lang = _command_language(message, update.effective_user)
    if not await _admitted(message, update.effective_user, context, lang):
        return
    serving = context.bot_data.services.engines.serving
    if serving is None:
        await _reply(message, render_words(texts_for(lang).index_unavailable))
        return
    await _reply(message, Rendered(to_html(about_blocks(serving.engine.info, lang))))


async def ask_command(update: Update, context: BotContext) -> None:
    """/ask question: the way to ask in a group (works in private chats too)."""
    message = update.effective_message
    if message is None:
        return
    await answer_question(update, context, question_text(message, *_bot_identity(context)))


async def on_text(update: Update, context: BotContext) -> None:
    """Any text: a question in private chats; in groups only when the bot is addressed."""
    message = update.effective_message
    if message is None:
        return
    question = addressed_question(message, *_bot_identity(context))
    if question is not None:
        await answer_question(update, context, question)


async def on_not_text(update: Update, context: BotContext) -> None:
    """A sticker, photo or voice note in a private chat: say that only text is answered."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = language_of_user(user.language_code)
    if await _admitted(message, user, context, lang):
        await _reply(message, render_words(texts_for(lang).not_text))


async def answer_question(update: Update, context: BotContext, question: str) -> None:
    """Gate the question, search in a worker thread, and reply with the rendered answer."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.bot_data.services
    lang = detect_language(question, fallback=language_of_user(user.language_code))
    words = texts_for(lang)
    if not await _admitted(message, user, context, lang):
        return
    problem = question_problem(question, services.settings.max_question_chars)
    if problem is not None:
        await _reply(message, render_words(_problem_text(problem, words, services)))
        return
    serving = services.engines.serving
    if serving is None:
        await _reply(message, render_words(words.index_unavailable))
        return
    # Read the engine once: a reload during the search does not change this answer's index.
    engine = serving.engine
    conversation = conversation_key(message, user.id)
    topic = _replied_topic(message, context, engine) or services.conversations.recall(conversation)
    key = cache_key(question, topic)
    answering = serving.answers.answer(
        key, lambda: _search(services, lambda: engine.answer(question, context=topic))
    )
    if serving.answers.remembers(key):
        # Instant: "typing…" would only spend Telegram's 30 messages a second.
        found = await answering
    else:
        searched, _ = await asyncio.gather(answering, _typing(message), return_exceptions=True)
        if isinstance(searched, BaseException):
            raise searched
        found = searched
    services.conversations.remember(conversation, found)
    style = _answer_style(message.chat, services.settings.private_sources_open)
    sent = await _reply(message, render_answer(found, lang, style))
    if found.topic is not None:
        for answer in sent:
            services.answer_topics.remember((answer.chat.id, answer.message_id), found.topic)


async def new_conversation(update: Update, context: BotContext) -> None:
    """/new: forget the last answer's story, so the next question stands on its own."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = _command_language(message, user)
    if not await _admitted(message, user, context, lang):
        return
    context.bot_data.services.conversations.forget(conversation_key(message, user.id))
    await _reply(message, render_words(texts_for(lang).new_conversation))


async def on_inline(update: Update, context: BotContext) -> None:
    """`@bot question` in any chat: up to three results, cached by Telegram for a while."""
    query = update.inline_query
    if query is None:
        return
    services = context.bot_data.services
    question = " ".join(query.query.split())
    lang = detect_language(question, fallback=language_of_user(query.from_user.language_code))
    # Results shown to one user are not cached for others when an allow-list restricts users.
    personal = bool(services.settings.allowed_chats)
    serving = services.engines.serving
    problem = question_problem(question, services.settings.max_question_chars)
    if problem is not None or serving is None:
        await _answer_inline(query, [], cache_s=0, personal=personal)
        return
    if services.rate.take(query.from_user.id) is not RateDecision.ALLOW:
        await _answer_inline(query, [], cache_s=0, personal=True)
        return
    engine = serving.engine
    found = await serving.answers.answer(
        question, lambda: _search(services, lambda: engine.answer(question))
    )
    cache_s = services.settings.inline_cache_s
    await _answer_inline(query, inline_results(found, lang), cache_s=cache_s, personal=personal)


async def on_source(update: Update, context: BotContext) -> None:
    """The "原文 n" button: the cited passage with its neighbouring paragraphs."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    message = _query_message(query)
    lang = _query_language(query, context)
    if not await _admitted_press(query, context, lang):
        return
    serving = context.bot_data.services.engines.serving
    chunk_id = query.data.removeprefix(SOURCE_PREFIX)
    # A lookup, not a search: a worker thread, but no wait for a search slot.
    passage = await asyncio.to_thread(serving.engine.context, chunk_id) if serving else None
    if passage is None or message is None:
        await _acknowledge(query, texts_for(lang).source_gone, alert=True)
        return
    await _acknowledge(query)
    await _send(message.chat, render_context(passage, lang), reply_to=message.message_id)


async def on_more(update: Update, context: BotContext) -> None:
    """The "更多" button: the next page of passages for the question the answer replied to."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    services = context.bot_data.services
    message = _query_message(query)
    question = _original_question(query, context)
    lang = _query_language(query, context)
    if not await _admitted_press(query, context, lang):
        return
    serving = services.engines.serving
    try:
        offset = int(query.data.removeprefix(MORE_PREFIX))
    except ValueError:
        offset = -1
    if message is None or question is None or serving is None or offset < 0:
        await _acknowledge(query, texts_for(lang).question_gone, alert=True)
        return
    await _acknowledge(query)
    engine = serving.engine
    passages = await _search(
        services, lambda: engine.more_passages(question, offset, SOURCES_SHOWN)
    )
    replied = message.reply_to_message
    await _send(
        message.chat,
        render_more(passages, offset, lang),
        reply_to=replied.message_id if replied else message.message_id,
    )


async def on_feedback(update: Update, context: BotContext) -> None:
    """👍/👎 under one of the bot's answers: thank at once, then store the vote in a thread
    (one per user per answer: pressing again replaces it)."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    lang = _query_language(query, context)
    if not await _admitted_press(query, context, lang):
        return
    message = _query_message(query)
    vote = parse_vote(query.data.removeprefix(FEEDBACK_PREFIX))
    if message is None or vote is None or not is_answer_button(message, query.data, context.bot.id):
        await _acknowledge(query)  # no answer of ours carries this button: nothing to record
        return
    await _acknowledge(query, texts_for(lang).thanks_feedback)
    question = _original_question(query, context) or ""
    entry = Feedback.now(vote, message.chat.id, message.message_id, query.from_user.id, question)
    await context.bot_data.services.feedback.record(entry)


async def check_allowed(update: Update, context: BotContext) -> None:
    """Runs before every handler: chats off the allow-list get a short refusal; groups are left.
    An inline query has no chat: its user's id (their private chat) must be on the list."""
    chat = update.effective_chat
    services = context.bot_data.services
    inline = update.inline_query
    if services.allow_list.allows(inline.from_user.id if inline else chat.id if chat else None):
        return
    if inline is not None:
        await _answer_inline(inline, [], cache_s=0, personal=True)
        raise ApplicationHandlerStop
    if update.message is None and update.callback_query is None and update.my_chat_member is None:
        raise ApplicationHandlerStop  # an edit or a channel post is never answered: no refusal
    user = update.effective_user
    words = texts_for(language_of_user(user.language_code if user else None))
    if update.callback_query is not None:
        await _acknowledge(update.callback_query, words.not_allowed, alert=True)
    elif chat is None:
        pass  # nowhere to answer
    elif chat.type == ChatType.PRIVATE:
        message = update.effective_message
        told = user is None or services.rate.take(user.id) is RateDecision.SILENT
        if message is not None and not told:
            await _reply(message, render_words(words.not_allowed))
    elif not _bot_left(update):
        log.info("leaving chat %s: not on the allow-list", chat.id)
        with contextlib.suppress(TelegramError):
            await _send(chat, render_words(words.not_allowed))
        await chat.leave()
    raise ApplicationHandlerStop


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure with its update id, and tell the user politely if there is one."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("handling update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    user = update.effective_user
    words = texts_for(language_of_user(user.language_code if user else None))
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer(words.error, show_alert=True)
        elif update.effective_message is not None:
            await _reply(update.effective_message, render_words(words.error))


async def _admitted(message: Message, user: User | None, context: BotContext, lang: Lang) -> bool:
    """Spend one of the user's tokens; when they run out, say so once, then stay silent."""
    if user is None:
        return False
    # Anonymous admins and channels all post as one shared bot user; their chat tells them apart.
    sender = message.sender_chat
    decision = context.bot_data.services.rate.take(sender.id if sender else user.id)
    if decision is RateDecision.NOTIFY:
        await _reply(message, render_words(texts_for(lang).rate_limited))
    return decision is RateDecision.ALLOW


async def _admitted_press(query: CallbackQuery, context: BotContext, lang: Lang) -> bool:
    """The same bucket for button presses; every press must be answered, so the toast says why."""
    if context.bot_data.services.rate.take(query.from_user.id) is RateDecision.ALLOW:
        return True
    await _acknowledge(query, texts_for(lang).rate_limited)
    return False


async def _acknowledge(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a button press; a press past Telegram's ~15 s window cannot be, and that is fine."""
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.debug("could not answer callback query %s: %s", query.id, exc)


async def _search(services: BotServices, work: Callable[[], T]) -> T:
    """Run engine work in a worker thread, at most max_concurrent_searches at once."""
    async with services.searches:
        return await asyncio.to_thread(work)


async def _typing(message: Message) -> None:
    """Show "typing…" while the search runs; losing it must not lose the answer."""
    try:
        await message.chat.send_action(ChatAction.TYPING)
    except TelegramError as exc:
        log.debug("typing action failed: %s", exc)


async def _reply(message: Message, rendered: Rendered) -> list[Message]:
    """Send the messages as replies to `message`, so "更多" can find the question later."""
    return await _send(message.chat, rendered, reply_to=message.message_id)


async def _send(chat: Chat, rendered: Rendered, reply_to: int | None = None) -> list[Message]:
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    last = len(rendered.messages) - 1
    sent = []
    for n, text in enumerate(rendered.messages):
        sent.append(
            await chat.send_message(
                text,
                parse_mode=ParseMode.HTML,
                # Stories may quote web addresses: a preview card would bury the answer.
                link_preview_options=_NO_PREVIEW,
                reply_parameters=reply,
                reply_markup=rendered.keyboard if n == last else None,
            )
        )
    return sent


async def _answer_inline(
    query: InlineQuery,
    results: Sequence[InlineQueryResultArticle],
    *,
    cache_s: int,
    personal: bool,
) -> None:
    """Answer an inline query; one the user has typed past (too old) is dropped quietly."""
    try:
        await query.answer(results, cache_time=cache_s, is_personal=personal)
    except TelegramError as exc:
        log.debug("could not answer inline query %s: %s", query.id, exc)


def _replied_topic(message: Message, context: BotContext, engine: QAEngine) -> Topic | None:
    """The story of the bot's answer this message replies to, for anyone replying."""
    replied = replied_bot_message(message, context.bot.id)
    if replied is None:
        return None
    known = context.bot_data.services.answer_topics.get((replied.chat.id, replied.message_id))
    if known is not None:
        return known
    chunk_id = cited_chunk(replied)
    return engine.topic(chunk_id) if chunk_id else None


def _answer_style(chat: Chat, sources_open: bool) -> AnswerStyle:
    """Groups: sources folded, no 更多 pages; private chats: folded unless the setting opens
    them."""
    if chat.type != ChatType.PRIVATE:
        return GROUP_STYLE
    return AnswerStyle(folded=not sources_open)


def _bot_identity(context: BotContext) -> tuple[str, int]:
    return context.bot.username, context.bot.id


def _problem_text(problem: QuestionProblem, words: Texts, services: BotServices) -> str:
    if problem is QuestionProblem.TOO_LONG:
        return words.too_long.format(limit=services.settings.max_question_chars)
    if problem is QuestionProblem.NO_WORDS:
        return words.no_words
    return words.empty_question


def _command_language(message: Message, user: User | None) -> Lang:
    """The language of the command's own words if any, else the user's Telegram language."""
    fallback = language_of_user(user.language_code if user else None)
    text = (message.text or "").partition(" ")[2]
    return detect_language(text, fallback=fallback) if text.strip() else fallback


def _query_message(query: CallbackQuery) -> Message | None:
    """The message the button sits under, if Telegram still lets the bot see it."""
    return query.message if isinstance(query.message, Message) else None


def _original_question(query: CallbackQuery, context: BotContext) -> str | None:
    """The question an answer replied to: derived from Telegram, so it survives a restart."""
    message = _query_message(query)
    replied = message.reply_to_message if message else None
    if replied is None or not replied.text:
        return None
    return question_text(replied, *_bot_identity(context)) or None


def _query_language(query: CallbackQuery, context: BotContext) -> Lang:
    fallback = language_of_user(query.from_user.language_code)
    question = _original_question(query, context)
    return detect_language(question, fallback=fallback) if question else fallback


def _bot_left(update: Update) -> bool:
    """True for the my_chat_member update that reports the bot has already left or was kicked."""
    member: ChatMemberUpdated | None = update.my_chat_member
    return member is not None and member.new_chat_member.status in (
        ChatMemberStatus.LEFT,
        ChatMemberStatus.BANNED,
    )
