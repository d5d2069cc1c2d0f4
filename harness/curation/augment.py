"""Stage 10, augmentation: synthetic training rows made from the train split only, off unless enabled.

A router trained on clean queries alone misroutes a typo, a polite frame, an e-mail or a JSON wrapper
around a query it knows, and has never seen a message with nothing in it. A small share of variants
(10% by default) teaches what those changes do not change; done carelessly it poisons the data or the
evaluation. So:
- sources are train rows, after the split: val and test stay real rows, never a variant of a train row;
- the transforms are written here, independently of harness.adversarial, with their own seeds: the
  adversarial suite then measures generalisation to perturbations the model never saw, not recall;
- every candidate is checked against the golden cases and the adversarial probes (leakage.LeakFinder),
  against the val/test texts and against the schema's length bounds; one that fails is rejected, logged
  in rejected.jsonl with what it matched, and replaced by the next candidate of its transform.
A row records `augmented: {"source": <row id>, "transform": <name>}` and has the id
`<source id>~aug-<transform>-<n>` (content-free rows: `aug-content_free-<n>`, source null). Its text
depends only on (seed, source id, transform, n), so a larger share adds rows without changing the others.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from harness.curation.config import AugmentConfig, SchemaConfig
from harness.curation.leakage import LeakFinder, exact_key, rejections
from harness.curation.records import Example, Rejection, StageOutput, reject

STAGE = "augment"
CONTENT_FREE = "content_free"

Transform = Callable[[str, random.Random, int], str]
"""(user text, rng, room) -> the new user text; `room` is the most characters it may have."""


@dataclass
class AugmentedExample(Example):
    """A row made here; `augmented` names its source row (None for content-free rows) and transform."""

    augmented: dict[str, str | None] = field(default_factory=dict)

    def to_output(self) -> dict[str, Any]:
        return {**super().to_output(), "augmented": self.augmented}


# --- transforms ----------------------------------------------------------------------------------------

_LONG_WORD = re.compile(r"[A-Za-z]{5,}")


def typo(text: str, rng: random.Random, room: int) -> str:
    """One or two words of five letters or more misspelt (a letter doubled, dropped or swapped with the
    next), never the first letter: what a hurried thumb does, and the word stays recognisable."""
    words = list(_LONG_WORD.finditer(text))
    if not words:
        return text
    for match in sorted(rng.sample(words, min(len(words), rng.choice((1, 1, 2)))), key=lambda m: -m.start()):
        text = text[: match.start()] + _misspell(match.group(), rng) + text[match.end() :]
    return text


def _misspell(word: str, rng: random.Random) -> str:
    """A doubled, dropped or swapped letter (the swap only of two different letters: "rr" swapped is "rr")."""
    swappable = [i for i in range(1, len(word) - 1) if word[i] != word[i + 1]]
    how = rng.choice(("double", "drop", "swap") if swappable else ("double", "drop"))
    if how == "swap":
        i = rng.choice(swappable)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    i = rng.randrange(1, len(word))
    return word[:i] + word[i] + word[i:] if how == "double" else word[:i] + word[i + 1 :]


def casing(text: str, rng: random.Random, room: int) -> str:
    """all lower case, ALL CAPS, no capital at the start, or one word in capitals for emphasis."""
    words = [m for m in re.finditer(r"[A-Za-z]{3,}", text)]
    shouted = text
    if words:
        m = rng.choice(words)
        shouted = text[: m.start()] + m.group().upper() + text[m.end() :]
    options = [o for o in (text.lower(), text.upper(), text[:1].lower() + text[1:], shouted) if o != text]
    return rng.choice(options) if options else text


def spacing(text: str, rng: random.Random, room: int) -> str:
    """No space after commas and full stops, doubled spaces, a space before ? and !, and a stray space or
    newline at either end: the words and their order stay as they were."""
    how = rng.randrange(3)
    if how == 0:
        text = re.sub(r"([,.;:]) (?=\S)", r"\1", text)
    elif how == 1:
        text = re.sub(" ", lambda _: "  " if rng.random() < 0.35 else " ", text)
    else:
        text = re.sub(r"\s*([?!])", r" \1", text)
    return rng.choice(("", " ", "\n")) + text + rng.choice(("", "  ", "\n", " \n"))


FRAMES: tuple[str, ...] = (
    "Hello, hope you can help. {q}",
    "{q} Could you help me with this?",
    "Hey team, {q}",
    "Quick one: {q}",
    "{q} Thank you so much.",
    "Dear support, {q}",
    "Not sure who to ask, but {q}",
    "{q} Please let me know.",
    "Can someone help? {q}",
    "Hi there,\n{q}",
    "{q} Many thanks, Sam",
)


def framing(text: str, rng: random.Random, room: int) -> str:
    """The message with a sentence around it that asks for nothing ("Dear support, …", "… Please let me know.");
    after "Hey team, " or "but " its first letter is lowered, unless the word is "I" or an acronym."""
    frame, core = rng.choice(FRAMES), text.strip()
    if frame.split("{q}")[0].endswith((", ", "but ")) and core[1:2].islower():
        core = core[:1].lower() + core[1:]
    return frame.format(q=core)


# Small talk without banking words, so it cannot pull a message towards another intent. Written for this
# stage: none of it is harness.adversarial's filler, which the suite's long probes are made of.
FILLER: tuple[str, ...] = (
    "We got back from a week at the coast on Friday.",
    "The kids have a school concert tonight, so I am writing this in a hurry.",
    "My laptop is very old and the keyboard sticks sometimes.",
    "I have used your app for a couple of years now without any trouble.",
    "Our dog had surgery last week but she is recovering well.",
    "I work night shifts, which is why I am writing so late.",
    "My partner told me to just send a message instead of waiting on the phone.",
    "We moved house in the summer and I am still unpacking boxes.",
    "English is not my first language, so sorry for any mistakes.",
    "I was at my cousin's wedding all weekend and only saw this today.",
    "The weather has turned cold and the heating in our flat is broken again.",
    "I read the help pages first but could not find an answer.",
    "It is probably a simple thing, but I would rather ask than guess.",
    "My phone screen is cracked, so typing takes me a while.",
)
OPENINGS = ("Hello,", "Hi there,", "Dear team,", "Good afternoon,")
SIGN_OFFS = ("Best wishes,\nAlex", "Thanks,\nPriya", "Kind regards,\nTom", "All the best,\nMaria")


def long(text: str, rng: random.Random, room: int) -> str:
    """The message inside an e-mail of 40 to 160 words of small talk, asked at its start, middle or end;
    filler sentences are left out from the end until the whole fits in `room` characters."""
    target, pool = rng.randint(40, 160), rng.sample(FILLER, len(FILLER))
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < target:  # each sentence once before any repeats
        sentences.append(pool[len(sentences) % len(pool)])
    where, opening, sign_off = rng.choice(("start", "middle", "end")), rng.choice(OPENINGS), rng.choice(SIGN_OFFS)
    for keep in range(len(sentences), -1, -1):
        cut = {"start": 0, "middle": keep // 2, "end": keep}[where]
        parts = [opening, " ".join(sentences[:cut]), text.strip(), " ".join(sentences[cut:keep]), sign_off]
        letter = "\n\n".join(p for p in parts if p)
        if len(letter) <= room:
            break
    return letter


def _html(text: str, rng: random.Random) -> str:
    body = html.escape(text, quote=False) if rng.random() < 0.5 else text
    return rng.choice((f"<html><body><p>{body}</p></body></html>",
                       f'<form id="contact"><label>Message</label><textarea>{body}</textarea></form>',
                       f'<span class="msg-body">{body}</span><br/>'))  # fmt: skip


def _markdown(text: str, rng: random.Random) -> str:
    return rng.choice((f"> {text}\n\nforwarded from the help widget", f"**From:** customer\n**Message:** {text}",
                       f"- topic: support\n- text: {text}"))  # fmt: skip


def _json(text: str, rng: random.Random) -> str:
    return json.dumps(rng.choice(({"type": "message", "text": text, "user": rng.randint(1000, 99999)},
                                  {"payload": {"body": text}, "source": "web"},
                                  {"query": text, "lang": "en"})), ensure_ascii=False)  # fmt: skip


def markup(text: str, rng: random.Random, room: int) -> str:
    """The message as a web form, chat widget or mail client might pass it on: HTML, Markdown or JSON."""
    return rng.choice((_html, _markdown, _json))(text.strip(), rng)


TRANSFORMS: dict[str, Transform] = {"typo": typo, "casing": casing, "spacing": spacing, "framing": framing,
                                    "long": long, "markup": markup}  # fmt: skip
"""Transforms of a train row's last user turn; content-free rows (CONTENT_FREE) are made from nothing."""

