"""Build the Application, register handlers in one place, and run it: reload, notify, stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import handlers
from bot.feedback import FeedbackLog
from bot.gate import FROM_HUMAN, AllowList, TokenBucket
from bot.reload import EngineHolder, EngineLoader, GenerationReader, IndexReloader
from bot.render import FEEDBACK_PREFIX, MORE_PREFIX, SOURCE_PREFIX
from bot.state import BotApplication, BotServices, BotState
from bot.systemd import SystemdNotifier
from bot.texts import EN, ZH
from index.backends.factory import current_generation
from index.conversation import Conversations
from index.errors import NewsqaError
from index.failures import EXIT_CONFIG, EXIT_ERROR, describe_failure, one_line
from index.service import load_engine  # lazy: the retrieval stack is heavy to import
from index.settings import Settings

log = logging.getLogger(__name__)

# BotFather tokens: the bot id, a colon, and a secret of URL-safe characters.
_TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_TOKEN_FILE = "telegram-token"
# Loggers that would print request URLs, which carry the token.
_URL_LOGGERS = ("httpx", "httpcore")
_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER, Update.INLINE_QUERY]
_POLL_TIMEOUT_S = 10


class TokenError(ValueError):
    """The Telegram token is missing or malformed; the message never contains the token."""


def load_token(settings: Settings) -> str:
    """The token from $CREDENTIALS_DIRECTORY/telegram-token, else NEWSQA_TELEGRAM_TOKEN."""
    token, source = None, "NEWSQA_TELEGRAM_TOKEN"
    if settings.credentials_directory is not None:
        path = settings.credentials_directory / _TOKEN_FILE
        if path.is_file():
            try:
                token, source = path.read_text(encoding="utf-8").strip(), str(path)
            except (OSError, UnicodeDecodeError) as exc:
                raise TokenError(f"cannot read the Telegram token from {path}: {exc}") from None
    if token is None and settings.telegram_token is not None:
        token = settings.telegram_token.get_secret_value().strip()
    if not token:
        raise TokenError(
            "no Telegram token: put it in $CREDENTIALS_DIRECTORY/telegram-token "
            "or NEWSQA_TELEGRAM_TOKEN"
        )
    if not _TOKEN_SHAPE.match(token):
        raise TokenError(f"the Telegram token in {source} is malformed (expected 123456:ABC-…)")
    return token


def build_application(
    settings: Settings,
    token: str,
    *,
    load: EngineLoader | None = None,
    read_generation: GenerationReader | None = None,
    notifier: SystemdNotifier | None = None,
) -> BotApplication:
    """The Application with its services bound in bot_data and every handler registered."""
    quiet_url_loggers()
    redact_token_in_logs(token)  # before the builder: the bot logs its URL when created
    load = load or _default_loader()
    read_generation = read_generation or _default_generation_reader(settings)
    notifier = notifier or SystemdNotifier.from_env()
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_url)
        .base_file_url(_file_url(settings.telegram_api_url))
        .context_types(ContextTypes(bot_data=BotState))
        .concurrent_updates(settings.max_concurrent_updates)
        .job_queue(None)
        .post_init(post_init)
    )
    application: BotApplication = (
        builder.rate_limiter(
            AIORateLimiter(overall_max_rate=settings.telegram_max_rate, max_retries=3)
        ).build()
        if settings.telegram_max_rate > 0
        else builder.build()
    )
    engines = EngineHolder()
    application.bot_data.bind(
        BotServices(
            settings=settings,
            engines=engines,
            reloader=IndexReloader(
                settings,
                engines,
                load,
                read_generation,
                on_reloading=notifier.reloading,
                on_ready=lambda generation: _serving_status(notifier, generation),
            ),
            allow_list=AllowList(settings.allowed_chats),
            rate=TokenBucket(settings.rate_limit_per_minute, settings.rate_limit_burst),
            feedback=FeedbackLog(settings.feedback_path, settings.feedback_max_votes),
            searches=asyncio.Semaphore(settings.max_concurrent_searches),
            notifier=notifier,
            conversations=Conversations(idle_s=settings.conversation_idle_s),
        )
    )
    register_handlers(application)
    return application


def register_handlers(application: BotApplication) -> None:
    """Every handler in one block; group -1 runs first and can stop an update."""
    new = filters.UpdateType.MESSAGE & FROM_HUMAN  # edited messages and other bots: ignored
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, handlers.check_allowed), group=-1)
    application.add_handlers(
        [
            CommandHandler("start", handlers.start, filters=new),
            CommandHandler("help", handlers.help_command, filters=new),
            CommandHandler("about", handlers.about, filters=new),
            CommandHandler("ask", handlers.ask_command, filters=new),
            CommandHandler("new", handlers.new_conversation, filters=new),
            MessageHandler(new & filters.TEXT & ~filters.COMMAND, handlers.on_text),
            MessageHandler(new & private & ~filters.TEXT, handlers.on_not_text),
            CallbackQueryHandler(handlers.on_source, pattern=f"^{SOURCE_PREFIX}"),
            CallbackQueryHandler(handlers.on_more, pattern=f"^{MORE_PREFIX}"),
            CallbackQueryHandler(handlers.on_feedback, pattern=f"^{FEEDBACK_PREFIX}"),
            InlineQueryHandler(handlers.on_inline),
        ]
    )
    application.add_error_handler(handlers.on_error)


async def post_init(application: BotApplication) -> None:
    """Set the command menu in zh and en, then load the index if there is a usable one."""
    bot = application.bot
    # English is the menu for everyone; Chinese for users whose Telegram is set to zh.
    for language_code, words in ((None, EN), ("zh", ZH)):
        commands = [
            BotCommand("start", words.command_start),
            BotCommand("help", words.command_help),
            BotCommand("ask", words.command_ask),
            BotCommand("about", words.command_about),
            BotCommand("new", words.command_new),
        ]
        await bot.set_my_commands(commands, language_code=language_code)
    try:
        serving = await application.bot_data.services.reloader.load_initial()
    except NewsqaError as exc:
        # Nothing to keep yet: say "index unavailable" and take the first good generation
        # the watcher sees, rather than exit and spin in systemd's restart loop.
        log.error("no usable index yet; answering 'index unavailable' until one is built: %s", exc)
        return
    log.info("serving index generation %s as @%s", serving.generation, bot.username)


async def run_bot(
    application: BotApplication, stop: asyncio.Event, *, handle_signals: bool = False
) -> None:
    """Start, poll until `stop` is set, then finish in-flight answers and shut down."""
    services = application.bot_data.services
    with _signal_handlers(stop, services.reloader.request, enabled=handle_signals):
        await application.initialize()
        background: list[asyncio.Task[None]] = []
        try:
            if application.post_init is not None:
                await application.post_init(application)
            updater = application.updater
            assert updater is not None  # the builder always makes one for polling
            await updater.start_polling(
                timeout=_POLL_TIMEOUT_S, allowed_updates=_UPDATES, drop_pending_updates=False
            )
            await application.start()
            background = [
                asyncio.create_task(services.reloader.watch(), name="newsqa-reload"),
                asyncio.create_task(services.notifier.watchdog_loop(), name="newsqa-watchdog"),
            ]
            _serving_status(services.notifier, _generation(application))
            await stop.wait()
            log.info("stopping: finishing answers in flight")
            services.notifier.stopping()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()  # waits for handlers still running
            await application.shutdown()


def serve(settings: Settings) -> int:
    """`newsqa serve`: run until SIGTERM; 0 on a clean stop, else one `Error: …` line and the
    README's status: 78 for a missing, malformed or rejected token, 1 when Telegram cannot be
    reached, and the CLI's own for anything else (70 for a bug)."""
    try:
        token = load_token(settings)
    except TokenError as exc:
        return _stopped(str(exc), EXIT_CONFIG)
    application = build_application(settings, token)

    async def main() -> None:
        await run_bot(application, asyncio.Event(), handle_signals=True)

    try:
        asyncio.run(main())
    except InvalidToken:
        return _stopped("Telegram rejected the token; check it with BotFather", EXIT_CONFIG)
    except NetworkError as exc:
        return _stopped(f"cannot reach the Telegram Bot API: {exc}", EXIT_ERROR)
    except NewsqaError as exc:
        return _stopped(str(exc), exc.exit_status)
    except (Exception, MemoryError) as exc:
        log.error("the bot stopped on an unexpected error", exc_info=exc)
        failure = describe_failure(exc)
        return _stopped(failure.message, failure.exit_status)
    return 0


