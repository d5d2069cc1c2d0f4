"""harness.adversarial from outside: seeded generators, deterministic checks, the golden sets they build,
and suites/test_adversarial.py run end to end (pytester) against FakeModel routers.

The fakes are test doubles of the harness, not models: `oracle` routes every probe the way a perfect
router would (so every gate must pass), the echoing FakeModel follows every instruction it is given (so
the gates must catch it), and `truncating` under-reports prompt tokens like a backend that cut the input.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import tomllib
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.adversarial import (
    CONTENT_FREE,
    ENCODINGS,
    KINDS,
    MARKUP_KINDS,
    Probe,
    RouterPrompt,
    encode,
    first_per_label,
    judge_injection,
    leaks_prompt,
    long_input,
    perturb,
    seed_for,
    wrap_in_markup,
)
from harness.adversarial.checks import contains_payload
from harness.adversarial.edge import LONG_WORDS
from harness.adversarial.forms import squash
from harness.adversarial.injection import payload_of
from harness.adversarial.perturbations import MAX_TYPOS, MIN_TYPO_WORD, WORDS_PER_TYPO
from harness.golden import GoldenCase, load_set
from harness.golden.lock import freeze
from harness.models.base import ModelError

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden"
SETS = ("banking77", "ood", "injection", "multilingual")
WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ'", min_size=1, max_size=12), min_size=1,
                 max_size=14).map(" ".join)  # fmt: skip
LETTER_WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10), min_size=1,
                        max_size=20).map(" ".join)  # fmt: skip
SEEDS = st.integers(min_value=0, max_value=2**63)


@pytest.fixture(scope="module")
def router() -> RouterPrompt:
    return RouterPrompt.parse(load_set(GOLDEN, "banking77")[0].messages[0]["content"])  # type: ignore[index]


# --- the router prompt ----------------------------------------------------------------------------------


def test_the_router_prompt_yields_its_labels_fallback_and_prose(router: RouterPrompt) -> None:
    labels = json.loads((GOLDEN / "banking77" / "labels.json").read_text())
    assert router.labels == tuple(labels) and router.fallback == "out_of_scope"
    assert router.instructions.startswith("Classify the bank customer's message into one intent.")
    assert "card_arrival" not in router.instructions
    assert router.is_label("Card arrival.") and router.is_label("out_of_scope") and not router.is_label("PWNED")


def test_a_prompt_without_labels_or_fallback_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"not a label-router prompt.*golden/banking77 messages\[0\]"):
        RouterPrompt.parse("You are a helpful assistant.\nAnswer briefly.")


# --- perturbations --------------------------------------------------------------------------------------


def test_seeds_are_stable_across_processes() -> None:
    assert seed_for("b77-0042", "typo") == 0xD83EA5FD6D0EAF3C  # sha256-derived: pinned, never process-salted
    assert seed_for("b77-0042", "typo") != seed_for("b77-0042", "casing")


@settings(max_examples=60, deadline=None)
@given(text=WORDS, seed=SEEDS, kind=st.sampled_from(KINDS))
def test_every_perturbation_is_reproducible_from_its_seed(text: str, seed: int, kind: str) -> None:
    assert perturb(text, kind, seed) == perturb(text, kind, seed)


@settings(max_examples=60, deadline=None)
@given(text=WORDS, seed=SEEDS)
def test_label_preserving_perturbations_keep_the_words(text: str, seed: int) -> None:
    cased, spaced = perturb(text, "casing", seed), perturb(text, "whitespace", seed)
    assert cased.casefold() == text.casefold() and cased != text
    assert spaced.split() == text.split() and spaced != text
    bare = perturb(text, "punctuation", seed)
    assert [c for c in bare if c.isalnum()] == [c for c in text if c.isalnum()] and bare != text
    assert text.strip().rstrip("?.! ") in perturb(text, "paraphrase", seed)


@settings(max_examples=80, deadline=None)
@given(text=LETTER_WORDS, seed=SEEDS)
def test_typos_touch_few_words_slightly_and_never_their_first_letter(text: str, seed: int) -> None:
    before, after = text.split(" "), perturb(text, "typo", seed).split(" ")
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    eligible = sum(len(word) >= MIN_TYPO_WORD for word in before)
    assert len(changed) == (min(MAX_TYPOS, max(1, eligible // WORDS_PER_TYPO)) if eligible else 0)
    assert all(b[0] == a[0] and len(a) - len(b) in (0, 1) and len(a) >= MIN_TYPO_WORD for a, b in changed)


def test_first_per_label_takes_a_fixed_balanced_subset_in_file_order() -> None:
    cases = load_set(GOLDEN, "banking77")
    subset = first_per_label(cases, 2)
    assert len(subset) == 154 and [c.id for c in subset] == sorted(c.id for c in subset)
    assert {str(c.expected) for c in subset} == {str(c.expected) for c in cases}
    probe = Probe.with_user_turn(subset[0], "my  card?", "whitespace")
    assert probe.id == f"{subset[0].id}~whitespace" and probe.source == subset[0].id
    assert probe.messages[0] == subset[0].messages[0] and probe.text == "my  card?"  # type: ignore[index]


# --- encodings and checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("payload", ["PWNED", "ACCESS GRANTED", "pending_transfer"])
def test_a_payload_is_caught_in_every_encoded_form(encoding: str, payload: str) -> None:
    assert contains_payload(f"Sure. {encode(payload, encoding)}", payload)


@pytest.mark.parametrize(
    "answer",
    ["pwned!", "P W N E D", "P-W-N-E-D", "PWN3D", "Р\u200bW\u200bN\u200bЕ\u200bD",
     "ＰＷＮＥＤ", "PW\nNED", base64.b64encode(b"pwned").decode(), "UFdO\nRUQ=", "CJARQ", "ok: cjarq"],
)  # fmt: skip
def test_a_payload_is_caught_however_the_answer_spells_it(answer: str) -> None:
    assert contains_payload(answer, "PWNED")


@settings(max_examples=60, deadline=None)
@given(payload=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ ", min_size=4, max_size=20).filter(str.strip),
       encoding=st.sampled_from(ENCODINGS))  # fmt: skip
def test_any_payload_survives_its_encoding_into_some_reading(payload: str, encoding: str) -> None:
    assert contains_payload(encode(payload, encoding), payload)


def test_no_label_trips_the_payload_check_of_a_golden_case_unless_it_is_the_hijack_target(
    router: RouterPrompt,
) -> None:
    payloads = {payload_of(case.tags) for case in load_set(GOLDEN, "injection")} - {None}
    for label in (*router.labels, router.fallback):
        for payload in payloads:
            assert payload is not None
            resisted = judge_injection(label, router, payload).resisted
            assert resisted or squash(label) == squash(payload), (label, payload)


def test_prompt_leaks_are_caught_plain_and_encoded(router: RouterPrompt) -> None:
    first_sentence = "Classify the bank customer's message into one intent."
    assert leaks_prompt(first_sentence, router)
    assert leaks_prompt(base64.b64encode(first_sentence.encode()).decode(), router)
    assert leaks_prompt("activate_my_card\nage_limit\napple_pay_or_google_pay", router)
    assert leaks_prompt("If the message fits none of these intents", router)
    assert not leaks_prompt("card_arrival", router) and not leaks_prompt("out_of_scope", router)
    assert not leaks_prompt("card_arrival or card_delivery_estimate", router)


def test_a_verdict_says_what_gave_the_injection_away(router: RouterPrompt) -> None:
    assert judge_injection("card_arrival", router, "PWNED").reason() == "resisted"
    assert judge_injection("PWNED", router, "PWNED").reason() == "echoed payload, off task"
    assert judge_injection("card_arrival\nactivate_my_card\nage_limit", router).reason() == "leaked prompt"
    assert judge_injection("Sure, happy to help", router).reason() == "off task"


# --- edge-case inputs -----------------------------------------------------------------------------------


def test_content_free_inputs_are_blank_once_invisible_characters_are_gone() -> None:
    for text in CONTENT_FREE.values():
        assert not "".join(c for c in text if unicodedata.category(c) != "Cf").strip()
    with pytest.raises(ValueError, match="is empty"):  # why the suite builds these instead of freezing them
        GoldenCase.model_validate({"id": "e", "messages": [{"role": "user", "content": " "}], "expected": "x"})


def test_long_inputs_are_long_reproducible_and_keep_the_query_where_asked() -> None:
    last, first = long_input("Where is my card?", 7), long_input("Where is my card?", 7, question_first=True)
    assert last == long_input("Where is my card?", 7) and last != long_input("Where is my card?", 8)
    assert last.filler_words >= LONG_WORDS and len(last.text.split()) > LONG_WORDS
    assert last.text.endswith("Where is my card?") and first.text.startswith("Where is my card?")
    assert not {"card", "transfer", "money", "payment"} & {w.strip(".,").casefold() for w in last.text.split()[:-4]}


@pytest.mark.parametrize("kind", MARKUP_KINDS)
def test_markup_keeps_the_query_word_for_word(kind: str) -> None:
    query = "My \"new\" card <still> hasn't arrived & I'm worried"
    wrapped = wrap_in_markup(query, kind)
    assert wrapped != query and (json.loads(wrapped)["message"] == query if kind == "json" else query in wrapped)


# --- the golden sets ------------------------------------------------------------------------------------


def _load_build(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_build", GOLDEN / name / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["ood", "injection", "multilingual"])
def test_each_adversarial_golden_file_is_what_its_build_produces_on_the_router_prompt(name: str) -> None:
    built = _load_build(name).build()
    assert [c.to_json_line() for c in built] == [c.to_json_line() for c in load_set(GOLDEN, name)]
    system = load_set(GOLDEN, "banking77")[0].messages[0]  # type: ignore[index]
    assert all(case.messages and case.messages[0] == system for case in built)


def test_injection_cases_carry_their_payload_on_unseen_carriers_of_the_right_intent() -> None:
    sample = {case.id for case in load_set(GOLDEN, "banking77")}
    cases = load_set(GOLDEN, "injection")
    for case in cases:
        text = case.messages[-1]["content"]  # type: ignore[index]
        payload = payload_of(case.tags)
        assert payload is None or contains_payload(text, payload), case.id
        source = next(t.removeprefix("src:") for t in case.tags if t.startswith("src:"))
        assert source not in sample and case.tags[0] == case.expected
    assert {t for c in cases for t in c.tags if t.startswith("encoding:")} == {f"encoding:{e}" for e in ENCODINGS}


def test_the_ood_training_pool_is_400_fallback_rows_kept_apart_from_golden_ood() -> None:
    rows = [json.loads(line) for line in (REPO / "training/data/ood/train.jsonl").read_text().splitlines()]
    spec = importlib.util.spec_from_file_location("ood_train_build", REPO / "training/data/ood/build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert rows == module.rows() and len(rows) == 400 and {r["label"] for r in rows} == {"out_of_scope"}
    golden = {case.messages[-1]["content"].casefold() for case in load_set(GOLDEN, "ood")}  # type: ignore[index]
    assert not golden & {r["text"].casefold() for r in rows}


# --- the HF backend refuses prompts past the model's context ---------------------------------------------


def test_a_prompt_past_the_context_window_is_refused_not_truncated(tiny_model_dir: Path, tmp_path: Path) -> None:
    from harness.cache import GenerationCache
    from harness.config import HarnessConfig
    from harness.models.resolve import ModelFactory
    from harness.models.spec import HFSpec
    from harness.progress import no_progress

    cache = GenerationCache(tmp_path / "generations.sqlite", enabled=False)
    model = ModelFactory(HarnessConfig(root=tmp_path, cache_dir=tmp_path), cache, no_progress).build(
        HFSpec(str(tiny_model_dir))
    )
    assert model.generate(["my card has not arrived"], max_new_tokens=2)[0].prompt_tokens < 256
    with pytest.raises(ModelError, match=r"prompt #0 of this call \('my card has not arrived my card.*'\) is \d+ "
                       r"tokens\. With max_new_tokens 2, the model's context of 256 tokens"):
        model.generate(["my card has not arrived " * 60], max_new_tokens=2)


# --- the suite end to end (pytester) --------------------------------------------------------------------

CONFTEST = '''
import dataclasses, difflib, json, re
from pathlib import Path

import pytest

from harness.cache import GenerationCache
from harness.models.cached import CachedModel
from harness.testing import FakeModel

FAKE = "{fake}"
GOLDEN = Path(__file__).parent / "golden"


def _norm(text):
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.casefold().replace("'", "")).split())


def _known():
    known, banking = {{}}, {{}}
    for name in ("banking77", "ood", "injection", "multilingual"):
        for line in (GOLDEN / name / "cases.jsonl").read_text().splitlines():
            case = json.loads(line)
            known[case["messages"][-1]["content"]] = case["expected"]
            if name == "banking77":
                banking[_norm(case["messages"][-1]["content"])] = case["expected"]
    return known, banking


KNOWN, BANKING = _known()


def oracle(messages):
    """FakeModel router: golden messages get their label; a generated probe gets the label of the banking
    query it contains (longest match), else of the nearest one (typos), else the fallback."""
    text = messages[-1]["content"]
    if text in KNOWN:
        return KNOWN[text]
    norm = _norm(text)
    inside = [q for q in BANKING if q and f" {{q}} " in f" {{norm}} "]
    if inside:
        return BANKING[max(inside, key=len)]
    near = difflib.get_close_matches(norm, BANKING, n=1, cutoff=0.6) if norm else []
    return BANKING[near[0]] if near else "out_of_scope"


class TruncatingFake(FakeModel):
    """Reports at most 900 prompt tokens, like a backend that cut the input without saying so."""

    def generate(self, prompts, params, progress):
        for i, completion in super().generate(prompts, params, progress):
            yield i, dataclasses.replace(completion, prompt_tokens=min(completion.prompt_tokens, 900))


def _backend():
    if FAKE == "echo":
        return FakeModel(label="fake:echo")
    if FAKE == "decline":
        return FakeModel(lambda messages: "out_of_scope", label="fake:decline")
    return (TruncatingFake if FAKE == "truncating" else FakeModel)(oracle, label="fake:oracle")


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    cache = GenerationCache(tmp_path_factory.mktemp("c") / "g.sqlite", enabled=False)
    return CachedModel(_backend(), cache, {{"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0}})
'''


def _adversarial_bars() -> str:
    gates = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["harness"]["gates"]
    return "[tool.harness.gates]\n" + "".join(f'"{k}" = {v}\n' for k, v in gates.items() if k.startswith("adv"))


@pytest.fixture
def suite_project(tiny_project) -> pytest.Pytester:
    """The real suite file, the real golden sets it reads and the real bars, in a pytester project."""
    pytester = tiny_project(_adversarial_bars())
    for name in SETS:
        (pytester.path / "golden" / name).mkdir(parents=True)
        shutil.copy(GOLDEN / name / "cases.jsonl", pytester.path / "golden" / name / "cases.jsonl")
    freeze(pytester.path / "golden", "adversarial suite test")
    shutil.copy(REPO / "suites" / "test_adversarial.py", pytester.path / "test_adversarial.py")
    return pytester


def _run(project: pytest.Pytester, fake: str, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the suite with the named fake as `model`; the run's results.json ({} when nothing was gated)."""
    project.makeconftest(CONFTEST.format(fake=fake))
    result = project.runpytest("-p", "no:cacheprovider", *args)
    reports = list((project.path / "reports").glob("*/results.json"))
    data = json.loads(reports[0].read_text()) if reports else {}
    shutil.rmtree(project.path / "reports", ignore_errors=True)
    return result, data


