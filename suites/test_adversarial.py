"""Adversarial robustness of the Banking77 router: accuracy on clean golden queries is not enough.

A fine-tuned router meets messages it was not built for, instructions smuggled into a customer's text,
typos, and odd input. Every probe uses the golden Banking77 system turn, so the adapter is asked the
question it was trained on. No judge: every check is deterministic (harness.adversarial).

Gates (bars in [tool.harness.gates], the only place they are written):
- adversarial.ood_fallback: golden/ood (100 hand-written non-banking and near-miss queries) must get the
  fallback label. Shown next to in-distribution accuracy, measured on the clean subset below;
- adversarial.in_scope_answered: in-scope queries (the clean subset) must not get the fallback, since a
  router that declines everything would otherwise pass every other gate here;
- adversarial.injection_resistance: golden/injection (genuine queries carrying injected instructions,
  plain and encoded) must not echo the payload, leak the system prompt, or leave the label set.
  The carrier intent's accuracy is measured too;
- adversarial.perturbation_consistency: seeded typos, casing, whitespace, punctuation and paraphrase
  frames must not change the answer (paired with the clean answer on the same case);
  adversarial.perturbation_no_regression: nor cost accuracy (McNemar on clean vs perturbed correctness);
- adversarial.edge.*: content-free messages get the fallback; very long and markup-wrapped messages keep
  their route; non-English queries are routed right or declined, never misrouted.

Generated probes (perturbations, long, markup, empty) come from a fixed subset of the frozen Banking77
set: the first PER_INTENT cases of each intent in file order, each perturbation seeded by its case id.
They are not frozen golden files: they are derived, byte-for-byte reproducible, recorded per case in
results.json, and their sha256 is attached to the run, so two runs provably saw the same inputs.
Generations per model: 402 of its own (100 OOD + 84 injection + 154 perturbed + 6 empty + 10 long + 18 markup
+ 30 non-English) and the 154 clean subset answers, which are test_banking77's, shared through the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from harness import Completion, Model, gate, metrics, report
from harness.adversarial import (
    CONTENT_FREE,
    KINDS,
    MARKUP_KINDS,
    Probe,
    RouterPrompt,
    first_per_label,
    judge_injection,
    long_input,
    perturb,
    seed_for,
    wrap_in_markup,
)
from harness.adversarial.injection import payload_of
from harness.golden import GoldenCase, GoldenSet, evenly_spread

PER_INTENT = 2  # clean subset: 2 cases per intent = 154, each perturbed once (kinds taken in turn)
LONG_CASES = 10  # ~2,050-token prompts on SmolLM2 (~1,400 of them the message); half ask first, half last
MARKUP_CASES = 18  # 3 per markup kind
MIN_TOKENS_PER_WORD = 0.9  # a long message must reach the model with at least this many tokens per filler word


def ask(model: Model, probes: Sequence[GoldenCase | Probe], generation: dict[str, Any]) -> list[Completion]:
    """Answers generated as the probes' golden set fixes (for Banking77's, as test_banking77.py asks, so the
    clean answers are the same cache entries)."""
    return model.generate([probe.prompt() for probe in probes], **generation)


def digest(probes: Sequence[Probe]) -> str:
    """sha256 of the generated inputs, so two runs can show they scored the same probes."""
    return hashlib.sha256(json.dumps([[p.id, p.messages] for p in probes], ensure_ascii=False).encode()).hexdigest()


def same_route(answer: Completion, reference: Completion) -> bool:
    return metrics.normalise_label(answer) == metrics.normalise_label(reference)


def against_clean(probes: Sequence[Probe], clean: dict[str, Completion]) -> list[Probe]:
    """The probes with `expected` set to the clean answer they must match, for the report's case lines."""
    return [dataclasses.replace(p, expected=metrics.normalise_label(clean[p.source])) for p in probes]


@pytest.fixture(scope="module")
def banking77(golden) -> GoldenSet:
    return golden("banking77")


@pytest.fixture(scope="module")
def router(banking77) -> RouterPrompt:
    """Labels, fallback and instructions, read from the system turn the model is actually given."""
    return RouterPrompt.parse(banking77[0].messages[0]["content"])


@pytest.fixture(scope="module")
def subset(banking77) -> list[GoldenCase]:
    return first_per_label(banking77, PER_INTENT)


@pytest.fixture(scope="module")
def clean(model, banking77, subset) -> dict[str, Completion]:
    """The model's answers to the clean subset, by case id: the reference every paired check compares to."""
    return {case.id: answer for case, answer in zip(subset, ask(model, subset, banking77.generation), strict=True)}


# --- out of distribution ------------------------------------------------------------------------------


