"""Fitting the span reranker on a QA set: build a throwaway index of its stories, read its
questions with the reader, fit (`index.reader.rerank_fit`) and write rerank.json beside the
reader's weights (`newsqa reader rerank`)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from index.build import build_generation
from index.embedding import embedder_for
from index.evaluate import read_qa
from index.reader.rerank import Candidate
from index.reader.rerank_fit import ReadQuestion, fit_and_write
from index.service import Engine, load_engine
from index.settings import Settings


def read_questions(
    engine: Engine, questions: Sequence[tuple[str, tuple[str, ...]]], limit: int = 20
) -> list[ReadQuestion]:
    """Each question through the engine's retrieval and the reader's candidate spans."""
    out = []
    for question, answers in questions:
        spans = engine.reader_candidates(question, limit)
        candidates = tuple(
            Candidate(s.hit.chunk.text, s.start, s.end, s.margin, s.score, s.rank, i)
            for i, s in enumerate(spans)
        )
        out.append(ReadQuestion(question, answers, candidates))
    return out


def fit_on_set(settings: Settings, qa_path: Path, out_dir: Path) -> str:
    """Read a QA set's questions over its stories (open retrieval, a throwaway index), fit the
    reranker on them and write it beside the reader's weights; the report compares the
    reranked highlight with the reader's own on that set."""
    items = read_qa(qa_path)
    embedder = embedder_for(settings)
    with tempfile.TemporaryDirectory(prefix="newsqa-rerank-") as tmp:
        local = settings.model_copy(update={"index_dir": Path(tmp) / "index", "answerer": "reader"})
        build_generation(local, progress=False, embedder=embedder)
        engine = load_engine(local, embedder=embedder)
        questions = read_questions(engine, [(i.question, i.answers) for i in items])
        margin = engine.reader_margin
    return fit_and_write(questions, margin, out_dir, f"{qa_path} over {settings.docs_dir}")