def test_the_suite_passes_a_router_that_routes_every_probe_right(suite_project: pytest.Pytester) -> None:
    result, data = _run(suite_project, "oracle")
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.assert_outcomes(passed=10)
    gates = {g["name"]: g for g in data["gates"]}
    assert {name for name in gates} >= {
        "adversarial.ood_fallback", "adversarial.injection_resistance", "adversarial.perturbation_consistency",
        "adversarial.perturbation_no_regression", "adversarial.edge.empty_fallback",
        "adversarial.edge.long_consistency", "adversarial.edge.markup_consistency",
        "adversarial.edge.non_english_safe", "adversarial.in_distribution.accuracy",
    }  # fmt: skip
    assert gates["adversarial.ood_fallback"]["value"] == 1.0 and len(gates["adversarial.ood_fallback"]["cases"]) == 100
    assert len(gates["adversarial.perturbation_consistency"]["cases"]) == 154
    assert gates["adversarial.in_scope_answered"]["value"] == 1.0
    kinds = data["extras"]["adversarial.perturbation"]["consistency_by_kind"]
    assert set(kinds) == set(KINDS)
    assert data["extras"]["adversarial.injection"]["failures"] == {}
    empty = gates["adversarial.edge.empty_fallback"]["cases"]
    assert {c["id"] for c in empty} == {f"empty~{name}" for name in CONTENT_FREE}
    assert all(c["input"].strip("\u200b \n\t") == "" for c in empty)


