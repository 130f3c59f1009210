"""Write the reader's held-out articles as a QA set over story files, like CMRC trial's folder.

Usage: .venv/bin/python benchmarks/heldout_set.py [--data ../shared/data/reader] [--out DIR]
       .venv/bin/python benchmarks/heldout_set.py --english-pairs [--out var/eval/heldout_en]

`newsqa reader train` holds out whole articles of DRCD and ChineseSquad (same split, same
seed). Written as stories (`title`, blank line, paragraph) with a `qa.jsonl`, they make a
second outside benchmark for `newsqa eval --docs DIR --qa DIR/qa.jsonl`: open retrieval over
paragraphs no training step saw, with ChineseSquad's unanswerable questions for abstention and
code-switched copies (`lang: en-cs`) for English questions over Chinese paragraphs. With
`--english-pairs`: SQuAD 2.0's real English questions (`lang: en`) over the held-out articles'
Chinese paragraphs, answerable and unanswerable, as training filters them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.reader.data import (
    Example,
    load_english_pairs,
    load_squad,
    split_by_group,
    with_code_switching,
    with_unit_answers,
)
from index.reader.train import TrainSettings


def held_out(data: Path, settings: TrainSettings) -> list[Example]:
    drcd = [
        *load_squad(data / "DRCD_dev.json", traditional=True),
        *load_squad(data / "DRCD_test.json", traditional=True),
    ]
    squad = list(load_squad(data / "chinese_squad_2.0_dev_zh.json"))
    _, held_drcd = split_by_group(drcd, settings.held_out, settings.seed)
    _, held_squad = split_by_group(squad, settings.held_out, settings.seed)
    return list(with_unit_answers(held_drcd + held_squad))


def held_out_english(data: Path, settings: TrainSettings) -> list[Example]:
    """The English pairs of the held-out ChineseSquad articles (never trained on)."""
    squad = list(load_squad(data / "chinese_squad_2.0_dev_zh.json"))
    _, held_squad = split_by_group(squad, settings.held_out, settings.seed)
    groups = {e.group for e in held_squad}
    path = data / "squad2_dev_en_over_zh.json"
    pairs = load_english_pairs(path, settings.english_pair_min_cosine)
    return list(with_unit_answers(e for e in pairs if e.group in groups))


def write_set(
    examples: list[Example], out: Path, seed: int, code_switched: bool = True, lang: str = "zh"
) -> int:
    stories = out / "stories"
    stories.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for example in examples:
        if example.context not in files:
            name = f"{len(files):04d}.txt"
            files[example.context] = name
            (stories / name).write_text(f"{example.group}\n\n{example.context}\n", "utf-8")
    rows = [(e, lang) for e in examples]
    if code_switched:
        english = [e for e in with_code_switching(examples, 1.0, seed + 1) if e.answerable]
        rows += [(e, "en-cs") for e in english]
    with (out / "qa.jsonl").open("w", encoding="utf-8") as qa:
        for example, lang in rows:
            row = {
                "id": example.id,
                "question": example.question,
                "answers": list(example.answers),
                "file": files[example.context],
                "lang": lang,
            }
            qa.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/reader"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--english-pairs", action="store_true", help="real English questions")
    args = parser.parse_args()
    settings = TrainSettings(data_dir=args.data, cmrc_dir=Path(), work_dir=Path(), out_dir=Path())
    if args.english_pairs:
        examples = held_out_english(args.data, settings)
        out = args.out or Path("var/eval/heldout_en")
        count = write_set(examples, out, settings.seed, code_switched=False, lang="en")
    else:
        examples = held_out(args.data, settings)
        out = args.out or Path("var/eval/heldout")
        count = write_set(examples, out, settings.seed)
    args.out = out
    print(f"{count} questions over {len({e.context for e in examples})} stories in {args.out}")


if __name__ == "__main__":
    main()
