"""Build golden/regression_dev/cases.jsonl: the regression set's dev counterpart, for the eval gate's forgetting vote.

    .venv/bin/python golden/regression_dev/build.py           # run the base, select, write both files
    .venv/bin/python golden/regression_dev/build.py --check   # run the base and report; write nothing

`harness train`'s eval gate can let forgetting vote on which checkpoint is kept
(`eval_gate.gates.forgetting`). If it replayed golden/regression itself, the checkpoint chosen would be
the one that happens to lose fewest of the very cases the promotion gate then scores: among several
checkpoints, the smallest count of borderline flips is a biased estimate of the next one. So the vote
replays this set instead: the same families, checks, few-shot formats and selection rule as
golden/regression (its build.py does all the work), asked about *other* items: other capitals,
opposites, sums and products, other topics for the format instructions. Nothing here repeats a
regression case.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def _regression_builder() -> ModuleType:
    path = HERE.parent / "regression" / "build.py"
    spec = importlib.util.spec_from_file_location("regression_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regression = _regression_builder()

CAPITALS = [
    ("Mexico", "Mexico City"), ("Cuba", "Havana"), ("the Czech Republic", "Prague"), ("Iceland", "Reykjavik"),
    ("Vietnam", "Hanoi"), ("the Philippines", "Manila"), ("Indonesia", "Jakarta"), ("Iran", "Tehran"),
    ("Iraq", "Baghdad"), ("Saudi Arabia", "Riyadh"), ("Turkey", "Ankara"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Croatia", "Zagreb"), ("Scotland", "Edinburgh"),
    ("Wales", "Cardiff"), ("Switzerland", "Bern"), ("New Zealand", "Wellington"), ("Malaysia", "Kuala Lumpur"),
    ("Israel", "Jerusalem"), ("Lebanon", "Beirut"), ("Syria", "Damascus"), ("Afghanistan", "Kabul"),
    ("Nepal", "Kathmandu"), ("Ethiopia", "Addis Ababa"), ("Ghana", "Accra"), ("Venezuela", "Caracas"),
    ("Uruguay", "Montevideo"), ("Jamaica", "Kingston"),
]  # fmt: skip

OPPOSITES = [
    ("open", "closed"), ("clean", "dirty"), ("loud", "quiet"), ("cheap", "expensive"), ("thick", "thin"),
    ("heavy", "light"), ("true", "false"), ("love", "hate"), ("above", "below"), ("inside", "outside"),
    ("remember", "forget"), ("buy", "sell"), ("give", "take"), ("sweet", "sour"), ("smooth", "rough"),
    ("awake", "asleep"), ("always", "never"), ("alive", "dead"), ("friend", "enemy"), ("question", "answer"),
    ("near", "far"), ("first", "last"), ("laugh", "cry"), ("summer", "winter"),
]  # fmt: skip

COLOURS = [
    ("a strawberry", "red"), ("an orange", "orange"), ("a cucumber", "green"), ("a polar bear", "white"),
    ("a crow", "black"), ("a pumpkin", "orange"), ("a ripe cherry", "red"), ("a pea", "green"),
    ("the night sky", "black"), ("a fire engine", "red"), ("a sunflower", "yellow"), ("a frog", "green"),
]  # fmt: skip

ANIMALS = [
    ("Which animal says oink?", "pig"), ("Which animal says quack?", "duck"),
    ("Which animal has a mane and roars?", "lion"), ("What is a baby cow called?", "calf"),
    ("What is a baby horse called?", "foal"), ("Which bird cannot fly and lives in Antarctica?", "penguin"),
    ("Which animal hops and carries its baby in a pouch?", "kangaroo"), ("Which animal spins a web?", "spider"),
    ("Which animal has eight arms and lives in the sea?", "octopus"), ("Which animal says neigh?", "horse"),
    ("What is a baby duck called?", "duckling"), ("Which animal says baa?", "sheep"),
]  # fmt: skip

GENERAL = [
    ("Which planet is known as the Red Planet?", "Mars"), ("Who painted the Mona Lisa?", "Leonardo"),
    ("What is the currency of the United States?", "dollar"), ("Which language is spoken in Germany?", "German"),
    ("Which language is spoken in Spain?", "Spanish"), ("What is the largest continent?", "Asia"),
    ("What is the longest river in Africa?", "Nile"), ("In which country are the pyramids of Giza?", "Egypt"),
    ("Who was the first person to walk on the Moon?", "Armstrong"),
    ("Which organ pumps blood through the body?", "heart"), ("What is the hardest natural substance?", "diamond"),
    ("What is the currency of the United Kingdom?", "pound"),
    ("Which is the smallest planet in the solar system?", "Mercury"), ("What do caterpillars turn into?", "butterfly"),
]  # fmt: skip

COUNTS = [
    ("How many legs does a cat have?", 4), ("How many days are in a year?", 365),
    ("How many sides does a hexagon have?", 6), ("How many letters are in the English alphabet?", 26),
    ("How many planets are in the solar system?", 8), ("How many legs does an insect have?", 6),
    ("How many weeks are in a year?", 52), ("How many sides does a pentagon have?", 5),
    ("How many eyes does a person have?", 2), ("How many fingers are on one hand?", 5),
    ("At how many degrees Celsius does water freeze?", 0), ("How many legs does a bird have?", 2),
]  # fmt: skip


def _other_pairs(op: str, candidates: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pairs the regression set does not ask (in either order, for the commutative operations)."""
    asked = set(regression.ARITHMETIC[op])
    if op in ("add", "mul"):
        asked |= {(b, a) for a, b in asked}
    shots = {(a, b) for a, o, b in regression.ARITHMETIC_SHOTS if o == op}
    return [pair for pair in dict.fromkeys(candidates) if pair not in asked and pair not in shots]