# Messages that ask for nothing: punctuation, greetings, keyboard tests. Never blank (whitespace or
# invisible characters only): those are the adversarial suite's empty probes, which must not be trained on.
CONTENT_FREE_TEXTS: tuple[str, ...] = ("?", "??", "...", "!", ".", "-", "?!", ":)", ":(", " .", "?\n", "hi", "hello",
                                       "hey", "hi there", "hello?", "good afternoon", "yo", "test", "testing",
                                       "test 123", "asdf", "ok", "hmm", "thanks", "123", "anyone there?")  # fmt: skip


def content_free_texts() -> list[str]:
    """Each content-free text as typed, Capitalised and in CAPS (once each)."""
    variants = (v for t in CONTENT_FREE_TEXTS for v in (t, t.capitalize(), t.upper()))
    return list(dict.fromkeys(variants))


# --- the stage -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guard:
    """What every candidate must pass before it joins train: the leak finder (golden cases and adversarial
    probes), the val/test texts (`exact_key` of their user turns) and the schema's length bounds."""

    finder: LeakFinder
    held_out: frozenset[str]
    bounds: SchemaConfig

    def check(self, rows: Sequence[AugmentedExample]) -> tuple[list[AugmentedExample], list[Rejection]]:
        rejected, fit = [], []
        for row in rows:
            if problem := self._problem(row):
                rejected.append(reject(STAGE, row, problem))
            else:
                fit.append(row)
        leaks = self.finder.find([row.user_turns() for row in fit])
        rejected += rejections(STAGE, fit, leaks)
        return [row for i, row in enumerate(fit) if i not in leaks], rejected

    def _problem(self, row: AugmentedExample) -> str | None:
        length = sum(len(m["content"]) for m in row.messages if m["role"] != "system")
        if not self.bounds.min_chars <= length <= self.bounds.max_chars:
            return f"{length} characters outside the schema bounds [{self.bounds.min_chars}, {self.bounds.max_chars}]"
        if exact_key(row.text) in self.held_out:
            return "same text as a val or test row once normalised: the splits must stay disjoint"
        return None


