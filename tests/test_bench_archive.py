"""`newsqa bench --archive`: a tiny archive end to end, and the archive it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import archive
from index.archive import archive_sources, load_questions, save_questions, write_archive
from index.cleaning import split_articles
from index.cli import main
from index.loading import load_pages

# Invented reading-comprehension paragraphs, one question each.
READING = {
    "data": [
        {
            "title": title,
            "paragraphs": [
                {
                    "context": context,
                    "qas": [{"question": question, "answers": [{"text": answer}]}],
                }
            ],
        }
        for title, context, question, answer in (
            (
                "示例湖",
                "示例湖位于示例县东部，湖面面积约为42平方公里，是当地最大的淡水湖。"
                "每年夏季有上万只候鸟在湖边栖息，吸引了许多摄影爱好者。",
                "示例湖的湖面面积约为多少？",
                "42平方公里",
            ),
            (
                "示范牧场",
                "示范牧场建于1987年，由三位返乡青年创办，目前饲养牦牛六百余头。"
                "牧场还开办了一所夜校，教牧民使用手机销售奶制品。",
                "示范牧场是哪一年建成的？",
                "1987年",
            ),
            (
                "山谷小学",
                "山谷小学共有学生一百二十名，校长名叫卓玛央金。学校去年建成了新的图书室，"
                "藏书超过五千册。",
                "山谷小学的校长叫什么名字？",
                "卓玛央金",
            ),
        )
    ]
}

KEYS = {
    "n_chunks",
    "build_s",
    "load_s",
    "rss_mb",
    "disk_mb",
    "retrieval_p50_ms",
    "retrieval_p95_ms",
    "answer_at_1",
}


@pytest.fixture
def reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(archive, "PLANTED_TITLE_SHARE", 1)  # plant every title
    folder = tmp_path / "reading"
    folder.mkdir()
    (folder / "invented.json").write_text(json.dumps(READING, ensure_ascii=False), "utf-8")
    return folder


def test_the_archive_plants_each_answer_once_in_an_article_of_its_own(
    tmp_path: Path, stories_dir: Path, reading: Path
) -> None:
    sources = archive_sources(stories_dir, reading, questions=10)
    questions = write_archive(tmp_path / "pages", 600, sources, seed=4)
    save_questions(tmp_path / "q.jsonl", questions)
    assert load_questions(tmp_path / "q.jsonl") == questions
    assert len(questions) == 3
    articles = [a for p in load_pages(tmp_path / "pages").pages for a in split_articles(p)]
    for question in questions:
        homes = [a for a in articles if question.answer in a.text]
        assert [(a.file, a.headline) for a in homes] == [(question.file, question.headline)]


def test_bench_archive_reports_a_json_object_per_size(
    tmp_path: Path, stories_dir: Path, reading: Path
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--docs",
            str(stories_dir),
            "--archive",
            "300",
            "--compare-at",
            "0",
            "--json",
            "--work",
            str(tmp_path / "work"),
            "--reader-data",
            str(reading),
            "--jobs",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    row = json.loads(line)
    assert set(row) >= KEYS
    assert 200 < row["n_chunks"] < 400
    assert row["questions"] == 3
    assert 0 <= row["answer_at_1"] <= 1
    assert row["retrieval_p95_ms"] >= row["retrieval_p50_ms"] > 0
    assert {"clean", "chunk", "tokenise", "bm25", "faiss"} <= set(row["stages_s"])
