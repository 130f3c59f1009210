"""The systemd units and the installer pass systemd-analyze and shellcheck without a word."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ["newsqa-bot.service", "newsqa-reindex.service", "newsqa-reindex.timer"]
SERVICES = [u for u in UNITS if u.endswith(".service")]
NEWSQA_BIN = "/opt/newsqa/venv/bin/newsqa"
MAX_EXPOSURE = 2.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed here (.ci/run installs it in CI)")
    return path


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def _verify(unit_dir: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    return _run(
        _tool("systemd-analyze"), "verify", *[str(unit_dir / n) for n in names], cwd=unit_dir
    )


def _staged_units(tmp_path: Path) -> Path:
    """The units as shipped, with ExecStart= pointing at a stand-in for the installed newsqa.

    `verify` rejects an ExecStart= whose binary is missing, and /opt/newsqa exists only
    after install.sh; every other line is checked exactly as shipped.
    """
    stub = tmp_path / "bin" / "newsqa"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        (units / name).write_text(text.replace(NEWSQA_BIN, str(stub)))
    return units


def _unit_settings(name: str) -> dict[str, list[str]]:
    """Every Key=value of a unit file, repeated keys kept in order."""
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def test_units_verify_without_any_output(tmp_path: Path) -> None:
    units = _staged_units(tmp_path)
    result = _verify(units, UNITS)
    # verify exits 0 on unknown keys and bad values, so silence is the real check.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verify_check_catches_a_warning(tmp_path: Path) -> None:
    units = _staged_units(tmp_path)
    bot = units / "newsqa-bot.service"
    bot.write_text(bot.read_text().replace("[Service]\n", "[Service]\nProtectSytem=strict\n"))
    result = _verify(units, UNITS)
    assert "ProtectSytem" in result.stdout + result.stderr


def test_shipped_units_run_the_installed_command() -> None:
    assert _unit_settings("newsqa-bot.service")["ExecStart"] == [f"{NEWSQA_BIN} serve"]
    assert _unit_settings("newsqa-reindex.service")["ExecStart"] == [
        f"{NEWSQA_BIN} index build --quiet"
    ]


@pytest.mark.parametrize("name", SERVICES)
def test_security_exposure_is_at_most_2(name: str) -> None:
    result = _run(_tool("systemd-analyze"), "security", "--offline=true", str(DEPLOY / name))
    assert result.returncode == 0, result.stderr
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout[-2000:]
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


def test_bot_unit_lifecycle_settings() -> None:
    bot = _unit_settings("newsqa-bot.service")
    assert bot["Type"] == ["notify"]
    assert bot["NotifyAccess"] == ["main"]
    assert bot["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # bot/app.py reads the token from $CREDENTIALS_DIRECTORY/telegram-token.
    assert bot["LoadCredential"] == ["telegram-token:/etc/newsqa/telegram-token"]
    assert not any(v.startswith("NEWSQA_TELEGRAM_TOKEN") for v in bot["Environment"])
    assert "AF_INET" in bot["RestrictAddressFamilies"][0].split()
    # `newsqa serve` exits 78 on a configuration it cannot serve with (README's exit table).
    assert bot["Restart"] == ["on-failure"]
    assert bot["RestartPreventExitStatus"] == ["78"]


def test_both_services_share_user_and_directories() -> None:
    bot = _unit_settings("newsqa-bot.service")
    reindex = _unit_settings("newsqa-reindex.service")
    for key in ("User", "StateDirectory", "CacheDirectory", "EnvironmentFile"):
        assert bot[key] == reindex[key], key
    index_dir = "NEWSQA_INDEX_DIR=/var/lib/newsqa/index"
    assert index_dir in bot["Environment"] and index_dir in reindex["Environment"]


def test_reindex_unit_has_no_network_and_reloads_the_bot_only_after_success() -> None:
    reindex = _unit_settings("newsqa-reindex.service")
    assert reindex["Type"] == ["oneshot"]
    assert reindex["PrivateNetwork"] == ["yes"]
    assert reindex["RestrictAddressFamilies"] == ["AF_UNIX"]
    # ExecStartPost= runs only when ExecStart= succeeded: a failed build reloads nothing.
    (post,) = reindex["ExecStartPost"]
    assert post.startswith("+") and "try-reload-or-restart" in post and "newsqa-bot" in post


def test_timer_runs_daily_and_catches_up() -> None:
    timer = _unit_settings("newsqa-reindex.timer")
    assert timer["OnCalendar"] == ["daily"]
    assert timer["Persistent"] == ["true"]
    assert timer["RandomizedDelaySec"] != ["0"]


def test_install_sh_is_shellcheck_clean() -> None:
    result = _run(_tool("shellcheck"), str(DEPLOY / "install.sh"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
