"""Build golden/regression/cases.jsonl: general-capability cases the base model passes, to catch forgetting.

Run from anywhere (paths resolve from this file):

    .venv/bin/python golden/regression/build.py           # run the base, select, write both files
    .venv/bin/python golden/regression/build.py --check   # run the base and report; write nothing

1. `candidate_pool()` builds a fixed pool of IFEval-style cases in code, family by family (no randomness):
   simple facts, small arithmetic, and format instructions (all caps, N bullets, JSON keys, no commas,
   word count, starts/ends with). Each case's `expected` is a list of checks for `metrics.run_check`,
   and its first tag names its family.
2. The embedded base model (`--model=base`) answers every candidate through the harness, greedy, with
   the new-token budget of generation.toml (the generation cache makes reruns instant).
3. A case is kept when every one of its checks passes on the base's answer (and, for arithmetic, its
   twin's too), and the pass is robust: it did not flip under any change in noise_floor.json, the
   record `bench/noise_floor.py` writes (the base in bf16, other batch sizes, a null adapter trained on
   the base's own answers). The kept cases go to cases.jsonl (sorted by id); the run's record (model,
   fingerprint, counts, dropped ids with the base's answer and why) goes to selection.json.

golden/regression_dev/build.py runs the same selection on the same families asked about other items
(`Content`): the set `harness train`'s forgetting vote replays, so the checkpoint it keeps is judged here
on cases no training decision has seen.

suites/test_regression.py then requires a fine-tuned model to keep passing these cases. The selection is
only meaningful for the same base weights, greedy decoding and generation.toml's budget: change any of
them and rebuild, then re-freeze golden/golden.lock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

from harness import metrics
from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.golden import GoldenCase, generation_settings, load_file
from harness.models.base import Completion, Prompt
from harness.models.resolve import ModelFactory
from harness.models.spec import parse_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = "cases.jsonl"
SELECTION = "selection.json"
NOISE_FLOOR = "noise_floor.json"
"""bench/noise_floor.py's record for a set: the base's passes that flip under changes that remove no
knowledge (bf16, batch size and padding, a null adapter). Those cases pass by a hair and are dropped.
A set's generation.toml says how it is answered: the selection runs with it, and so do the suites."""
MODEL = "base"  # the --model spec the selection runs on (the embedded SmolLM2-135M-Instruct)
MIN_KEPT = 100  # with fewer, the 5% no-regression bar would mean fewer than 5 lost cases: too coarse
MIN_FAMILIES = 3  # at least this many families must keep MIN_PER_FAMILY cases each, so the set stays general
MIN_PER_FAMILY = 10
TWIN = "twin:"  # cases tagged with the same twin:KEY are kept together or not at all

Check = dict[str, Any]
Messages = list[dict[str, str]]


# --- helpers -----------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """A readable id fragment: lower-case letters and digits, words joined by '-'."""
    return "-".join("".join(c if c.isalnum() else " " for c in text.casefold()).split())


def case(case_id: str, prompt: str | Messages, checks: Sequence[Check], family: str, *tags: str) -> GoldenCase:
    """One candidate; `family` is its first tag (the unit the selection counts by). Its id is prefixed
    later, per set (`Content.id_prefix`)."""
    field = {"input": prompt} if isinstance(prompt, str) else {"messages": prompt}
    return GoldenCase.model_validate({"id": case_id, **field, "expected": list(checks), "tags": [family, *tags]})


def few_shot(shots: Sequence[tuple[str, str]], question: str) -> Messages:
    """A chat whose earlier turns show the answer format: SmolLM2-135M copies a format it has seen far more
    reliably than it follows a written instruction."""
    messages: Messages = []
    for user, assistant in shots:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [*messages, {"role": "user", "content": question}]


def contains(*words: str) -> Check:
    return {"check": "contains_all", "words": list(words)}


def number(value: float) -> Check:
    return {"check": "number_equals", "value": value}


# --- the candidate pool, family by family --------------------------------------------------------------
# Fact answers are checked on a key word the prompt does not contain, so echoing the question never passes.

CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Canada", "Ottawa"), ("Australia", "Canberra"), ("Egypt", "Cairo"), ("Russia", "Moscow"),
    ("China", "Beijing"), ("the United Kingdom", "London"), ("Portugal", "Lisbon"), ("Greece", "Athens"),
    ("Ireland", "Dublin"), ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"), ("Poland", "Warsaw"), ("Austria", "Vienna"), ("Hungary", "Budapest"),
    ("Belgium", "Brussels"), ("the Netherlands", "Amsterdam"), ("Argentina", "Buenos Aires"), ("Peru", "Lima"),
    ("Chile", "Santiago"), ("Kenya", "Nairobi"), ("Thailand", "Bangkok"), ("South Korea", "Seoul"),
    ("India", "Delhi"),
]  # fmt: skip

OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("black", "white"), ("fast", "slow"),
    ("happy", "sad"), ("young", "old"), ("light", "dark"), ("wet", "dry"), ("left", "right"), ("early", "late"),
    ("hard", "soft"), ("full", "empty"), ("tall", "short"), ("rich", "poor"), ("strong", "weak"), ("in", "out"),
    ("push", "pull"), ("win", "lose"), ("good", "bad"), ("top", "bottom"), ("north", "south"), ("east", "west"),
]  # fmt: skip

COLOURS = [
    ("snow", "white"), ("grass", "green"), ("the sky on a clear day", "blue"), ("a ripe banana", "yellow"),
    ("coal", "black"), ("a ripe tomato", "red"), ("a lemon", "yellow"), ("milk", "white"),
    ("chocolate", "brown"), ("a carrot", "orange"), ("blood", "red"), ("a lime", "green"),
]  # fmt: skip

ANIMALS = [
    ("Which animal says moo?", "cow"), ("Which animal barks?", "dog"),
    ("Which animal has a long trunk?", "elephant"), ("Which animal has black and white stripes?", "zebra"),
    ("What is a baby cat called?", "kitten"), ("What is a baby dog called?", "puppy"),
    ("Which is the tallest animal in the world?", "giraffe"),
    ("Which animal has a hump and lives in the desert?", "camel"),
    ("Which animal is known as man's best friend?", "dog"), ("Which insect makes honey?", "bee"),
    ("Which animal says meow?", "cat"), ("What is a baby sheep called?", "lamb"),
]  # fmt: skip

GENERAL = [
    ("Which is the largest planet in the solar system?", "Jupiter"), ("Which planet do we live on?", "Earth"),
    ("What do bees make?", "honey"), ("Which gas do humans need to breathe to live?", "oxygen"),
    ("Which is the largest ocean on Earth?", "Pacific"), ("Who wrote Romeo and Juliet?", "Shakespeare"),
    ("What is the chemical formula of water?", "H2O"), ("What is the tallest mountain in the world?", "Everest"),
    ("Which language is spoken in France?", "French"), ("What is the currency of Japan?", "yen"),
    ("Which star is at the centre of our solar system?", "Sun"), ("What is frozen water called?", "ice"),
    ("In which country is the Eiffel Tower?", "France"),
    ("What is the natural satellite of the Earth called?", "Moon"),
]  # fmt: skip

COUNTS = [
    ("How many days are in a week?", 7), ("How many months are in a year?", 12),
    ("How many hours are in a day?", 24), ("How many minutes are in an hour?", 60),
    ("How many legs does a spider have?", 8), ("How many sides does a triangle have?", 3),
    ("How many wheels does a bicycle have?", 2), ("How many continents are there on Earth?", 7),
    ("How many seconds are in a minute?", 60), ("How many legs does a dog have?", 4),
    ("How many sides does a square have?", 4),
    ("At how many degrees Celsius does water boil at sea level?", 100),
]  # fmt: skip


def fact_cases(content: Content) -> Iterator[GoldenCase]:
    """Plain questions; the answer must name the key word (contains_all) or the number (number_equals)."""
    for country, capital in content.capitals:
        prompt = f"What is the capital of {country}?"
        yield case(f"fact-capital-{slug(country)}", prompt, [contains(capital)], "fact", "fact:capital")
    for word, opposite in content.opposites:
        prompt = f"What is the opposite of {word}?"
        yield case(f"fact-opposite-{slug(word)}", prompt, [contains(opposite)], "fact", "fact:opposite")
    for thing, colour in content.colours:
        yield case(f"fact-colour-{slug(thing)}", f"What colour is {thing}?", [contains(colour)], "fact", "fact:colour")
    for question, animal in content.animals:
        yield case(f"fact-animal-{slug(question)}", question, [contains(animal)], "fact", "fact:animal")
    for question, answer in content.general:
        yield case(f"fact-general-{slug(question)}", question, [contains(answer)], "fact", "fact:general")
    for question, count in content.counts:
        yield case(f"fact-count-{slug(question)}", question, [number(count)], "fact", "fact:count")


