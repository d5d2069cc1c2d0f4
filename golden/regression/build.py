"""Build golden/regression/cases.jsonl: general-capability cases the base model passes, to catch forgetting.

Run from anywhere (paths resolve from this file):

    .venv/bin/python golden/regression/build.py           # run the base, select, write both files
    .venv/bin/python golden/regression/build.py --check   # run the base and report; write nothing

1. `candidate_pool()` builds a fixed pool of IFEval-style cases in code, family by family (no randomness):
   simple facts, small arithmetic, and format instructions (all caps, N bullets, JSON keys, no commas,
   word count, starts/ends with). Each case's `expected` is a list of checks for `metrics.run_check`,
   and its first tag names its family.
2. The embedded base model (`--model=base`) answers every candidate through the harness, greedy, with
   MAX_NEW_TOKENS new tokens (the generation cache makes reruns instant).
3. A case is kept when every one of its checks passes on the base's answer. The kept cases go to
   cases.jsonl (sorted by id); the run's record (model, fingerprint, counts, dropped ids with the base's
   answer) goes to selection.json.

suites/test_regression.py then requires a fine-tuned model to keep passing these cases. The selection is
only meaningful for the same base weights, greedy decoding and MAX_NEW_TOKENS: change any of them and
rebuild, then re-freeze golden/golden.lock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import metrics
from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.golden import GoldenCase, load_file
from harness.models.resolve import ModelFactory
from harness.models.spec import parse_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = HERE / "cases.jsonl"
SELECTION = HERE / "selection.json"

MAX_NEW_TOKENS = 64  # suites/test_regression.py must use the same value: a longer budget changes answers
MODEL = "base"  # the --model spec the selection runs on (the embedded SmolLM2-135M-Instruct)
MIN_KEPT = 100  # fewer kept cases and the 5% no-regression bar means less than 5 lost cases: too coarse
MIN_FAMILIES = 3  # at least this many families must keep MIN_PER_FAMILY cases, so the set stays general
MIN_PER_FAMILY = 10

Check = dict[str, Any]
Messages = list[dict[str, str]]


# --- helpers -----------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """A readable id fragment: lower-case letters and digits, words joined by '-'."""
    words = "".join(c if c.isalnum() else " " for c in text.casefold()).split()
    return "-".join(words)


def case(case_id: str, prompt: str | Messages, checks: Sequence[Check], family: str, *extra: str) -> GoldenCase:
    """One candidate; `family` is its first tag (the unit the selection counts by)."""
    field = {"input": prompt} if isinstance(prompt, str) else {"messages": prompt}
    return GoldenCase.model_validate(
        {"id": f"reg-{case_id}", **field, "expected": list(checks), "tags": [family, *extra]}
    )


def few_shot(shots: Sequence[tuple[str, str]], question: str, system: str | None = None) -> Messages:
    """A chat that shows the answer format in earlier turns: SmolLM2-135M copies formats better than it
    follows instructions."""
    messages: Messages = [{"role": "system", "content": system}] if system else []
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
    ("India", "Delhi"), ("Turkey", "Ankara"), ("Cuba", "Havana"), ("Iran", "Tehran"),
    ("the Czech Republic", "Prague"), ("Indonesia", "Jakarta"), ("Vietnam", "Hanoi"),
    ("the Philippines", "Manila"), ("Nigeria", "Abuja"), ("Scotland", "Edinburgh"), ("Wales", "Cardiff"),
    ("Romania", "Bucharest"), ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Saudi Arabia", "Riyadh"),
    ("Pakistan", "Islamabad"), ("Bangladesh", "Dhaka"), ("Morocco", "Rabat"), ("Venezuela", "Caracas"),
    ("New Zealand", "Wellington"), ("Malaysia", "Kuala Lumpur"),
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
    ("Which is the tallest animal in the world?", "giraffe"), ("Which animal has a hump and lives in the desert?", "camel"),
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
    ("In which country is the Eiffel Tower?", "France"), ("What is the natural satellite of the Earth called?", "Moon"),
]  # fmt: skip

COUNTS = [
    ("How many days are in a week?", 7), ("How many months are in a year?", 12),
    ("How many hours are in a day?", 24), ("How many minutes are in an hour?", 60),
    ("How many legs does a spider have?", 8), ("How many sides does a triangle have?", 3),
    ("How many wheels does a bicycle have?", 2), ("How many continents are there on Earth?", 7),
    ("How many seconds are in a minute?", 60), ("How many legs does a dog have?", 4),
    ("How many sides does a square have?", 4), ("At how many degrees Celsius does water boil at sea level?", 100),
]  # fmt: skip


def fact_cases() -> Iterator[GoldenCase]:
    """Plain questions; the answer must name the key word (contains_all) or the number (number_equals)."""
    for country, capital in CAPITALS:
        yield case(f"fact-capital-{slug(country)}", f"What is the capital of {country}?", [contains(capital)],
                   "fact", "fact:capital")  # fmt: skip
    for word, opposite in OPPOSITES:
        yield case(f"fact-opposite-{slug(word)}", f"What is the opposite of {word}?", [contains(opposite)],
                   "fact", "fact:opposite")  # fmt: skip
    for thing, colour in COLOURS:
        yield case(f"fact-colour-{slug(thing)}", f"What colour is {thing}?", [contains(colour)], "fact", "fact:colour")
    for question, animal in ANIMALS:
        yield case(f"fact-animal-{slug(question)}", question, [contains(animal)], "fact", "fact:animal")
    for question, answer in GENERAL:
        yield case(f"fact-general-{slug(question)}", question, [contains(answer)], "fact", "fact:general")
    for question, count in COUNTS:
        yield case(f"fact-count-{slug(question)}", question, [number(count)], "fact", "fact:count")


ARITHMETIC_SHOTS = [("What is 2 + 2?", "4"), ("What is 10 - 3?", "7"), ("What is 3 * 5?", "15")]
CALCULATOR = "You are a calculator. Reply with the result only, a single number."


def arithmetic_cases() -> Iterator[GoldenCase]:
    """Small sums, differences and products. number_equals reads the *first* number of the answer, so the
    prompt shows bare-number answers first (few-shot); an answer that restates "7 + 5 = 12" fails."""
    additions = [(2 + (7 * i) % 17, 1 + (5 * i) % 13) for i in range(30)]
    subtractions = [(9 + (7 * i) % 11, 1 + (3 * i) % 8) for i in range(15)]
    products = [(2 + (5 * i) % 8, 2 + (3 * i) % 7) for i in range(15)]
    for op, pairs, fn in (("+", additions, int.__add__), ("-", subtractions, int.__sub__), ("*", products, int.__mul__)):
        name = {"+": "add", "-": "sub", "*": "mul"}[op]
        for a, b in dict.fromkeys(pairs):  # drop repeated pairs, keep order
            prompt = few_shot(ARITHMETIC_SHOTS, f"What is {a} {op} {b}?")
            yield case(f"arith-{name}-{a}-{b}", prompt, [number(fn(a, b))], "arithmetic", f"arithmetic:{name}")
    for a, b in [(8, 6), (4, 9), (12, 5), (7, 7), (15, 3), (6, 11), (9, 8), (13, 4)]:
        prompt = [{"role": "system", "content": CALCULATOR}, {"role": "user", "content": f"{a} + {b}"}]
        yield case(f"arith-calc-add-{a}-{b}", prompt, [number(a + b)], "arithmetic", "arithmetic:add")


CAPS_SHOTS = [("Reply in capital letters: what is 1 + 1?", "TWO"), ("Reply in capital letters: what colour is snow?", "WHITE")]
CAPS_QUESTIONS = [
    ("what colour is the sky?", "blue"), ("what colour is grass?", "green"), ("what colour is coal?", "black"),
    ("what colour is a ripe tomato?", "red"), ("what colour is a ripe banana?", "yellow"),
    ("what is the capital of France?", "Paris"), ("what is the capital of Italy?", "Rome"),
    ("what is the capital of Japan?", "Tokyo"), ("what is the capital of Spain?", "Madrid"),
    ("what is the capital of Germany?", "Berlin"), ("what is the capital of Egypt?", "Cairo"),
    ("what is the capital of Russia?", "Moscow"), ("what is the opposite of hot?", "cold"),
    ("what is the opposite of day?", "night"), ("what is the opposite of up?", "down"),
    ("what is the opposite of big?", "small"), ("which animal says moo?", "cow"), ("which animal barks?", "dog"),
    ("what do bees make?", "honey"), ("which planet do we live on?", "earth"),
]  # fmt: skip


def all_caps_cases() -> Iterator[GoldenCase]:
    """No lowercase letter in the answer, and the answer still right."""
    for question, answer in CAPS_QUESTIONS:
        prompt = few_shot(CAPS_SHOTS, f"Reply in capital letters: {question}")
        yield case(f"caps-{slug(question)}", prompt, [{"check": "all_caps"}, contains(answer)], "format:all_caps")
    for request in ("say hello.", "say good morning.", "say thank you."):
        yield case(f"caps-{slug(request)}", few_shot(CAPS_SHOTS, f"Reply in capital letters: {request}"),
                   [{"check": "all_caps"}], "format:all_caps")  # fmt: skip


BULLET_TOPICS = [
    "animals", "colours", "countries", "cities", "vegetables", "sports", "planets", "flowers", "drinks",
    "birds", "tools", "musical instruments", "jobs", "languages", "trees", "vehicles",
]  # fmt: skip


def bullet_cases() -> Iterator[GoldenCase]:
    """Exactly n Markdown bullets ("- item"), shown by one example list of the same length."""
    for n, example in ((2, "- apple\n- pear"), (3, "- apple\n- pear\n- plum")):
        for topic in BULLET_TOPICS:
            prompt = few_shot([(f"List {n} fruits as bullet points.", example)], f"List {n} {topic} as bullet points.")
            yield case(f"bullets-{n}-{slug(topic)}", prompt, [{"check": "bullet_count", "n": n}], "format:bullets")


JSON_TEMPLATES = [
    (("city", "country"), "Paris"), (("city", "country"), "Tokyo"), (("city", "country"), "Rome"),
    (("city", "country"), "Madrid"), (("colour", "fruit"), "a banana"), (("colour", "fruit"), "a lemon"),
    (("colour", "fruit"), "an apple"), (("name", "age"), "a girl called Mia who is 8"),
    (("name", "age"), "a man called Tom who is 40"), (("animal", "sound"), "a cow"), (("animal", "sound"), "a dog"),
    (("planet", "colour"), "Mars"),
]  # fmt: skip
JSON_COMPLETIONS = [
    ("animal", "dog", "sound"), ("city", "Paris", "country"), ("name", "Ann", "age"), ("fruit", "apple", "colour"),
    ("planet", "Mars", "colour"), ("language", "French", "country"), ("book", "Hamlet", "author"),
    ("day", "Monday", "next_day"), ("animal", "cat", "sound"), ("city", "Berlin", "country"),
]  # fmt: skip


def json_cases() -> Iterator[GoldenCase]:
    """A JSON object (fences allowed) holding the named keys: fill a template, or complete an open one."""
    for keys, subject in JSON_TEMPLATES:
        template = "{" + ", ".join(f'"{key}": ...' for key in keys) + "}"
        prompt = f"Output only JSON: {template} for {subject}."
        yield case(f"json-{slug(keys[0])}-{slug(subject)}", prompt, [{"check": "json_with_keys", "keys": list(keys)}],
                   "format:json")  # fmt: skip
    for first, value, second in JSON_COMPLETIONS:
        prompt = f'Complete the JSON: {{"{first}": "{value}", "{second}": '
        yield case(f"json-complete-{slug(first)}-{slug(value)}", prompt,
                   [{"check": "json_with_keys", "keys": [first, second]}], "format:json")  # fmt: skip


def no_comma_cases() -> Iterator[GoldenCase]:
    """No comma in the answer, which must still be right (the second tag says which fact family)."""
    for country, capital in CAPITALS[:12]:
        prompt = f"Answer without using any commas: what is the capital of {country}?"
        yield case(f"nocomma-capital-{slug(country)}", prompt, [{"check": "no_commas"}, contains(capital)],
                   "format:no_commas")  # fmt: skip
    for topic in ("the sun", "the ocean", "a cat", "a tree", "the moon", "rain"):
        prompt = f"Describe {topic} in one sentence without using any commas."
        yield case(f"nocomma-describe-{slug(topic)}", prompt, [{"check": "no_commas"}], "format:no_commas")


WORD_COUNT_TOPICS = ["dogs", "rain", "the sea", "apples", "winter", "music", "books", "trees", "the moon", "bread"]


def word_count_cases() -> Iterator[GoldenCase]:
    """A word count inside a range: short factual answers, and one sentence on a topic."""
    for country, capital in CAPITALS[12:22]:
        prompt = f"Answer in one short sentence of fewer than 15 words: what is the capital of {country}?"
        checks = [{"check": "word_count_between", "lo": 1, "hi": 14}, contains(capital)]
        yield case(f"words-capital-{slug(country)}", prompt, checks, "format:word_count")
    for topic in WORD_COUNT_TOPICS:
        prompt = f"Write one sentence of 5 to 25 words about {topic}."
        checks = [{"check": "word_count_between", "lo": 5, "hi": 25}]
        yield case(f"words-sentence-{slug(topic)}", prompt, checks, "format:word_count")


YES_QUESTIONS = [
    "Is the sun hot?", "Is water wet?", "Is fire hot?", "Is snow cold?", "Is the sky blue?", "Is grass green?",
    "Do birds have feathers?", "Is ice frozen water?", "Do fish live in water?", "Is Paris in France?",
]  # fmt: skip


def starts_with_cases() -> Iterator[GoldenCase]:
    """The answer opens with the given word."""
    for question in YES_QUESTIONS:
        prompt = f'Start your answer with the word "Yes". {question}'
        yield case(f"starts-yes-{slug(question)}", prompt, [{"check": "starts_with", "prefix": "Yes"}],
                   "format:starts_with")  # fmt: skip
    for country, capital in CAPITALS[22:30]:
        prompt = f'Start your answer with the word "The". What is the capital of {country}?'
        yield case(f"starts-the-capital-{slug(country)}", prompt,
                   [{"check": "starts_with", "prefix": "The"}, contains(capital)], "format:starts_with")  # fmt: skip
    for request in ("Introduce yourself.", "Greet a new student.", "Welcome a guest to your home."):
        prompt = f'Begin your reply with the word "Hello". {request}'
        yield case(f"starts-hello-{slug(request)}", prompt, [{"check": "starts_with", "prefix": "Hello"}],
                   "format:starts_with")  # fmt: skip


REPEAT_PHRASES = [
    "green apples and red cherries", "the quick brown fox jumps over the lazy dog", "we walked along the river",
    "my favourite season is summer", "the train leaves at noon", "please close the door",
]  # fmt: skip
DONE_SHOTS = [("What colour is snow? End your answer with the word done.", "Snow is white. done")]


def ends_with_cases() -> Iterator[GoldenCase]:
    """The answer closes with the given word: repeat a phrase, or follow an example."""
    for phrase in REPEAT_PHRASES:
        prompt = f"Repeat this phrase exactly, and nothing else: {phrase}"
        last = phrase.split()[-1]
        yield case(f"ends-repeat-{slug(phrase)}", prompt, [{"check": "ends_with", "suffix": last}], "format:ends_with")
    for question in ("What colour is grass?", "What is the capital of Italy?", "Which animal says moo?",
                     "What is the opposite of hot?", "What do bees make?", "Which planet do we live on?"):  # fmt: skip
        prompt = few_shot(DONE_SHOTS, f"{question} End your answer with the word done.")
        yield case(f"ends-done-{slug(question)}", prompt, [{"check": "ends_with", "suffix": "done"}], "format:ends_with")


def candidate_pool() -> list[GoldenCase]:
    """Every candidate, in family order; ids are unique (checked)."""
    pool = [
        *fact_cases(), *arithmetic_cases(), *all_caps_cases(), *bullet_cases(), *json_cases(), *no_comma_cases(),
        *word_count_cases(), *starts_with_cases(), *ends_with_cases(),
    ]  # fmt: skip
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


def run_base(pool: Sequence[GoldenCase]) -> tuple[dict[str, str], list[str]]:
    """The base model's identity and its greedy answer to each candidate (cached)."""
    config = HarnessConfig.load(ROOT)
    cache = GenerationCache(config.cache_dir / "generations.sqlite")
    try:
        model = ModelFactory(config, cache).build(parse_spec(MODEL, config, cwd=ROOT))
        answers = model.generate([c.prompt() for c in pool], max_new_tokens=MAX_NEW_TOKENS)
        identity = {"spec": MODEL, "label": model.label, "fingerprint": model.fingerprint()}
        params = {**config.generation.params(), "max_new_tokens": MAX_NEW_TOKENS}
        return {**identity, "generation": json.dumps(params, sort_keys=True)}, [a.text for a in answers]
    finally:
        cache.close()


