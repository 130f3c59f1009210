"""Bot test helpers: a small fake QAEngine, and the real Application run against FakeBotApi."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import build_application, run_bot
from bot.state import BotApplication
from bot.systemd import SystemdNotifier
from index.engine import QAEngine
from index.models import (
    AnswerSpan,
    IndexInfo,
    Paragraph,
    Passage,
    PassageContext,
    QAResult,
    Source,
    Topic,
)
from index.settings import Settings
from tests.fake_bot_api import TOKEN, FakeBotApi

HEADLINE = "党建搭台强根基 医疗服务惠民生"
FILE = "001_a156c6055a039714.txt"
ANSWER = "截至目前，已累计完成90余场次远程服务，真正让“数据多跑路、群众少跑腿”成为现实。"


OTHER_HEADLINE = "草原生态修复"
OTHER_FILE = "002_046523daf5b7182a.txt"


def _passage(n: int, generation: str) -> Passage:
    """Odd passages come from the answer's article (the first is the one it quotes), even
    ones from another; their file paragraphs are 6 beyond their place in the article."""
    file, headline = (FILE, HEADLINE) if n % 2 else (OTHER_FILE, OTHER_HEADLINE)
    return Passage(
        chunk_id=f"{generation}-c{n:03d}",
        text=f"段落{n} <script>alert('x')</script> & 聂荣县 [{generation}]",
        file=file,
        article=headline,
        paragraph=n + 6,
        score=1.0 / n,
        article_paragraph=n,
    )


@dataclass
class FakeEngine:
    """Answers 聂荣县 questions, abstains on others, raises on 'boom'; text names its generation."""

    generation: str = "gen-1"
    delay_s: float = 0.0  # time one answer takes, to keep questions in flight
    total_passages: int = 8
    calls: list[str] = field(default_factory=list)
    contexts: list[Topic | None] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)

    @property
    def info(self) -> IndexInfo:
        return IndexInfo(
            generation=self.generation,
            built_at="2026-11-23T10:00:00+00:00",
            embedder="fake/hashing-64",
            dimension=64,
            stories=5,
            articles=33,
            chunks=253,
            index_type="flat-ip",
        )

    def answer(self, question: str, *, context: Topic | None = None) -> QAResult:
        """A follow-up (starting with 那) or a reply is answered in `context`, like the engine."""
        self.calls.append(question)
        self.contexts.append(context)
        self.started.set()
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        if "boom" in question:
            raise RuntimeError("engine exploded")
        passages = tuple(_passage(n, self.generation) for n in range(1, 6))
        carried = context if context and (context.reply or question.startswith("那")) else None
        if "聂荣县" not in question and carried is None:
            return QAResult(question, True, None, passages[:3])
        span = AnswerSpan(
            text=f"{ANSWER}[{self.generation}]",
            highlight="90余场次",
            source=Source(FILE, HEADLINE, 7, article_paragraph=1),
        )
        topic = Topic(FILE, 0, HEADLINE, ("聂荣县",))
        return QAResult(question, False, span, passages, context=carried, topic=topic)

    def topic(self, chunk_id: str) -> Topic | None:
        if not chunk_id.startswith(f"{self.generation}-c"):
            return None
        return Topic(FILE, 0, HEADLINE, reply=True)

    def more_passages(self, question: str, offset: int, limit: int) -> tuple[Passage, ...]:
        numbers = range(offset + 1, min(offset + limit, self.total_passages) + 1)
        return tuple(_passage(n, self.generation) for n in numbers)

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        prefix = f"{self.generation}-c"
        if not chunk_id.startswith(prefix):
            return None
        n = int(chunk_id.removeprefix(prefix))
        first = max(1, n - radius)
        paragraphs = tuple(
            Paragraph(k + 6, f"段落{k}：聂荣县 <i>原文</i> & 医疗")
            for k in range(first, n + radius + 1)
        )
        return PassageContext(chunk_id, FILE, HEADLINE, paragraphs, focus=n + 6, first=first)


class EngineSource:
    """Stands in for index.service/index.store: which generation is current, and loading it."""

    def __init__(self, engine: QAEngine) -> None:
        self.engines: dict[str, QAEngine] = {engine.info.generation: engine}
        self.current = engine.info.generation
        self.refuse: set[str] = set()
        self.loads = 0

    def publish(self, engine: QAEngine) -> None:
        self.engines[engine.info.generation] = engine
        self.current = engine.info.generation

    def load(self, settings: Settings) -> QAEngine:
        self.loads += 1
        if self.current in self.refuse:
            raise ValueError(f"generation {self.current} is corrupt")
        return self.engines[self.current]

    def read_generation(self, index_dir: Path) -> str | None:
        return self.current


def bot_settings(api: FakeBotApi, tmp_path: Path, **overrides: object) -> Settings:
    """Settings pointing the bot at the fake API, with Telegram's own rate limit off by default."""
    values: dict[str, object] = {
        "telegram_api_url": api.base_url,
        "index_dir": tmp_path / "index",
        "feedback_path": tmp_path / "feedback.jsonl",
        "telegram_max_rate": 0,
        "reload_interval_s": 60.0,
    }
    values.update(overrides)
    return Settings().model_copy(update=values)


@dataclass
class RunningBot:
    api: FakeBotApi
    application: BotApplication
    stop: asyncio.Event
    task: asyncio.Task[None]


@asynccontextmanager
async def running_bot(
    settings: Settings,
    api: FakeBotApi,
    *,
    load: Callable[[Settings], QAEngine] | None = None,
    read_generation: Callable[[Path], str | None] | None = None,
    handle_signals: bool = False,
    notifier: SystemdNotifier | None = None,
) -> AsyncIterator[RunningBot]:
    """The real Application polling the fake API until the block ends (then a graceful stop)."""
    application = build_application(
        settings,
        TOKEN,
        load=load,
        read_generation=read_generation,
        notifier=notifier or SystemdNotifier(None),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(application, stop, handle_signals=handle_signals))
    try:
        await _wait_started(application, task)
        yield RunningBot(api, application, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def _wait_started(application: BotApplication, task: asyncio.Task[None]) -> None:
    """Until the application runs; a failed start re-raises its error here."""
    for _ in range(600):
        if task.done():
            task.result()
            raise AssertionError("the bot stopped during start")
        if application.running:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not start within 30 s")


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Until `condition()` holds, for what the bot does after its last API call (a vote stored
    in a worker thread after the thanks): `FakeBotApi.wait_for` wakes on API calls only."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