ARITHMETIC_OPS = {
    "add": ("+", "plus", int.__add__),
    "sub": ("-", "minus", int.__sub__),
    "mul": ("*", "times", int.__mul__),
}
ARITHMETIC_SHOTS = [(2, "add", 2), (10, "sub", 3), (3, "mul", 5)]  # shown answered; never asked
ARITHMETIC = {
    "add": [(2 + (7 * i) % 17, 1 + (5 * i) % 13) for i in range(24)],
    "sub": [(9 + (7 * i) % 11, 1 + (3 * i) % 8) for i in range(12)],
    "mul": [(2 + (5 * i) % 8, 2 + (3 * i) % 7) for i in range(12)],
}


def arithmetic_question(a: int, op: str, b: int, style: str) -> str:
    symbol, word, _ = ARITHMETIC_OPS[op]
    return f"What is {a} {symbol if style == 'symbols' else word} {b}?"


def arithmetic_cases(content: Content) -> Iterator[GoldenCase]:
    """Small sums, differences and products, each asked twice: with symbols ("7 + 5") and with words
    ("7 plus 5"). The twins share a `twin:` tag and are kept only if the base answers both right, so a
    lucky guess by a model that cannot really add does not enter the set (to be "forgotten" later).

    number_equals reads the *first* number of the answer and this model likes to restate the question
    ("7 + 5 = 12" reads as 7), so the earlier turns show the answer first: "The answer is 12."."""
    for op, pairs in content.arithmetic.items():
        fn = ARITHMETIC_OPS[op][2]
        for a, b in dict.fromkeys(pairs):  # drop repeated pairs, keep order
            if (a, op, b) in ARITHMETIC_SHOTS:
                continue
            for style in ("symbols", "words"):
                shots = [(arithmetic_question(x, o, y, style), f"The answer is {ARITHMETIC_OPS[o][2](x, y)}.")
                         for x, o, y in ARITHMETIC_SHOTS]  # fmt: skip
                prompt = few_shot(shots, arithmetic_question(a, op, b, style))
                yield case(f"arith-{op}-{a}-{b}-{style}", prompt, [number(fn(a, b))], "arithmetic",
                           f"arithmetic:{op}", f"{TWIN}arith-{op}-{a}-{b}")  # fmt: skip


CAPS_SHOTS = [
    ("Reply in capital letters: what is 1 + 1?", "TWO"),
    ("Reply in capital letters: what colour is snow?", "WHITE"),
]
CAPS_REQUESTS = [
    "what colour is the sky?", "what colour is grass?", "what colour is coal?", "what colour is a ripe tomato?",
    "what colour is a ripe banana?", "what is the capital of France?", "what is the capital of Italy?",
    "what is the capital of Japan?", "what is the capital of Spain?", "what is the capital of Germany?",
    "what is the capital of Egypt?", "what is the capital of Russia?", "what is the opposite of hot?",
    "what is the opposite of day?", "what is the opposite of up?", "what is the opposite of big?",
    "which animal says moo?", "which animal barks?", "what do bees make?", "which planet do we live on?",
    "say hello.", "say good morning.", "say thank you.",
]  # fmt: skip


def all_caps_cases(content: Content) -> Iterator[GoldenCase]:
    """No lowercase letter in the answer. Format only: in this mode the base's answers are mostly wrong
    ("what is the capital of France?" -> "FRANCE"), so checking them too would leave almost nothing."""
    for request in content.caps_requests:
        prompt = few_shot(CAPS_SHOTS, f"Reply in capital letters: {request}")
        yield case(f"caps-{slug(request)}", prompt, [{"check": "all_caps"}], "format:all_caps")


BULLET_TOPICS = [
    "animals", "colours", "countries", "cities", "vegetables", "sports", "planets", "flowers", "drinks",
    "birds", "tools", "musical instruments", "jobs", "languages", "trees", "vehicles",
]  # fmt: skip