ARITHMETIC = {
    "add": _other_pairs("add", [(3 + (5 * i) % 16, 2 + (7 * i) % 12) for i in range(40)])[:24],
    "sub": _other_pairs("sub", [(10 + (5 * i) % 10, 2 + (5 * i) % 7) for i in range(30)])[:12],
    "mul": _other_pairs("mul", [(3 + (3 * i) % 7, 2 + (5 * i) % 8) for i in range(30)])[:12],
}

CAPS_REQUESTS = [
    "what colour is a lemon?", "what colour is milk?", "what colour is chocolate?", "what colour is blood?",
    "what colour is a carrot?", "what is the capital of Canada?", "what is the capital of China?",
    "what is the capital of Greece?", "what is the capital of Portugal?", "what is the capital of Poland?",
    "what is the capital of Mexico?", "what is the capital of Cuba?", "what is the opposite of fast?",
    "what is the opposite of wet?", "what is the opposite of young?", "what is the opposite of happy?",
    "which animal says meow?", "which animal says oink?", "which insect makes honey?",
    "what is frozen water called?", "say goodbye.", "say good night.", "say please.",
]  # fmt: skip

BULLET_TOPICS = [
    "insects", "shapes", "toys", "desserts", "games", "clothes", "foods", "pets", "mountains", "seasons",
    "metals", "furniture", "kitchen items", "hobbies", "body parts", "school subjects",
]  # fmt: skip

JSON_TEMPLATES = [
    (("city", "country"), "London"), (("city", "country"), "Lisbon"), (("city", "country"), "Athens"),
    (("city", "country"), "Vienna"), (("city", "country"), "Moscow"), (("city", "country"), "Beijing"),
    (("colour", "fruit"), "an orange"), (("colour", "fruit"), "a lime"), (("colour", "fruit"), "a plum"),
    (("colour", "fruit"), "a grape"), (("name", "age"), "a boy called Leo who is 12"),
    (("name", "age"), "a woman called Ana who is 55"), (("name", "age"), "a man called Raj who is 27"),
    (("animal", "sound"), "a sheep"), (("animal", "sound"), "a duck"), (("animal", "sound"), "a horse"),
    (("planet", "colour"), "Venus"), (("book", "author"), "Macbeth"), (("language", "country"), "Spanish"),
    (("day", "next_day"), "Friday"),
]  # fmt: skip
JSON_COMPLETIONS = [
    ("animal", "cat", "sound"), ("city", "Rome", "country"), ("name", "Bob", "age"), ("fruit", "banana", "colour"),
    ("language", "German", "country"), ("day", "Sunday", "next_day"),
]  # fmt: skip

DEV = regression.Content(
    id_prefix="dev", capitals=CAPITALS, opposites=OPPOSITES, colours=COLOURS, animals=ANIMALS, general=GENERAL,
    counts=COUNTS, arithmetic=ARITHMETIC, caps_requests=CAPS_REQUESTS, bullet_topics=BULLET_TOPICS,
    json_templates=JSON_TEMPLATES, json_completions=JSON_COMPLETIONS,
    describe_topics=["the wind", "a river", "a dog", "a flower", "the stars", "snow"],
    word_count_topics=["cats", "summer", "the forest", "oranges", "spring", "painting", "coffee", "mountains",
                       "the sun", "cheese"],
    yes_questions=["Is the moon in the sky at night?", "Is sugar sweet?", "Do cows eat grass?", "Is Rome in Italy?",
                   "Do dogs have four legs?", "Is the ocean salty?", "Is a lemon sour?", "Do trees have leaves?",
                   "Is Tokyo in Japan?", "Is milk white?"],
    hello_requests=["Greet your new neighbour.", "Welcome a customer to a shop.", "Say hi to an old friend."],
    repeat_sentences=["The cat sat on the warm mat.", "Birds sing in the early morning.",
                      "She reads a book every night.", "The lake was calm and blue.", "Our bus arrives at nine.",
                      "Please open the window."],
    done_questions=["What colour is a banana?", "What is the capital of Spain?", "Which animal says meow?",
                    "What is the opposite of day?", "Which insect makes honey?", "What is the capital of Germany?",
                    "What is the opposite of big?", "How many months are in a year?", "What colour is coal?",
                    "What is the capital of Egypt?", "Which animal has a trunk?", "What is the opposite of fast?"],
)  # fmt: skip


if __name__ == "__main__":
    sys.exit(regression.main(content=DEV, set_dir=HERE))
