"""Dump the reader's candidate spans (and the rule extractor's answer) for every question of a
QA set, so answer-stage policies can be compared offline without rerunning the model.

Usage: .venv/bin/python benchmarks/reader_candidates.py --qa FILE --docs DIR --out FILE.jsonl
       [--index DIR] [--reader DIR] [--limit N]

Open retrieval through the real engine (hybrid search, the lexicon); the index is built once
into --index and reused when it is already there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer import _article_key, _key_terms, _term_found
from index.evaluate import read_qa
from index.question import analyse_question, matching_form
from index.quoting import quote_span
from index.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, required=True)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--reader", type=Path)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()

    from index.build import build_generation
    from index.embedding import embedder_for
    from index.service import _query, load_engine

    index_dir = args.index or Path("var/eval/index") / args.docs.resolve().name
    settings = Settings(
        docs_dir=args.docs, index_dir=index_dir, answerer="reader", reader_dir=args.reader
    )
    embedder = embedder_for(settings)
    if not index_dir.exists():
        build_generation(settings, progress=False, embedder=embedder)
    engine = load_engine(settings, embedder=embedder)
    rules = load_engine(settings.model_copy(update={"answerer": "rules"}), embedder=embedder)
    reader = engine._reader
    assert reader is not None
    started = time.perf_counter()
    items = read_qa(args.qa)
    with args.out.open("w", encoding="utf-8") as out:
        for item in items:
            query = _query(item.question)
            hits = engine._hits(query, settings.candidates)
            spans = reader.candidates(query, hits, limit=args.limit)
            ruled = rules.answer(item.question)
            focus = analyse_question(query)
            terms = _key_terms(focus)
            articles = {
                _article_key(h.chunk): matching_form(
                    "\n".join(
                        f"{g.chunk.headline}\n{g.chunk.text}"
                        for g in hits
                        if _article_key(g.chunk) == _article_key(h.chunk)
                    )
                )
                for h in hits
            }
            row = {
                "id": item.id,
                "question": item.question,
                "gold": list(item.answers),
                "file": item.file,
                "lang": item.lang,
                "abstain_margin": reader.abstain_margin,
                "hits": [h.chunk.file for h in hits[:5]],
                "counted_noun": focus.counted_noun,
                "qtype": focus.qtype.value,
                "rules": None
                if ruled.answer is None
                else {
                    "text": ruled.answer.text,
                    "highlight": ruled.answer.highlight,
                    "file": ruled.answer.source.file,
                },
                "candidates": [
                    {
                        "text": s.text,
                        "quote": quote_span(s.hit.chunk.text, s.start, s.end)[0],
                        "chunk": s.hit.chunk.text,
                        "start": s.start,
                        "end": s.end,
                        "score": round(s.score, 3),
                        "margin": round(s.margin, 3),
                        "rank": s.rank,
                        "file": s.hit.chunk.file,
                        "missing": [
                            t
                            for t in terms
                            if not _term_found(t, articles[_article_key(s.hit.chunk)])
                        ],
                    }
                    for s in spans
                ],
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elapsed = time.perf_counter() - started
    print(f"{len(items)} questions in {elapsed:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
