"""Live reload: swap on a new generation, refuse a bad one, in-flight answers keep their engine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

from bot.reload import EngineHolder, IndexReloader, Serving
from bot.systemd import SystemdNotifier
from index.models import QAResult
from index.settings import Settings
from tests.bot_harness import EngineSource, FakeEngine, bot_settings, running_bot
from tests.fake_bot_api import FakeBotApi, visible_text


def reloader(source: EngineSource, holder: EngineHolder, **settings: object) -> IndexReloader:
    values: dict[str, object] = {"reload_interval_s": 0.05, **settings}
    return IndexReloader(
        Settings().model_copy(update=values), holder, source.load, source.read_generation
    )


async def test_initial_load_then_swap_on_a_new_generation() -> None:
    source, holder = EngineSource(FakeEngine("gen-1")), EngineHolder()
    events: list[str] = []
    watcher = IndexReloader(
        Settings(),
        holder,
        source.load,
        source.read_generation,
        on_reloading=lambda: events.append("reloading"),
        on_ready=lambda generation: events.append(f"ready {generation}"),
    )
    await watcher.load_initial()
    assert holder.serving is not None and holder.serving.generation == "gen-1"
    assert await watcher.check() is False  # nothing changed: nothing loaded
    assert source.loads == 1
    source.publish(FakeEngine("gen-2"))
    assert await watcher.check() is True
    assert holder.serving.generation == "gen-2"
    assert events == ["reloading", "ready gen-2"]
    events.clear()
    assert await watcher.check(forced=True) is False  # SIGHUP with nothing new
    assert events == ["reloading", "ready gen-2"]  # systemd still hears the reload finish
    assert source.loads == 2


async def test_a_refused_generation_keeps_the_old_engine() -> None:
    source, holder = EngineSource(FakeEngine("gen-1")), EngineHolder()
    watcher = reloader(source, holder)
    await watcher.load_initial()
    old = holder.serving
    source.publish(FakeEngine("gen-2"))
    source.refuse.add("gen-2")
    assert await watcher.check() is False
    assert holder.serving is old
    assert await watcher.check() is False  # not retried on every tick
    assert source.loads == 2
    source.refuse.clear()
    assert await watcher.check(forced=True) is True  # SIGHUP retries it
    assert holder.serving is not None and holder.serving.generation == "gen-2"


async def test_an_engine_that_fails_its_probe_is_refused() -> None:
    class Broken(FakeEngine):
        def answer(self, question: str) -> QAResult:
            raise RuntimeError("faiss file truncated")

    source, holder = EngineSource(FakeEngine("gen-1")), EngineHolder()
    watcher = reloader(source, holder)
    await watcher.load_initial()
    source.publish(Broken("gen-2"))
    assert await watcher.check() is False
    assert holder.serving is not None and holder.serving.generation == "gen-1"


async def test_watch_picks_up_a_change_within_the_interval() -> None:
    source, holder = EngineSource(FakeEngine("gen-1")), EngineHolder()
    watcher = reloader(source, holder)
    await watcher.load_initial()
    task = asyncio.create_task(watcher.watch())
    try:
        source.publish(FakeEngine("gen-2"))
        for _ in range(500):  # up to 10 s on a busy machine
            if holder.serving is not None and holder.serving.generation == "gen-2":
                break
            await asyncio.sleep(0.02)
        assert holder.serving is not None and holder.serving.generation == "gen-2"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_holder_swap_is_a_single_reference() -> None:
    one, two = Serving(FakeEngine("a"), "a"), Serving(FakeEngine("b"), "b")
    holder = EngineHolder(one)
    taken = holder.serving
    holder.swap(two)
    assert taken is one and holder.serving is two


async def test_sighup_reloads_at_once_and_in_flight_answers_finish_on_their_engine(
    api: FakeBotApi, tmp_path: Path
) -> None:
    slow_old = FakeEngine("gen-1", delay_s=1.0)
    source = EngineSource(slow_old)
    # A long interval: only SIGHUP can explain a quick reload.
    settings = bot_settings(api, tmp_path, reload_interval_s=3600.0)
    async with running_bot(
        settings, api, load=source.load, read_generation=source.read_generation, handle_signals=True
    ) as bot:
        chat, user = api.private_chat(1), api.user(1)
        slow_old.started.clear()
        in_flight = await api.send_text(chat, user, "聂荣县远程会诊多少场")
        await asyncio.to_thread(slow_old.started.wait, 10)
        source.publish(FakeEngine("gen-2"))
        os.kill(os.getpid(), signal.SIGHUP)
        holder = bot.application.bot_data.services.engines
        await api.wait_for(lambda: bool(api.replies_to(in_flight)), 30, "the in-flight answer")
        assert holder.serving is not None and holder.serving.generation == "gen-2"
        after = await api.send_text(chat, user, "聂荣县远程会诊多少场")
        await api.wait_for(lambda: bool(api.replies_to(after)), 30, "the next answer")
    assert "[gen-1]" in visible_text(api.replies_to(in_flight)[0]["text"])
    assert "[gen-2]" in visible_text(api.replies_to(after)[0]["text"])


async def test_sigterm_finishes_answers_in_flight(api: FakeBotApi, tmp_path: Path) -> None:
    slow = FakeEngine("gen-1", delay_s=1.0)
    source = EngineSource(slow)
    settings = bot_settings(api, tmp_path)
    async with running_bot(
        settings, api, load=source.load, read_generation=source.read_generation, handle_signals=True
    ) as bot:
        slow.started.clear()
        in_flight = await api.send_text(api.private_chat(1), api.user(1), "聂荣县远程会诊多少场")
        await asyncio.to_thread(slow.started.wait, 10)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(bot.task, timeout=30)  # the bot stops by itself
        assert len(api.replies_to(in_flight)) == 1
        assert "90余场次" in visible_text(api.replies_to(in_flight)[0]["text"])


async def test_systemd_hears_ready_reload_and_stopping(api: FakeBotApi, tmp_path: Path) -> None:
    address = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(address))
    listener.setblocking(False)
    source = EngineSource(FakeEngine("gen-1"))
    settings = bot_settings(api, tmp_path)
    try:
        async with running_bot(
            settings,
            api,
            load=source.load,
            read_generation=source.read_generation,
            notifier=SystemdNotifier(str(address)),
        ) as bot:
            source.publish(FakeEngine("gen-2"))
            assert await bot.application.bot_data.services.reloader.check(forced=True)
        heard = []
        with contextlib.suppress(BlockingIOError):
            while True:
                heard.append(listener.recv(4096).decode())
    finally:
        listener.close()
    firsts = [message.splitlines()[0] for message in heard]
    assert firsts[0] == "READY=1"
    assert "RELOADING=1" in firsts
    assert firsts[-1] == "STOPPING=1"
    reload_at = firsts.index("RELOADING=1")
    assert "READY=1" in firsts[reload_at:]
    assert any("serving index generation gen-2" in message for message in heard)
