"""Tell systemd how the bot is doing: sd_notify(3) over the datagram socket in NOTIFY_SOCKET.

Pure standard library (no libsystemd binding to install). The bot's lifecycle uses it so:
`ready()` once the index is loaded, `reloading()` then `ready()` around a SIGHUP reload,
`stopping()` on shutdown, and `watchdog_loop()` as a task on the event loop, so that a loop
that stops turning also stops the pings and systemd restarts the service (`WatchdogSec=`).
Outside systemd (no NOTIFY_SOCKET) every call is a harmless no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

# A send must never hang the event loop for long if PID 1 is busy; a late ping is a lost ping.
_SEND_TIMEOUT_S = 2.0


class SystemdNotifier:
    """Send sd_notify messages to one socket address; a no-op when the address is None."""

    def __init__(
        self,
        address: str | None = None,
        *,
        watchdog_usec: int | None = None,
    ) -> None:
        self._address = _socket_address(address) if address else None
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as systemd sets them."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        if address and not address.startswith(("/", "@")):
            # e.g. systemd 253's "vsock:CID:PORT"; the bot never runs that way.
            log.warning("ignoring unsupported NOTIFY_SOCKET %r", address)
            address = None
        return cls(address, watchdog_usec=_watchdog_usec(env))

    @property
    def enabled(self) -> bool:
        """True when messages go somewhere (the process was started by systemd as notify)."""
        return self._address is not None

    def notify(self, *fields: str) -> bool:
        """Send one datagram of KEY=VALUE lines; False if there is no socket or it failed."""
        if self._address is None:
            return False
        payload = "\n".join(fields).encode()
        try:
            # A socket per message, as sd_notify(3) does: nothing to keep open or close later.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(_SEND_TIMEOUT_S)
                sock.sendto(payload, self._address)
        except OSError as exc:
            # Losing a notification must not take the bot down; systemd's timeouts will tell.
            log.warning("sd_notify %s failed: %s", fields[0] if fields else "", exc)
            return False
        return True

    def ready(self) -> bool:
        """Startup or reload finished: the bot answers questions."""
        return self.notify("READY=1", "STATUS=serving")

    def reloading(self) -> bool:
        """A reload began; systemd matches the timestamp to the reload it asked for."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading index")

    def stopping(self) -> bool:
        """Shutdown began."""
        return self.notify("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> bool:
        """Free-form one-line status shown by `systemctl status`."""
        return self.notify("STATUS=" + " ".join(text.splitlines()))

    def watchdog(self) -> bool:
        """One keep-alive ping."""
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds within which systemd expects a ping, or None when the watchdog is off."""
        return self._watchdog_usec / 1_000_000 if self._watchdog_usec else None

    async def watchdog_loop(self) -> None:
        """Ping every half interval from the event loop until cancelled; returns if no watchdog."""
        interval = self.watchdog_interval()
        if interval is None or not self.enabled:
            return
        # Half the interval, as sd_watchdog_enabled(3) advises, leaves room for one late ping.
        while True:
            self.watchdog()
            await asyncio.sleep(interval / 2)


def _socket_address(address: str) -> str:
    # "@name" is a socket in the abstract namespace, spelled with a leading NUL byte.
    return "\0" + address[1:] if address.startswith("@") else address


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """WATCHDOG_USEC if it is meant for this process (WATCHDOG_PID unset or our pid)."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec if usec > 0 else None