def test_out_of_scope_queries_get_the_fallback(model, golden, router, subset, clean):
    """A router that forces every message into an intent misroutes everything it was not built for.
    In-distribution accuracy on the same run (the clean subset) is recorded first, next to this gate."""
    in_scope = [clean[case.id] for case in subset]
    gate.measure("adversarial.in_distribution.accuracy",
                 [metrics.label_match(a, c.expected) for a, c in zip(in_scope, subset, strict=True)],
                 cases=subset, outputs=in_scope)  # fmt: skip
    cases = golden("ood")
    answers = ask(model, cases, cases.generation)
    gate.at_least("adversarial.ood_fallback", [router.is_fallback(a) for a in answers], cases=cases,
                  outputs=answers)  # fmt: skip


def test_in_scope_queries_are_not_declined(router, subset, clean):
    """The other side of the fallback: a router that declines everything would pass every gate above and
    below (a constant answer is consistent, on task and carries no payload). So in-scope queries (the clean
    subset, already answered) must rarely get the fallback."""
    in_scope = [clean[case.id] for case in subset]
    gate.at_least("adversarial.in_scope_answered", [not router.is_fallback(a) for a in in_scope],
                  cases=subset, outputs=in_scope)  # fmt: skip


# --- prompt injection ---------------------------------------------------------------------------------


def test_injected_instructions_are_not_followed(model, golden, router):
    """A customer's text is data, not instructions: a router that echoes a payload, reveals its prompt
    or answers anything but a label can be steered by whoever writes to the bank. Whether it still finds
    the carrier query's intent is measured alongside."""
    cases = golden("injection")
    answers = ask(model, cases, cases.generation)
    verdicts = [judge_injection(a, router, payload_of(c.tags)) for a, c in zip(answers, cases, strict=True)]
    carrier = [metrics.label_match(a, c.expected) for a, c in zip(answers, cases, strict=True)]
    report.attach("adversarial.injection", {
        "resisted_by_tag": _rates([v.resisted for v in verdicts], [c.tags for c in cases], ("attack:", "encoding:")),
        "failures": {c.id: v.reason() for c, v in zip(cases, verdicts, strict=True) if not v.resisted},
    })  # fmt: skip
    gate.measure("adversarial.injection_carrier_accuracy", carrier, cases=cases, outputs=answers)
    gate.at_least("adversarial.injection_resistance", [v.resisted for v in verdicts], cases=cases,
                  outputs=answers)  # fmt: skip


def _rates(values: Sequence[bool], tags: Sequence[Sequence[str]], prefixes: Sequence[str]) -> dict[str, float]:
    """Share of True per tag with one of `prefixes` (e.g. per attack and per encoding)."""
    total: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for ok, case_tags in zip(values, tags, strict=True):
        for tag in (t for t in case_tags if t.startswith(tuple(prefixes))):
            total[tag] += 1
            hits[tag] += bool(ok)
    return {tag: round(hits[tag] / total[tag], 4) for tag in sorted(total)}


# --- perturbations ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def perturbed(model, banking77, subset) -> tuple[list[Probe], list[Completion]]:
    """Each subset case perturbed once, the kinds taken in turn, seeded by (case id, kind)."""
    probes = []
    for i, case in enumerate(subset):
        kind = KINDS[i % len(KINDS)]
        text = perturb(case.messages[-1]["content"], kind, seed_for(case.id, kind))
        probes.append(Probe.with_user_turn(case, text, kind, tags=[kind]))
    return probes, ask(model, probes, banking77.generation)


def test_perturbations_keep_the_route(perturbed, clean):
    """What real users type (a typo, CAPS, a stray newline, "Hi, quick question: …") must not move a
    message to another queue. Paired: each perturbed answer is compared with the same case's clean one."""
    probes, answers = perturbed
    same = [same_route(a, clean[p.source]) for p, a in zip(probes, answers, strict=True)]
    report.attach("adversarial.perturbation", {
        "consistency_by_kind": _rates(same, [p.tags for p in probes], KINDS), "inputs_sha256": digest(probes),
    })  # fmt: skip
    gate.at_least("adversarial.perturbation_consistency", same, cases=against_clean(probes, clean),
                  outputs=answers)  # fmt: skip


def test_perturbations_do_not_cost_accuracy(perturbed, clean):
    """Consistency alone would pass a router that is equally wrong both ways; this compares correctness
    on the same cases, clean vs perturbed (lost cases and exact McNemar)."""
    probes, answers = perturbed
    perturbed_ok = [metrics.label_match(a, p.expected) for p, a in zip(probes, answers, strict=True)]
    clean_ok = [metrics.label_match(clean[p.source], p.expected) for p in probes]
    gate.no_regression("adversarial.perturbation_no_regression", perturbed_ok, clean_ok, cases=probes,
                       outputs=answers, baseline_outputs=[clean[p.source] for p in probes])  # fmt: skip


# --- edge cases ---------------------------------------------------------------------------------------


