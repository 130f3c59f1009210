"""The real pipeline on the real stories with the bundled model, end to end."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.build import build_generation
from index.cli import main
from index.service import Engine, load_engine
from index.settings import Settings

pytestmark = pytest.mark.slow

CANONICAL = "聂荣县远程会诊多少场"


def test_canonical_question_is_answered_with_its_source(real_engine: Engine) -> None:
    result = real_engine.answer(CANONICAL)
    assert not result.abstained
    assert result.answer is not None
    assert "90余场次" in result.answer.text
    assert result.answer.highlight == "90余场次"
    assert result.answer.source.file.startswith("001_")
    assert "聂荣县" in result.answer.source.article
    assert "党建搭台强根基" in result.answer.source.article
    assert len(result.answer.text) <= 300
    first = result.passages[0]
    assert first.file == result.answer.source.file and "90余场次" in first.text


def test_traditional_and_english_questions_reach_the_same_story(real_engine: Engine) -> None:
    hant = real_engine.answer("聶榮縣遠程會診多少場")
    assert hant.answer is not None and "90余场次" in hant.answer.text
    english = real_engine.answer("How many remote consultations has Nyainrong county completed?")
    assert any(p.file.startswith("001_") for p in english.passages[:3])


def test_unsupported_question_abstains_but_offers_passages(real_engine: Engine) -> None:
    result = real_engine.answer("火星探测器什么时候发射的")
    assert result.abstained
    assert result.answer is None
    assert result.passages


@pytest.mark.parametrize(
    "question",
    [
        "聂荣县" * 1700,
        "😀🎉👍",
        "？？？！！。。",
        "",
        "   ",
        "<b>聂荣县</b>远程会诊多少场",
        "\x00\x01",
    ],
)
def test_odd_questions_get_an_answer_or_an_abstention(real_engine: Engine, question: str) -> None:
    result = real_engine.answer(question)
    assert result.abstained == (result.answer is None)
    json.dumps(result.to_json(), ensure_ascii=False)


def test_context_shows_neighbouring_paragraphs(real_engine: Engine) -> None:
    result = real_engine.answer(CANONICAL)
    context = real_engine.context(result.passages[0].chunk_id, radius=1)
    assert context is not None
    assert 2 <= len(context.paragraphs) <= 3
    assert any("90余场次" in p.text for p in context.paragraphs)
    assert real_engine.context("no-such-chunk") is None


def test_more_passages_pages_past_the_first(real_engine: Engine) -> None:
    first = real_engine.more_passages(CANONICAL, 0, 3)
    second = real_engine.more_passages(CANONICAL, 3, 3)
    assert len(first) == 3 and second
    assert not {(p.file, p.paragraph) for p in first} & {(p.file, p.paragraph) for p in second}


def test_bad_story_files_are_skipped_and_gb18030_is_answerable(
    tmp_path: Path,
    stories_dir: Path,
    real_index_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    docs = tmp_path / "stories"
    docs.mkdir()
    source = next(stories_dir.glob("001_*.txt"))
    (docs / "gb.txt").write_bytes(source.read_text("utf-8").encode("gb18030"))
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "unreadable.txt").symlink_to(tmp_path / "missing-target")
    settings = real_index_settings.model_copy(
        update={"docs_dir": docs, "index_dir": tmp_path / "index"}
    )
    with caplog.at_level(logging.WARNING):
        summary = build_generation(settings)
    assert summary.stories == 1
    assert {name for name, _ in summary.skipped} == {"binary.txt", "empty.txt", "unreadable.txt"}
    for name in ("binary.txt", "empty.txt", "unreadable.txt"):
        assert name in caplog.text
    result = load_engine(settings).answer(CANONICAL)
    assert result.answer is not None and "90余场次" in result.answer.text
    assert result.answer.source.file == "gb.txt"


LONG_SENTENCE = (
    "自平台开通以来,县医院的医生与自治区人民医院的专家每周连线,为偏远乡镇的牧民会诊疑难病例,"
    "截至目前比如县已累计完成37场次远程会诊,让群众在家门口就能看上专家号。"
)


def test_an_answer_is_quoted_whole_where_the_chunker_cut_its_sentence(
    tmp_path: Path, real_index_settings: Settings
) -> None:
    docs = tmp_path / "stories"
    docs.mkdir()
    story = (
        "那曲市比如县:远程医疗惠民生\n\n"
        + LONG_SENTENCE
        + "医院还派出医生下乡巡诊,受到群众欢迎。\n"
    )
    (docs / "day.txt").write_text(story, encoding="utf-8")
    settings = real_index_settings.model_copy(
        update={"docs_dir": docs, "index_dir": tmp_path / "index", "chunk_size": 50}
    )
    build_generation(settings)
    engine = load_engine(settings)
    result = engine.answer("比如县远程会诊多少场")
    assert result.answer is not None and result.answer.highlight == "37场次"
    chunks = [engine.search(LONG_SENTENCE, 10)[i].chunk.text for i in range(2)]
    assert not any(LONG_SENTENCE in chunk for chunk in chunks)  # the chunker did cut it
    assert result.answer.text == LONG_SENTENCE


def test_cli_build_ask_list_rollback(
    tmp_path: Path, stories_dir: Path, real_index_settings: Settings
) -> None:
    docs = tmp_path / "stories"
    shutil.copytree(stories_dir, docs)
    env = {
        "NEWSQA_DOCS_DIR": str(docs),
        "NEWSQA_INDEX_DIR": str(tmp_path / "index"),
        "NEWSQA_CACHE_DIR": str(real_index_settings.cache_dir),
    }
    runner = CliRunner()
    built = runner.invoke(main, ["index", "build", "--quiet"], env=env)
    assert built.exit_code == 0, built.output
    assert "5 indexed, 0 skipped" in built.output

    asked = runner.invoke(main, ["ask", CANONICAL, "--json"], env=env)
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.output)
    assert set(answer) == {
        *("question", "abstained", "answer", "nearest", "passages", "elapsed_ms", "context"),
        "gloss",
    }
    assert answer["context"] is None  # a single question is answered alone
    assert answer["gloss"] is None  # a Chinese question reads the bold itself
    assert answer["nearest"] is None  # answered: no nearest fact instead
    assert "90余场次" in answer["answer"]["text"]
    # Keys are only ever added: the reader's paragraph and story name joined in issue 22.
    source = answer["answer"]["source"]
    assert set(source) == {"file", "article", "paragraph", "article_paragraph", "story"}
    assert 1 <= source["article_paragraph"] < source["paragraph"] and source["story"] == ""

    batch = tmp_path / "questions.txt"
    batch.write_text(f"{CANONICAL}\n火星探测器什么时候发射的\n", "utf-8")
    answers = runner.invoke(main, ["ask", "--batch", str(batch), "--json"], env=env)
    lines = [json.loads(line) for line in answers.output.splitlines()]
    assert [a["question"] for a in lines] == [CANONICAL, "火星探测器什么时候发射的"]
    assert [a["abstained"] for a in lines] == [False, True]

    text = runner.invoke(main, ["ask", CANONICAL], env=env)
    assert "【90余场次】" in text.output and "¶" in text.output

    assert runner.invoke(main, ["index", "build", "--quiet"], env=env).exit_code == 0
    listed = runner.invoke(main, ["index", "list"], env=env)
    assert listed.output.count("\n") == 2 and listed.output.startswith("* ")
    rolled = runner.invoke(main, ["index", "rollback"], env=env)
    assert rolled.exit_code == 0 and "now serving" in rolled.output


ENGLISH = "How many remote consultations did Nierong County hold?"


def test_an_english_question_gets_the_bold_glossed_in_ask_and_chat(
    real_index_settings: Settings,
) -> None:
    env = {
        "NEWSQA_DOCS_DIR": str(real_index_settings.docs_dir),
        "NEWSQA_INDEX_DIR": str(real_index_settings.index_dir),
        "NEWSQA_CACHE_DIR": str(real_index_settings.cache_dir),
    }
    runner = CliRunner()
    asked = runner.invoke(main, ["ask", ENGLISH, "--json"], env=env)
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.output)
    assert answer["answer"]["highlight"] == "90余场次"  # the quote stays the story's Chinese
    assert answer["gloss"] == "90+ (场次, sessions)"

    text = runner.invoke(main, ["ask", ENGLISH], env=env).output.splitlines()
    cited = next(n for n, line in enumerate(text) if line.startswith("——"))
    assert "【90余场次】" in text[cited - 1] and text[cited + 1] == "≈ 90+ (场次, sessions)"

    chat = runner.invoke(main, ["chat"], input=f"{ENGLISH}\n{CANONICAL}\n/quit\n", env=env)
    assert chat.exit_code == 0, chat.output
    assert chat.output.count("≈ 90+ (场次, sessions)") == 1  # the English turn only


def test_cli_failures_are_one_line_and_non_zero(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"NEWSQA_INDEX_DIR": str(tmp_path / "none"), "NEWSQA_DOCS_DIR": str(tmp_path / "x")}
    missing = runner.invoke(main, ["ask", CANONICAL], env=env)
    assert missing.exit_code == 1
    assert "Error: no index under" in missing.output
    assert "Traceback" not in missing.output
    build = runner.invoke(main, ["index", "build", "--quiet"], env=env)
    assert build.exit_code == 1 and "does not exist" in build.output
    assert runner.invoke(main, ["ask"], env=env).exit_code == 2
    assert runner.invoke(main, ["--help"]).exit_code == 0
