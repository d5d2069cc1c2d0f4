"""Build training/data/general/prompts.jsonl: general prompts whose base-model answers are replayed in training.

    .venv/bin/python training/data/general/build.py

Replay fights forgetting: mixing the base model's own answers to everyday requests into a narrow
task's training data keeps the adapter answering them the way the base did. These prompts must not
be the regression suite's: golden/regression tests facts, arithmetic and format instructions, so this
pool asks for explanations, advice, short writing and how-tos instead (and curation's leakage stage
checks the overlap anyway). Deterministic: topics x templates, shuffled with a fixed seed.
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
TEMPLATES = [
    "Explain {topic} to a ten-year-old.",
    "Give me three tips about {topic}.",
    "Write a short paragraph about {topic}.",
    "What should a beginner know about {topic}?",
    "Describe {topic} in two sentences.",
    "Why do people find {topic} difficult, and how can they make it easier?",
    "Write a friendly message to a friend about {topic}.",
    "What are the pros and cons of {topic}?",
]


def prompts() -> list[str]:
    pool = [template.format(topic=topic) for topic in TOPICS for template in TEMPLATES]
    return random.Random(SEED).sample(pool, COUNT)


def main() -> None:
    OUT.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts()), encoding="utf-8")
    print(f"wrote {OUT}: {COUNT} prompts")


if __name__ == "__main__":
    main()
