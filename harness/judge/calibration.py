"""Calibrating the judge: how well its verdicts agree with the human ones in golden/judge_calibration.

A judge is only worth gating on if it agrees with people on cases where people have already decided.
`calibrate` runs the judge over those cases and measures accuracy and Cohen's kappa (scikit-learn) for
its pairwise preferences, which decide the win-rate gate, and for its 1–5 rubric grades (quadratic
weights: 4 for a human 5 is a smaller miss than 1), plus the position-bias rate: how often the two
orders of one comparison disagree. `Calibration.trusted` applies the configured bar.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from harness.errors import InputDataError
from harness.golden import GoldenCase, display_path, read_jsonl
from harness.judge.llm import Grade, Judge, PairItem, PairVerdict, RubricItem, as_score, render_prompt
from harness.models.base import Prompt


class CalibrationError(InputDataError):
    """A calibration case is malformed; the message names the file, line, case id and field."""


@dataclass(frozen=True)
class RubricCase:
    id: str
    prompt: str
    response: str
    score: int
    """The human's 1–5 grade."""


@dataclass(frozen=True)
class PairCase:
    id: str
    prompt: str
    response_a: str
    response_b: str
    preferred: Literal["a", "b", "tie"]
    """The human's preference."""


def calibration_cases(cases: Sequence[GoldenCase], source: Path) -> list[RubricCase | PairCase]:
    """Golden cases of the calibration set as typed cases; every malformed one is reported at once.

    The human verdict lives in `expected`: {"kind": "rubric", "response": …, "score": 1–5} or
    {"kind": "pairwise", "response_a": …, "response_b": …, "preferred": "a" | "b" | "tie"}."""
    lines = {str(row.get("id")): number for number, row in read_jsonl(source)[0]} if source.is_file() else {}
    typed: list[RubricCase | PairCase] = []
    problems: list[str] = []
    for case in cases:
        where = f"{display_path(source)}:{lines.get(case.id, '?')}: case {case.id!r}"
        try:
            typed.append(_calibration_case(case))
        except ValueError as error:
            problems.append(f"{where}: {error}")
    if problems:
        raise CalibrationError("malformed judge calibration cases:\n  " + "\n  ".join(problems))
    return typed


