"""The feedback file: one vote per user per answer, bounded, tidy, and only for real answers."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, User

from bot.feedback import (
    Feedback,
    FeedbackLog,
    is_answer_button,
    latest_votes,
    parse_vote,
)

BOT_ID = 42


def vote(user: int, answer: int = 7, choice: str = "up") -> Feedback:
    return Feedback.now("up" if choice == "up" else "down", 1, answer, user, "问题")


def test_parse_vote_takes_only_up_and_down() -> None:
    assert [parse_vote(name) for name in ("up", "down", "sideways", "", "UP")] == [
        "up",
        "down",
        None,
        None,
        None,
    ]


def message(sender: int, *datas: str) -> Message:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in datas]])
    return Message(
        message_id=7,
        date=datetime.datetime.now(datetime.timezone.utc),
        chat=Chat(1, Chat.PRIVATE),
        from_user=User(sender, "x", is_bot=sender == BOT_ID),
        reply_markup=markup if datas else None,
    )


def test_a_vote_needs_the_bots_own_message_with_that_button() -> None:
    assert is_answer_button(message(BOT_ID, "src:a", "fb:up", "fb:down"), "fb:up", BOT_ID)
    assert not is_answer_button(message(BOT_ID, "src:a", "more:3"), "fb:up", BOT_ID)
    assert not is_answer_button(message(BOT_ID), "fb:up", BOT_ID)
    assert not is_answer_button(message(99, "fb:up"), "fb:up", BOT_ID)


def test_latest_votes_keeps_the_last_vote_per_user_and_answer_and_the_newest() -> None:
    votes = [vote(1), vote(2), vote(1, choice="down"), vote(3), vote(2, answer=8)]
    kept = latest_votes(votes, 10)
    assert [(v.user_id, v.message_id, v.vote) for v in kept.values()] == [
        (2, 7, "up"),
        (1, 7, "down"),
        (3, 7, "up"),
        (2, 8, "up"),
    ]
    assert [v.user_id for v in latest_votes(votes, 2).values()] == [3, 2]


async def test_a_repeat_replaces_the_vote_in_the_file(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    for feedback in (vote(1), vote(2), vote(1, choice="down")):
        assert await log.record(feedback)
    assert [(v.user_id, v.vote) for v in log.read()] == [(2, "up"), (1, "down")]
    assert len((tmp_path / "feedback.jsonl").read_text("utf-8").splitlines()) == 2


async def test_the_file_never_holds_more_than_its_limit(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl", max_votes=10)
    for user in range(35):
        await log.record(vote(user))
        assert len(log.read()) <= 10
    assert log.read()[-1].user_id == 34  # the newest are kept
    assert not [p for p in tmp_path.iterdir() if p.name != "feedback.jsonl"]  # no temp files


async def test_an_older_file_is_tidied_and_bad_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    old = [json.dumps(vote(1).__dict__), "not json", json.dumps(vote(1, choice="down").__dict__)]
    path.write_text("\n".join(old) + "\n", "utf-8")
    log = FeedbackLog(path)
    assert [v.vote for v in log.read()] == ["up", "down"]
    await log.record(vote(2))
    assert [(v.user_id, v.vote) for v in log.read()] == [(1, "down"), (2, "up")]


async def test_a_disk_that_refuses_loses_the_vote_not_the_bot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feedback.jsonl"
    path.mkdir()  # cannot be opened for writing
    log = FeedbackLog(path)
    assert await log.record(vote(1)) is False
    assert "could not record feedback" in caplog.text
    path.rmdir()
    assert await log.record(vote(1, choice="down")) is True
    assert [v.vote for v in log.read()] == ["down"]