def held_out(splits: Mapping[str, Sequence[Example]]) -> frozenset[str]:
    """The user texts of every split but train, as `exact_key`s, for `Guard.held_out`."""
    return frozenset(exact_key(e.text) for name, rows in splits.items() if name != "train" for e in rows)


def target(train_rows: int, share: float) -> int:
    """Augmented rows for `share` of the final train split: n / (train + n) = share."""
    return round(share * train_rows / (1 - share))


def quotas(total: int, mix: Mapping[str, float]) -> dict[str, int]:
    """`total` rows split by the mix's weights, largest remainders first (ties in mix order)."""
    weights = {name: w for name, w in mix.items() if w > 0}
    exact = {name: total * w / sum(weights.values()) for name, w in weights.items()}
    counts = {name: int(share) for name, share in exact.items()}
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def augment(
    train: list[Example],
    config: AugmentConfig,
    *,
    system: str | None,
    fallback: str | None,
    guard: Guard,
    transforms: Mapping[str, Transform] = TRANSFORMS,
) -> StageOutput:
    """The train rows followed by the augmented rows, each transform filled to its quota from candidates
    that pass the guard (or as close as its candidates allow: the info says how close)."""
    wanted = quotas(target(len(train), config.share), config.mix)
    made: list[AugmentedExample] = []
    rejected: list[Rejection] = []
    for name, quota in wanted.items():
        if name == CONTENT_FREE:
            candidates = _content_free(config.seed, quota, system, fallback)
        else:
            candidates = _variants(name, transforms[name], train, config.seed, quota, guard.bounds)
        kept, dropped = _fill(quota, candidates, guard)
        made += kept
        rejected += dropped
    info = _info(config, wanted, train, made, rejected, fallback)
    return StageOutput([*train, *made], rejected, info)