def bullet_cases(content: Content) -> Iterator[GoldenCase]:
    """Exactly n Markdown bullets ("- item"), shown by one example list of the same length."""
    for n, example in ((2, "- apple\n- pear"), (3, "- apple\n- pear\n- plum")):
        for topic in content.bullet_topics:
            prompt = few_shot([(f"List {n} fruits as bullet points.", example)], f"List {n} {topic} as bullet points.")
            yield case(f"bullets-{n}-{slug(topic)}", prompt, [{"check": "bullet_count", "n": n}], "format:bullets")


JSON_TEMPLATES = [
    (("city", "country"), "Paris"), (("city", "country"), "Tokyo"), (("city", "country"), "Rome"),
    (("city", "country"), "Madrid"), (("city", "country"), "Berlin"), (("city", "country"), "Cairo"),
    (("colour", "fruit"), "a banana"), (("colour", "fruit"), "a lemon"), (("colour", "fruit"), "an apple"),
    (("colour", "fruit"), "a cherry"), (("name", "age"), "a girl called Mia who is 8"),
    (("name", "age"), "a man called Tom who is 40"), (("name", "age"), "a woman called Sara who is 31"),
    (("animal", "sound"), "a cow"), (("animal", "sound"), "a dog"), (("animal", "sound"), "a cat"),
    (("planet", "colour"), "Mars"), (("book", "author"), "Hamlet"), (("language", "country"), "French"),
    (("day", "next_day"), "Monday"),
]  # fmt: skip
JSON_COMPLETIONS = [
    ("animal", "dog", "sound"), ("city", "Paris", "country"), ("name", "Ann", "age"), ("fruit", "apple", "colour"),
    ("language", "French", "country"), ("day", "Monday", "next_day"),
]  # fmt: skip


def json_cases(content: Content) -> Iterator[GoldenCase]:
    """A JSON object (fences allowed) holding the named keys: fill a template, or complete an open object."""
    for keys, subject in content.json_templates:
        template = "{" + ", ".join(f'"{key}": ...' for key in keys) + "}"
        checks = [{"check": "json_with_keys", "keys": list(keys)}]
        yield case(f"json-{slug(keys[0])}-{slug(subject)}", f"Output only JSON: {template} for {subject}.", checks,
                   "format:json")  # fmt: skip
    for first, value, second in content.json_completions:
        prompt = f'Complete the JSON: {{"{first}": "{value}", "{second}": '
        checks = [{"check": "json_with_keys", "keys": [first, second]}]
        yield case(f"json-complete-{slug(first)}-{slug(value)}", prompt, checks, "format:json")


DESCRIBE_TOPICS = ["the sun", "the ocean", "a cat", "a tree", "the moon", "rain"]


def no_comma_cases(content: Content) -> Iterator[GoldenCase]:
    """No comma anywhere in the answer; for a question with an answer, the answer must be right too."""
    for country, capital in content.capitals[:12]:
        prompt = f"Answer without using any commas: what is the capital of {country}?"
        yield case(f"nocomma-capital-{slug(country)}", prompt, [{"check": "no_commas"}, contains(capital)],
                   "format:no_commas")  # fmt: skip
    for topic in content.describe_topics:
        prompt = f"Describe {topic} in one sentence without using any commas."
        yield case(f"nocomma-describe-{slug(topic)}", prompt, [{"check": "no_commas"}], "format:no_commas")


WORD_COUNT_TOPICS = ["dogs", "rain", "the sea", "apples", "winter", "music", "books", "trees", "the moon", "bread"]


def word_count_cases(content: Content) -> Iterator[GoldenCase]:
    """A word count inside a range: a short factual answer (still right), or one sentence on a topic."""
    for country, capital in content.capitals[12:22]:
        prompt = f"Answer in one short sentence of fewer than 15 words: what is the capital of {country}?"
        checks = [{"check": "word_count_between", "lo": 1, "hi": 14}, contains(capital)]
        yield case(f"words-capital-{slug(country)}", prompt, checks, "format:word_count")
    for topic in content.word_count_topics:
        prompt = f"Write one sentence of 5 to 25 words about {topic}."
        checks = [{"check": "word_count_between", "lo": 5, "hi": 25}]
        yield case(f"words-sentence-{slug(topic)}", prompt, checks, "format:word_count")


