"""Quotes keep the story's own characters: headlines, paragraphs, answers and passages occur
verbatim in the file they cite (after removing only the line breaks the cleaning joined),
for the sample stories as they are and typeset with full-width punctuation, ideographic,
no-break and repeated spaces, indents, a tab and CRLF line ends. Matching reads a normalised
copy of the same length, so the highlight is cut from the quoted text itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_generation
from index.cleaning import split_articles
from index.followups import read_pairs
from index.loading import load_pages
from index.question import matching_form
from index.service import load_engine
from index.settings import Settings
from tests.conftest import REPO
from tests.fakes import HashingEmbedder
from tests.quotes import occurs_verbatim, typeset

EXAMPLES = REPO / "examples" / "stories"
CANONICAL = "聂荣县远程会诊多少场"
QUESTIONS = [CANONICAL] + [
    turn.question
    for pair in read_pairs(REPO / "tests" / "data" / "followups.jsonl")
    for turn in (pair.first, pair.second)
]


@pytest.fixture(scope="module", params=["as-written", "typeset"])
def docs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample stories, or a copy typeset with spaces and punctuation of every width."""
    if request.param == "as-written":
        return EXAMPLES
    folder = tmp_path_factory.mktemp("typeset")
    for story in sorted(EXAMPLES.glob("*.txt")):
        (folder / story.name).write_bytes(typeset(story.read_text("utf-8")).encode("utf-8"))
    return folder


def originals(docs: Path) -> dict[str, str]:
    return {path.name: path.read_bytes().decode("utf-8") for path in docs.glob("*.txt")}


def test_the_typeset_copy_has_what_the_cleaning_must_keep() -> None:
    text = typeset((EXAMPLES / "001_a156c6055a039714.txt").read_text("utf-8"))
    kept = ("\u3000\u3000", "，\u00a0", "。  ", "讯\t（", "\r\n", "：", "党建搭台强根基\u3000医疗")
    for characters in kept:
        assert characters in text, repr(characters)


def test_occurs_verbatim_removes_only_joined_line_breaks() -> None:
    assert occurs_verbatim("截至目前，已累计完成", "截至目前，\r\n\u3000\u3000已累计完成")
    assert occurs_verbatim("嘉黎县麦地卡乡 利用微型党课", "嘉黎县麦地卡乡\n\n## 利用微型党课")
    assert occurs_verbatim("党建\u3000惠民", "党建\u3000惠民")
    assert not occurs_verbatim("党建 惠民", "党建\u3000惠民")  # a changed space
    assert not occurs_verbatim("党建 惠民", "党建惠民")  # a space where no line was joined
    assert not occurs_verbatim("目前,已", "目前，已")  # changed punctuation
    assert not occurs_verbatim("第二段 尾", "第二段  尾")  # a collapsed run of spaces


def test_matching_form_keeps_every_offset() -> None:
    text = "那曲市聂荣縣：党建\u3000搭台\u00a0强根基\t医疗  服务\n惠民生"
    form = matching_form(text)
    assert len(form) == len(text)
    assert form == "那曲市聂荣县：党建 搭台 强根基 医疗  服务\n惠民生"


def test_headlines_and_paragraphs_occur_verbatim(docs: Path) -> None:
    files = originals(docs)
    pages = load_pages(docs).pages
    assert len(pages) == len(files) == 5
    checked = 0
    for page in pages:
        for article in split_articles(page):
            texts = [article.headline, *(p.text for p in article.paragraphs)]
            for text in filter(None, texts):
                assert occurs_verbatim(text, files[page.file]), (page.file, text)
                checked += 1
    assert checked > 200


def test_answers_and_passages_quote_the_files(docs: Path, tmp_path: Path) -> None:
    settings = Settings(docs_dir=docs, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_generation(settings, embedder=HashingEmbedder())
    engine = load_engine(settings, embedder=HashingEmbedder())
    files = originals(docs)
    answered = 0
    for question in QUESTIONS:
        result = engine.answer(question)
        for passage in result.passages:
            assert occurs_verbatim(passage.text, files[passage.file]), (question, passage.text)
        if result.answer is None:
            continue
        answered += 1
        quote, highlight = result.answer.text, result.answer.highlight
        source = result.answer.source
        assert occurs_verbatim(quote, files[source.file]), (question, quote)
        assert not source.article or occurs_verbatim(source.article, files[source.file])
        assert highlight is None or highlight in quote, (question, highlight, quote)
    assert answered >= len(QUESTIONS) // 2
    canonical = engine.answer(CANONICAL).answer
    assert canonical is not None and canonical.highlight == "90余场次"
