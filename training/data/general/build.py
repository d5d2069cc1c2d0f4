"""Build training/data/general/prompts.jsonl: general chats whose base-model answers are replayed in training.

    .venv/bin/python training/data/general/build.py

Replay fights forgetting: mixing the base model's own answers to everyday requests into a narrow
task's training data keeps the adapter answering them the way the base did. A narrow task teaches the
adapter one shape of answer (a label on one line), so replay must show the other shapes a chat model
gives: explanations and advice, but also lists, JSON, capitals, answers that open or close with a
given word, and answers that follow the format of an earlier turn (few-shot chats). These are the
kinds of request the regression suite asks too, but never its cases: the topics here are everyday
subjects, not its capitals, opposites, animals or sums, and `harness train` drops any prompt that
shares a word 13-gram or a near-duplicate with a golden case. Short answers on purpose: replay must
show whole answers, ending where the base model ends them, within the replay's token budget.

Each line is `{"prompt": "..."}` (one user turn) or `{"messages": [...]}` (a chat ending with a user
turn). Deterministic: topics x templates, shuffled with a fixed seed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 2026
COUNT = 1200
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
    "knitting", "a rainy weekend", "street food", "solar panels", "a pottery class", "a train journey",
    "a family reunion", "winter tyres", "a job promotion", "the first day of school", "a hiking trail",
    "a leaky tap", "a book club", "a vegetable soup", "paper planes", "a city marathon", "a sunrise",
    "a music festival", "a dentist visit", "a farmers market", "kite flying", "a home office", "a snowman",
    "a science museum", "a thunderstorm", "an old photograph", "a garden pond", "a crossword puzzle",
    "a wedding toast", "a bus timetable", "a food bank", "a yoga class", "a fishing trip", "a lighthouse",
    "a community garden", "a school play", "a night sky", "a woodworking project", "a lemonade stand",
    "a tea ceremony", "a flat tyre", "a charity run", "a spring clean", "a sandcastle", "a choir rehearsal",
    "a treehouse",
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
    # format instructions: the answer shapes a label-only task would otherwise crowd out
    "Give two tips about {topic} as a bulleted list.",
    "Reply in JSON with the keys \"topic\" and \"summary\": tell me about {topic}.",
    "Using only capital letters, say something about {topic}.",
    "Tell me about {topic} in one sentence that uses no commas.",
    "Begin your reply with the word Sure, then explain {topic} briefly.",
    "Say one thing about {topic} and finish your reply with the word thanks.",
    "Explain {topic} in at most twelve words.",
]
FEW_SHOT = [  # an earlier exchange sets the format; the last turn asks for the same on a new topic
    ("Give two tips about staying warm as a bulleted list.", "- Wear layers\n- Drink something hot",
     "Give two tips about {topic} as a bulleted list."),
    ("Using only capital letters, say something about summer.", "SUMMER DAYS ARE LONG AND BRIGHT.",
     "Using only capital letters, say something about {topic}."),
    ('Reply in JSON with the keys "topic" and "mood": a sunny morning.',
     '{"topic": "a sunny morning", "mood": "happy"}',
     'Reply in JSON with the keys "topic" and "mood": {topic}.'),
    ("Say one thing about coffee and finish your reply with the word thanks.", "Coffee wakes many people up. thanks",
     "Say one thing about {topic} and finish your reply with the word thanks."),
    ("Begin your reply with the word Sure, then explain a kettle briefly.", "Sure, a kettle heats water for drinks.",
     "Begin your reply with the word Sure, then explain {topic} briefly."),
    ("Tell me about autumn in one sentence that uses no commas.", "Autumn brings cool air and falling leaves.",
     "Tell me about {topic} in one sentence that uses no commas."),
    ("Explain a calendar in at most twelve words.", "A calendar shows the days weeks and months of a year.",
     "Explain {topic} in at most twelve words."),
]


def prompts() -> list[dict[str, object]]:
    single = [{"prompt": template.format(topic=topic)} for topic in TOPICS for template in TEMPLATES]
    chats = [
        {"messages": [{"role": "user", "content": ask}, {"role": "assistant", "content": answer},
                      {"role": "user", "content": then.format(topic=topic)}]}
        for topic in TOPICS for ask, answer, then in FEW_SHOT
    ]  # fmt: skip
    return random.Random(SEED).sample(single + chats, COUNT)


def main() -> None:
    OUT.write_text("".join(json.dumps(p) + "\n" for p in prompts()), encoding="utf-8")
    print(f"wrote {OUT}: {COUNT} prompts")


if __name__ == "__main__":
    main()
