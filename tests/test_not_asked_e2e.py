"""A question about a county, year or batch the stories do not cover is not answered with the
neighbour's figure: it abstains and shows that figure as the nearest fact, plainly marked,
through `ask`, `ask --json`, `chat` and the Telegram bot over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.cli import main
from index.settings import Settings
from tests.bot_harness import bot_settings, running_bot
from tests.fake_bot_api import FakeBotApi, bold_parts, buttons, visible_text

pytestmark = pytest.mark.slow

CANONICAL = "聂荣县远程会诊多少场"
NEIGHBOUR = "比如县远程会诊多少场"  # 比如县: a county of the same city the stories never name
STORY = "001_a156c6055a039714.txt"


def _env(settings: Settings) -> dict[str, str]:
    return {
        "NEWSQA_INDEX_DIR": str(settings.index_dir),
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
    }


def test_ask_json_abstains_with_the_neighbours_fact_as_nearest(
    real_index_settings: Settings,
) -> None:
    runner = CliRunner()
    env = _env(real_index_settings)
    answered = json.loads(runner.invoke(main, ["ask", CANONICAL, "--json"], env=env).output)
    assert answered["abstained"] is False and answered["answer"]["highlight"] == "90余场次"

    asked = runner.invoke(main, ["ask", NEIGHBOUR, "--json"], env=env)
    assert asked.exit_code == 0, asked.output
    result = json.loads(asked.output)
    assert result["abstained"] is True and result["answer"] is None
    nearest = result["nearest"]
    assert nearest["highlight"] == "90余场次" and nearest["source"]["file"] == STORY
    assert nearest["differs"] == [{"asked": "比如县", "found": "聂荣县"}]
    assert result["passages"][0]["file"] == STORY  # the nearest fact's passage is cited first

    text = runner.invoke(main, ["ask", NEIGHBOUR], env=env).output.splitlines()
    assert text[0] == "报道中没有比如县的这项内容。相近的是聂荣县的（不是所问的比如县）："
    assert "90余场次" in text[1] and "【" not in text[1]  # shown, never bolded as the answer
    assert text[2].startswith("——《") and STORY in text[2]


def test_an_english_question_about_another_county_abstains_too(
    real_index_settings: Settings,
) -> None:
    question = "How many remote consultations did Biru County hold?"
    output = CliRunner().invoke(main, ["ask", question], env=_env(real_index_settings)).output
    assert output.startswith(
        "The stories do not give this for Biru County. "
        "Nearest, for 聂荣县 (Nierong County) (not Biru County):"
    )


def test_chat_abstains_on_the_neighbour_and_answers_the_county(
    real_index_settings: Settings,
) -> None:
    result = CliRunner().invoke(
        main,
        ["chat", "--index", str(real_index_settings.index_dir)],
        input=f"{NEIGHBOUR}\n{CANONICAL}\n/quit\n",
        env={"NEWSQA_CACHE_DIR": str(real_index_settings.cache_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "报道中没有比如县的这项内容。相近的是聂荣县的" in result.output
    assert result.output.count("【90余场次】") == 1  # bold only for the county asked


async def test_the_bot_says_what_it_found_instead(
    api: FakeBotApi, real_index_settings: Settings, tmp_path: Path
) -> None:
    settings = bot_settings(
        api,
        tmp_path,
        index_dir=real_index_settings.index_dir,
        cache_dir=real_index_settings.cache_dir,
    )
    async with running_bot(settings, api):
        chat, user = api.private_chat(601), api.user(601)
        message = await api.send_text(chat, user, NEIGHBOUR)
        await api.wait_for(lambda: bool(api.replies_to(message)), 180.0, "the reply")
        await api.settle()
    [reply] = api.replies_to(message)
    text = visible_text(reply["text"])
    first, quote, citation, *_ = text.split("\n")
    assert first == "报道中没有比如县的这项内容。相近的是聂荣县的（不是所问的比如县）："
    assert "90余场次" in quote and "90余场次" not in bold_parts(reply["text"])
    assert citation.startswith("—— 《") and citation.endswith("第2段")
    assert next(b["text"] for b in buttons(reply)) == "原文 1"  # the sources button stays


def test_a_follow_up_in_another_measure_does_not_repeat_the_last_fact(
    real_index_settings: Settings,
) -> None:
    from index.service import load_engine

    engine = load_engine(real_index_settings)
    first = engine.answer(CANONICAL)
    assert first.topic is not None and first.topic.answered == "90余场次"
    # Asked in 个, the follow-up would get 90余场次 again: that is no answer to it.
    other = engine.answer("远程服务一共完成了几个", context=first.topic)
    assert other.context is not None and other.abstained and other.answer is None
    # Asked again in its own measure, the fact stands.
    again = engine.answer("累计完成了几次", context=first.topic)
    assert again.answer is not None and again.answer.highlight == "90余场次"