def _calibration_case(case: GoldenCase) -> RubricCase | PairCase:
    expected = case.expected
    fix = "see golden/judge_calibration/README.md for the format, then re-freeze"
    if not isinstance(expected, dict) or expected.get("kind") not in ("rubric", "pairwise"):
        raise ValueError(f'field expected.kind must be "rubric" or "pairwise" — {fix}')
    prompt = render_prompt(cast(Prompt, case.prompt()))
    keys = ("response", "score") if expected["kind"] == "rubric" else ("response_a", "response_b", "preferred")
    missing = [k for k in keys if not isinstance(expected.get(k), str | int) or isinstance(expected.get(k), bool)]
    if missing:
        raise ValueError(f"field(s) {', '.join('expected.' + k for k in missing)} missing or not text — {fix}")
    if expected["kind"] == "rubric":
        score = as_score(expected["score"]) if isinstance(expected["score"], int) else None
        if score is None:
            raise ValueError(f"field expected.score = {expected['score']!r} must be an integer 1–5 — {fix}")
        return RubricCase(case.id, prompt, str(expected["response"]), score)
    preferred = str(expected["preferred"])
    if preferred not in ("a", "b", "tie"):
        raise ValueError(f'field expected.preferred = {preferred!r} must be "a", "b" or "tie" — {fix}')
    return PairCase(case.id, prompt, str(expected["response_a"]), str(expected["response_b"]), preferred)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Calibration:
    """How well the judge agrees with people. Pairwise figures are the headline: they decide the win-rate
    gate. Errors (no verdict after a re-ask) count as disagreements in the accuracies and are left out of
    the kappas, which need a pair of labels; too many of them make the judge untrusted on their own."""

    judge: str
    bar: float
    max_error_rate: float
    n_rubric: int
    n_pairwise: int
    accuracy: float | None
    kappa: float | None
    position_bias_rate: float | None
    rubric_accuracy: float | None
    rubric_within_one: float | None
    rubric_kappa: float | None
    errors: list[str] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.n_rubric + self.n_pairwise

    @property
    def error_rate(self) -> float:
        return len(self.errors) / self.n if self.n else 0.0

    @property
    def problems(self) -> list[str]:
        """Why the judge is untrusted; empty when it is trusted."""
        found = []
        for name, kappa in (("pairwise kappa", self.kappa), ("rubric kappa", self.rubric_kappa)):
            if kappa is None:
                found.append(f"{name} undefined (no cases, or a single label on both sides)")
            elif kappa < self.bar:
                found.append(f"{name} {kappa:.2f} < {self.bar:g}")
        if self.error_rate > self.max_error_rate:
            found.append(f"no verdict on {len(self.errors)}/{self.n} cases ({self.error_rate:.0%} > "
                         f"{self.max_error_rate:.0%})")  # fmt: skip
        return found

    @property
    def trusted(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for the terminal and for xfail reasons."""
        verdict = "trusted" if self.trusted else "untrusted: " + "; ".join(self.problems)
        return (
            f"judge {self.judge} {verdict} (pairwise kappa {_fmt(self.kappa)}, accuracy {_fmt(self.accuracy)}, "
            f"position bias {_fmt(self.position_bias_rate)}; rubric kappa {_fmt(self.rubric_kappa)}; "
            f"n={self.n} human verdicts, bar min_kappa={self.bar:g})"
        )

    def to_report(self) -> dict[str, Any]:
        """What `report.attach("judge_calibration", …)` stores for the HTML report."""
        return {
            "judge": self.judge, "n": self.n, "n_rubric": self.n_rubric, "n_pairwise": self.n_pairwise,
            "accuracy": self.accuracy, "kappa": self.kappa, "position_bias_rate": self.position_bias_rate,
            "rubric_accuracy": self.rubric_accuracy, "rubric_within_one": self.rubric_within_one,
            "rubric_kappa": self.rubric_kappa, "error_rate": self.error_rate, "errors": self.errors,
            "trusted": self.trusted, "bar": self.bar, "max_error_rate": self.max_error_rate,
            "why": self.summary(), "cases": self.cases,
        }  # fmt: skip


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def calibrate(judge: Judge, cases: Sequence[RubricCase | PairCase]) -> Calibration:
    """Run the judge on the calibration cases and measure its agreement with the human verdicts."""
    rubric = [c for c in cases if isinstance(c, RubricCase)]
    pairs = [c for c in cases if isinstance(c, PairCase)]
    grades = judge.grade([RubricItem(c.prompt, c.response) for c in rubric])
    verdicts = judge.compare([PairItem(c.prompt, c.response_a, c.response_b) for c in pairs])
    labels = [_PREFERRED.get(v.outcome or "") for v in verdicts]
    human_scores, scores = [c.score for c in rubric], [g.score for g in grades]
    scored = list(zip(human_scores, scores, strict=True))
    rows = [_rubric_row(c, g) for c, g in zip(rubric, grades, strict=True)]
    rows += [_pair_row(c, v, label) for c, v, label in zip(pairs, verdicts, labels, strict=True)]
    return Calibration(
        judge=judge.label,
        bar=judge.settings.min_kappa,
        max_error_rate=judge.settings.max_error_rate,
        n_rubric=len(rubric),
        n_pairwise=len(pairs),
        accuracy=_share([label == c.preferred for c, label in zip(pairs, labels, strict=True)]),
        kappa=cohen_kappa([c.preferred for c in pairs], labels, labels=["a", "b", "tie"]),
        position_bias_rate=_share([not v.consistent for v in verdicts if v.error is None]),
        rubric_accuracy=_share([s == h for h, s in scored]),
        rubric_within_one=_share([s is not None and abs(s - h) <= 1 for h, s in scored]),
        rubric_kappa=cohen_kappa(human_scores, scores, labels=[1, 2, 3, 4, 5], weights="quadratic"),
        errors=[row["id"] for row in rows if row["error"]],
        cases=rows,
    )


_PREFERRED = {"win": "a", "loss": "b", "tie": "tie"}
"""A calibration pair is compared with response_a as the candidate: a win means the judge prefers a."""


def _rubric_row(case: RubricCase, grade: Grade) -> dict[str, Any]:
    return {"id": case.id, "kind": "rubric", "human": case.score, "judge": grade.score,
            "agree": grade.score == case.score, "reason": grade.reason, "error": grade.error}  # fmt: skip


def _pair_row(case: PairCase, verdict: PairVerdict, label: str | None) -> dict[str, Any]:
    return {"id": case.id, "kind": "pairwise", "human": case.preferred, "judge": label,
            "agree": label == case.preferred, "consistent": verdict.consistent,
            "reason": " | ".join(verdict.reasons), "error": verdict.error}  # fmt: skip


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def cohen_kappa(
    human: Sequence[Any], judged: Sequence[Any], *, labels: Sequence[Any], weights: str | None = None
) -> float | None:
    """Cohen's kappa (scikit-learn) over the cases the judge gave a verdict on (None entries are left
    out); None when it is undefined: no such cases, or both raters using one and the same label."""
    pairs = [(h, j) for h, j in zip(human, judged, strict=True) if j is not None]
    if not pairs:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the undefined case is reported as None, not as a warning
        kappa = cohen_kappa_score([h for h, _ in pairs], [j for _, j in pairs], labels=list(labels),
                                  weights=weights, replace_undefined_by=math.nan)  # fmt: skip
    return float(kappa) if math.isfinite(kappa) else None
