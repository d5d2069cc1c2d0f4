"""Build golden/ood/cases.jsonl: 100 hand-written messages that fit none of the 77 Banking77 intents.

Run from the repo root after golden/banking77 (it reuses that set's system turn, so the router is asked
exactly the question it is trained on):

    .venv/bin/python golden/ood/build.py

Every case expects the fallback label `out_of_scope`. The queries are written by hand for this harness
(no source dataset), grouped by topic; the topic is the case's tag. Near-miss finance questions
(mortgages, shares, tax, pensions, insurance, loans) and other industries' customer service (broadband,
flights, parcels, number porting) sound like banking but fit none of Banking77's card, transfer, top-up,
exchange, ATM, identity and account intents; "visa" (travel) and "transfer my number" are there on
purpose. Rebuilding gives a byte-identical file; after a deliberate change, re-freeze the golden lock.
"""

from __future__ import annotations

from pathlib import Path

from harness.golden import GoldenCase, load_file, write_file

HERE = Path(__file__).resolve().parent
BANKING77 = HERE.parent / "banking77" / "cases.jsonl"
FALLBACK = "out_of_scope"  # golden/banking77/build.py FALLBACK_LABEL

QUERIES: dict[str, list[str]] = {
    "weather": [
        "Will it rain in Manchester this weekend?",
        "what's the temperature in lisbon right now",
        "Is there a storm warning for the coast tonight?",
        "How humid will Singapore be tomorrow afternoon?",
        "Do I need an umbrella today?",
        "When does the snow usually start in the Alps?",
        "What causes hail in the middle of summer?",
        "Is it going to be sunny for the marathon on Sunday?",
    ],
    "cooking": [
        "How long do I boil an egg for a runny yolk?",
        "What can I use instead of buttermilk in pancakes?",
        "Give me a quick vegetarian curry recipe.",
        "How do I stop my risotto from going sticky?",
        "What temperature should I roast a chicken at?",
        "Is it safe to refreeze prawns that have thawed?",
        "how many grams of flour are in a cup",
        "Which wine goes well with mushroom pasta?",
        "My bread dough won't rise, what did I do wrong?",
        "How do you make a sourdough starter from scratch?",
    ],
    "sport": [
        "Who won the Champions League final last year?",
        "How many players are on a rugby union team?",
        "Can someone explain the offside rule in football?",
        "When is the next Formula 1 race?",
        "Any tips to improve my tennis serve?",
        "What's a good beginner plan for running 5k?",
        "is the tour de france on tv tonight",
        "How is a tiebreak scored in tennis?",
    ],
    "coding": [
        "How do I reverse a list in Python?",
        "What's the difference between let and const in JavaScript?",
        "My git push was rejected, how do I fix it?",
        "Write a SQL query that finds duplicate emails in a table.",
        "Why does my Docker container exit immediately?",
        "How do I center a div with CSS?",
        "What does a segmentation fault mean in C?",
        "Explain recursion with a simple example.",
        "How can I read a CSV file with pandas?",
        "What is a REST API?",
    ],
    "travel": [
        "Do I need a visa to visit Japan for two weeks?",
        "What's the best time of year to visit Iceland?",
        "Can you recommend a cheap hotel near the Colosseum?",
        "How early should I get to the airport for an international flight?",
        "What are the must-see sights in Barcelona?",
        "Is the Eurostar quicker than flying to Paris?",
        "How much luggage can I take on a budget airline?",
        "Which vaccinations do I need for a trip to Kenya?",
        "What's the easiest way to get from Heathrow to central London?",
        "Suggest a three-day itinerary for Rome.",
    ],
    "health": [
        "What are the symptoms of the flu?",
        "How much water should I drink a day?",
        "Is it normal to get a headache after a workout?",
        "How can I fall asleep faster?",
        "What's a healthy resting heart rate?",
        "Can I take ibuprofen together with paracetamol?",
        "How do I treat a mild sunburn?",
        "Which stretches help with lower back pain?",
    ],
    "small_talk": [
        "Hi, how are you today?",
        "Tell me a joke.",
        "What's your favourite colour?",
        "Are you a robot or a real person?",
        "Good night!",
        "What's the meaning of life?",
        "Can you sing me a song?",
        "I'm bored, any ideas?",
        "Who made you?",
        "Do you like cats or dogs more?",
    ],
    "other_industry": [
        "My broadband has been down since yesterday, can you send an engineer?",
        "I want to upgrade my phone contract to unlimited data.",
        "My flight was cancelled, how do I rebook it?",
        "The pizza I ordered arrived cold and I want a replacement.",
        "How do I return a pair of shoes I bought from your website?",
        "My electricity meter reading looks wrong.",
        "Can I change the pick-up time for my rental car?",
        "Can I freeze my gym membership while I recover from an injury?",
        "The courier says my headphones were delivered but the parcel isn't here.",
        "Netflix keeps buffering on my TV, how do I fix it?",
        "I'd like to book a table for four at 7pm on Friday.",
        "The washing machine I bought is leaking, is it still under warranty?",
        "How do I transfer my mobile number to a new network?",
        "Can I change my seat on tomorrow's train to Edinburgh?",
    ],
    "finance_near_miss": [
        "What are current 30-year fixed mortgage rates?",
        "Should I buy Tesla shares right now?",
        "Which index fund has the lowest annual management fee?",
        "How do I file my self-assessment tax return?",
        "Can I deduct my home office from my taxes?",
        "How much should I have saved for retirement by 40?",
        "What counts as a good credit score?",
        "How do I make a claim on my car insurance?",
        "Am I eligible for student loan forgiveness?",
        "What's the difference between a Roth IRA and a traditional IRA?",
        "Should I pay off my student loan early or invest the money?",
        "How do bonds actually work?",
        "What is inflation and why does it matter?",
        "give me a stock tip for this week",
        "How do I apply for a personal loan?",
        "What interest rate do your savings accounts pay?",
        "How do I set up a trust fund for my kids?",
        "Is gold a good investment during a recession?",
        "What happens to my workplace pension if I change jobs?",
        "How do I remortgage to release equity from my house?",
        "How are dividends taxed?",
        "What's the best way to budget on a low income?",
    ],
}


def build() -> list[GoldenCase]:
    """The cases, in topic order; computed only from this file and the banking77 system turn."""
    system = load_file(BANKING77)[0].messages[0]  # type: ignore[index]
    texts = [(topic, text) for topic, texts in QUERIES.items() for text in texts]
    return [
        GoldenCase.model_validate({
            "id": f"ood-{i:03d}",
            "messages": [system, {"role": "user", "content": text}],
            "expected": FALLBACK,
            "tags": [topic],
        })
        for i, (topic, text) in enumerate(texts, start=1)
    ]  # fmt: skip


def main() -> None:
    cases = build()
    out = HERE / "cases.jsonl"
    write_file(out, cases)
    print(f"wrote {out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
