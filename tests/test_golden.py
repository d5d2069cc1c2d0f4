"""Golden sets: the case format, every-problem-at-once loading, freezing, authoring from tables, and the
real Banking77 set."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.golden import GoldenCase, GoldenError, append_cases, load_set
from harness.golden.lock import LOCK_FILE, freeze, lock_hash, verify
from harness.golden.table import cases_from_table

REPO = Path(__file__).resolve().parents[1]
USER = {"role": "user", "content": "Where is my card?"}


def case(case_id: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"id": case_id, "messages": [USER], "expected": "card_arrival", **fields}


def write_set(root: Path, name: str, *lines: dict[str, Any] | str) -> Path:
    """A cases.jsonl whose lines are given as dicts (dumped) or raw strings (written as is)."""
    path = root / name / "cases.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def problems_of(root: Path, name: str = "s") -> list[str]:
    with pytest.raises(GoldenError) as info:
        load_set(root, name)
    return info.value.problems


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A golden root at tmp/golden, with cwd at tmp so messages show `golden/<set>/cases.jsonl`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "golden"


# --- format and loading -------------------------------------------------------------------------------


def test_valid_set_loads_with_prompts_and_all_expected_shapes(root: Path) -> None:
    checks = [{"check": "bullet_count", "n": 3}, {"check": "max_words", "n": 50}]
    write_set(root, "s",
              case("a", tags=["card"]),
              "",  # blank lines are allowed
              {"id": "b", "input": "Summarise this.", "expected": {"check": "bullet_count", "n": 3}},
              {"id": "c", "input": "Give JSON.", "expected": {"type": "object"}},
              {"id": "d", "input": "Write a list.", "expected": checks})  # fmt: skip
    cases = load_set(root, "s")
    assert [c.id for c in cases] == ["a", "b", "c", "d"]
    assert cases[0].prompt() == [USER] and cases[0].messages_or_input == [USER]
    assert cases[0].tags == ["card"] and cases[1].tags == []
    assert cases[1].prompt() == "Summarise this."
    assert cases[3].expected == checks


def test_missing_expected_names_file_line_field_and_fix(root: Path) -> None:
    write_set(root, "s", case("a"), {"id": "b", "input": "hi"})
    [problem] = problems_of(root)
    assert problem.startswith("golden/s/cases.jsonl:2: field 'expected' missing — add the expected label")


def test_duplicate_ids_name_both_lines(root: Path) -> None:
    write_set(root, "s", case("a"), case("b"), case("a"))
    [problem] = problems_of(root)
    assert problem.startswith("golden/s/cases.jsonl:3: duplicate id 'a' (also on line 1)")


def test_invalid_json_reports_line_and_json_error(root: Path) -> None:
    write_set(root, "s", case("a"), '{"id": "b", "input": "x"')
    [problem] = problems_of(root)
    assert problem.startswith("golden/s/cases.jsonl:2: invalid JSON: Expecting ',' delimiter")


def test_non_object_line_is_reported(root: Path) -> None:
    write_set(root, "s", case("a"), "[1, 2]")
    assert problems_of(root)[0].startswith("golden/s/cases.jsonl:2: expected a JSON object, got an array")


def test_empty_content_names_the_nested_field(root: Path) -> None:
    write_set(root, "s", case("a", messages=[{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "   "}]))  # fmt: skip
    [problem] = problems_of(root)
    assert problem.startswith("golden/s/cases.jsonl:1: field 'messages.1.content' is empty")


def test_conversation_ending_on_assistant_says_so(root: Path) -> None:
    write_set(root, "s", case("a", messages=[USER, {"role": "assistant", "content": "It is on its way."}]))
    [problem] = problems_of(root)
    assert "golden/s/cases.jsonl:1: conversation ends on role 'assistant' (messages.1)" in problem
    assert "must end on a user turn" in problem


@pytest.mark.parametrize(("fields", "has"), [({"input": "hi"}, "both"), ({"messages": None}, "neither")])
def test_exactly_one_of_messages_and_input(root: Path, fields: dict[str, Any], has: str) -> None:
    line = {k: v for k, v in case("a", **fields).items() if v is not None}
    write_set(root, "s", line)
    [problem] = problems_of(root)
    assert f"case has {has} of 'messages' and 'input'" in problem


@pytest.mark.parametrize(
    ("fields", "expected_message"),
    [
        ({"extra": 1}, "unknown field 'extra'"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "field 'messages.0.role' is 'bot' — use one of"),
        ({"messages": []}, "field 'messages' is empty"),
        ({"expected": 3}, "field 'expected' must be a label string"),
        ({"expected": [{"n": 3}]}, "field 'expected' has item(s) 0 that are not check objects"),
        ({"id": ""}, "field 'id' is empty"),
    ],
)
def test_other_field_errors_are_specific(root: Path, fields: dict[str, Any], expected_message: str) -> None:
    write_set(root, "s", case("a", **fields))
    assert expected_message in problems_of(root)[0]


def test_all_problems_in_a_file_are_reported_at_once_in_line_order(root: Path) -> None:
    bad = [{"id": "b", "input": "x"}, "not json", case("a"), case("c", input="x")]
    write_set(root, "s", case("a"), "", *bad)
    problems = problems_of(root)
    assert [p.split(":")[1] for p in problems] == ["3", "4", "5", "6"]
    with pytest.raises(GoldenError, match="4 problems in golden cases"):
        load_set(root, "s")


def test_unknown_set_lists_sets_and_how_to_add_one(root: Path) -> None:
    write_set(root, "s", case("a"))
    with pytest.raises(GoldenError, match=r"set 'nope' not found \(sets: s\).*harness golden add nope"):
        load_set(root, "nope")


def test_set_names_cannot_escape_the_root(root: Path) -> None:
    with pytest.raises(GoldenError, match="invalid"):
        load_set(root, "../etc")


# --- freezing -----------------------------------------------------------------------------------------


def test_freeze_then_verify_ok(root: Path) -> None:
    write_set(root, "a", case("1"))
    write_set(root, "b", case("2"), case("3"))  # ids are unique across sets, not only within one
    lock = freeze(root, "first freeze")
    status = verify(root)
    assert status.ok and status.lock_hash == lock.lock_hash == lock_hash(root)
    assert "golden sets match golden/golden.lock" in status.explain()
    data = json.loads((root / LOCK_FILE).read_text())
    assert list(data) == sorted(data) and data["reason"] == "first freeze"
    assert data["files"]["b/cases.jsonl"]["cases"] == 2
    digest = hashlib.sha256((root / "a/cases.jsonl").read_bytes()).hexdigest()
    assert data["files"]["a/cases.jsonl"]["sha256"] == digest


def test_lock_hash_matches_sha256sum_over_sorted_files(root: Path) -> None:
    """Documented so it can be recomputed with coreutils: sha256sum <sorted files> | sha256sum."""
    write_set(root, "b", case("1"))
    write_set(root, "a", case("2"))
    listing = "".join(f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n"
                      for n in ["a/cases.jsonl", "b/cases.jsonl"])  # fmt: skip
    assert lock_hash(root) == hashlib.sha256(listing.encode()).hexdigest()


@pytest.mark.parametrize("edit", ["changed", "added", "removed"])
def test_verify_names_the_edited_file_and_how_to_refreeze(root: Path, edit: str) -> None:
    path = write_set(root, "a", case("1"))
    freeze(root, "first freeze")
    if edit == "changed":
        path.write_text(path.read_text() + json.dumps(case("2")) + "\n")
        name = "a/cases.jsonl"
    elif edit == "added":
        write_set(root, "new", case("1"))
        name = "new/cases.jsonl"
    else:
        path.unlink()
        name = "a/cases.jsonl"
    status = verify(root)
    assert not status.ok and getattr(status, edit) == [name]
    message = status.explain()
    assert f"{edit}: {name}" in message and "first freeze" in message
    assert 'harness golden freeze --reason "why"' in message


def test_verify_without_lock_says_how_to_create_one(root: Path) -> None:
    write_set(root, "a", case("1"))
    status = verify(root)
    assert not status.ok and status.locked is None
    assert "no golden lock at golden/golden.lock" in status.explain()
    assert "harness golden freeze --reason" in status.explain()


def test_freeze_refuses_invalid_cases_and_writes_nothing(root: Path) -> None:
    write_set(root, "a", case("1"))
    write_set(root, "b", case("1"), {"id": "2", "input": "x"})
    with pytest.raises(GoldenError, match="refusing to freeze") as info:
        freeze(root, "oops")
    assert "golden/b/cases.jsonl:2: field 'expected' missing" in str(info.value)
    assert not (root / LOCK_FILE).exists()


def test_freeze_needs_a_reason_and_some_sets(root: Path) -> None:
    write_set(root, "a", case("1"))
    with pytest.raises(GoldenError, match="freeze needs a reason"):
        freeze(root, "  ")
    with pytest.raises(GoldenError, match="no \\*.jsonl golden sets"):
        freeze(root / "empty", "why")


def test_refreeze_keeps_freeze_time_of_unchanged_files(root: Path) -> None:
    write_set(root, "a", case("1"))
    path = write_set(root, "b", case("2"))
    first = freeze(root, "first")
    stale = first.files["a/cases.jsonl"].frozen_at.replace("20", "19", 1)
    lock_text = (root / LOCK_FILE).read_text().replace(first.files["a/cases.jsonl"].frozen_at, stale)
    (root / LOCK_FILE).write_text(lock_text)
    path.write_text(json.dumps(case("3")) + "\n")
    second = freeze(root, "second")
    assert second.files["a/cases.jsonl"].frozen_at == stale
    assert second.files["b/cases.jsonl"].frozen_at == second.frozen_at and verify(root).ok


def test_hand_edited_lock_is_rejected(root: Path) -> None:
    write_set(root, "a", case("1"))
    freeze(root, "first")
    data = json.loads((root / LOCK_FILE).read_text())
    data["files"]["a/cases.jsonl"]["sha256"] = "0" * 64
    (root / LOCK_FILE).write_text(json.dumps(data))
    with pytest.raises(GoldenError, match="lock_hash does not match"):
        verify(root)


# --- authoring ----------------------------------------------------------------------------------------


def test_cases_from_csv_with_auto_ids_json_checks_and_system(tmp_path: Path) -> None:
    table = tmp_path / "queries.csv"
    table.write_text('text,category,tags\nWhere is my card?,card_arrival,"card, a"\n'
                     'List three steps,"[{""check"": ""bullet_count"", ""n"": 3}]",\n')  # fmt: skip
    cases = cases_from_table(table, input_column="text", expected_column="category", tags_column="tags")
    assert [c.id for c in cases] == ["queries-0001", "queries-0002"]
    assert cases[0].input == "Where is my card?" and cases[0].tags == ["card", "a"]
    assert cases[1].expected == [{"check": "bullet_count", "n": 3}]
    chat = cases_from_table(table, input_column="text", expected_column="category", system="Be brief.")
    assert chat[0].prompt() == [{"role": "system", "content": "Be brief."}, USER]


def test_cases_from_jsonl_with_ids_and_chats(tmp_path: Path) -> None:
    table = tmp_path / "t.jsonl"
    rows = [{"qid": "x1", "prompt": [USER], "label": "card_arrival"},
            {"qid": "x2", "prompt": "hello", "label": {"type": "object"}}]  # fmt: skip
    table.write_text("\n\n".join(json.dumps(row) for row in rows) + "\n")  # blank line on purpose
    cases = cases_from_table(table, id_column="qid", input_column="prompt", expected_column="label")
    assert [(c.id, c.prompt()) for c in cases] == [("x1", [USER]), ("x2", "hello")]


def test_cases_from_table_reports_rows_with_their_columns(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("text,category\nWhere is my card?,\n,card_arrival\n")
    with pytest.raises(GoldenError) as info:
        cases_from_table(table, input_column="text", expected_column="category")
    assert [p.split(": ", 1)[1].split(" —")[0] for p in info.value.problems] == [
        "field 'expected' (column 'category') is empty",
        "field 'input' (column 'text') is empty",
    ]
    assert info.value.problems[0].startswith(f"{table}:2: ")


def test_cases_from_table_names_missing_columns(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("text,category\nhi,x\n")
    with pytest.raises(GoldenError, match=r"no column input, expected \(columns: category, text\)"):
        cases_from_table(table)


def test_append_cases_creates_appends_and_refuses_duplicate_ids(tmp_path: Path) -> None:
    first = [GoldenCase.model_validate(case("a")), GoldenCase.model_validate(case("b"))]
    path = append_cases(tmp_path, "s", first)
    append_cases(tmp_path, "s", [GoldenCase.model_validate(case("c"))])
    assert [c.id for c in load_set(tmp_path, "s")] == ["a", "b", "c"]
    with pytest.raises(GoldenError, match="1 id\\(s\\) already taken: b"):
        append_cases(tmp_path, "s", [GoldenCase.model_validate(case("b"))])
    assert len(path.read_text().splitlines()) == 3


_text = st.text(min_size=1, max_size=20).filter(str.strip)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=6,
)
_check = st.builds(lambda name, rest: {**rest, "check": name}, st.text(), st.dictionaries(st.text(), _json))
_expected = _text | st.dictionaries(st.text(), _json, min_size=1, max_size=3) | st.lists(_check, min_size=1)
_turn = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": _text})
_chat = st.builds(lambda head, last: [*head, {"role": "user", "content": last}], st.lists(_turn, max_size=3),
                  _text)  # fmt: skip
_prompt = _chat.map(lambda m: {"messages": m}) | _text.map(lambda t: {"input": t})
_case = st.builds(
    lambda i, p, e, t: GoldenCase.model_validate({"id": i, **p, "expected": e, "tags": t}),
    _text, _prompt, _expected, st.lists(_text, max_size=2),
)  # fmt: skip


def _unique_ids(batches: list[list[GoldenCase]]) -> list[list[GoldenCase]]:
    """Drop cases whose id an earlier case already has: append_cases rightly refuses those."""
    seen: set[str] = set()
    kept: list[list[GoldenCase]] = []
    for batch in batches:
        kept.append([])
        for c in batch:
            if c.id not in seen:
                seen.add(c.id)
                kept[-1].append(c)
    return kept


_batches = st.lists(st.lists(_case, max_size=4), min_size=1, max_size=3).map(_unique_ids)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_batches)
def test_any_valid_cases_round_trip_through_append_and_load(batches: list[list[GoldenCase]]) -> None:
    """Appending in batches then loading gives back exactly the cases, whatever their text holds."""
    with tempfile.TemporaryDirectory() as tmp:
        for batch in batches:
            append_cases(Path(tmp), "s", batch)
        written = [c for batch in batches for c in batch]
        if written:
            assert load_set(Path(tmp), "s") == written


def test_unicode_line_separators_inside_strings_do_not_split_lines(tmp_path: Path) -> None:
    cases = [GoldenCase.model_validate(case("a\u2028b", input="x\x85y\u2029", messages=None))]
    append_cases(tmp_path, "s", cases)
    assert load_set(tmp_path, "s") == cases


# --- the real Banking77 set -----------------------------------------------------------------------------


def test_banking77_golden_set_is_77_labels_by_5() -> None:
    cases = load_set(REPO / "golden", "banking77")
    labels = json.loads((REPO / "golden/banking77/labels.json").read_text())
    assert len(cases) == 385 and len(labels) == 77
    assert Counter(c.expected for c in cases) == dict.fromkeys(labels, 5)
    assert sorted(labels) == sorted(json.loads((REPO / "golden/banking77/data/categories.json").read_text()))
    assert all(c.tags == [c.expected] and c.messages and len(c.messages) == 2 for c in cases)
    assert len({c.messages[0]["content"] for c in cases if c.messages}) == 1  # one shared system prompt
    assert [c.id for c in cases] == sorted(c.id for c in cases)


def test_banking77_cases_file_is_what_build_py_produces() -> None:
    spec = importlib.util.spec_from_file_location("b77_build", REPO / "golden/banking77/build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    labels, cases = build.build()
    expected = "".join(c.to_json_line() + "\n" for c in cases)
    assert (REPO / "golden/banking77/cases.jsonl").read_text(encoding="utf-8") == expected
    assert json.loads((REPO / "golden/banking77/labels.json").read_text()) == labels
    system = cases[0].messages[0]["content"]
    assert system.startswith("Classify") and all(label in system.splitlines() for label in labels)


def test_evenly_spread_takes_a_fixed_step_over_the_whole_set() -> None:
    from harness.golden import evenly_spread

    assert evenly_spread(list(range(10)), 3) == [0, 3, 6]  # every family of a set written family by family
    assert evenly_spread(list(range(10)), 4) == [0, 2, 4, 6]
    assert evenly_spread(["a", "b"], 5) == ["a", "b"]  # fewer items than the limit: all of them


# --- generation settings ------------------------------------------------------------------------------


def test_a_set_fixes_its_generation_settings_and_the_fixture_list_carries_them(root: Path) -> None:
    from harness.golden import GoldenSet, generation_settings

    write_set(root, "a", case("1"))
    assert generation_settings(root, "a") == {}  # none given: [tool.harness.generation]'s defaults apply
    (root / "a" / "generation.toml").write_text("max_new_tokens = 20  # a label\ntemperature = 0\n")
    settings = generation_settings(root, "a")
    assert settings == {"max_new_tokens": 20, "temperature": 0.0} and isinstance(settings["temperature"], float)
    cases = GoldenSet("a", load_set(root, "a"), settings)
    assert cases == load_set(root, "a") and cases.generation == settings and cases.name == "a"


@pytest.mark.parametrize(("text", "message"), [
    ("max_tokens = 20", "golden/a/generation.toml: unknown key 'max_tokens' — a set fixes only max_new_tokens"),
    ("max_new_tokens = 2.5", "max_new_tokens = 2.5 must be a number (a whole one)"),
    ("max_new_tokens = 0", "max_new_tokens = 0 must be at least 1"),
    ("top_p = true", "top_p = True must be a number"),
    ("max_new_tokens = ", "golden/a/generation.toml: not valid TOML"),
])  # fmt: skip
def test_bad_generation_settings_name_the_file_and_key(root: Path, text: str, message: str) -> None:
    from harness.golden import generation_settings

    write_set(root, "a", case("1"))
    (root / "a" / "generation.toml").write_text(text + "\n")
    with pytest.raises(GoldenError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generation_settings(root, "a")
    with pytest.raises(GoldenError, match="generation.toml"):
        freeze(root, "with bad settings")  # freeze checks the settings as it checks the cases


def test_generation_settings_are_frozen_with_the_set(root: Path) -> None:
    write_set(root, "a", case("1"))
    settings = root / "a" / "generation.toml"
    settings.write_text("max_new_tokens = 20\n")
    lock = freeze(root, "first freeze")
    assert lock.files["a/generation.toml"].cases == 0 and verify(root).ok
    settings.write_text("max_new_tokens = 64\n")
    status = verify(root)
    assert not status.ok and status.changed == ["a/generation.toml"]


def test_a_sets_answer_schema_is_frozen_with_it_and_checked_as_a_schema(root: Path) -> None:
    write_set(root, "a", case("1"))
    schema = root / "a" / "schema.json"
    schema.write_text('{"type": "array"}\n')
    lock = freeze(root, "first freeze")
    assert lock.files["a/schema.json"].cases == 0 and verify(root).ok
    schema.write_text('{"type": "object"}\n')
    status = verify(root)
    assert not status.ok and status.changed == ["a/schema.json"]
    schema.write_text('{"type": "no-such-type"}\n')
    with pytest.raises(GoldenError, match=r"golden/a/schema\.json: not a valid JSON schema: .*; fix the file"):
        freeze(root, "with a broken schema")
    schema.write_text('{"type": ')
    with pytest.raises(GoldenError, match=r"golden/a/schema\.json: not JSON"):
        freeze(root, "with a file that is not JSON")


def test_every_shipped_set_a_suite_generates_for_fixes_its_budget() -> None:
    """The suites pass `**cases.generation` and state no budget of their own."""
    from harness.golden import generation_settings

    shipped = (("banking77", 20), ("ood", 20), ("injection", 20), ("multilingual", 20), ("regression", 64),
               ("regression_dev", 64), ("quantities", 128))  # fmt: skip
    for name, budget in shipped:
        assert generation_settings(REPO / "golden", name) == {"max_new_tokens": budget}
    suites = "".join(path.read_text() for path in (REPO / "suites").glob("test_*.py"))
    assert "max_new_tokens" not in suites
