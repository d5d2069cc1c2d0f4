"""Build training/data/general/prompts.jsonl: general prompts whose base-model answers are replayed in training.

    .venv/bin/python training/data/general/build.py

Replay fights forgetting: mixing the base model's own answers to everyday requests into a narrow
task's training data keeps the adapter answering them the way the base did. These prompts must not
be the regression suite's: golden/regression tests facts, arithmetic and format instructions, so this
pool asks for short explanations, advice, notes and titles instead (and curation's leakage stage
checks the overlap anyway). The templates ask for short answers on purpose: replay must show the model
whole answers, ending where the base model ends them, within the replay's token budget. Deterministic: topics x templates, shuffled with a fixed seed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 2026
COUNT = 300
OUT = Path(__file__).resolve().parent / "prompts.jsonl"

TOPICS = [
    "photosynthesis", "the water cycle", "compound interest", "a rainbow", "jet lag", "recycling plastic",
    "learning a new language", "a job interview", "sleeping well", "a vegetable garden", "public speaking",
    "time management", "a first marathon", "saving for a holiday", "houseplants", "a healthy breakfast",
    "moving to a new city", "a birthday party", "meditation", "writing a cover letter", "volcanoes",
    "the moon's phases", "electric cars", "a library card", "board games", "a camping trip", "bread baking",
    "a power outage", "online passwords", "a sore throat", "bird watching", "a thank-you note", "tides",
    "a bicycle tyre", "a small business", "team meetings", "rainy days", "a museum visit", "composting",
    "a road trip", "the printing press", "honeybees", "a chess opening", "snow", "a school science fair",
    "a stubborn jar lid", "noisy neighbours", "a picnic", "learning to swim", "a lost umbrella",
]
TEMPLATES = [  # short answers: a whole answer (and where it stops) is what replay must teach
    "Describe {topic} in two sentences.",
    "In one sentence, what is {topic}?",
    "Give me one tip about {topic}.",
    "Name three things a beginner should know about {topic}.",
    "Write a two-line note to a friend about {topic}.",
    "What is the main benefit of {topic}? Answer briefly.",
    "Summarise {topic} in a short sentence.",
    "Suggest a title for a blog post about {topic}.",
]


def prompts() -> list[str]:
    pool = [template.format(topic=topic) for topic in TOPICS for template in TEMPLATES]
    return random.Random(SEED).sample(pool, COUNT)


def main() -> None:
    OUT.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts()), encoding="utf-8")
    print(f"wrote {OUT}: {COUNT} prompts")


if __name__ == "__main__":
    main()
