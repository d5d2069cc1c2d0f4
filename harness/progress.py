"""Progress bars for long generations, drawn where a person will see them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

MIN_TOTAL_FOR_BAR = 2
"""A single request gets no bar; anything longer does."""


@contextmanager
def plain_progress(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on stderr (library use, outside pytest)."""
    with tqdm(total=total, desc=description, disable=total < MIN_TOTAL_FOR_BAR, file=sys.stderr) as bar:
        yield bar.update


@contextmanager
def no_progress(total: int, description: str) -> Iterator[Callable[[int], None]]:
    yield lambda n: None
