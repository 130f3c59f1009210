"""How much of a chat an answer takes: the bot's answer messages to the dev questions, counted
in screen lines before (`bot/render.py` as it was before issue 22, or at --before REV) and
after (the working tree's), collapsed as Telegram first shows them.

Usage: .venv/bin/python benchmarks/answer_message.py --index DIR [--qa FILE] [--before REV]
       [--examples N]

Lines are counted two ways: text lines (a line break is a line; an expandable block quote
shows at most its first `FOLD_LINES` lines until tapped) and phone lines (each text line
wrapped at `PHONE_COLUMNS` columns, a CJK character two columns, about a phone's message
bubble). It also checks, for every answer, that no source repeats the quoted paragraph, that
no file name or content hash reaches the reader, and that each cited paragraph number counts
within its article (against `Engine.context`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.render import FOLD_LINES, GROUP_STYLE, AnswerStyle, render_answer
from bot.texts import detect_language
from index.models import QAResult
from index.settings import Settings

BEFORE = "932bba5^"  # the last renderer before issue 22's answer message
PHONE_COLUMNS = 36  # about 18 CJK characters: a message bubble on a 6-inch phone
_HASH_NAME = re.compile(r"[0-9a-f]{16}|\.txt\b")


class _Shown(HTMLParser):
    """The message's lines as shown collapsed: (text, inside an expandable quote)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[str, bool]] = [("", False)]
        self._folded = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "blockquote":
            self._folded = any(name == "expandable" for name, _ in attrs)
            self.parts.append(("", self._folded))

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._folded = False
            self.parts.append(("", False))

    def handle_data(self, data: str) -> None:
        text, folded = self.parts[-1]
        self.parts[-1] = (text + data, folded)


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def collapsed_lines(message_html: str, wrap: int | None = None) -> int:
    """Lines the message takes before anything is tapped (wrapped at `wrap` columns)."""
    parser = _Shown()
    parser.feed(message_html)
    total = 0
    for text, folded in parser.parts:
        if not text:
            continue
        lines = text.strip("\n").split("\n")
        counts = [max(1, -(-_columns(line) // wrap)) if wrap else 1 for line in lines]
        total += min(sum(counts), FOLD_LINES) if folded else sum(counts)
    return total


def visible(message_html: str) -> str:
    parser = _Shown()
    parser.feed(message_html)
    return "".join(text for text, _ in parser.parts)


def head_render(rev: str) -> ModuleType:
    """`bot/render.py` as it was at `rev`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:bot/render.py"], capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "render_before.py"
    path.write_text(source, "utf-8")
    spec = importlib.util.spec_from_file_location("render_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def problems(engine: Any, result: QAResult, message: str) -> list[str]:
    """What breaks the issue's rules in one answer message."""
    found = []
    shown = visible(message)
    if _HASH_NAME.search(shown):
        found.append("a file name or content hash is shown")
    answer = None if result.abstained else result.answer
    if answer is not None:
        rest = shown.split(answer.text, 1)[-1]
        if answer.text in rest:
            found.append("a source repeats the quoted paragraph")
    for passage in result.passages:
        context = engine.context(passage.chunk_id, radius=0)
        if context and context.article_number(context.paragraphs[0]) != passage.article_paragraph:
            found.append(f"paragraph {passage.article_paragraph} is not counted in its article")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--qa", type=Path, default=Path("../shared/eval/stories_qa_dev.jsonl"))
    parser.add_argument("--before", default=BEFORE, help="git revision of the old renderer")
    parser.add_argument("--examples", type=int, default=2, help="messages to print")
    args = parser.parse_args()

    from index.service import load_engine  # lazy: the retrieval stack is heavy

    engine = load_engine(Settings(index_dir=args.index))
    before = head_render(args.before)
    rows = [json.loads(line) for line in args.qa.read_text("utf-8").splitlines() if line.strip()]
    counts: dict[str, list[int]] = {}
    broken: list[str] = []
    examples: list[str] = []
    for row in rows:
        question = row["question"]
        lang = detect_language(question)
        result = engine.answer(question)
        old = "\n\n".join(before.render_answer(result, lang).messages)
        group = render_answer(result, lang, GROUP_STYLE).messages[0]
        opened = render_answer(result, lang, AnswerStyle(folded=False)).messages[0]
        for name, message in (("before", old), ("after", group), ("after, open", opened)):
            counts.setdefault(f"{name}: text lines", []).append(collapsed_lines(message))
            counts.setdefault(f"{name}: phone lines", []).append(
                collapsed_lines(message, PHONE_COLUMNS)
            )
        broken.extend(f"{row['id']}: {p}" for p in problems(engine, result, group))
        if not result.abstained and len(examples) < args.examples and len(result.passages) > 2:
            examples.append(f"{question}\n\n{group}\n\n--- before, as shown:\n{visible(old)}")

    print(f"{len(rows)} dev questions ({args.qa}); collapsed message, median / max:")
    for name, values in counts.items():
        print(f"  {name:28} {statistics.median(values):5.1f} / {max(values)}")
    typical = counts["after: text lines"]
    print(f"  answers of at most 5 text lines after: {sum(v <= 5 for v in typical)}/{len(rows)}")
    print(f"rule breaks: {len(broken)}")
    for line in broken:
        print(f"  {line}")
    for example in examples:
        print(f"\n--- example: question, then the HTML sent to Telegram\n{example}")


if __name__ == "__main__":
    main()
