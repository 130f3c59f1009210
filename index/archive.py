"""A synthetic newspaper archive of about N chunks, for `newsqa bench --archive N`.

Pages are laid out as the sample stories are (headline, byline, paragraphs, blank lines
between blocks) and go through the real build: loading, cleaning, chunking. Body sentences
are rebuilt from clauses of the sample stories and of reading-comprehension paragraphs, with
their figures changed (`index.synthetic`). A fixed set of reading-comprehension paragraphs is
planted once each, in articles headed by the paragraph's own title, with one of its questions:
their paragraphs are never drawn as filler, so each planted answer has one home.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.loading import load_pages
from index.synthetic import ClausePool, clause_pool, new_sentence

# Chunks a page holds on average (the sample stories hold about 50 each).
CHUNKS_PER_PAGE = 50
# A chunk is about this many characters (the build's default chunk size, less its overlap).
CHUNK_CHARS = 200
CHUNK_STEP = 160
# One title in this many holds the planted paragraphs; the others feed the filler clauses.
PLANTED_TITLE_SHARE = 5
MAX_HEADLINE_CHARS = 24
MIN_HEADLINE_CHARS = 6
# Bylines are made of these: common surnames and given-name characters.
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN_CHARS = "文明华建国平安丽娟伟强军洋勇艳杰涛超秀英霞刚"
_NOT_HEADLINE = re.compile(r"[,，;；。！？!?“”\"'：:、（）()《》\[\]【】\s]")


@dataclass(frozen=True)
class PlantedQuestion:
    """A question whose answer sits in one planted paragraph of the archive."""

    question: str
    answer: str
    file: str
    headline: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Planted:
    title: str
    context: str
    question: str
    answer: str


@dataclass(frozen=True)
class ArchiveSources:
    """What pages are made of: filler clauses and the paragraphs to plant."""

    pool: ClausePool
    planted: tuple[Planted, ...]


def reading_paragraphs(reader_dir: Path) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """(title, context, [(question, answer)]) of every SQuAD-style file, in simplified
    Chinese; answers that the context does not hold verbatim are left out."""
    import opencc

    to_simplified = opencc.OpenCC("t2s")
    for path in sorted(reader_dir.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        for article in data.get("data", []):
            title = to_simplified.convert(str(article.get("title", "")))
            for paragraph in article.get("paragraphs", []):
                context = to_simplified.convert(paragraph["context"]).strip()
                pairs = []
                for qa in paragraph.get("qas", []):
                    if qa.get("is_impossible") or not qa.get("answers"):
                        continue
                    answer = to_simplified.convert(qa["answers"][0]["text"]).strip()
                    if answer and answer in context:
                        pairs.append((to_simplified.convert(qa["question"]).strip(), answer))
                yield title, context, pairs


def archive_sources(stories_dir: Path, reader_dir: Path, questions: int) -> ArchiveSources:
    """Filler clauses from the stories and most reading titles; up to `questions` planted
    paragraphs (one question each) from the others."""
    bodies = [
        block.strip()
        for page in load_pages(stories_dir).pages
        for block in re.split(r"\n\s*\n", page.text)
        if len(block.strip()) >= 40 and "\n" not in block.strip()
    ]
    planted: list[Planted] = []
    for title, context, pairs in reading_paragraphs(reader_dir):
        if _stable_int(title) % PLANTED_TITLE_SHARE:
            bodies.append(context)
            continue
        if pairs and len(planted) < questions and len(context) <= 600:
            question, answer = pairs[_stable_int(context) % len(pairs)]
            planted.append(Planted(title, context, question, answer))
    return ArchiveSources(clause_pool(bodies), tuple(planted))


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "little")


def estimated_chunks(paragraph: str) -> int:
    """How many chunks the build will cut a paragraph into (about)."""
    if len(paragraph) <= CHUNK_CHARS:
        return 1
    return 1 + -(-(len(paragraph) - CHUNK_CHARS) // CHUNK_STEP)


def write_archive(
    directory: Path,
    n_chunks: int,
    sources: ArchiveSources,
    seed: int = 0,
    prefix: str = "page",
    plant: bool = True,
) -> list[PlantedQuestion]:
    """Write pages of about `n_chunks` chunks in all into `directory`; the planted paragraphs
    are spread evenly over the pages. Returns their questions."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pages = max(1, round(n_chunks / CHUNKS_PER_PAGE))
    to_plant = list(sources.planted) if plant else []
    every = max(1, pages // max(1, len(to_plant))) if to_plant else 0
    per_page = n_chunks / pages
    questions: list[PlantedQuestion] = []
    written = 0.0
    for number in range(pages):
        name = f"{prefix}-{number:07d}_{rng.getrandbits(64):016x}.txt"
        target = per_page * (number + 1) - written
        planting = to_plant.pop(0) if to_plant and number % every == 0 else None
        text, chunks, headline = _page(sources.pool, target, planting, rng)
        (directory / name).write_text(text, "utf-8")
        written += chunks
        if planting is not None and headline:
            questions.append(PlantedQuestion(planting.question, planting.answer, name, headline))
    return questions


def _page(
    pool: ClausePool, target: float, planting: Planted | None, rng: random.Random
) -> tuple[str, int, str]:
    """One page of articles worth about `target` chunks; the planted article comes first."""
    blocks: list[str] = []
    chunks = 0
    planted_headline = ""
    if planting is not None:
        planted_headline = _headline(pool, rng, planting.title)
        paragraphs = [_paragraph(pool, rng), planting.context, _paragraph(pool, rng)]
        blocks += [planted_headline, _byline(rng), *paragraphs]
        chunks += sum(estimated_chunks(p) for p in paragraphs)
    while chunks < target:
        paragraphs = []
        for _ in range(rng.randint(3, 10)):
            paragraphs.append(_paragraph(pool, rng))
            chunks += estimated_chunks(paragraphs[-1])
            if chunks >= target:
                break
        blocks += [_headline(pool, rng), _byline(rng), *paragraphs]
    return "\n\n".join(blocks) + "\n", chunks, planted_headline


def _headline(pool: ClausePool, rng: random.Random, title: str = "") -> str:
    while True:
        text = _NOT_HEADLINE.sub("", rng.choice(pool.inner))
        text = f"{title}{text}"[:MAX_HEADLINE_CHARS]
        if len(text) >= MIN_HEADLINE_CHARS and not text[0].isdigit():
            return text


def _byline(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.randint(1, 2)))
    return f"本报记者 {rng.choice(SURNAMES)}{given}"


def _paragraph(pool: ClausePool, rng: random.Random) -> str:
    return "".join(new_sentence(rng.randint(2, 5), pool, rng) for _ in range(rng.randint(1, 4)))


def save_questions(path: Path, questions: Sequence[PlantedQuestion]) -> None:
    path.write_text(
        "".join(json.dumps(q.to_json(), ensure_ascii=False) + "\n" for q in questions), "utf-8"
    )


def load_questions(path: Path) -> list[PlantedQuestion]:
    return [
        PlantedQuestion(**json.loads(line))
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
