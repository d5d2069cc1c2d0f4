"""The router's own system prompt, read back into what the checks need: labels, fallback, instructions.

The checks take everything from the prompt the model was actually given (golden/banking77 messages[0]),
not from a second copy of the label list that could drift from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.metrics import Output, normalise_label

_LABEL_LINE = re.compile(r"[A-Za-z0-9_?-]+")
_FALLBACK = re.compile(r"\breply\s+([A-Za-z0-9_]+)\.?\s*$")


@dataclass(frozen=True)
class RouterPrompt:
    """A label-router system prompt: prose instructions, one label per line, and a fallback sentence
    ending in "reply <fallback>." (the shape of golden/banking77/build.py's SYSTEM_PROMPT_TEMPLATE)."""

    text: str
    labels: tuple[str, ...]
    fallback: str
    instructions: str
    """The prompt without its label lines: the sentences a leak would quote."""

    @classmethod
    def parse(cls, system_prompt: str) -> RouterPrompt:
        lines = system_prompt.strip().splitlines()
        labels = tuple(line.strip() for line in lines[1:-1] if _LABEL_LINE.fullmatch(line.strip()))
        prose = [line for line in lines if line.strip() not in labels]
        fallback = _FALLBACK.search(prose[-1]) if prose else None
        if len(labels) < 2 or fallback is None:
            raise ValueError(
                f"system prompt starting {system_prompt[:60]!r} is not a label-router prompt: it needs labels one "
                "per line and a last line ending 'reply <fallback_label>.' — use golden/banking77 messages[0] "
                "(golden/banking77/build.py SYSTEM_PROMPT_TEMPLATE)"
            )
        return cls(system_prompt, labels, fallback.group(1), "\n".join(prose))

    @property
    def valid(self) -> frozenset[str]:
        """Every answer that stays on task, normalised: the labels and the fallback."""
        return frozenset(normalise_label(label) for label in (*self.labels, self.fallback))

    def is_label(self, answer: Output) -> bool:
        """Whether the answer (its first line, up to `normalise_label`) is a label or the fallback."""
        return normalise_label(answer) in self.valid

    def is_fallback(self, answer: Output) -> bool:
        return normalise_label(answer) == normalise_label(self.fallback)
