"""The reindex unit's own command against a serving bot: a new generation, a reload, and a
failed rebuild that changes nothing the bot serves."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.reload import EngineHolder, IndexReloader
from bot.systemd import SystemdNotifier
from index.service import load_engine
from index.settings import Settings
from index.store import current_generation

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "deploy" / "newsqa-reindex.service"
INSTALLED_NEWSQA = "/opt/newsqa/venv/bin/newsqa"

pytestmark = pytest.mark.slow


def unit_settings() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def unit_command(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """ExecStart= and Environment= of the unit, with its directories moved under tmp_path."""
    unit = unit_settings()
    (exec_start,) = unit["ExecStart"]
    program, *args = exec_start.split()
    assert program == INSTALLED_NEWSQA
    places = {
        "/var/lib/newsqa": str(tmp_path / "state"),
        "/var/cache/newsqa": str(tmp_path / "cache"),
    }
    env = dict(os.environ)
    for assignment in unit["Environment"]:
        key, value = assignment.split("=", 1)
        for real, test in places.items():
            value = value.replace(real, test)
        env[key] = value
    # The installed `newsqa` script is this package's CLI; run it from the work tree.
    return [sys.executable, "-m", "index.cli", *args], env


def run_unit(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, Callable[[], list[str]]]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    received: list[str] = []

    def drain() -> list[str]:
        while True:
            try:
                received.append(sock.recv(4096).decode())
            except BlockingIOError:
                return received

    yield str(path), drain
    sock.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def index_listing(index_dir: Path) -> list[str]:
    return sorted(p.relative_to(index_dir).as_posix() for p in index_dir.rglob("*"))


async def test_rebuild_switches_reloads_and_a_failed_one_keeps_serving(
    tmp_path: Path,
    stories_dir: Path,
    notify_socket: tuple[str, Callable[[], list[str]]],
) -> None:
    argv, env = unit_command(tmp_path)
    docs = Path(env["NEWSQA_DOCS_DIR"])
    index_dir = Path(env["NEWSQA_INDEX_DIR"])
    stories = sorted(stories_dir.glob("*.txt"))
    assert len(stories) >= 3
    docs.mkdir(parents=True)
    for story in stories[:2]:
        shutil.copy(story, docs)

    first = await asyncio.to_thread(run_unit, argv, env)
    assert first.returncode == 0, first.stderr
    generation_1 = current_generation(index_dir)
    assert generation_1

    # The bot: the same reloader and notifier bot/app.py wires together.
    address, received = notify_socket
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": address})
    settings = Settings(index_dir=index_dir, cache_dir=Path(env["NEWSQA_CACHE_DIR"]))
    settings = settings.model_copy(update={"reload_interval_s": 3600.0})  # only SIGHUP reloads
    holder = EngineHolder()
    reloader = IndexReloader(
        settings,
        holder,
        load_engine,
        current_generation,
        on_reloading=notifier.reloading,
        on_ready=lambda generation: notifier.ready(),
    )
    await reloader.load_initial()
    assert holder.serving is not None and holder.serving.generation == generation_1
    watch = asyncio.create_task(reloader.watch())
    try:
        # A new story, then the unit's command while the bot serves.
        shutil.copy(stories[2], docs)
        second = await asyncio.to_thread(run_unit, argv, env)
        assert second.returncode == 0, second.stderr
        generation_2 = current_generation(index_dir)
        assert generation_2 and generation_2 != generation_1
        assert holder.serving.generation == generation_1  # nothing swaps behind the bot's back

        # ExecStartPost= reloads the bot: SIGHUP, whose handler in bot/app.py is request().
        reloader.request()
        await wait_until(
            lambda: holder.serving is not None and holder.serving.generation == generation_2
        )
        await wait_until(lambda: any(m.startswith("READY=1") for m in received()))
        firsts = [m.splitlines()[0] for m in received()]
        assert firsts[firsts.index("RELOADING=1") :].count("READY=1") >= 1

        # A rebuild forced to fail (no stories) exits non-zero, so the unit fails and
        # ExecStartPost= never runs; the index on disk and the serving engine stay as they were.
        before = index_listing(index_dir)
        empty = tmp_path / "no-stories"
        empty.mkdir()
        failed = await asyncio.to_thread(run_unit, argv, {**env, "NEWSQA_DOCS_DIR": str(empty)})
        assert failed.returncode != 0
        assert "Traceback" not in failed.stderr
        assert current_generation(index_dir) == generation_2
        assert index_listing(index_dir) == before
        reloader.request()
        await asyncio.sleep(0.5)
        assert holder.serving.generation == generation_2
        holder.serving.engine.answer("测试")
    finally:
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watch
