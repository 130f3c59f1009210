"""`newsqa serve` and `newsqa chat`: the bot's commands, added to `newsqa` through the
`newsqa.commands` entry points (pyproject.toml), so that `index` never imports the bot.

`newsqa --help` loads this module to list them; the bot itself (python-telegram-bot) loads only
when one of them runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from index.cli import command_settings, index_option


@click.command()
@index_option
@click.pass_context
def serve(ctx: click.Context, index_dir: Path | None) -> None:
    """Run the Telegram bot (long polling) until SIGTERM."""
    from bot.app import serve as serve_bot  # imports telegram

    settings = command_settings(ctx, index_dir=index_dir)
    sys.exit(serve_bot(settings))


@click.command()
@index_option
@click.pass_context
def chat(ctx: click.Context, index_dir: Path | None) -> None:
    """Talk to the index in the terminal, worded as the bot words it."""
    from bot.console import chat as run_chat  # imports telegram

    settings = command_settings(ctx, index_dir=index_dir)
    run_chat(settings)
