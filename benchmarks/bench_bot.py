"""Bot load benchmark: N chats × M questions sent at once through the real handlers.

The real Application polls a local Bot API emulator (tests/fake_bot_api.py) and answers from a
real index. Reported: latency from a question reaching the API to the bot's reply (p50/p95/max),
the engine's own time per answer, and throughput: first for questions asked one at a time (no
queue), then for the burst without AIORateLimiter (a self-hosted Bot API server) and with it at
Telegram's 30 messages per second. In a burst, latency is mostly waiting for a search slot.

    python -m benchmarks.bench_bot --index .newsqa/index [--chats 50] [--questions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from index.engine import QAEngine
from index.models import IndexInfo, Passage, PassageContext, QAResult, Topic
from index.settings import Settings
from tests.bot_harness import bot_settings, running_bot
from tests.fake_bot_api import FakeBotApi

DEFAULT_QUESTIONS = Path("../shared/eval/stories_qa_dev.jsonl")
FALLBACK = ["聂荣县远程会诊多少场", "墨脱县的远程会诊系统连着哪些医院", "How many consultations?"]


class TimedEngine:
    """Wraps an engine and records how long each answer took in its worker thread."""

    def __init__(self, engine: QAEngine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.seconds: list[float] = []

    @property
    def info(self) -> IndexInfo:
        return self._engine.info

    def answer(self, question: str, *, context: Topic | None = None) -> QAResult:
        started = time.perf_counter()
        result = self._engine.answer(question, context=context)
        with self._lock:
            self.seconds.append(time.perf_counter() - started)
        return result

    def topic(self, chunk_id: str) -> Topic | None:
        return self._engine.topic(chunk_id)

    def more_passages(self, question: str, offset: int, limit: int) -> tuple[Passage, ...]:
        return self._engine.more_passages(question, offset, limit)

    def context(self, chunk_id: str, radius: int = 1) -> PassageContext | None:
        return self._engine.context(chunk_id, radius)


@dataclass(frozen=True)
class Report:
    """One run's figures, in seconds."""

    label: str
    questions: int
    answered_once: int
    wall_s: float
    p50_s: float
    p95_s: float
    max_s: float
    engine_mean_s: float
    engine_p95_s: float

    def line(self) -> str:
        return (
            f"{self.label:<28} {self.answered_once}/{self.questions} answered once  "
            f"latency p50 {self.p50_s:.2f}  p95 {self.p95_s:.2f}  max {self.max_s:.2f} s  "
            f"engine mean {self.engine_mean_s * 1e3:.0f} ms  p95 {self.engine_p95_s * 1e3:.0f} ms  "
            f"wall {self.wall_s:.1f} s ({self.questions / self.wall_s:.1f} q/s)"
        )


def load_questions(path: Path) -> list[str]:
    if not path.is_file():
        return FALLBACK
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["question"] for line in lines if line.strip()]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_once(
    label: str,
    engine: QAEngine,
    settings_overrides: dict[str, Any],
    questions: list[str],
    chats: int,
    per_chat: int,
    *,
    at_once: bool = True,
) -> Report:
    """Send chats × per_chat questions, all at once (a burst) or one after another."""
    timed = TimedEngine(engine)
    api = FakeBotApi()
    await api.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = bot_settings(api, Path(tmp), **settings_overrides)
            async with running_bot(
                settings,
                api,
                load=lambda s: timed,
                read_generation=lambda p: engine.info.generation,
            ):
                timed.seconds.clear()  # the probe at load is not part of the load
                started = time.monotonic()
                people = [
                    (api.private_chat(30_000 + n), api.user(30_000 + n)) for n in range(chats)
                ]
                asks = [
                    (chat, user, questions[(n * per_chat + k) % len(questions)])
                    for k in range(per_chat)
                    for n, (chat, user) in enumerate(people)
                ]
                if at_once:
                    sent = await asyncio.gather(*(api.send_text(*a) for a in asks))
                else:
                    sent = []
                    for ask in asks:
                        sent.append(await api.send_text(*ask))
                        await api.wait_for(lambda: bool(api.replies_to(sent[-1])), 600, "reply")
                await api.wait_for(
                    lambda: all(api.replies_to(m) for m in sent), 3600, "every answer"
                )
                wall = time.monotonic() - started
                await api.settle()
    finally:
        await api.stop()
    latencies = [api.reply_latency(m) for m in sent]
    return Report(
        label=label,
        questions=len(sent),
        answered_once=sum(len(api.replies_to(m)) == 1 for m in sent),
        wall_s=wall,
        p50_s=statistics.median(latencies),
        p95_s=percentile(latencies, 0.95),
        max_s=max(latencies),
        engine_mean_s=statistics.fmean(timed.seconds),
        engine_p95_s=percentile(timed.seconds, 0.95),
    )


async def main_async(args: argparse.Namespace) -> list[Report]:
    from index.service import load_engine

    base = Settings().model_copy(update={"index_dir": args.index})
    engine = load_engine(base)
    engine.answer(FALLBACK[0])  # warm the model once, as a running bot is warm
    questions = load_questions(args.qa)
    shared = {"index_dir": args.index, "max_concurrent_searches": args.searches}
    limited = {**shared, "telegram_max_rate": 30}
    # Every question in a burst distinct (the worst case: nothing is shared or remembered) …
    distinct = [f"{questions[n % len(questions)]} #{n}" for n in range(args.chats * args.questions)]
    # … and a group-like burst where every chat asks the same few questions.
    same = questions[: args.questions]
    burst = args.chats, args.questions
    return [
        await run_once(
            "one at a time", engine, shared, questions, args.sequential, 1, at_once=False
        ),
        await run_once(
            "burst distinct, no limiter",
            engine,
            {**shared, "telegram_max_rate": 0},
            distinct,
            *burst,
        ),
        await run_once("burst distinct, 30 msg/s", engine, limited, distinct, *burst),
        await run_once("burst same 4, 30 msg/s", engine, limited, same, *burst),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Settings().index_dir)
    parser.add_argument("--qa", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--questions", type=int, default=4, help="questions per chat")
    parser.add_argument("--sequential", type=int, default=20, help="questions asked one by one")
    parser.add_argument("--searches", type=int, default=Settings().max_concurrent_searches)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    reports = asyncio.run(main_async(args))
    for report in reports:
        print(report.line())
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in reports], indent=2), "utf-8")


if __name__ == "__main__":
    main()
