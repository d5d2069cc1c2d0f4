"""Build training/data/quantities/train.jsonl: Wikipedia sentences labelled with their quantities.

    python3 -m venv /tmp/qvenv
    /tmp/qvenv/bin/pip install quantulum3==0.10.0 scikit-learn==1.8.0 joblib stemming
    pip download quantulum3==0.10.0 --no-deps -d /tmp/q
    unzip -o /tmp/q/quantulum3-0.10.0-py3-none-any.whl quantulum3/_lang/en_US/train/wiki.json -d /tmp/q
    /tmp/qvenv/bin/python training/data/quantities/build.py [path/to/wiki.json] [--check]
    python3 training/data/quantities/build.py --validate

The quantities task (golden/quantities) asks a model to answer a sentence with its quantities as JSON, by
quantulum3's conventions: a number and the unit's full singular name, a range as its midpoint,
`dimensionless` for a bare number. Its golden cases are quantulum3's hand-written tests, so the training
rows come from elsewhere with the same conventions: the 65 Wikipedia articles on units that the quantulum3
0.10.0 wheel ships for its disambiguation classifier (`quantulum3/_lang/en_US/train/wiki.json`; 57
distinct articles, four repeated under several units), cut into sentences and labelled by quantulum3's
own parser. The labels are silver: the parser's output, not checked by hand. quantulum3 stays out of the
project's dependencies (it runs in a throwaway venv); `train.jsonl` is the data, and this script says how
it was made. The disambiguation classifier must load (scikit-learn 1.8.0, the version its clf.joblib was
pickled with), or ambiguous units ("pound", "degree") would be labelled differently.

Steps: check wiki.json's sha256 (WIKI_SHA256, also recorded in README.md); drop the repeated articles
and the reference sections (See also, References, ...); remove the formulas (the plain-text export
spells each as indented tokens and a `{\\displaystyle ...}` line); turn "\\u200b1\\u20444" into "1/4"; put
back the space missing after sentence ends ("KiB.The unit"); split into sentences (a regex on `.!?`
followed by a capital or a digit, except after common abbreviations and initials); keep sentences of 20
to 300 characters that start with a capital, digit or opening bracket/quote and end with `.!?`. Then
drop, in this order, counting each reason: a sentence that overlaps a golden user turn (equal after
`harness.curation.text.normalise`, or sharing a word 13-gram, which curation would drop anyway); a
repeat; text the parser misreads (MISREAD: superscripts the export lost, "10^6" written "106", and clock
times); a sentence with a unit outside the golden system prompt's list (casefolded, `dimensionless`
included), so the answers use the names the model is asked to use; a quantity that is not one
(`spurious`: a stray word such as "negative" or the "a half" of "a half-life", a lone "third" or "half",
minutes of time labelled minutes of arc, the old pence "6d" labelled dimes). Sentences with no quantity
(answer `[]`) are sampled down to EMPTY_SHARE of the rows. These filters only drop sentences: a kept
row's answer is the parser's, unedited.

Rows: {"id": "wiki-<article _id>-<n>" (n: the sentence's position in its article, from 1), "text",
"answer"}, the answer being the compact JSON array a model should write: [{"value": v, "unit": name}, ...]
in the parser's order (text order), integers without ".0", other values to 4 decimals (4 significant
digits below 1: one sixth is 0.1667), well within the golden check's 0.1% tolerance. Deterministic: the
build re-executes itself under PYTHONHASHSEED=HASH_SEED (quantulum3 breaks some ties in set order), the
empty sample and the final shuffle come from random.Random(SEED); rebuilding gives a byte-identical file
(`--check` compares instead of writing; about 30 s on one CPU core). `--validate` needs no quantulum3:
it checks the committed rows (ids, answers in the canonical form, unit names, no golden text) with plain
python3.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

SEED = 2718
HASH_SEED = "0"
"""PYTHONHASHSEED the build runs under (main re-executes itself with it), for set-order determinism."""
EMPTY_SHARE = 0.15
"""The largest share of rows whose answer is []."""
MIN_CHARS, MAX_CHARS, NGRAM = 20, 300, 13
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = HERE / "train.jsonl"
GOLDEN = ROOT / "golden" / "quantities" / "cases.jsonl"
DEFAULT_WIKI = Path("/tmp/q/quantulum3/_lang/en_US/train/wiki.json")
WIKI_SHA256 = "f772ba3022520ba66b08d447189c5ae1250cc443d232c938109997d5b3bb2ac1"
"""sha256 of quantulum3/_lang/en_US/train/wiki.json in quantulum3-0.10.0-py3-none-any.whl (README.md)."""
VERSIONS = {"quantulum3": "0.10.0", "scikit-learn": "1.8.0"}

SKIP_SECTIONS = {"see also", "references", "external links", "notes", "further reading", "notes and references",
                 "bibliography", "sources", "citations", "footnotes", "literature"}  # fmt: skip
"""Sections of citations and links rather than prose, dropped with their subsections."""
ABBREVIATIONS = {"e.g", "i.e", "etc", "c", "ca", "cf", "approx", "no", "nos", "mr", "mrs", "ms", "dr", "st", "vs",
                 "fig", "vol", "p", "pp", "ed", "eds", "jr", "sr", "inc", "ltd", "co", "u.s", "u.k", "al", "op",
                 "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}  # fmt: skip
"""Words whose trailing period does not end a sentence (compared casefolded, without the period)."""

FRACTION_WORDS = {"half", "halves", "third", "thirds", "quarter", "quarters", "fourth", "fourths", "fifth", "fifths",
                  "sixth", "sixths", "seventh", "sevenths", "eighth", "eighths", "ninth", "ninths", "tenth",
                  "tenths"}  # fmt: skip
"""Fraction words that alone are mostly ordinals ("the third series") or not a quantity ("the first half")."""
NUMBER_WORDS = FRACTION_WORDS | {
    "a", "an", "and", "to", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion",
    "trillion", "quadrillion", "quintillion", "dozen", "hundredth", "hundredths", "thousandth", "thousandths",
}  # fmt: skip
"""Words a quantity written without digits may start with ("two", "one third", "a gallon")."""
UNIT_WORDS = {"pence": "penny", "pennies": "penny", "arcminute": "minute", "arcminutes": "minute",
              "arcsecond": "second", "arcseconds": "second", "hrs": "hour", "meter": "metre", "meters": "metre",
              "liter": "litre", "liters": "litre", "millilitre": "centimetre", "milliliter": "centimetre",
              "ton": "tonne", "tons": "tonne", "metric": "tonne", "percent": "percentage", "per": "percentage",
              "cent": "percentage"}  # fmt: skip
"""Words for a unit that are not a word of its name (nor that word plus s or es)."""
MISREAD = {
    "lost superscript: spaced × notation": re.compile(r"\d\s+[×x]\s+\d"),
    "lost superscript: 10−n": re.compile(r"(?<![×x\d])10−\d"),
    "lost superscript: 10n or 2n": re.compile(
        r"(?:\(|=\s?|equal to )(?:10[1-9]\d?|2[1-9]\d?)(?:\)|\s(?:years|bytes|B)\b)"
    ),
    "product read as a power of ten": re.compile(r"(?<![\d.,])\d{3,}\s?×\s?10\d"),
    "clock time": re.compile(r"\b\d{1,2}:\d\d\b"),
}
"""Text the parser cannot read as written. The plain-text export lost superscripts: "5.0 × 10^37" reads
"5.0 × 1037" (two numbers to the parser), "10^-23 s" "10−23 s", "(10^6)" "(106)", "= 2^10 bytes" "= 210 bytes";
"1000×1024" becomes 1e27; "6:00 am" becomes 6 and 0 attometres."""

_HEADING = re.compile(r"^(=+)\s*(.*?)\s*=+\s*$")
_MISSING_SPACE = re.compile(r"(?<=[A-Za-z0-9)\]][.!?])(?=[A-Z][a-z])")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_STARTS_WELL = re.compile(r"^[\"'(\[$£€]?[A-Z0-9]")
_ENDS_WELL = re.compile(r"[.!?][\"')\]]*$")
_NOT_WORD = re.compile(r"[^\w\s]+")
_PROMPT_UNITS = re.compile(r"for a bare count or number\): (.*?)\.\nJSON schema")


def normalise(text: str) -> str:
    """harness.curation.text.normalise, copied so this script runs without the project installed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    words = normalise(text).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def read_wiki(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WIKI_SHA256:
        sys.exit(f"{path}: sha256 {digest}, expected {WIKI_SHA256} (quantulum3 0.10.0's wiki.json)")
    if WIKI_SHA256 not in (HERE / "README.md").read_text(encoding="utf-8"):
        sys.exit("README.md does not record WIKI_SHA256: update one or the other")
    return json.loads(data)


def drop_formulas(text: str) -> str:
    """Each formula becomes a line break: its `{\\displaystyle ...}` (balanced braces) and the indented
    token lines before it. Prose lines of the export are never indented by more than two spaces."""
    out, i = [], 0
    while (start := text.find("{\\displaystyle", i)) >= 0:
        depth, j = 0, start
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        out.append(text[i:start])
        out.append("\n")
        i = j
    out.append(text[i:])
    lines = "".join(out).split("\n")
    return "\n".join(line for line in lines if not line.startswith("   ") and line.strip())


def prose(text: str) -> list[str]:
    """The article's paragraphs (lines), without headings, reference sections and formulas."""
    kept, skip_level = [], 0
    text = text.replace("\u200b", "").replace("\u2044", "/")  # "\u200b1\u20444 inch": 1/4 inch to the parser
    for line in drop_formulas(text).split("\n"):
        if heading := _HEADING.match(line.strip()):
            level = len(heading.group(1))
            if skip_level and level > skip_level:
                continue
            skip_level = level if heading.group(2).casefold() in SKIP_SECTIONS else 0
            continue
        if not skip_level:
            kept.append(line.strip())
    return kept


def sentences(paragraph: str) -> list[str]:
    """Regex sentence split; a period after an abbreviation or a single capital (an initial) ends none."""
    paragraph = _MISSING_SPACE.sub(" ", paragraph)
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        if paragraph[match.start()] == ".":
            word = paragraph[: match.start()].rsplit(None, 1)[-1] if paragraph[: match.start()].strip() else ""
            word = word.lstrip("(\"'[")
            if word.casefold() in ABBREVIATIONS or re.fullmatch(r"[A-Z]", word):
                continue
        parts.append(paragraph[start : match.end()].strip())
        start = match.end()
    parts.append(paragraph[start:].strip())
    return [" ".join(part.split()) for part in parts if part]


def tidy(value: float) -> int | float:
    """What the model should write: integers without ".0", else 4 decimals (4 significant digits below 1)."""
    if value == int(value) and abs(value) < 1e15:
        return int(value)
    return round(value, 4) if abs(value) >= 1 else float(f"{value:.4g}")


def golden() -> tuple[set[str], set[tuple[str, ...]], set[str]]:
    """The golden user turns (normalised), their word 13-grams, and the unit names of the system prompt."""
    texts, grams, units = set(), set(), set()
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        system, user = (m["content"] for m in case["messages"])
        texts.add(normalise(user))
        grams |= ngrams(user)
        found = _PROMPT_UNITS.search(system)
        if not found:
            sys.exit(f"{GOLDEN}: no unit list in {case['id']}'s system prompt")
        units |= {name.casefold() for name in found.group(1).split(", ")}
    return texts, grams, units


def parser() -> Any:
    """quantulum3's parse, after checking the versions and that the disambiguation classifier loads."""
    from importlib.metadata import version

    for package, wanted in VERSIONS.items():
        if (found := version(package)) != wanted:
            sys.exit(f"{package} {found} installed, {wanted} wanted (see the docstring)")
    from quantulum3 import classifier
    from quantulum3 import parser as qparser

    if not classifier.USE_CLF or not classifier.classifier().loaded:
        sys.exit("quantulum3's disambiguation classifier did not load (pip install joblib stemming)")
    return qparser.parse


def label(quantities: list[Any]) -> list[dict[str, Any]] | None:
    """The answer for the parser's quantities, or None when a value is not finite."""
    answer = []
    for quantity in quantities:
        value = float(quantity.value)
        if not math.isfinite(value):
            return None
        answer.append({"value": tidy(value), "unit": quantity.unit.name})
    return answer


def misread(text: str) -> str | None:
    """Why the parser would misread the text's numbers (MISREAD), if it would."""
    for reason, pattern in MISREAD.items():
        if pattern.search(text):
            return reason
    return None


def spurious(text: str, quantities: list[Any]) -> str | None:
    """Why a quantity is not one, if so. A quantity written without digits must be number words
    ("two", "one third", "a gallon"), not a stray word ("negative", "&", "a b" as one byte, "a mix" as
    one mile, "a half" of "a half-life"), nor a lone ordinal or fraction word ("the third series" as 1/3,
    "the first half" as 0.5). Minutes or seconds of time are not of arc, and the old pence of "6d" no dimes."""
    for quantity in quantities:
        unit, surface = quantity.unit.name, quantity.surface.casefold()
        if unit == "dime" and "dime" not in surface:
            return "pence read as dime"
        if unit in {"minute of arc", "second of arc"} and re.search(r"\b(minute|second)s?\b", surface) \
                and not re.search(r"\b(arc|angle|angular|degrees?|latitude|longitude)\b", text.casefold()):  # fmt: skip
            return "time read as arc"
        if any(char.isnumeric() for char in surface) or not surface.strip() or surface == "absolute zero":
            continue  # an empty surface is a "between 1803 and 1815" range
        words = re.findall(r"[a-z]+", surface)
        lead = list(itertools.takewhile(lambda word: word in NUMBER_WORDS, words))
        rest = words[len(lead) :]
        if set(lead) & FRACTION_WORDS and re.match(r"-[a-z]", text[quantity.span[1] :]):
            return "stray word"  # "a half-life", "a half-crown"
        if set(lead) <= {"a", "an"} and unit == "percentage":
            return "stray word"  # "as a percentage of"
        if not [word for word in lead if word not in {"a", "an", "and", "to"}] and not rest:
            return "stray word"  # "a," or "&"
        if not lead or (len(lead) == 1 and lead[0] in FRACTION_WORDS and not rest):
            return "stray word" if not lead else "lone ordinal or fraction word"
        names = set(re.findall(r"[a-z]+", unit.casefold())) - {"dimensionless"}
        if rest and not all(UNIT_WORDS.get(word, word) in names or word.rstrip("s") in names
                            or (word.endswith("es") and word[:-2] in names) for word in rest):  # fmt: skip
            return "stray word"
    return None


def build(wiki: Path) -> tuple[list[dict[str, str]], dict[str, Any]]:
    articles, seen_ids = [], set()
    for article in read_wiki(wiki):
        if article["_id"] not in seen_ids:
            seen_ids.add(article["_id"])
            articles.append(article)
    golden_texts, golden_grams, units = golden()
    parse = parser()
    stages = ["length", "fragment (start or end)", "overlaps golden", "repeat", *MISREAD, "non-finite value",
              "unit outside the golden list", "pence read as dime", "time read as arc", "stray word",
              "lone ordinal or fraction word", "empty over the cap"]  # fmt: skip
    stats: Counter[str] = Counter({"sentences": 0, **{f"dropped: {stage}": 0 for stage in stages}})
    dropped_units: Counter[str] = Counter()
    rows: list[dict[str, str]] = []
    empty: list[dict[str, str]] = []
    seen: set[str] = set()
    for article in articles:
        n = 0
        for paragraph in prose(article["text"]):
            for text in sentences(paragraph):
                n += 1
                stats["sentences"] += 1
                if not MIN_CHARS <= len(text) <= MAX_CHARS:
                    stats["dropped: length"] += 1
                    continue
                if not (_STARTS_WELL.match(text) and _ENDS_WELL.search(text)):
                    stats["dropped: fragment (start or end)"] += 1
                    continue
                key = normalise(text)
                if key in golden_texts or ngrams(text) & golden_grams:
                    stats["dropped: overlaps golden"] += 1
                    continue
                if key in seen:
                    stats["dropped: repeat"] += 1
                    continue
                seen.add(key)
                if reason := misread(text):
                    stats[f"dropped: {reason}"] += 1
                    continue
                quantities = parse(text)
                answer = label(quantities)
                if answer is None:
                    stats["dropped: non-finite value"] += 1
                    continue
                foreign = [q["unit"] for q in answer if q["unit"].casefold() not in units]
                if foreign:
                    stats["dropped: unit outside the golden list"] += 1
                    dropped_units.update(foreign)
                    continue
                if reason := spurious(text, quantities):
                    stats[f"dropped: {reason}"] += 1
                    continue
                row = {"id": f"wiki-{article['_id']}-{n}", "text": text,
                       "answer": json.dumps(answer, ensure_ascii=False, separators=(", ", ": "))}  # fmt: skip
                (rows if answer else empty).append(row)
    rng = random.Random(SEED)
    cap = math.floor(EMPTY_SHARE / (1 - EMPTY_SHARE) * len(rows))
    kept_empty = rng.sample(empty, min(cap, len(empty)))
    stats["dropped: empty over the cap"] = len(empty) - len(kept_empty)
    rows += sorted(kept_empty, key=lambda row: row["id"])
    rng.shuffle(rows)
    stats["rows"] = len(rows)
    info = {"articles": len(articles), "stats": dict(stats), "dropped_units": dropped_units.most_common(15),
            "golden_units": len(units)}  # fmt: skip
    return rows, info


def render(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def validate() -> None:
    """Check the committed file without quantulum3: row shape, unique ids, answers, units, golden overlap."""
    golden_texts, golden_grams, units = golden()
    ids: set[str] = set()
    problems: list[int] = []
    counts: Counter[str] = Counter()
    for number, line in enumerate(OUT.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        answer = json.loads(row["answer"])
        ok = (list(row) == ["id", "text", "answer"] and row["id"] not in ids and isinstance(answer, list)
              and all(list(q) == ["value", "unit"] and isinstance(q["value"], (int, float))
                      and not isinstance(q["value"], bool) and q["unit"].casefold() in units for q in answer)
              and row["answer"] == json.dumps(answer, ensure_ascii=False, separators=(", ", ": "))
              and normalise(row["text"]) not in golden_texts and not ngrams(row["text"]) & golden_grams)  # fmt: skip
        if not ok:
            problems.append(number)
        ids.add(row["id"])
        counts["0" if not answer else "1" if len(answer) == 1 else "2+"] += 1
    print(f"{OUT}: {len(ids)} rows, quantities per row {dict(counts)}, bad lines: {problems or 'none'}")
    sys.exit(1 if problems else 0)


def main(argv: list[str]) -> None:
    if "--validate" in argv:
        validate()
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:
        # quantulum3 picks among equally good unit candidates in set order, which follows str hashes:
        # a few garbled unit names ("terayear" or "teraampere" for "Ta") would change from run to run.
        os.execve(sys.executable, [sys.executable, __file__, *argv], {**os.environ, "PYTHONHASHSEED": HASH_SEED})
    paths = [Path(arg) for arg in argv if not arg.startswith("--")]
    started = time.monotonic()
    rows, info = build(paths[0] if paths else DEFAULT_WIKI)
    text = render(rows)
    for key, value in info.items():
        print(f"{key}: {value}")
    print(f"{len(rows)} rows in {time.monotonic() - started:.0f} s")
    if "--check" in argv:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT}: {'identical' if same else 'DIFFERS from a rebuild'}")
        sys.exit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
