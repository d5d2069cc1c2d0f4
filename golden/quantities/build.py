"""Build golden/quantities/cases.jsonl: 121 sentences whose quantities a model extracts as JSON.

    .venv/bin/python golden/quantities/build.py
    .venv/bin/harness golden freeze --reason "quantities: ..."

The sentences and their answers are quantulum3's own hand-written test cases (`data/`, copied unchanged
from the quantulum3 0.10.0 wheel on PyPI; MIT, see data/LICENSE and README.md). Each case is a system
turn (the task, the answer's JSON schema from schema.json, and the unit names the answers use) and the
sentence as the user turn; `expected` is a `json_equals` check: the answer's JSON array must hold
exactly the sentence's quantities, as {"value", "unit"} objects in any order, values within 0.1%, unit
names compared casefolded. Tags: `none` (no quantity), `single` or `multi`, and `ambiguity` for the
cases from quantities.ambiguity.json (a unit that needs the context: "pounds" of money or of weight).
Rebuilding gives a byte-identical file; after a deliberate change, re-freeze the golden lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.golden import GoldenCase, write_file

HERE = Path(__file__).resolve().parent
SOURCES = {"quantities.json": [], "quantities.ambiguity.json": ["ambiguity"]}
"""quantulum3's test files in data/, and the tags their cases carry."""

TASK = (
    "Extract every quantity mentioned in the user's message: each number, with the unit it measures. "
    "Answer with JSON only: an array of objects with a numeric \"value\" and a \"unit\", in the order they "
    "appear, or [] when the message holds no quantity. Write numbers in full (\"two thousand\" is 2000, "
    "\"one half\" is 0.5, a range such as \"3-5 km\" is its midpoint, 4). Name each unit in full, singular, "
    "with these names where one fits (\"dimensionless\" for a bare count or number):"
)


def unit_names(rows: list[dict[str, Any]]) -> list[str]:
    """Every unit the answers use, each spelling once (case-insensitively), sorted."""
    names: dict[str, str] = {}
    for row in rows:
        for quantity in row["res"]:
            names.setdefault(quantity["unit"].casefold(), quantity["unit"])
    return sorted(names.values(), key=str.casefold)


def system_prompt(rows: list[dict[str, Any]]) -> str:
    schema = json.dumps(json.loads((HERE / "schema.json").read_text(encoding="utf-8")), separators=(",", ":"))
    return f"{TASK} {', '.join(unit_names(rows))}.\nJSON schema of the answer: {schema}"


def expected(row: dict[str, Any]) -> dict[str, Any]:
    quantities = [{"value": q["value"], "unit": q["unit"]} for q in row["res"]]
    return {"check": "json_equals", "value": quantities, "unordered": True, "casefold": True}


def tags(row: dict[str, Any], extra: list[str]) -> list[str]:
    count = len(row["res"])
    return ["none" if count == 0 else "single" if count == 1 else "multi", *extra]


def build() -> list[GoldenCase]:
    sources = [(json.loads((HERE / "data" / name).read_text(encoding="utf-8")), extra)
               for name, extra in SOURCES.items()]  # fmt: skip
    system = system_prompt([row for rows, _ in sources for row in rows])
    cases = []
    for rows, extra in sources:
        for row in rows:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": row["req"]}]
            cases.append(GoldenCase(id=f"qty-{len(cases) + 1:03d}", messages=messages, expected=expected(row),
                                    tags=tags(row, extra)))  # fmt: skip
    return cases


if __name__ == "__main__":
    built = build()
    write_file(HERE / "cases.jsonl", built)
    print(f"wrote {len(built)} cases to {HERE / 'cases.jsonl'}")
