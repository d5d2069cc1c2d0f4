"""Build training/data/ood/train.jsonl: 400 out-of-scope messages for training the router's fallback.

    .venv/bin/python training/data/ood/build.py

A router only learns to say `out_of_scope` if it sees messages that deserve it. These rows teach that,
while golden/ood measures whether it generalises, so the two are kept apart on purpose: different
topics (creative writing, trivia, arithmetic and unit conversions, translation, recommendations, life
advice, opinions, other businesses' appointments, and finance questions outside a card/transfer
neobank) and different phrasings, generated from slot templates rather than written one by one.
Curation drops any training row that near-duplicates (MinHash on word 5-grams) or shares a 13-gram with
a golden set, so overlap would only be thrown away; the pool's largest overlap with the golden sets was
measured once, when it was built (its README gives the figures), and curation's leakage stage checks
every row again on each `harness curate`.

Deterministic: each family's slot combinations are sampled with random.Random(SEED), each row's frame
too, and the rows are shuffled with the same generator. Rows: {"text": ..., "label": "out_of_scope"}.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from pathlib import Path

SEED = 404
LABEL = "out_of_scope"  # golden/banking77/build.py FALLBACK_LABEL
HERE = Path(__file__).resolve().parent
OUT = HERE / "train.jsonl"

FORMS = ["haiku", "limerick", "short poem", "two-line rhyme", "bedtime story", "song chorus"]
SUBJECTS = ["a lighthouse keeper", "autumn leaves", "a lost sock", "a grumpy penguin", "the first day of spring",
            "a robot who learns to paint", "my grandfather's garden", "a rainy Tuesday", "a brave little tugboat",
            "the smell of fresh coffee", "a dragon afraid of heights", "an empty playground"]  # fmt: skip
WRITING_FRAMES = ["Write a {form} about {subject}.", "Could you compose a {form} about {subject}?",
                  "I'd love a {form} about {subject}, please.", "Make up a {form} featuring {subject}."]  # fmt: skip

CHORES = ["unblock a kitchen sink", "get red wine out of a carpet", "hang a heavy mirror on a plaster wall",
          "descale a kettle", "stop a door from squeaking", "repot a root-bound cactus",
          "keep slugs off my lettuces", "clean mould off a bathroom ceiling", "bleed a radiator",
          "sharpen a kitchen knife", "fold a fitted sheet", "remove rust from garden tools",
          "iron a shirt without creases", "get rid of fruit flies", "patch a hole in drywall",
          "change a bicycle inner tube", "wash a wool jumper without shrinking it", "grow basil on a windowsill",
          "defrost a freezer quickly", "train a puppy to sit", "clip a budgie's nails safely",
          "choose paint for a north-facing room", "lay patio slabs", "insulate a loft",
          "season a cast iron pan", "remove chewing gum from hair", "keep cut flowers fresh longer",
          "organise a cluttered garage", "tune an acoustic guitar", "stop condensation on windows"]  # fmt: skip
CHORE_FRAMES = ["What's the trick to {x}?", "Walk me through how to {x}.", "Best way to {x}?",
                "Any advice on how to {x}?"]  # fmt: skip

TRIVIA = ["Who painted the Sistine Chapel ceiling?", "How far away is the Moon?",
          "Which city hosted the 1992 Olympics?",
          "Which planet has the most moons?", "When did the Berlin Wall fall?", "Who wrote Pride and Prejudice?",
          "How many bones are in the human body?", "How was the Grand Canyon formed?",
          "Why is the sky blue?", "Who discovered penicillin?", "Who was the first emperor of Rome?",
          "How do bats find their way in the dark?", "What is the longest river in Europe?",
          "Who invented the telephone?",
          "How old is the universe?", "What does DNA stand for?", "What makes the ocean salty?",
          "Who made the first violins?", "Who was the first woman to win a Nobel Prize?",
          "What is the boiling point of water at altitude?", "Why do cats purr?", "What is a black hole?",
          "Which country has the most islands?", "How does a compass work?", "Who composed the Four Seasons?",
          "What's the speed of sound?", "Where do penguins live in the wild?", "What causes the northern lights?",
          "Where was chess invented?", "Why is Vatican City its own country?",
          "Who built Machu Picchu?", "How do volcanoes form?", "What is the chemical symbol for gold?",
          "Why do leaves change colour?", "Who was Cleopatra?", "How long do elephants live?",
          "What year did humans land on the Moon?", "What is photosynthesis in simple terms?",
          "Why do camels have humps?", "How do submarines dive?"]  # fmt: skip
TRIVIA_FRAMES = ["{q}", "Random question: {q}", "{q} Always wondered.", "Settle a debate for us. {q}"]

UNITS = [("miles", "kilometres"), ("pounds", "kilograms"), ("feet", "metres"), ("cups", "millilitres"),
         ("Fahrenheit", "Celsius"), ("inches", "centimetres"), ("gallons", "litres"), ("ounces", "grams")]  # fmt: skip
# Conversions and algebra, not "What is N times M?": golden/regression asks plain arithmetic without the
# router prompt, and the adapter must keep answering it there.
MATH_FRAMES = ["Convert {n} {a} to {b}.", "How many {b} is {n} {a}?", "Round {n}.{m} to the nearest ten.",
               "Is {n} a prime number?", "Solve for x: {m}x + {n} = {k}"]  # fmt: skip

PHRASES = ["where is the train station", "I am allergic to nuts", "happy birthday", "the bill, please",
           "nice to meet you", "I am lost", "good luck with your exam", "what time does the museum open",
           "my name is Sam", "can I have a coffee"]  # fmt: skip
LANGUAGES = ["Italian", "Japanese", "Portuguese", "Dutch", "Greek", "Swahili", "Korean", "Polish"]
TRANSLATION_FRAMES = ["How do you say '{p}' in {lang}?", "Translate '{p}' into {lang}.",
                      "What's '{p}' in {lang}?"]  # fmt: skip

THINGS = ["documentary", "board game", "podcast", "fantasy novel", "stand-up special", "jigsaw puzzle",
          "video game", "album", "cookbook", "houseplant"]  # fmt: skip
AUDIENCES = ["a rainy afternoon", "my teenage nephew", "a long train journey", "a family of five",
             "someone who loves history", "a complete beginner", "a retirement gift", "a dinner party"]  # fmt: skip
RECOMMEND_FRAMES = ["Recommend a {t} for {a}.", "Can you suggest a {t} for {a}?", "Which {t} would suit {a}?"]

ADVICE = ["make friends after moving to a new city", "stop procrastinating", "prepare for a job interview",
          "get better at public speaking", "learn to touch type", "wake up earlier", "deal with a noisy flatmate",
          "ask for feedback at work", "start running at 50", "remember people's names",
          "write a good cover letter", "keep a diary", "plan a surprise party", "learn chess openings",
          "be more patient with my kids", "handle a difficult conversation", "learn sign language",
          "stay focused when working from home", "say no without feeling guilty",
          "make a speech at a wedding"]  # fmt: skip
ADVICE_FRAMES = ["How can I {x}?", "Tips to {x}?", "I'm trying to {x}. Where do I start?"]

OPINIONS = ["pineapple on pizza", "reading on an e-reader versus paper", "four-day working weeks",
            "the ending of the last Star Wars film", "cats being better than dogs", "daylight saving time",
            "open-plan offices", "learning Latin at school", "modern architecture", "reality TV",
            "self-driving cars", "getting up before sunrise", "tea versus coffee", "electric scooters in cities",
            "homework for young children"]  # fmt: skip
OPINION_FRAMES = ["What do you think about {x}?", "Hot take on {x}?"]

BUSINESSES = ["dentist", "hairdresser", "vet", "car garage", "driving school", "piano teacher", "hotel",
              "physiotherapist", "optician", "dog groomer"]  # fmt: skip
SERVICE_FRAMES = ["I need to move my appointment with the {b} to next Thursday.",
                  "Is the {b} open on bank holidays?", "How do I leave a review for the {b} I visited?",
                  "The {b} hasn't confirmed my booking yet.", "Can I bring my child along to the {b}?"]  # fmt: skip

FINANCE = ["what an annuity is", "how venture capital funding rounds work", "whether to lease or buy a car",
           "how to value a small business", "what a hedge fund does", "what a price-to-earnings ratio means",
           "how to write an invoice as a freelancer", "what capital gains tax is", "how to buy a house at auction",
           "how crowdfunding platforms work", "life insurance for a 35-year-old", "what a credit union is",
           "how payday loans work", "what quantitative easing is", "how to negotiate a pay rise",
           "what the minimum wage is this year", "how a company goes public", "what an ISA allowance is",
           "what equity release means", "how probate works", "what an accountant charges for a tax return",
           "the difference between shares and bonds", "how a pension annuity is calculated",
           "what a stock split is", "how to start investing with little money"]  # fmt: skip
FINANCE_FRAMES = ["Can you explain {x}?", "I'd like a simple explanation of {x}.", "Help me understand {x}."]


def _writing(rng: random.Random) -> list[str]:
    return [rng.choice(WRITING_FRAMES).format(form=f, subject=s) for f, s in itertools.product(FORMS, SUBJECTS)]


def _framed(frames: list[str], items: list[str], slot: str) -> Callable[[random.Random], list[str]]:
    return lambda rng: [rng.choice(frames).format(**{slot: item}) for item in items]


def _maths(rng: random.Random) -> list[str]:
    rows = []
    for i in range(80):
        n, m = rng.randint(3, 250), rng.randint(2, 19)
        a, b = UNITS[i % len(UNITS)]
        rows.append(rng.choice(MATH_FRAMES).format(n=n, m=m, a=a, b=b, k=n + m * rng.randint(1, 9)))
    return rows


def _translation(rng: random.Random) -> list[str]:
    return [rng.choice(TRANSLATION_FRAMES).format(p=p, lang=lang) for p, lang in itertools.product(PHRASES, LANGUAGES)]


def _recommend(rng: random.Random) -> list[str]:
    return [rng.choice(RECOMMEND_FRAMES).format(t=t, a=a) for t, a in itertools.product(THINGS, AUDIENCES)]


def _services(rng: random.Random) -> list[str]:
    return [frame.format(b=b) for b, frame in itertools.product(BUSINESSES, SERVICE_FRAMES)]


# family -> (generator of candidate rows, how many rows to keep)
FAMILIES: dict[str, tuple[Callable[[random.Random], list[str]], int]] = {
    "writing": (_writing, 52),
    "chores": (_framed(CHORE_FRAMES, CHORES, "x"), 30),
    "trivia": (_framed(TRIVIA_FRAMES, TRIVIA, "q"), 40),
    "maths": (_maths, 58),
    "translation": (_translation, 55),
    "recommend": (_recommend, 55),
    "advice": (_framed(ADVICE_FRAMES, ADVICE, "x"), 20),
    "opinions": (_framed(OPINION_FRAMES, OPINIONS, "x"), 15),
    "services": (_services, 50),
    "finance": (_framed(FINANCE_FRAMES, FINANCE, "x"), 25),
}


def rows(seed: int = SEED) -> list[dict[str, str]]:
    """The training rows: each family's quota sampled from its distinct candidates, then shuffled."""
    rng = random.Random(seed)
    texts: list[str] = []
    for name, (generate, keep) in FAMILIES.items():
        candidates = sorted(set(generate(rng)))
        if len(candidates) < keep:
            raise SystemExit(f"{__file__}: family {name!r} has {len(candidates)} distinct rows, needs {keep}")
        texts += rng.sample(candidates, keep)
    rng.shuffle(texts)
    return [{"text": text, "label": LABEL} for text in texts]


def main() -> None:
    data = rows()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data), encoding="utf-8")
    print(f"wrote {OUT}: {len(data)} rows")


if __name__ == "__main__":
    main()
