"""`newsqa serve`: where the token comes from, exit codes, and the token kept out of output."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from telegram.error import InvalidToken

from bot.app import TokenError, load_token, redact_token_in_logs, serve
from index.settings import Settings
from tests.fake_bot_api import TOKEN, FakeBotApi

NEWSQA = Path(sys.executable).with_name("newsqa")
OTHER_TOKEN = "987654321:BBWrongTokenButWellFormed_0123456789xyz"


def settings(**values: object) -> Settings:
    return Settings().model_copy(update={"credentials_directory": None, **values})


def test_token_from_the_credentials_directory_wins(tmp_path: Path) -> None:
    (tmp_path / "telegram-token").write_text(TOKEN + "\n")
    chosen = settings(credentials_directory=tmp_path, telegram_token=SecretStr(OTHER_TOKEN))
    assert load_token(chosen) == TOKEN


def test_token_from_the_environment_variable(tmp_path: Path) -> None:
    assert load_token(settings(credentials_directory=tmp_path, telegram_token=SecretStr(TOKEN)))
    assert load_token(settings(telegram_token=SecretStr(TOKEN))) == TOKEN


def test_missing_token_is_an_error() -> None:
    with pytest.raises(TokenError, match="no Telegram token"):
        load_token(settings())


def test_malformed_token_error_does_not_repeat_it() -> None:
    bad = "12345:short-secret"
    with pytest.raises(TokenError) as raised:
        load_token(settings(telegram_token=SecretStr(bad)))
    assert "malformed" in str(raised.value) and "short-secret" not in str(raised.value)


def test_settings_repr_hides_the_token() -> None:
    chosen = settings(telegram_token=SecretStr(TOKEN))
    secret = TOKEN.split(":", 1)[1]
    assert secret not in repr(chosen) and secret not in str(chosen.model_dump())


@pytest.mark.parametrize("token", [None, "not-a-token", "123:" + "x" * 10])
def test_serve_exits_78_with_one_line(
    token: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = settings(telegram_token=SecretStr(token) if token else None)
    assert serve(chosen) == 78  # EX_CONFIG, as the README's exit-status table says
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1
    if token:
        assert token not in err


async def run_serve(env: dict[str, str]) -> tuple[int | None, str]:
    process = await asyncio.create_subprocess_exec(
        str(NEWSQA),
        "-v",
        "serve",
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, (out + err).decode()


async def test_serve_with_a_rejected_token_exits_78_without_showing_it(
    api: FakeBotApi, tmp_path: Path
) -> None:
    code, text = await run_serve(
        {
            "HOME": str(tmp_path),
            "NEWSQA_TELEGRAM_TOKEN": OTHER_TOKEN,
            "NEWSQA_TELEGRAM_API_URL": api.base_url,
            "NEWSQA_INDEX_DIR": str(tmp_path / "index"),
        }
    )
    assert code == 78, text
    assert "Error: Telegram rejected the token" in text
    assert OTHER_TOKEN.split(":", 1)[1] not in text


def test_log_records_and_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("telegram.ext.ExtBot")
    redact_token_in_logs(TOKEN)
    with caplog.at_level(logging.DEBUG, logger="telegram.ext.ExtBot"):
        logger.debug("Set Bot API URL: %s", f"https://api.telegram.org/bot{TOKEN}")
        try:
            raise InvalidToken(f"The token `{TOKEN}` was rejected by the server.")
        except InvalidToken:
            logger.exception("start failed")
    secret = TOKEN.split(":", 1)[1]
    assert "bot<token>" in caplog.text and "start failed" in caplog.text
    assert secret not in caplog.text