def select(pool: Sequence[GoldenCase], outputs: Sequence[str]) -> tuple[list[GoldenCase], list[dict[str, Any]]]:
    """The cases the base passes (sorted by id), and a record of each dropped case with the base's answer."""
    kept, dropped = [], []
    for candidate, output in zip(pool, outputs, strict=True):
        if passes(output, candidate.expected):
            kept.append(candidate)
        else:
            dropped.append({"id": candidate.id, "family": family(candidate), "output": output})
    return sorted(kept, key=lambda c: c.id), sorted(dropped, key=lambda d: d["id"])


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="run the selection and report; write nothing")
    args = parser.parse_args(argv)

    started = time.monotonic()
    pool = candidate_pool()
    model, outputs = run_base(pool)
    kept, dropped = select(pool, outputs)
    families = per_family(pool, kept)
    wall_s = round(time.monotonic() - started, 1)

    for name, n in families.items():
        print(f"  {name:22} kept {n['kept']:3} / {n['pool']:3}")
    print(f"  {'total':22} kept {len(kept):3} / {len(pool):3}   ({model['label']}, max_new_tokens={MAX_NEW_TOKENS})")
    lines = "".join(c.to_json_line() + "\n" for c in kept)
    found = problems(kept, families)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if args.check:
        same = CASES.is_file() and CASES.read_text(encoding="utf-8") == lines
        print(f"{CASES.relative_to(ROOT)} {'is up to date' if same else 'would change'} (--check: nothing written)")
        return 0 if same and not found else 1
    if found:
        return 1

    CASES.write_text(lines, encoding="utf-8", newline="\n")
    assert [c.id for c in load_file(CASES)] == [c.id for c in kept]  # the file we wrote must load cleanly
    record = {
        "command": ".venv/bin/python golden/regression/build.py",
        "date": datetime.now(UTC).date().isoformat(),
        "model": {key: model[key] for key in ("spec", "label", "fingerprint")},
        "generation": json.loads(model["generation"]),
        "max_new_tokens": MAX_NEW_TOKENS,
        "pool_size": len(pool),
        "kept": len(kept),
        "families": families,
        "wall_s": wall_s,
        "dropped": dropped,
    }
    SELECTION.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {CASES.relative_to(ROOT)} ({len(kept)} cases) and {SELECTION.relative_to(ROOT)} in {wall_s}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