def _stopped(message: str, status: int) -> int:
    """The CLI's one `Error: …` line on stderr; the status to exit with."""
    print(f"Error: {one_line(message)}", file=sys.stderr)
    return status


def quiet_url_loggers() -> None:
    """httpx logs every request URL at INFO, and the URL carries the token."""
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class _TokenRedactor(logging.Filter):
    """Replaces the token in any record; PTB logs its API URL (token included) at DEBUG."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback is redacted once, here.
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = trace.replace(self._token, "<token>")
        return True


def redact_token_in_logs(token: str) -> None:
    """Filter the loggers that could see the token (PTB's, httpx's) and the root handlers."""
    redactor = _TokenRedactor(token)
    names = [
        name
        for name in logging.root.manager.loggerDict
        if name.split(".", 1)[0] in ("telegram", *_URL_LOGGERS)
    ]
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in names]
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        for old in [f for f in target.filters if isinstance(f, _TokenRedactor)]:
            target.removeFilter(old)
        target.addFilter(redactor)


def _default_loader() -> EngineLoader:
    return load_engine


def _default_generation_reader(settings: Settings) -> GenerationReader:
    """The `current` symlink, or the Milvus alias when that backend is configured."""

    def read(root: Path) -> str | None:
        return current_generation(settings.model_copy(update={"index_dir": root}))

    return read


def _file_url(api_url: str) -> str:
    # https://api.telegram.org/bot → https://api.telegram.org/file/bot (self-hosted alike)
    head, sep, tail = api_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else api_url


def _generation(application: BotApplication) -> str | None:
    serving = application.bot_data.services.engines.serving
    return serving.generation if serving else None


def _serving_status(notifier: SystemdNotifier, generation: str | None) -> None:
    """READY=1 after start or a reload attempt, with the generation in `systemctl status`."""
    notifier.ready()
    if generation is None:
        notifier.status("no usable index: waiting for `newsqa index build`")
    else:
        notifier.status(f"serving index generation {generation}")


@contextlib.contextmanager
def _signal_handlers(
    stop: asyncio.Event, reload: Callable[[], None], *, enabled: bool
) -> Iterator[None]:
    """SIGTERM/SIGINT stop gracefully; SIGHUP (fatal by default in Python) reloads the index."""
    if not enabled:
        yield
        return
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
        installed.append(sig)
    loop.add_signal_handler(signal.SIGHUP, reload)
    installed.append(signal.SIGHUP)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
