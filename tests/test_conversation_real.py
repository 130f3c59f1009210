"""Conversations and citations on the real index of ../shared/stories (slow): the follow-up set
through the engine and through the real bot over HTTP, verbatim quotes, and `ask --batch` with
chats. `make demo` from a clone with no ../shared beside it: tests/test_demo.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.render import answer_blocks, to_plain
from index.cli import main
from index.followups import Pair, answered, read_pairs, score
from index.settings import Settings
from tests.bot_harness import bot_settings, running_bot
from tests.conftest import REPO, SHARED
from tests.fake_bot_api import BOT_USERNAME, FakeBotApi, visible_text
from tests.quotes import occurs_verbatim

pytestmark = pytest.mark.slow

PAIRS = read_pairs(REPO / "tests" / "data" / "followups.jsonl")
NOTE = "（接上文："
ANSWER_WAIT_S = 180.0


def test_the_follow_up_set_has_every_kind_the_issue_asks_for() -> None:
    kinds = {pair.kind for pair in PAIRS}
    assert len(PAIRS) >= 15
    assert {"elliptical", "attribute", "time", "switch", "reply"} <= kinds


def test_second_turns_are_answered_and_topic_switches_never_carry(real_engine: Any) -> None:
    report = score(real_engine, PAIRS)
    assert report.second_answer_at_1 >= 0.9, report.describe()
    assert report.switches_carried == 0, report.describe()
    assert all(o.carry_ok for o in report.outcomes), report.describe()


def test_a_follow_up_fails_without_its_context(real_engine: Any) -> None:
    """The set measures context, not luck: asked alone, some second turns are not answered."""
    alone = [answered(real_engine.answer(p.second.question), p.second.answers) for p in PAIRS]
    assert sum(alone) < len(PAIRS) - 1


async def _converse(api: FakeBotApi, pair: Pair, n: int, group: bool) -> tuple[str, str]:
    """Both turns as one user; in a group by mention, a reply pair as a reply by someone else."""
    user = api.user(20_000 + n)
    chat = api.group_chat(-200_000 - n) if group else api.private_chat(20_000 + n)
    prefix = f"@{BOT_USERNAME} " if group else ""
    first = await api.send_text(chat, user, prefix + pair.first.question)
    await api.wait_for(lambda: bool(api.replies_to(first)), ANSWER_WAIT_S, "first turn")
    answer = api.replies_to(first)[-1]
    if pair.kind == "reply":
        asker = api.user(30_000 + n) if group else user
        second = await api.send_text(chat, asker, pair.second.question, reply_to=answer)
    else:
        second = await api.send_text(chat, user, prefix + pair.second.question)
    await api.wait_for(lambda: bool(api.replies_to(second)), ANSWER_WAIT_S, "second turn")
    reply = "\n".join(visible_text(m["text"]) for m in api.replies_to(second))
    return visible_text(answer["text"]), reply


@pytest.mark.parametrize("group", [False, True], ids=["private", "group"])
async def test_the_follow_up_set_through_the_real_bot(
    api: FakeBotApi, real_engine: Any, tmp_path: Path, group: bool
) -> None:
    settings = bot_settings(api, tmp_path)
    async with running_bot(
        settings, api, load=lambda s: real_engine, read_generation=lambda p: "session"
    ):
        replies = [await _converse(api, pair, n, group) for n, pair in enumerate(PAIRS)]
    found = 0
    for pair, (_, reply) in zip(PAIRS, replies, strict=True):
        answer_part = reply.split("相关来源：")[0]
        abstained = "没有在报道中找到" in reply
        found += not abstained and any(a in answer_part for a in pair.second.answers)
        if pair.carry is False:
            assert NOTE not in reply, pair.id
        if pair.carry is True:
            assert reply.startswith(NOTE), pair.id
    assert found / len(PAIRS) >= 0.9


def _dev_questions() -> list[str]:
    lines = (SHARED / "eval" / "stories_qa_dev.jsonl").read_text("utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    return questions + [p.first.question for p in PAIRS]


def test_quotes_are_verbatim_and_citations_have_no_empty_title(
    real_engine: Any, real_index_settings: Settings
) -> None:
    """Quotes are the story's own characters (tests/test_quotes.py adds stories typeset with
    full-width punctuation and spaces of every width)."""
    docs = real_index_settings.docs_dir
    originals = {p.name: p.read_bytes().decode("utf-8") for p in docs.glob("*.txt")}
    for question in _dev_questions():
        result = real_engine.answer(question)
        rendered = to_plain(answer_blocks(result, "zh"))
        assert "《》" not in rendered, question
        for passage in result.passages:
            assert occurs_verbatim(passage.text, originals[passage.file]), (question, passage)
        if result.answer is not None:
            quote = result.answer.text
            assert occurs_verbatim(quote, originals[result.answer.source.file]), (question, quote)
            assert result.answer.highlight is None or result.answer.highlight in quote


def test_the_column_label_is_never_an_article_title(real_index_settings: Settings) -> None:
    from index.corpus import ARTICLES_FILE

    current = real_index_settings.index_dir / "current" / ARTICLES_FILE
    headlines = [json.loads(line)["headline"] for line in current.read_text("utf-8").splitlines()]
    assert "民生焦点" not in headlines
    assert not any(h.startswith("民生焦点") for h in headlines)


def test_ask_batch_json_follows_chats_in_file_order(
    real_index_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = next(p for p in PAIRS if p.id == "f09")
    lines = [
        json.dumps({"question": pair.first.question, "chat": "a"}, ensure_ascii=False),
        json.dumps({"question": pair.first.question, "chat": 2}, ensure_ascii=False),
        json.dumps({"question": pair.second.question, "chat": "a"}, ensure_ascii=False),
        pair.second.question,  # plain text: a chat of its own
    ]
    batch = tmp_path / "turns.jsonl"
    batch.write_text("\n".join(lines) + "\n", "utf-8")
    monkeypatch.setenv("NEWSQA_CACHE_DIR", str(real_index_settings.cache_dir))
    index = str(real_index_settings.index_dir)
    run = CliRunner().invoke(main, ["ask", "--batch", str(batch), "--json", "--index", index])
    assert run.exit_code == 0, run.output
    out = [json.loads(line) for line in run.output.splitlines()]
    assert [o["context"] is not None for o in out] == [False, False, True, False]
    assert out[2]["context"]["file"] == out[0]["answer"]["source"]["file"]
    assert any(a in out[2]["answer"]["text"] for a in pair.second.answers)
