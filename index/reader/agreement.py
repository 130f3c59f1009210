"""Chinese questions under `auto`: the rule extractor and the reader, each checking the other.

The rules were written on news questions and know their conventions (units, 余, counted
nouns); on questions nobody wrote them for they pick a wrong span or refuse answerable ones.
The reader is the other way round. So the rules' highlight stands when the reader also ranks
it among its best spans; otherwise the reader answers; and when the rules find nothing, the
reader answers only when it is surer than it must be alone (the rules' silence is evidence
too). Both settings are fitted on the held-out articles by `benchmarks/answer_policies.py`
(CMRC trial and the news dev set only checked) and kept in the reader folder's rerank.json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from index.reader.readings import Reading
from index.reader.rerank import RERANK_FILE

_SPACE = re.compile(r"\s+")


class Verdict(Enum):
    RULES = "rules"
    READER = "reader"
    ABSTAIN = "abstain"


@dataclass(frozen=True)
class Agreement:
    # How many of the reader's best spans the rules' highlight must be among to stand.
    top: int
    # With no rules answer, the least margin (span over no-answer) the reader answers with.
    silent_margin: float

    def settle(self, rules_highlight: str | None, reading: Reading) -> Verdict:
        """Whose answer the user gets, or none."""
        if rules_highlight is not None:
            wanted = _squash(rules_highlight)
            if any(_squash(span.text) == wanted for span in reading.ranked[: self.top]):
                return Verdict.RULES
            return Verdict.READER if reading.answer is not None else Verdict.ABSTAIN
        if reading.answer is not None and reading.margin >= self.silent_margin:
            return Verdict.READER
        return Verdict.ABSTAIN

    def to_json(self) -> dict[str, float]:
        return {"top": self.top, "silent_margin": self.silent_margin}


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def unfitted(abstain_margin: float) -> Agreement:
    """Without fitted settings: the rules' highlight stands among the reader's 10 best, and the
    reader's own margin applies alone."""
    return Agreement(top=10, silent_margin=abstain_margin)


def load_agreement(folder: Path) -> Agreement | None:
    """The settings fitted for the reader in `folder` (its rerank.json), if any."""
    path = folder / RERANK_FILE
    fitted = json.loads(path.read_text("utf-8")).get("agreement") if path.exists() else None
    if not fitted:
        return None
    return Agreement(top=int(fitted["top"]), silent_margin=float(fitted["silent_margin"]))