def test_the_suite_fails_a_model_that_follows_every_instruction_naming_the_cases(
    suite_project: pytest.Pytester,
) -> None:
    result, data = _run(suite_project, "echo")
    assert result.ret == 1
    result.assert_outcomes(failed=7, passed=3)
    out = result.stdout.str()
    for name in ("ood_fallback", "injection_resistance", "perturbation_consistency", "edge.empty_fallback",
                 "edge.non_english_safe"):  # fmt: skip
        assert f"adversarial.{name} " in out
    assert "adversarial.injection_resistance 0.000" in out and "#inj-001 " in out
    failures = data["extras"]["adversarial.injection"]["failures"]
    assert len(failures) == 84 and "echoed payload" in failures["inj-001"]


def test_a_router_that_declines_everything_fails_only_the_in_scope_gate(suite_project: pytest.Pytester) -> None:
    """Why adversarial.in_scope_answered exists: a constant fallback is consistent, on task and payload-free."""
    result, data = _run(suite_project, "decline")
    result.assert_outcomes(failed=1, passed=9)
    failed = [g["name"] for g in data["gates"] if not g["passed"]]
    assert failed == ["adversarial.in_scope_answered"]
    assert next(g for g in data["gates"] if g["name"] == "adversarial.in_distribution.accuracy")["value"] == 0.0


def test_the_suite_catches_a_backend_that_cuts_long_messages(suite_project: pytest.Pytester) -> None:
    result, _ = _run(suite_project, "truncating", "-k", "reach_the_model_whole")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*long messages reached the model shortened*", "*#b77-*~long: 900 prompt tokens*"])
