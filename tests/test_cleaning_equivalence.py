"""The near-linear cleaning gives exactly what the quadratic one gave, step by step.

`cleaning_before_issue8` is the former module verbatim. Each step issue 8 rewrote (joining
wrapped lines, repairing cut paragraphs, crossed headlines, dedupe with containment, repeated
sentences) is run, new and former, on what the page's earlier steps made of it, so a deliberate
change to another step of the cleaning does not hide or fake a difference (joined lines are
compared up to their spaces, which issue 9 keeps as written). Pages: the real
stories, large synthetic pages built from them, and random pages crowded with the quirks the
rewritten steps handle (cut paragraphs, notes and closing quotes at the cut, Latin words
across a wrap, fragments of other paragraphs).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from index import cleaning
from index.containment import contained_keys_pairwise
from index.loading import load_pages
from index.models import Page
from index.synthetic import synthetic_page
from tests import cleaning_before_issue8 as before

STORIES = Path(__file__).parents[1].parent / "shared" / "stories"
SPACES = re.compile(r"\s+")

Plain = list[tuple[str, str, list[tuple[int, str, str]]]]


def former_piece(piece: cleaning.Piece) -> before.Piece:
    return before.Piece(piece.number, piece.text, before.Role(piece.role.value))


def former_drafts(drafts: Sequence[cleaning.Draft]) -> list[before.Draft]:
    return [
        before.Draft(d.headline, d.byline, tuple(former_piece(p) for p in d.pieces)) for d in drafts
    ]


def plain_pieces(pieces: Sequence[cleaning.Piece | before.Piece]) -> list[tuple[int, str, str]]:
    return [(p.number, p.text, p.role.value) for p in pieces]


def plain(drafts: Sequence[cleaning.Draft | before.Draft]) -> Plain:
    return [(d.headline, d.byline, plain_pieces(d.pieces)) for d in drafts]


def assert_cleans_as_before(page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rewritten step, new and former, on the same input; then the page as a whole."""
    blocks = cleaning.split_blocks(page.text)
    former_blocks = before.split_blocks(page.text)
    # One deliberate change since (issue 9): spaces inside a line stay as written for quotes,
    # where the former step collapsed each run of them into one.
    assert [(b.number, SPACES.sub(" ", b.text), b.level) for b in blocks] == [
        (b.number, b.text, b.level) for b in former_blocks
    ]
    cut: list[list[cleaning.Piece]] = []  # what each article's break repair was given
    repair = cleaning.repair_breaks

    def recording(pieces: Sequence[cleaning.Piece]) -> list[cleaning.Piece]:
        cut.append(list(pieces))
        return repair(pieces)

    with monkeypatch.context() as patched:
        patched.setattr(cleaning, "repair_breaks", recording)
        drafts = [cleaning.draft_article(section) for section in cleaning.split_sections(blocks)]
    for pieces in cut:
        former = before.repair_breaks([former_piece(p) for p in pieces])
        assert plain_pieces(repair(pieces)) == plain_pieces(former), page.file
    swapped = cleaning.swap_crossed_headlines(drafts)
    assert plain(swapped) == plain(before.swap_crossed_headlines(former_drafts(drafts)))
    deduped = cleaning.dedupe_pieces(swapped)
    assert plain(deduped) == plain(before.dedupe_pieces(former_drafts(swapped)))
    final = cleaning.drop_repeated_sentences(deduped)
    assert plain(final) == plain(before.drop_repeated_sentences(former_drafts(deduped)))
    articles = cleaning.split_articles(page)  # the same steps, in this order
    assert [(p.number, p.text) for a in articles for p in a.paragraphs] == [
        (p.number, p.text) for d in final for p in d.pieces
    ]


@pytest.fixture(scope="module")
def stories() -> list[Page]:
    if not STORIES.is_dir():
        pytest.skip(f"stories not found at {STORIES}")
    return load_pages(STORIES).pages


