"""sd_notify against a real unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.systemd import SystemdNotifier


@dataclass
class FakeSystemd:
    """Receives datagrams on a thread and notes when each arrived."""

    sock: socket.socket
    address: str
    received: list[tuple[float, str]] = field(default_factory=list)

    def serve(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            self.received.append((time.monotonic(), data.decode()))

    def messages(self) -> list[str]:
        return [text for _, text in self.received]

    def ping_times(self) -> list[float]:
        return [at for at, text in self.received if text == "WATCHDOG=1"]

    def wait_for(self, count: int, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.005)


def _serve(sock: socket.socket, address: str) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(sock, address)
    thread = threading.Thread(target=fake.serve, daemon=True)
    thread.start()
    yield fake
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    thread.join(timeout=2)


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    path = tmp_path / "notify.sock"
    if len(os.fsencode(path)) >= 100:  # sun_path holds 108 bytes
        pytest.skip("tmp_path too long for a unix socket path")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield from _serve(sock, str(path))


@pytest.fixture
def abstract_systemd() -> Iterator[FakeSystemd]:
    name = f"newsqa-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    yield from _serve(sock, "@" + name)


def test_ready_reaches_the_socket(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": systemd.address})
    assert notifier.enabled
    assert notifier.ready()
    systemd.wait_for(1)
    assert systemd.messages()[0].splitlines()[0] == "READY=1"


def test_abstract_socket_address(abstract_systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": abstract_systemd.address})
    assert notifier.stopping()
    abstract_systemd.wait_for(1)
    assert abstract_systemd.messages()[0].splitlines()[0] == "STOPPING=1"


def test_reloading_carries_the_monotonic_clock(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": systemd.address})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.ready()
    systemd.wait_for(2)
    reload_msg, ready_msg = systemd.messages()
    fields = dict(line.split("=", 1) for line in reload_msg.splitlines())
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after
    assert ready_msg.startswith("READY=1")


def test_status_is_one_line(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": systemd.address})
    notifier.status("loaded 3 stories\n120 chunks")
    systemd.wait_for(1)
    assert systemd.messages() == ["STATUS=loaded 3 stories 120 chunks"]


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.reloading() is False
    # The loop must return at once rather than spin without a socket.
    asyncio.run(asyncio.wait_for(notifier.watchdog_loop(), timeout=1))


def test_watchdog_interval_honours_watchdog_pid() -> None:
    mine = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier.from_env(mine).watchdog_interval() == 3.0
    theirs = {**mine, "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SystemdNotifier.from_env(theirs).watchdog_interval() is None
    assert SystemdNotifier.from_env({"NOTIFY_SOCKET": "/run/x"}).watchdog_interval() is None
    assert SystemdNotifier.from_env({"WATCHDOG_USEC": "junk"}).watchdog_interval() is None


def test_unreachable_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.ready() is False


# WATCHDOG_USEC=400000: pings every 0.2 s, with room for a loaded CI machine.
INTERVAL_S = 0.4


async def test_watchdog_pings_at_half_the_interval(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier.from_env(
        {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": str(int(INTERVAL_S * 1e6))}
    )
    task = asyncio.create_task(notifier.watchdog_loop())
    await asyncio.sleep(1.1)  # pings at 0, 0.2, ... 1.0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # let the receiver thread catch up
    pings = systemd.ping_times()
    assert 5 <= len(pings) <= 7, pings
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) < INTERVAL_S, gaps  # never a full interval without a ping


async def test_blocked_event_loop_stops_the_pings(systemd: FakeSystemd) -> None:
    notifier = SystemdNotifier.from_env(
        {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": str(int(INTERVAL_S * 1e6))}
    )
    task = asyncio.create_task(notifier.watchdog_loop())
    await asyncio.sleep(0.3)

    async def stuck_handler() -> None:
        time.sleep(1.0)  # blocking call inside a coroutine: the loop stops turning

    blocked_from = time.monotonic()
    await stuck_handler()
    blocked_until = time.monotonic()
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)

    pings = systemd.ping_times()
    during = [t for t in pings if blocked_from + 0.01 < t < blocked_until - 0.01]
    assert during == [], "a ping was sent while the event loop was blocked"
    assert any(t < blocked_from for t in pings) and any(t > blocked_until for t in pings)
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    # systemd would have seen a silence longer than WatchdogSec and restarted the bot.
    assert max(gaps) > INTERVAL_S
