"""One progress bar per build stage, on stderr, shown only when asked for (`--quiet` is off).

A 30 MB story spends seconds in cleaning and a large corpus minutes in indexing: with a bar for
embedding alone an operator cannot tell a slow stage from a stuck build.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def stage_bar(desc: str, total: int, unit: str, progress: bool) -> Any:
    """A bar for one stage, counted in `unit`s; it vanishes when done, like embedding's."""
    return tqdm(
        total=total, desc=desc, unit=unit, unit_scale=True, disable=not progress, leave=False
    )


def stage_items(items: Sequence[T], desc: str, unit: str, progress: bool) -> Iterator[T]:
    """The items, counted on a bar as they are consumed."""
    with tqdm(items, desc=desc, unit=unit, disable=not progress, leave=False) as bar:
        yield from bar