YES_QUESTIONS = [
    "Is the sun hot?", "Is water wet?", "Is fire hot?", "Is snow cold?", "Is the sky blue?", "Is grass green?",
    "Do birds have feathers?", "Is ice frozen water?", "Do fish live in water?", "Is Paris in France?",
]  # fmt: skip
HELLO_REQUESTS = ["Introduce yourself.", "Greet a new student.", "Welcome a guest to your home."]


def starts_with_cases(content: Content) -> Iterator[GoldenCase]:
    """The answer opens with the given word (and, for a capital, names it)."""
    for question in content.yes_questions:
        prompt = f'Start your answer with the word "Yes". {question}'
        yield case(f"starts-yes-{slug(question)}", prompt, [{"check": "starts_with", "prefix": "Yes"}],
                   "format:starts_with")  # fmt: skip
    for country, capital in content.capitals[22:30]:
        prompt = f'Start your answer with the word "The". What is the capital of {country}?'
        checks = [{"check": "starts_with", "prefix": "The"}, contains(capital)]
        yield case(f"starts-the-capital-{slug(country)}", prompt, checks, "format:starts_with")
    for request in content.hello_requests:
        prompt = f'Begin your reply with the word "Hello". {request}'
        yield case(f"starts-hello-{slug(request)}", prompt, [{"check": "starts_with", "prefix": "Hello"}],
                   "format:starts_with")  # fmt: skip


REPEAT_SENTENCES = [
    "Green apples and red cherries are on the table.", "The quick brown fox jumps over the lazy dog.",
    "We walked along the river.", "My favourite season is summer.", "The train leaves at noon.",
    "Please close the door.",
]  # fmt: skip
DONE_SHOTS = [("What colour is snow? End your answer with the word done.", "Snow is white. done")]
DONE_QUESTIONS = [
    "What colour is grass?", "What is the capital of Italy?", "Which animal says moo?",
    "What is the opposite of hot?", "What do bees make?", "Which planet do we live on?",
    "What is the capital of France?", "What is the opposite of up?", "How many days are in a week?",
    "What colour is the sky?", "What is the capital of Japan?", "Which animal barks?",
]  # fmt: skip


def ends_with_cases(content: Content) -> Iterator[GoldenCase]:
    """The answer closes with the given text: repeat a sentence (ending "word."; ends_with is literal, as
    in IFEval, so "dog." does not end with "dog"), or close with "done" as an earlier turn shows."""
    for sentence in content.repeat_sentences:
        request = f"Repeat this sentence exactly, and nothing else: {sentence}"
        last = sentence.split()[-1]
        yield case(
            f"ends-repeat-{slug(sentence)}", request, [{"check": "ends_with", "suffix": last}], "format:ends_with"
        )
    for question in content.done_questions:
        prompt = few_shot(DONE_SHOTS, f"{question} End your answer with the word done.")
        yield case(
            f"ends-done-{slug(question)}", prompt, [{"check": "ends_with", "suffix": "done"}], "format:ends_with"
        )


class Content(NamedTuple):
    """The items a set's candidates ask about, family by family. The regression set and its twin
    (golden/regression_dev, the eval gate's forgetting probe) ask the same kinds of question about
    different items, so a checkpoint chosen on one is scored fairly on the other. `capitals` needs 30
    pairs: after the plain questions, the format families reuse [:12], [12:22] and [22:30]."""

    id_prefix: str
    capitals: Sequence[tuple[str, str]]
    opposites: Sequence[tuple[str, str]]
    colours: Sequence[tuple[str, str]]
    animals: Sequence[tuple[str, str]]
    general: Sequence[tuple[str, str]]
    counts: Sequence[tuple[str, int]]
    arithmetic: Mapping[str, Sequence[tuple[int, int]]]
    caps_requests: Sequence[str]
    bullet_topics: Sequence[str]
    json_templates: Sequence[tuple[tuple[str, str], str]]
    json_completions: Sequence[tuple[str, str, str]]
    describe_topics: Sequence[str]
    word_count_topics: Sequence[str]
    yes_questions: Sequence[str]
    hello_requests: Sequence[str]
    repeat_sentences: Sequence[str]
    done_questions: Sequence[str]


