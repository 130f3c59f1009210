"""Articles → chunks on Chinese sentence boundaries, each chunk knowing its headline and place."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from index.models import Article, Chunk

# Sentence ends first, then clause marks; ASCII punctuation appears in these layouts too.
SENTENCE_SEPARATORS: tuple[str, ...] = (
    "\n",
    "。",
    "！",
    "？",
    "!",
    "?",
    "；",
    ";",
    "…",
    "，",
    ",",
    "、",
    "",
)

# Runs of spaces, tabs, ideographic and no-break spaces; not line breaks.
SPACES = re.compile(r"[^\S\n]+")


def chunk_id(file: str, article_index: int, position: int, text: str) -> str:
    """Short stable id (fits Telegram's 64-byte callback_data with room to spare)."""
    digest = hashlib.sha1(f"{file}\x00{article_index}\x00{position}\x00{text}".encode())
    return digest.hexdigest()[:16]


def make_splitter(chunk_size: int, chunk_overlap: int) -> object:
    """A RecursiveCharacterTextSplitter that keeps each separator at the end of its sentence."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=list(SENTENCE_SEPARATORS),
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        keep_separator="end",
        strip_whitespace=True,
    )


def chunk_article(article: Article, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split paragraph by paragraph so every chunk cites the paragraph it starts in."""
    splitter = make_splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for paragraph in article.paragraphs:
        pieces: Sequence[str] = splitter.split_text(paragraph.text)  # type: ignore[attr-defined]
        for piece in pieces:
            text = piece.strip()
            if not text:
                continue
            position = len(chunks)
            chunks.append(
                Chunk(
                    id=chunk_id(article.file, article.index, position, text),
                    file=article.file,
                    article_index=article.index,
                    headline=article.headline,
                    paragraph=paragraph.number,
                    position=position,
                    text=text,
                )
            )
    return chunks


def chunk_articles(articles: Iterable[Article], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    return [c for a in articles for c in chunk_article(a, chunk_size, chunk_overlap)]


def retrieval_text(chunk: Chunk, lead: str = "") -> str:
    """What is embedded and indexed: headline and lead give the chunk its place and topic.
    Spaces of any width and length read as one plain space (the chunk keeps them as written)."""
    context = " ".join(part for part in (chunk.headline, lead) if part)
    text = f"{context}\n{chunk.text}" if context else chunk.text
    return SPACES.sub(" ", text)