def _fill(
    quota: int, candidates: Iterator[AugmentedExample], guard: Guard
) -> tuple[list[AugmentedExample], list[Rejection]]:
    """Take candidates in order until `quota` pass the guard or the candidates run out."""
    kept: list[AugmentedExample] = []
    rejected: list[Rejection] = []
    while len(kept) < quota and (batch := list(islice(candidates, quota - len(kept)))):
        passed, dropped = guard.check(batch)
        kept += passed
        rejected += dropped
    return kept, rejected


def _seed(*parts: object) -> int:
    """A 64-bit seed from the parts, salted with this stage's name so it never equals a probe's seed."""
    key = "\x1f".join(str(p) for p in (STAGE, *parts))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _variants(
    name: str, transform: Transform, train: Sequence[Example], seed: int, quota: int, bounds: SchemaConfig
) -> Iterator[AugmentedExample]:
    """Train rows in a seeded order, each transformed once per pass (`n` = the pass), as many passes as
    the quota needs plus one for replacements; a transform that changes nothing yields no candidate."""
    order = list(train)
    random.Random(_seed(seed, name)).shuffle(order)
    for n in range(quota // max(1, len(order)) + 2):
        for source in order:
            if (row := _variant(source, name, transform, seed, n, bounds.max_chars)) is not None:
                yield row


def _variant(
    source: Example, name: str, transform: Transform, seed: int, n: int, max_chars: int
) -> AugmentedExample | None:
    """`source` with its last user turn transformed (seeded by seed, source id, transform and n), or None
    when the transform left it as it was. The room for the new turn is what the other turns leave."""
    turn = max(i for i, m in enumerate(source.messages) if m["role"] == "user")
    old = source.messages[turn]["content"]
    others = sum(len(m["content"]) for i, m in enumerate(source.messages) if m["role"] != "system" and i != turn)
    new = transform(old, random.Random(_seed(seed, source.id, name, n)), max_chars - others)
    if new == old:
        return None
    messages = [dict(m) for m in source.messages]
    messages[turn] = {"role": "user", "content": new}
    return _row(f"{source.id}~aug-{name}-{n}", messages, source.label, source.id, name)


def _content_free(seed: int, quota: int, system: str | None, fallback: str | None) -> Iterator[AugmentedExample]:
    """Content-free messages in a seeded order, cycled when the quota is larger, each answered `fallback`."""
    if fallback is None:
        return
    texts = content_free_texts()
    random.Random(_seed(seed, CONTENT_FREE)).shuffle(texts)
    head = [{"role": "system", "content": system}] if system else []
    for n in range(len(texts) * (quota // len(texts) + 2)):
        chat = [*head, {"role": "user", "content": texts[n % len(texts)]}, {"role": "assistant", "content": fallback}]
        yield _row(f"aug-{CONTENT_FREE}-{n}", chat, fallback, None, CONTENT_FREE)


def _row(
    row_id: str, messages: list[dict[str, str]], label: str | None, source: str | None, name: str
) -> AugmentedExample:
    augmented = {"source": source, "transform": name}
    raw = {"messages": messages, "label": label, "augmented": augmented}
    return AugmentedExample(row_id, row_id, messages, label, raw, augmented=augmented)


def _info(
    config: AugmentConfig, wanted: dict[str, int], train: Sequence[Example], made: Sequence[AugmentedExample],
    rejected: Sequence[Rejection], fallback: str | None,
) -> dict[str, Any]:  # fmt: skip
    """curation.json's record: the share asked and reached, rows per transform, rejections by cause."""
    by_transform = Counter(str(row.augmented["transform"]) for row in made)
    causes = Counter("leakage" if "golden" in r.extra else "bounds" if "bounds" in r.reason else "held_out"
                     for r in rejected)  # fmt: skip
    return {
        "enabled": True,
        "seed": config.seed,
        "share_target": config.share,
        "share": round(len(made) / max(1, len(train) + len(made)), 4),
        "train_rows": len(train),
        "rows": len(made),
        "wanted": wanted,
        "by_transform": {name: by_transform.get(name, 0) for name in wanted},
        "rejected": dict(causes),
        "fallback_label": fallback,
    }