def test_real_stories_clean_as_before(stories: list[Page], monkeypatch: pytest.MonkeyPatch) -> None:
    for page in stories:
        assert_cleans_as_before(page, monkeypatch)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_pages_clean_as_before(
    stories: list[Page], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    page = synthetic_page(stories, 150_000, seed=seed)
    assert len(cleaning.split_articles(page)) > 20
    assert_cleans_as_before(page, monkeypatch)


def test_the_old_containment_gives_the_same_articles(stories: list[Page]) -> None:
    page = synthetic_page(stories, 100_000, seed=4)
    assert cleaning.split_articles(page, contained_keys_pairwise) == cleaning.split_articles(page)


# Pieces a random page is made of: words, sentence ends, cuts, notes, closing marks, spaces.
WORDS = ("西藏", "医疗", "服务", "群众", "健康", "巴宜区", "2024年", "90余场次", "Lhasa", "city")
MARKS = ("。", ",", "，", "；", "”", "）", "》", "(完)", "（记者 甲）", "  ", "?", "、", "“")
LINES = (
    "# 护航百姓健康",
    "## ——卫生健康工作综述",
    "本报记者 甲",
    "本报拉萨讯(记者 乙)",
    "▲图为义诊现场。",
    "本报记者 丙 摄",
    "第3版",
    "健康理念扎根高原",
    "### 小标题",
)


def random_text(rng: random.Random, words: int) -> str:
    return "".join(rng.choice(WORDS + MARKS) if rng.random() < 0.7 else " " for _ in range(words))


def random_page(rng: random.Random) -> Page:
    """Blocks of layout lines, wrapped body text and repeats of earlier blocks' pieces."""
    blocks: list[str] = []
    for _ in range(rng.randrange(5, 60)):
        roll = rng.random()
        if roll < 0.25:
            blocks.append(rng.choice(LINES))
        elif roll < 0.4 and blocks:
            earlier = rng.choice(blocks)
            cut = rng.randrange(len(earlier))
            blocks.append(earlier[cut:] if rng.random() < 0.5 else earlier[:cut] or earlier)
        else:
            lines = [random_text(rng, rng.randrange(1, 25)) for _ in range(rng.randrange(1, 4))]
            blocks.append("\n".join(lines))
    separator = "\n" if rng.random() < 0.1 else "\n\n"
    return Page(file="r.txt", text=separator.join(blocks) + "\n", encoding="utf-8", sha256="")


def test_random_quirky_pages_clean_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(8)
    for _ in range(400):
        assert_cleans_as_before(random_page(rng), monkeypatch)


def random_tail(rng: random.Random) -> str:
    """Text ending in the marks `ends_sentence` looks through, sometimes many of them."""
    text = random_text(rng, rng.randrange(0, 8))
    longest_note, too_long = "（记者 甲乙丙丁戊己庚辛）", "（记者 甲乙丙丁戊己庚辛壬）"
    endings = ("", " ", "”", "）", "(完)", longest_note, too_long, "。", "\n", "(", ")")
    ending = rng.choice(endings)
    return text + ending * rng.choice((1, 1, 2, 40))


def test_ends_sentence_matches_the_regex_version() -> None:
    rng = random.Random(5)
    for _ in range(5000):
        text = random_tail(rng)
        assert cleaning.ends_sentence(text) == before.ends_sentence(text), repr(text)


def test_texts_end_sentence_reads_the_tail_of_the_joined_texts() -> None:
    rng = random.Random(6)
    for _ in range(3000):
        texts = [random_tail(rng) for _ in range(rng.randrange(1, 12))]
        joined = cleaning.join_cut_texts(texts)
        assert cleaning.texts_end_sentence(texts) == before.ends_sentence(joined), texts


@pytest.mark.parametrize("closers", [cleaning.TAIL_CHARS, cleaning.TAIL_CHARS + 5])
def test_texts_end_sentence_looks_past_a_tail_of_closing_marks(closers: int) -> None:
    # The last TAIL_CHARS characters are all closing marks: what decides lies before them.
    assert cleaning.texts_end_sentence(["甲", "）" * closers]) is False
    assert cleaning.texts_end_sentence(["甲。", "）" * closers]) is True
    assert cleaning.texts_end_sentence(["甲", "乙", "）" * closers]) is False


def test_join_cut_texts_glues_like_joining_two_at_a_time() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        texts = [rng.choice(("", "a", "B1", "城市", "x城", "城y ", " z")) for _ in range(5)]
        expected = texts[0]
        for text in texts[1:]:
            expected = before.join_cut_text(expected, text)
        assert cleaning.join_cut_texts(texts) == expected, texts


def test_match_key_keeps_what_isalnum_keeps_for_every_code_point() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert cleaning.match_key(every) == before.match_key(every)


def test_headline_affinity_counts_shared_pairs_short_and_long_headings() -> None:
    body = "日喀则市卫生健康工作综述,护航百姓健康。" * 3
    rng = random.Random(9)
    long_heading = "".join(rng.choice(WORDS) + rng.choice(MARKS) for _ in range(80))
    for heading in ("护航百姓健康", "筑牢绿色屏障 释放生态红利", long_heading):
        pairs = cleaning.char_bigrams(heading)
        assert cleaning.headline_affinity(
            pairs, cleaning.match_key(body)
        ) == before.headline_affinity(heading, body)
    assert len(cleaning.char_bigrams(long_heading)) > cleaning.MAX_SCANNED_PAIRS


def test_a_story_without_sentence_ends_cleans_in_linear_time() -> None:
    # 1 MB of lines that never end a sentence: one paragraph rejoined from 20,000 cuts. The
    # former cleaning took 40 s here (each cut copied and rescanned the paragraph so far).
    lines = [f"第{i}段没有句末标点的文字，内容继续写下去，" for i in range(20_000)]
    page = Page(file="x.txt", text="\n".join(lines), encoding="utf-8", sha256="")
    started = time.perf_counter()
    (article,) = cleaning.split_articles(page)
    assert time.perf_counter() - started < 5
    assert len(article.paragraphs) == 1
    assert article.paragraphs[0].text.startswith("第0段") and "第19999段" in article.text