REGRESSION = Content(
    id_prefix="reg", capitals=CAPITALS, opposites=OPPOSITES, colours=COLOURS, animals=ANIMALS, general=GENERAL,
    counts=COUNTS, arithmetic=ARITHMETIC, caps_requests=CAPS_REQUESTS, bullet_topics=BULLET_TOPICS,
    json_templates=JSON_TEMPLATES, json_completions=JSON_COMPLETIONS, describe_topics=DESCRIBE_TOPICS,
    word_count_topics=WORD_COUNT_TOPICS, yes_questions=YES_QUESTIONS, hello_requests=HELLO_REQUESTS,
    repeat_sentences=REPEAT_SENTENCES, done_questions=DONE_QUESTIONS,
)  # fmt: skip


def candidate_pool(content: Content | None = None) -> list[GoldenCase]:
    """Every candidate about `content`'s items (default: this set's), in family order; ids are unique (checked)."""
    content = content or REGRESSION
    generators = (fact_cases, arithmetic_cases, all_caps_cases, bullet_cases, json_cases, no_comma_cases,
                  word_count_cases, starts_with_cases, ends_with_cases)  # fmt: skip
    pool = [c.model_copy(update={"id": f"{content.id_prefix}-{c.id}"}) for make in generators for c in make(content)]
    repeated = [case_id for case_id, n in Counter(c.id for c in pool).items() if n > 1]
    if repeated:
        raise SystemExit(f"candidate ids repeat: {repeated}; make the generators' ids unique")
    return pool


# --- selection -----------------------------------------------------------------------------------------


def passes(output: str, expected: Any) -> bool:
    """Every check of a case passes (`expected` is a list of check dicts, or one)."""
    checks = expected if isinstance(expected, list) else [expected]
    return all(metrics.run_check(output, check) for check in checks)


def family(case: GoldenCase) -> str:
    return case.tags[0]


def twin_key(case: GoldenCase) -> str:
    """The twin group a case belongs to; a case without a twin: tag is a group of its own."""
    return next((tag for tag in case.tags if tag.startswith(TWIN)), case.id)


def run_base(pool: Sequence[GoldenCase], set_dir: Path) -> tuple[dict[str, Any], list[Completion]]:
    """The base model's identity and generation settings (`set_dir`'s generation.toml), and its greedy
    answer to each candidate (cached)."""
    generation_toml = generation_settings(set_dir.parent, set_dir.name)
    config = HarnessConfig.load(ROOT)
    cache = GenerationCache.in_dir(config.cache_dir)
    try:
        model = ModelFactory(config, cache).build(parse_spec(MODEL, config, cwd=ROOT))
        # cast: mypy does not take GoldenCase's ChatMessage (a TypedDict) as the Mapping[str, str] Prompt wants
        prompts = cast(list[Prompt], [c.prompt() for c in pool])
        answers = model.generate(prompts, **generation_toml)
        generation = {**config.generation.params(), **generation_toml}
        identity = {"spec": MODEL, "label": model.label, "fingerprint": model.fingerprint(), "generation": generation}
        return identity, answers
    finally:
        cache.close()


def select(
    pool: Sequence[GoldenCase], outputs: Sequence[str], noisy: Mapping[str, list[str]] | None = None
) -> tuple[list[GoldenCase], list[dict[str, Any]]]:
    """The cases the base passes robustly, twins included (sorted by id), and a record of each dropped case
    with the base's answer and why it was dropped. `noisy` maps a case id to the no-knowledge changes under
    which the base's pass flipped (from NOISE_FLOOR): such a pass is noise, not a skill to keep."""
    noisy = noisy or {}
    ok = {c.id: passes(output, c.expected) and c.id not in noisy for c, output in zip(pool, outputs, strict=True)}
    group_ok: dict[str, bool] = defaultdict(lambda: True)
    for c in pool:
        group_ok[twin_key(c)] &= ok[c.id]
    kept, dropped = [], []
    for c, output in zip(pool, outputs, strict=True):
        if group_ok[twin_key(c)]:
            kept.append(c)
        else:
            why = "failed its checks" if not passes(output, c.expected) else (
                f"passed, but flipped under {', '.join(noisy[c.id])} (noise floor)" if c.id in noisy
                else "passed, but its twin failed")  # fmt: skip
            dropped.append({"id": c.id, "family": family(c), "why": why, "output": output})
    return sorted(kept, key=lambda c: c.id), sorted(dropped, key=lambda d: d["id"])


