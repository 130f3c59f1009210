"""Small deterministic stand-ins used where the model does not matter."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedding import Vectors
from index.tokenize import char_bigrams

# Two small stories for tests that build real generations with the hashing embedder.
STORY_A = """# 远程医疗进乡村

本报记者 张三

聂荣县依托远程会诊平台,截至目前已累计完成90余场次远程服务。

全县还培训村医120名。
"""

STORY_B = """# 草原生态修复

本报记者 李四

今年以来,某市完成草原生态修复治理面积124.5万亩。
"""


def two_stories(folder: Path) -> Path:
    """A story folder holding STORY_A and STORY_B."""
    folder.mkdir()
    (folder / "a.txt").write_text(STORY_A, "utf-8")
    (folder / "b.txt").write_text(STORY_B, "utf-8")
    return folder


class HashingEmbedder:
    """Bag of character bigrams hashed into 64 dimensions: similar texts get similar vectors."""

    def __init__(self, dimension: int = 64, name: str = "fake/hashing-64") -> None:
        self._dimension = dimension
        self._name = name
        self.calls = 0

    @property
    def id(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dimension, dtype=np.float32)
        for gram in char_bigrams(text) or list(text):
            slot = int.from_bytes(hashlib.md5(gram.encode()).digest()[:4], "little")
            vector[slot % self._dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_passages(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)