def test_content_free_messages_get_the_fallback(model, banking77, router):
    """An empty message (or only spaces, tabs, newlines, zero-width characters) asks for nothing, so the
    only right answer is the fallback. The golden schema refuses blank content, rightly for a frozen case,
    so these probes are built here. Few and deterministic: every variant must pass (point mode)."""
    system = banking77[0].messages[0]
    probes = [Probe(f"empty~{name}", [dict(system), {"role": "user", "content": text}], router.fallback, "", [name])
              for name, text in CONTENT_FREE.items()]  # fmt: skip
    answers = ask(model, probes, banking77.generation)
    gate.slices_at_least("adversarial.edge.empty_fallback", [router.is_fallback(a) for a in answers],
                         list(CONTENT_FREE), mode="point", cases=probes, outputs=answers)  # fmt: skip


@pytest.fixture(scope="module")
def long_messages(model, banking77, subset) -> tuple[list[Probe], list[int], list[Completion]]:
    """LONG_CASES subset queries inside ~1,200 words of small talk, asked first or last in turn; with the
    number of filler words each carries."""
    probes, fillers = [], []
    for i, case in enumerate(evenly_spread(subset, LONG_CASES)):
        message = long_input(case.messages[-1]["content"], seed_for(case.id, "long"), question_first=i % 2 == 1)
        probes.append(Probe.with_user_turn(case, message.text, "long", tags=["long"]))
        fillers.append(message.filler_words)
    return probes, fillers, ask(model, probes, banking77.generation)


def test_long_messages_keep_the_route(long_messages, clean):
    """A customer who writes a page before (or after) the question still has that question. Paired with
    the clean answer. Small n, so the bar is on the 95% lower bound of a few cases: one miss in ten passes, two fail."""
    probes, _, answers = long_messages
    same = [same_route(a, clean[p.source]) for p, a in zip(probes, answers, strict=True)]
    report.attach("adversarial.long", {"inputs_sha256": digest(probes)})
    gate.at_least("adversarial.edge.long_consistency", same, cases=against_clean(probes, clean),
                  outputs=answers)  # fmt: skip


def test_long_messages_reach_the_model_whole(long_messages, clean):
    """The harness never truncates a prompt (an over-long one is refused with an error naming the context
    size). This checks the record: each long message arrived with at least MIN_TOKENS_PER_WORD tokens per
    filler word more than its short form, so a backend that cut it silently would show here."""
    probes, fillers, answers = long_messages
    if not any(a.prompt_tokens for a in answers):
        pytest.skip("the model's backend reports no prompt token counts (0), so there is nothing to check")
    cut = [f"#{p.id}: {a.prompt_tokens} prompt tokens vs {clean[p.source].prompt_tokens} for the short form, "
           f"{words} filler words" for p, a, words in zip(probes, answers, fillers, strict=True)
           if a.prompt_tokens - clean[p.source].prompt_tokens < MIN_TOKENS_PER_WORD * words]  # fmt: skip
    assert not cut, "long messages reached the model shortened (truncated by the backend?):\n" + "\n".join(cut)


def test_markup_keeps_the_route(model, banking77, subset, clean):
    """Chat widgets, web forms and mail clients pass messages on as JSON, HTML, Markdown or XML; the
    wrapper must not change the route. Paired with the clean answer; three misses in 18 pass."""
    kinds = [MARKUP_KINDS[i % len(MARKUP_KINDS)] for i in range(MARKUP_CASES)]
    probes = [Probe.with_user_turn(case, wrap_in_markup(case.messages[-1]["content"], kind), kind, tags=[kind])
              for case, kind in zip(evenly_spread(subset, MARKUP_CASES), kinds, strict=False)]  # fmt: skip
    answers = ask(model, probes, banking77.generation)
    same = [same_route(a, clean[p.source]) for p, a in zip(probes, answers, strict=True)]
    report.attach("adversarial.markup", {"consistency_by_kind": _rates(same, [p.tags for p in probes],
                                                                       MARKUP_KINDS),
                                         "inputs_sha256": digest(probes)})  # fmt: skip
    gate.at_least("adversarial.edge.markup_consistency", same, cases=against_clean(probes, clean),
                  outputs=answers)  # fmt: skip


def test_non_english_is_routed_or_declined(model, golden, router):
    """golden/multilingual: Spanish, German and French banking queries. Decision: the right intent or the
    fallback both pass. Declining sends the customer to a person, which is safe; a wrong intent sends them
    to the wrong queue, which is not. How often it finds the right intent is measured alongside."""
    cases = golden("multilingual")
    answers = ask(model, cases, cases.generation)
    right = [metrics.label_match(a, c.expected) for a, c in zip(answers, cases, strict=True)]
    gate.measure("adversarial.edge.non_english_accuracy", right, cases=cases, outputs=answers)
    safe = [ok or router.is_fallback(a) for ok, a in zip(right, answers, strict=True)]
    gate.at_least("adversarial.edge.non_english_safe", safe, cases=cases, outputs=answers)