def noise_flips(path: Path) -> dict[str, list[str]]:
    """Case id -> the variants under which the base's pass flipped, from a bench/noise_floor.py record."""
    if not path.is_file():
        return {}
    record = json.loads(path.read_text(encoding="utf-8"))
    flipped: dict[str, list[str]] = defaultdict(list)
    for variant, run in record["variants"].items():
        for case_id in run["negative_flips"]:
            flipped[case_id].append(variant)
    return dict(flipped)


def per_family(pool: Sequence[GoldenCase], kept: Sequence[GoldenCase]) -> dict[str, dict[str, int]]:
    totals, passed = Counter(map(family, pool)), Counter(map(family, kept))
    return {name: {"pool": totals[name], "kept": passed[name]} for name in sorted(totals)}


def problems(kept: Sequence[GoldenCase], families: dict[str, dict[str, int]]) -> list[str]:
    """Why this selection is too thin to use, if it is."""
    found = []
    if len(kept) < MIN_KEPT:
        found.append(f"only {len(kept)} cases kept, need {MIN_KEPT}: add candidates of families the base can do")
    broad = [name for name, n in families.items() if n["kept"] >= MIN_PER_FAMILY]
    if len(broad) < MIN_FAMILIES:
        found.append(f"only {len(broad)} families keep >= {MIN_PER_FAMILY} cases ({broad}), need {MIN_FAMILIES}")
    return found


def main(argv: Sequence[str] | None = None, content: Content = REGRESSION, set_dir: Path = HERE) -> int:
    """Select `content`'s candidates the base passes robustly into `set_dir` (cases.jsonl, selection.json)."""
    parser = argparse.ArgumentParser(description=f"Select golden/{set_dir.name} cases the base model passes.")
    parser.add_argument("--check", action="store_true", help="run the selection and report; write nothing")
    args = parser.parse_args(argv)
    cases_path, selection_path, noise_path = set_dir / CASES, set_dir / SELECTION, set_dir / NOISE_FLOOR
    where = cases_path.relative_to(ROOT)

    started = time.monotonic()
    pool = candidate_pool(content)
    model, answers = run_base(pool, set_dir)
    noisy = noise_flips(noise_path)
    kept, dropped = select(pool, [a.text for a in answers], noisy)
    families = per_family(pool, kept)
    wall_s = round(time.monotonic() - started, 1)

    for name, n in families.items():
        print(f"  {name:20} kept {n['kept']:3} / {n['pool']:3}")
    budget = model["generation"]["max_new_tokens"]
    print(f"  {'total':20} kept {len(kept):3} / {len(pool):3}  ({model['label']}, max_new_tokens={budget})")
    found = problems(kept, families)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    lines = "".join(c.to_json_line() + "\n" for c in kept)
    if args.check:
        same = cases_path.is_file() and cases_path.read_text(encoding="utf-8") == lines
        print(f"{where} {'is up to date' if same else 'would change'} (--check: nothing written)")
        return 0 if same and not found else 1
    if found:
        return 1

    cases_path.write_text(lines, encoding="utf-8", newline="\n")
    assert [c.id for c in load_file(cases_path)] == [c.id for c in kept]  # the file we wrote must load cleanly
    record = {
        "command": f".venv/bin/python golden/{set_dir.name}/build.py",
        "date": datetime.now(UTC).date().isoformat(),
        "model": {key: model[key] for key in ("spec", "label", "fingerprint")},
        "generation": model["generation"],
        "max_new_tokens": model["generation"]["max_new_tokens"],
        "pool_size": len(pool),
        "kept": len(kept),
        "noise_floor": {"record": str(noise_path.relative_to(ROOT)), "dropped": len(noisy)} if noisy else None,
        "families": families,
        "wall_s": wall_s,  # of this run; answers already in the generation cache take no time
        "answers": {"generated": sum(not a.cached for a in answers), "from_cache": sum(a.cached for a in answers)},
        "dropped": dropped,
    }
    selection_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {where} ({len(kept)} cases) and {selection_path.relative_to(ROOT)} in {wall_s}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
