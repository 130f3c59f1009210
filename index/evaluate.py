"""`newsqa eval`: score newsqa and the naive recipe side by side on a QA set, in one run.

Metric definitions follow ../shared/eval/README.md. Highlight exact: the highlight contains the
gold answer and is at most max(2·len(gold), len(gold)+8) characters long.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.build import build_generation
from index.embedding import Embedder, embedder_for
from index.errors import InputError
from index.loading import load_pages
from index.models import AnswerSpan, Passage, QAResult, Source
from index.question import QuestionType, classify_question, to_simplified
from index.reader.metrics import best_over, highlight_exact, length_bucket, squash
from index.service import load_engine
from index.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]  # empty when no story answers it
    file: str | None
    lang: str
    kind: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read_qa(path: Path) -> list[QAItem]:
    """The QA set, one JSON object a line (split on \\n only); a line that is not UTF-8, not
    JSON, or lacks an id or a question is an InputError naming the file and the line."""
    items: list[QAItem] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
            if not line.strip():
                continue
            items.append(_qa_item(json.loads(line)))
        except UnicodeDecodeError as exc:
            why = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
            raise InputError(f"{path} line {number}: {why}") from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {number}: not JSON ({exc.msg})") from exc
        except KeyError as exc:
            raise InputError(f"{path} line {number}: no {exc.args[0]!r} field") from exc
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path} line {number}: {exc}") from exc
    return items


def _qa_item(row: Any) -> QAItem:
    if not isinstance(row, dict):
        raise TypeError("not a JSON object")
    answers = row.get("answers") or ([row["answer"]] if row.get("answer") else [])
    return QAItem(
        id=str(row["id"]),
        question=str(row["question"]),
        answers=tuple(str(a) for a in answers),
        file=row.get("file"),
        lang=str(row.get("lang", "zh")),
        kind=str(row.get("kind", "other" if answers else "unanswerable")),
    )


_PUNCTUATION = re.compile(r"[\s\W_]+")


def highlight_strict(highlight: str | None, answers: Sequence[str]) -> bool:
    """The bold is the fact: equal to a gold answer up to punctuation and whitespace."""
    if not highlight:
        return False
    flat = _PUNCTUATION.sub("", highlight)
    return any(flat == _PUNCTUATION.sub("", answer) for answer in answers)


_COMPARISON = re.compile(
    r"哪个(?:更)?[多少高低大小长短早晚快慢]|谁(?:更)?[多少高低大小]|更[多少高低大小]|最[多少高低大小]|"
    r"\b(?:more|less|fewer|higher|lower|larger|smaller|most|least|bigger)\b",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"哪些|哪几|哪[一二三四五六七八九十两\d]+[个样项种类家条方面]|有什么|包括什么|"
    r"\bwhich \w+s\b|\bwhat are\b",
    re.IGNORECASE,
)
_WHY_HOW = re.compile(
    r"为什么|为何|如何|怎样|怎么|通过什么|什么措施|什么办法|从.+到|"
    r"\bwhy\b|\bhow (?!many|much|long|old|far)",
    re.IGNORECASE,
)
_PERSON = re.compile(r"谁|哪位|\bwho(?:m|se)?\b", re.IGNORECASE)
_KIND_OF_TYPE = {
    QuestionType.NUMBER: "count",
    QuestionType.DATE: "date",
    QuestionType.PLACE: "place",
}


def question_kind(question: str) -> str:
    """count, date, person, place, list, why/how, comparison or other: the kinds whose answers
    are bolded differently."""
    if _COMPARISON.search(question):
        return "comparison"
    if _LIST.search(question):
        return "list"
    if _WHY_HOW.search(question):
        return "why/how"
    if _PERSON.search(question):
        return "person"
    return _KIND_OF_TYPE.get(classify_question(to_simplified(question)), "other")


def contains_any(text: str, answers: Iterable[str]) -> bool:
    flat = squash(text)
    return any(squash(a) in flat for a in answers)


@dataclass
class Scores:
    """Counts behind every figure of one system on one QA set."""

    name: str
    answerable: int = 0
    unanswerable: int = 0
    answer_at_1: int = 0
    highlight: int = 0
    hit_at_1: int = 0
    hit_at_3: int = 0
    hit_at_5: int = 0
    abstained_unanswerable: int = 0
    abstained_answerable: int = 0
    by_lang: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # question kind -> [answer@1, highlight exact, highlight strict, false abstention, questions]
    by_kind: dict[str, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0, 0])
    )
    # unanswerable kind (unanswerable, swap:place, ...) -> [abstained, questions]
    by_refusal: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    strict: int = 0
    # gold-length bucket -> [highlight exact, highlight EM, highlight F1, questions]
    by_length: dict[str, list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    )
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, item: QAItem, result: QAResult) -> dict[str, Any]:
        self.latencies_ms.append(result.elapsed_ms)
        if not item.answerable:
            self.unanswerable += 1
            self.abstained_unanswerable += int(result.abstained)
            refusal = self.by_refusal[item.kind]
            refusal[0] += int(result.abstained)
            refusal[1] += 1
            return {"abstained": result.abstained}
        self.answerable += 1
        ok = (
            not result.abstained
            and result.answer is not None
            and result.answer.source.file == item.file
            and contains_any(result.answer.text, item.answers)
        )
        hl = bool(
            not result.abstained
            and result.answer is not None
            and highlight_exact(result.answer.highlight, item.answers)
        )
        hits = [p.file == item.file and contains_any(p.text, item.answers) for p in result.passages]
        highlight = result.answer.highlight if result.answer and not result.abstained else None
        strict = highlight_strict(highlight, item.answers)
        self.strict += int(strict)
        kind = self.by_kind[question_kind(item.question)]
        for at, value in enumerate((ok, hl, strict, result.abstained, True)):
            kind[at] += int(value)
        em, f1 = best_over(item.answers, highlight or "")
        for bucket in ("all", length_bucket(min(item.answers, key=len))):
            row = self.by_length[bucket]
            row[0] += float(hl)
            row[1] += em
            row[2] += f1
            row[3] += 1
        self.answer_at_1 += int(ok)
        self.highlight += int(hl)
        self.hit_at_1 += int(any(hits[:1]))
        self.hit_at_3 += int(any(hits[:3]))
        self.hit_at_5 += int(any(hits[:5]))
        self.abstained_answerable += int(result.abstained)
        lang = self.by_lang[item.lang]
        lang[0] += int(ok)
        lang[1] += 1
        return {"answer_ok": ok, "highlight_ok": hl, "hit@3": any(hits[:3])}

    def rows(self) -> dict[str, str]:
        def rate(n: int, d: int) -> str:
            return f"{n / d:.3f} ({n}/{d})" if d else "n/a"

        out = {"answer@1": rate(self.answer_at_1, self.answerable)}
        for lang in sorted(self.by_lang):
            ok, total = self.by_lang[lang]
            out[f"answer@1 [{lang}]"] = rate(ok, total)
        out["highlight exact"] = rate(self.highlight, self.answerable)
        out["highlight strict"] = rate(self.strict, self.answerable)
        for bucket in ("<=6", "7-15", ">15"):
            exact, _, _, n = self.by_length.get(bucket, [0.0, 0.0, 0.0, 0.0])
            if n:
                out[f"highlight exact [gold {bucket}]"] = rate(int(exact), int(n))
        for bucket in ("all", "<=6", "7-15", ">15"):
            _, em, f1, n = self.by_length.get(bucket, [0.0, 0.0, 0.0, 0.0])
            if n:
                name = "highlight EM / F1" + ("" if bucket == "all" else f" [gold {bucket}]")
                out[name] = f"{em / n:.3f} / {f1 / n:.3f}"
        out["passages hit@1"] = rate(self.hit_at_1, self.answerable)
        out["passages hit@3"] = rate(self.hit_at_3, self.answerable)
        out["passages hit@5"] = rate(self.hit_at_5, self.answerable)
        out["abstention (unanswerable)"] = rate(self.abstained_unanswerable, self.unanswerable)
        out["false abstention"] = rate(self.abstained_answerable, self.answerable)
        for kind in sorted(self.by_refusal):
            if kind != "unanswerable" or len(self.by_refusal) > 1:
                abstained, n = self.by_refusal[kind]
                out[f"abstention [{kind}]"] = rate(abstained, n)
        for kind in sorted(self.by_kind):
            ok, exact, strict, refused, n = self.by_kind[kind]
            out[f"[{kind}] answer@1 / exact / strict"] = (
                f"{ok / n:.2f} / {exact / n:.2f} / {strict / n:.2f} ({n})"
            )
            if refused:
                out[f"[{kind}] false abstention"] = rate(refused, n)
        if self.latencies_ms:
            lat = np.array(self.latencies_ms)
            out["latency p50/p95 ms"] = (
                f"{np.percentile(lat, 50):.1f} / {np.percentile(lat, 95):.1f}"
            )
        return out


def format_table(systems: Sequence[Scores]) -> str:
    rows = [s.rows() for s in systems]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    width = max(len(k) for k in keys) + 2
    cells = [r.get(k, "n/a") for r in rows for k in keys]
    column = max(22, *(len(s.name) + 2 for s in systems), *(len(c) + 2 for c in cells))
    header = "metric".ljust(width) + "".join(s.name.ljust(column) for s in systems)
    lines = [header, "-" * len(header)]
    for key in keys:
        lines.append(key.ljust(width) + "".join(r.get(key, "n/a").ljust(column) for r in rows))
    return "\n".join(lines)


class NaiveBaseline:
    """The common recipe: 500/50 character chunks of raw files, FAISS, e5; top chunk = answer."""

    name = "naive baseline"

    def __init__(self, docs_dir: Path, embedder: Embedder, top_k: int = 5) -> None:
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        self._chunks: list[tuple[str, str]] = []
        for page in load_pages(docs_dir).pages:
            self._chunks += [(page.file, t) for t in splitter.split_text(page.text)]
        vectors = embedder.embed_passages([t for _, t in self._chunks])
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        self._index.add(vectors)
        self._embedder = embedder
        self._top_k = top_k

    def answer(self, question: str) -> QAResult:
        started = time.perf_counter()
        query = self._embedder.embed_queries([question])
        scores, ids = self._index.search(query, self._top_k)
        passages = tuple(
            Passage(
                chunk_id=str(i),
                text=self._chunks[i][1],
                file=self._chunks[i][0],
                article="",
                paragraph=0,
                score=float(s),
            )
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        )
        top = passages[0]
        return QAResult(
            question=question,
            abstained=False,
            answer=AnswerSpan(text=top.text, highlight=None, source=Source(top.file, "", 0)),
            passages=passages,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )


class _WithinGoldFile:
    """Reading comprehension: the engine reads only the gold story of each question."""

    def __init__(self, engine: Any, items: Sequence[QAItem]) -> None:
        self._engine = engine
        self._files = {item.question: item.file for item in items}

    def answer(self, question: str) -> QAResult:
        result: QAResult = self._engine.answer(question, within_file=self._files.get(question))
        return result


def run_evaluation(
    settings: Settings,
    qa_path: Path,
    baseline: bool = True,
    details_path: Path | None = None,
    reading: bool = False,
) -> str:
    """Build a throwaway index from settings.docs_dir, answer every question, print the table.

    Beside newsqa run, in the same process: the rule extractor (the answer stage the reader
    replaced) and, in open retrieval, the naive recipe. With `reading`, each question is read
    within its gold story only (reading comprehension, no retrieval errors).
    """
    items = read_qa(qa_path)
    if reading:
        items = [i for i in items if i.answerable and i.file]
    embedder = embedder_for(settings)
    with tempfile.TemporaryDirectory(prefix="newsqa-eval-") as tmp:
        eval_settings = settings.model_copy(update={"index_dir": Path(tmp) / "index"})
        summary = build_generation(eval_settings, progress=False, embedder=embedder)
        engine = load_engine(eval_settings, embedder=embedder)
        systems: list[tuple[Scores, Any]] = [(Scores("newsqa"), engine)]
        if baseline and settings.answerer != "rules":
            rules = load_engine(eval_settings.model_copy(update={"answerer": "rules"}), embedder)
            systems.append((Scores("rules (baseline)"), rules))
        if reading:
            systems = [(s, _WithinGoldFile(e, items)) for s, e in systems]
        elif baseline:
            systems.append((Scores(NaiveBaseline.name), NaiveBaseline(settings.docs_dir, embedder)))
        details: list[dict[str, Any]] = []
        # The same answers before the constraint check withheld any (index.constraints): what
        # the check changes, measured in the same run.
        unchecked = Scores("newsqa, no constraint check")
        for scores, system in systems:
            for item in items:
                result = system.answer(item.question)
                verdict = scores.add(item, result)
                if scores.name == "newsqa" and settings.check_constraints:
                    unchecked.add(item, without_constraint_check(result))
                if scores.name == "newsqa":
                    details.append(
                        {
                            "id": item.id,
                            "question": item.question,
                            "gold": list(item.answers),
                            "file": item.file,
                            "kind": item.kind,
                            "lang": item.lang,
                            **verdict,
                            "result": result.to_json(),
                        }
                    )
    if details_path:
        details_path.write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in details), "utf-8"
        )
    mode = "reading comprehension (gold story given)" if reading else "open retrieval"
    head = (
        f"{qa_path.name}: {len(items)} questions "
        f"({sum(i.answerable for i in items)} answerable) over {summary.stories} stories, "
        f"{summary.chunks} chunks, embedder {embedder.id}, answerer {settings.answerer}, {mode}"
    )
    shown = [s for s, _ in systems]
    if settings.check_constraints:
        shown.insert(1, unchecked)
    return head + "\n" + format_table(shown)


def without_constraint_check(result: QAResult) -> QAResult:
    """The answer as it was before the constraint check withheld it (itself otherwise)."""
    if result.nearest is None:
        return result
    return replace(result, abstained=False, answer=result.nearest, nearest=None, differs=())
