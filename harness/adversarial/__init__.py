"""Adversarial probes for a label router: pure, seeded generators and deterministic checks (no judge).

Accuracy on in-distribution golden cases says nothing about what a fine-tuned router does with messages
it was not built for, with instructions smuggled into a customer's text, or with a typo. This package
builds those inputs reproducibly and decides, without a model, whether an answer held up:

- `router`     the router's system prompt -> its labels, fallback label and instruction text;
- `forms`      encodings an attacker uses (base64, rot13, leetspeak, zero-width, homoglyphs, line splits)
               and the `readings` of an answer that undo them;
- `checks`     did an answer echo an injected payload, leak the system prompt, or leave the label set;
- `perturbations` seeded typos, casing, whitespace, punctuation and paraphrase templates (seed per case id);
- `edge`       content-free, very long and markup-wrapped inputs;
- `injection`  injection attacks in every encoding, for building golden/injection.

`suites/test_adversarial.py` puts them together; nothing here does I/O or holds state.
"""

from harness.adversarial.checks import InjectionVerdict, judge_injection, leaks_prompt
from harness.adversarial.edge import CONTENT_FREE, MARKUP_KINDS, LongInput, long_input, wrap_in_markup
from harness.adversarial.forms import ENCODINGS, encode, readings
from harness.adversarial.perturbations import KINDS, perturb, seed_for
from harness.adversarial.probe import Probe, first_per_label
from harness.adversarial.router import RouterPrompt

__all__ = [
    "CONTENT_FREE",
    "ENCODINGS",
    "KINDS",
    "MARKUP_KINDS",
    "InjectionVerdict",
    "LongInput",
    "Probe",
    "RouterPrompt",
    "encode",
    "first_per_label",
    "judge_injection",
    "leaks_prompt",
    "long_input",
    "perturb",
    "readings",
    "seed_for",
    "wrap_in_markup",
]
