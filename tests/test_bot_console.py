"""`newsqa chat`: the terminal conversation answers with the bot's wording, in plain text."""

from __future__ import annotations

import io

import pytest

from bot.console import chat
from bot.texts import ZH
from index.errors import IndexNotFoundError
from index.settings import Settings
from tests.bot_harness import HEADLINE, FakeEngine


def run(lines: str) -> str:
    out = io.StringIO()
    chat(Settings(), stdin=io.StringIO(lines), stdout=out, load=lambda s: FakeEngine())
    return out.getvalue()


def test_question_more_and_source() -> None:
    out = run("聂荣县远程会诊多少场\n/more\n/src 4\n/quit\n这行不会被读到\n")
    assert out.startswith(ZH.start)
    assert "【90余场次】" in out
    assert f"《{HEADLINE}》 · 001_a156c6055a039714.txt · ¶7" in out
    assert ZH.sources in out and ZH.more_header in out
    assert "4. 《" in out
    assert "【段落4：聂荣县 <i>原文</i> & 医疗】" in out  # source 4 with its neighbours
    assert "这行不会被读到" not in out and ZH.no_words not in out


def test_wording_follows_the_question_and_odd_input_is_polite() -> None:
    out = run("How many trains?\n🙂🙂\n" + "x" * 600 + "\n/src 99\n")
    assert "I could not find the answer in the stories" in out
    assert "Please ask in words" in out
    assert "too long (at most 500 characters)" in out
    assert "no longer in the index" in out


def test_missing_index_goes_up_to_the_cli() -> None:
    """The CLI turns it into its one `Error:` line and exit 1 (tests/test_exit_codes.py)."""

    def missing(settings: Settings) -> FakeEngine:
        raise IndexNotFoundError("no index under .newsqa/index; run `newsqa index build`")

    with pytest.raises(IndexNotFoundError):
        chat(Settings(), stdin=io.StringIO(""), stdout=io.StringIO(), load=missing)


def test_escape_sequences_in_stories_are_shown_not_obeyed() -> None:
    out = io.StringIO()
    hostile = FakeEngine(generation="\x1b]0;owned\x07\x1b[2J")  # the answer text carries it
    chat(
        Settings(), stdin=io.StringIO("聂荣县远程会诊多少场\n"), stdout=out, load=lambda s: hostile
    )
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b]0;owned\\x07\\x1b[2J" in text


def test_bidi_controls_in_stories_are_shown_not_obeyed() -> None:
    out = io.StringIO()
    hostile = FakeEngine(generation="共建成\u202e座七十三\u202c")
    chat(
        Settings(), stdin=io.StringIO("聂荣县远程会诊多少场\n"), stdout=out, load=lambda s: hostile
    )
    text = out.getvalue()
    assert "\u202e" not in text and "\u202c" not in text
    assert "\\u202e座七十三\\u202c" in text
