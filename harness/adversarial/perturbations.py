"""Seeded, label-preserving perturbations of a customer's message: what real users type, not attacks.

A router that changes its answer when "my card hasn't arrived" becomes "my card hasnt arived" or "MY CARD
HASN'T ARRIVED" is brittle, however accurate it is on clean text. Each perturbation keeps the words that
carry the intent (typos touch at most one word in six, never the first letter), and each is a pure
function of (text, seed): `seed_for(case_id, kind)` gives every case its own fixed seed, so the same
frozen case always yields the same perturbed text, on any machine and in any order.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable

KINDS: tuple[str, ...] = ("typo", "casing", "whitespace", "punctuation", "paraphrase")
WORDS_PER_TYPO = 6  # one typo per this many eligible words (at least one, at most MAX_TYPOS)
MAX_TYPOS = 3
MIN_TYPO_WORD = 4  # shorter words ("pin", "atm") are left alone: one wrong letter can make them another word

# Neighbouring keys on a QWERTY keyboard: the substitution a hurried thumb makes.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours(rows: tuple[str, ...]) -> dict[str, str]:
    """Each key's left, right, upper and lower neighbours (rows aligned at their first key)."""
    near: dict[str, str] = {}
    for r, row in enumerate(rows):
        for i, key in enumerate(row):
            spots = [(r, i - 1), (r, i + 1), (r - 1, i), (r + 1, i)]
            near[key] = "".join(rows[y][x] for y, x in spots if 0 <= y < len(rows) and 0 <= x < len(rows[y]))
    return near


_NEIGHBOURS = _neighbours(_ROWS)
_WORD = re.compile(r"[A-Za-z]+")
PARAPHRASES: tuple[str, ...] = (
    "Hi, quick question: {q}",
    "{q}? thanks",
    "Hello! {q}",
    "{q} Thanks in advance.",
    "Sorry to bother you, {q}",
    "Good morning. {q}",
    "{q} Cheers!",
    "I need some help please. {q}",
)


def seed_for(case_id: str, salt: str = "") -> int:
    """A stable 64-bit seed from a case id (Python's `hash` is salted per process, so it is not used)."""
    return int.from_bytes(hashlib.sha256(f"{case_id}\x00{salt}".encode()).digest()[:8], "big")


def perturb(text: str, kind: str, seed: int) -> str:
    """`text` perturbed by `kind` (one of KINDS), reproducibly from `seed`."""
    try:
        apply = _PERTURBATIONS[kind]
    except KeyError:
        raise ValueError(f"unknown perturbation {kind!r}: use one of {', '.join(KINDS)}") from None
    return apply(text, random.Random(seed))


def typo(text: str, rng: random.Random) -> str:
    """Adjacent-character swaps, dropped letters and neighbouring-key slips, in distinct words of at
    least MIN_TYPO_WORD letters, never on a word's first letter (which readers, and tokenizers, lean on)."""
    words = [m for m in _WORD.finditer(text) if len(m.group()) >= MIN_TYPO_WORD]
    if not words:
        return text
    count = min(MAX_TYPOS, max(1, len(words) // WORDS_PER_TYPO))
    chars = list(text)
    for match in sorted(rng.sample(words, count), key=lambda m: m.start(), reverse=True):
        start, word = match.start(), match.group()
        chars[start : start + len(word)] = _slip(word, rng)
    return "".join(chars)


def _slip(word: str, rng: random.Random) -> str:
    swappable = [i for i in range(1, len(word) - 1) if word[i] != word[i + 1]]
    kinds = ["drop", "key"] + (["swap"] if swappable else [])
    kind = rng.choice(kinds)
    if kind == "swap":
        i = rng.choice(swappable)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    i = rng.randrange(1, len(word))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    near = _NEIGHBOURS.get(word[i].lower(), "") or "e"
    key = rng.choice(near)
    return word[:i] + (key.upper() if word[i].isupper() else key) + word[i + 1 :]


def casing(text: str, rng: random.Random) -> str:
    """ALL CAPS, all lower, Title Case or rAnDoM case; never the text unchanged."""
    options: list[Callable[[str], str]] = [
        str.upper, str.lower, str.title,
        lambda t: "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in t),
    ]  # fmt: skip
    rng.shuffle(options)
    return next((out for option in options if (out := option(text)) != text), text.swapcase())


def whitespace(text: str, rng: random.Random) -> str:
    """Doubled spaces, tabs and stray newlines between words and around the message; the words and their
    order are untouched."""
    words = text.split()
    if not words:
        return text + " "
    gaps = ["  ", "   ", "\t", " \n", "\n\n"]
    spaced = "".join(word + (rng.choice(gaps) if rng.random() < 0.4 else " ") for word in words[:-1]) + words[-1]
    return rng.choice(["", " ", "\n", "  \t"]) + spaced + rng.choice(["  ", "\n", " \n\n", "\t"])


def punctuation(text: str, rng: random.Random) -> str:
    """No punctuation at all, or a trailing "???", "!!" or "..." instead of the message's own: letters
    and digits are untouched; never the text unchanged."""
    bare = " ".join(re.sub(r"[^\w\s]", "", text).split())
    trimmed = text.rstrip(" .?!")
    options = [bare, trimmed + "???", trimmed + "!!", trimmed + "...", bare + " ?"]
    rng.shuffle(options)
    return next(out for out in options if out != text)


def paraphrase(text: str, rng: random.Random) -> str:
    """The message inside a polite frame ("Hi, quick question: …", "…? thanks"); the message itself is
    kept word for word (trailing "?" or "." merged into the frame's own)."""
    template = rng.choice(PARAPHRASES)
    core = text.strip()
    if template.startswith("{q}?"):
        core = core.rstrip("?.! ")
    return template.format(q=core)


_PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "typo": typo,
    "casing": casing,
    "whitespace": whitespace,
    "punctuation": punctuation,
    "paraphrase": paraphrase,
}
