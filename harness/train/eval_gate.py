"""The eval-gate callback: checkpoints are chosen by the suites' own gates on the validation split.

Eval loss rewards confident tokens; the suites reward right answers. Every `every_steps` steps the
callback generates answers for the validation rows exactly as the suite does (greedy, the harness's
HF backend on the weights being trained), computes the gated metrics with their 95% intervals, and
keeps the adapter with the best score: the smallest margin by which a gate's lower bound clears its
bar. Training may stop early once every gate clears its bar by `stop_margin`.

With a `forgetting` metric the regression suite votes too (`ForgettingProbe`): its golden cases are
answered by the base model (the adapter off, once) and by the weights being trained, and the checkpoint's
margin on `regression.no_forgetting` counts like any other gate's. Validation accuracy alone once kept an
earlier checkpoint over the last by two rows of 154, at a higher learning rate that forgot more.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from harness import metrics, stats
from harness.models.base import Prompt
from harness.train.config import EVAL_METRICS, EvalGateSettings
from harness.train.data import ValCase
from harness.train.distill import adapter_off

BOOTSTRAP_RESAMPLES = 500


@dataclass
class GateCheck:
    gate: str
    metric: str
    value: float
    lower: float
    bar: float
    detail: str = ""
    """What the figures count, where they are not plain (forgetting: lost cases against those allowed)."""
    lost: list[str] = field(default_factory=list)
    """The ids of the cases lost (forgetting): what the checkpoint forgot, in training_summary.json."""

    @property
    def margin(self) -> float:
        return self.lower - self.bar

    def describe(self) -> str:
        if self.detail:  # a point figure whose bar is derived: say what both count
            return f"{self.metric} {self.value:.3f} vs {self.bar:.3f} ({self.detail})"
        return f"{self.metric} {self.value:.3f} [>= {self.lower:.3f}] vs {self.bar:g}"


@dataclass
class Evaluation:
    step: int
    checks: list[GateCheck]
    seconds: float
    n: int

    @property
    def score(self) -> float:
        """The worst margin: a checkpoint is as good as its weakest gate."""
        return min(check.margin for check in self.checks)

    def passes(self, margin: float = 0.0) -> bool:
        return all(check.margin >= margin for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "score": self.score, "seconds": self.seconds, "n": self.n,
                "checks": [asdict(c) | {"margin": c.margin} for c in self.checks]}  # fmt: skip


def spread_over_labels(cases: Sequence[ValCase], limit: int | None) -> list[ValCase]:
    """At most `limit` cases, taken round-robin over labels so every label is represented."""
    if limit is None or len(cases) <= limit:
        return list(cases)
    by_label: dict[str, list[ValCase]] = defaultdict(list)
    for case in cases:
        by_label[case.label].append(case)
    picked: list[ValCase] = []
    queues = [list(group) for _, group in sorted(by_label.items())]
    while len(picked) < limit:
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def score_answers(
    answers: Sequence[str], cases: Sequence[ValCase], bars: dict[str, tuple[str, float]],
    check: Mapping[str, Any] | None = None,
) -> list[GateCheck]:  # fmt: skip
    """The gated metrics of one evaluation: accuracy and check with their Wilson bounds, macro-F1 with a
    bootstrap bound. `check` is the golden set's check spec without its value (`check_template`)."""
    correct = [metrics.label_match(a, c.label) for a, c in zip(answers, cases, strict=True)]
    labels = sorted({metrics.normalise_label(c.label) for c in cases})
    code = {label: i for i, label in enumerate(labels)}
    truth = [code[metrics.normalise_label(c.label)] for c in cases]
    guess = [code.get(metrics.normalise_label(a), -1) for a in answers]
    checks = []
    for metric, (gate, bar) in bars.items():
        if metric == "accuracy":
            value = sum(correct) / len(correct)
            lower = stats.wilson_interval(sum(correct), len(correct))[0]
        elif metric == "macro_f1":
            def f1(indices: Any) -> float:
                return metrics.macro_f1_codes([truth[i] for i in indices], [guess[i] for i in indices], len(labels))

            value = f1(range(len(cases)))
            lower = stats.bootstrap_statistic_interval(len(cases), f1, n_resamples=BOOTSTRAP_RESAMPLES)[0]
        elif metric == "check" and check is not None:
            passed = [metrics.run_check(a, {**check, "value": expected_value(c.label)})
                      for a, c in zip(answers, cases, strict=True)]  # fmt: skip
            value = sum(passed) / len(passed)
            lower = stats.wilson_interval(sum(passed), len(passed))[0]
        elif metric == "check":
            raise ValueError("eval_gate.gates: the check metric needs eval_gate.golden_set, whose check it applies")
        else:
            raise ValueError(f"eval_gate.gates: unknown metric {metric!r}; known: {EVAL_METRICS}")
        checks.append(GateCheck(gate=gate, metric=metric, value=value, lower=lower, bar=bar))
    return checks


@dataclass
class ForgettingProbe:
    """The forgetting gate (`suites/test_regression.py`) at every evaluation: its golden cases answered by
    the weights being trained, against the base model's answers (the adapter switched off, at the first
    evaluation). The check is the gate's own rule in the units of a score: `value` is the share of the
    base's passes kept, and `bar` the least share the gate passes (`stats.most_losable`: its bar and
    McNemar's test), so the margin is (losses allowed - losses) / base passes."""

    gate: str
    max_share: float
    """The gate's bar in [tool.harness.gates]: the most of the base's passes that may be lost."""
    alpha: float
    ids: list[str]
    prompts: Sequence[Prompt]
    checks: list[list[dict[str, Any]]]
    """Each case's checks (`metrics.run_check` specs): a case passes when all of them do."""
    max_new_tokens: int
    """The golden set's budget (its generation.toml), as the suite answers."""
    golden_set: str = ""
    """The set replayed, named in each check's detail: its counts are not the suite's when it is a dev set."""
    base_passes: list[bool] | None = None

    def measure(self, model: Any, tokenizer: Any) -> GateCheck:
        if self.base_passes is None:
            with adapter_off(model):
                self.base_passes = self._passes(model, tokenizer)
        return forgetting_check(self.gate, self._passes(model, tokenizer), self.base_passes, self.max_share,
                                self.alpha, self.ids, self.golden_set)  # fmt: skip

    def _passes(self, model: Any, tokenizer: Any) -> list[bool]:
        answers = generate_answers(model, tokenizer, self.prompts, self.max_new_tokens)
        return [all(metrics.run_check(answer, check) for check in checks)
                for answer, checks in zip(answers, self.checks, strict=True)]  # fmt: skip


def forgetting_check(gate: str, passes: Sequence[bool], base_passes: Sequence[bool], max_share: float,
                     alpha: float, ids: Sequence[str] | None = None, golden_set: str = "") -> GateCheck:  # fmt: skip
    """`ForgettingProbe`'s check: the share of the base's passes kept against the least share that passes."""
    kept_by_base = sum(base_passes)
    names = list(ids) if ids is not None else [str(i) for i in range(len(passes))]
    lost_ids = [name for name, now, base in zip(names, passes, base_passes, strict=True) if base and not now]
    lost = len(lost_ids)
    gained = sum(now and not base for now, base in zip(passes, base_passes, strict=True))
    allowed = stats.most_losable(kept_by_base, gained, max_share, alpha)
    kept, least = (1 - lost / kept_by_base, 1 - allowed / kept_by_base) if kept_by_base else (1.0, 1.0)
    detail = f"lost {lost} of the base's {kept_by_base} passes, gained {gained}; the gate allows {allowed}"
    detail = f"golden/{golden_set}: {detail}" if golden_set else detail
    return GateCheck(gate=gate, metric="forgetting", value=kept, lower=kept, bar=least, detail=detail,
                     lost=lost_ids)  # fmt: skip


def check_template(cases: Sequence[Any]) -> dict[str, Any] | None:
    """A golden set's check spec with its value left out (the first case's; None when its cases expect a
    plain label): the eval gate fills in each validation row's answer, so it checks as the suite does."""
    spec = next((case.expected for case in cases if isinstance(case.expected, dict)), None)
    return None if spec is None else {key: value for key, value in spec.items() if key != "value"}


def expected_value(answer: str) -> Any:
    """A validation row's answer as a check's expected value: its JSON when it is JSON, else the text."""
    try:
        return json.loads(answer)
    except ValueError:
        return answer


@dataclass
class EvalGateCallback(TrainerCallback):  # type: ignore[misc]
    """Evaluates by gate every `settings.every_steps` steps and at the end; saves the best adapter."""

    cases: list[ValCase]
    settings: EvalGateSettings
    bars: dict[str, tuple[str, float]]
    """metric -> (gate name, bar), the bars of [tool.harness.gates], for the metrics scored on the validation
    answers (`forgetting`'s is its probe's own)."""
    best_dir: Path
    tokenizer: Any
    max_new_tokens: int
    """The answers' budget (`harness.train.run.eval_gate_budget`: the golden set's, as the suites ask)."""
    check: dict[str, Any] | None = None
    """The golden set's check without its value, for the `check` metric (`check_template`)."""
    forgetting: ForgettingProbe | None = None
    """The regression suite's cases, for the `forgetting` metric."""
    history: list[Evaluation] = field(default_factory=list)
    best: Evaluation | None = None

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> Any:
        if state.global_step % self.settings.every_steps == 0 or state.global_step >= state.max_steps:
            self._evaluate(model, state.global_step)
            margin = self.settings.stop_margin
            if margin is not None and self.history[-1].passes(margin):
                print(f"eval gate: every gate clears its bar by >= {margin} at step {state.global_step}; stopping")
                control.should_training_stop = True
        return control

    def _evaluate(self, model: Any, step: int) -> None:
        if self.history and self.history[-1].step == step:
            return
        started = time.perf_counter()
        answers = generate_answers(model, self.tokenizer, [c.prompt for c in self.cases], self.max_new_tokens)
        checks = score_answers(answers, self.cases, self.bars, self.check)
        if self.forgetting is not None:
            checks.append(self.forgetting.measure(model, self.tokenizer))
        evaluation = Evaluation(step, checks, time.perf_counter() - started, len(self.cases))
        self.history.append(evaluation)
        improved = self.best is None or evaluation.score > self.best.score
        if improved:
            self.best = evaluation
            save_adapter(model, self.best_dir)
        print(_describe(evaluation, improved), flush=True)


def save_adapter(model: Any, directory: Path) -> None:
    """Save the adapter being trained, alone: a DPO run's model also holds TRL's frozen "ref" copy, which
    `save_pretrained` would otherwise write beside it."""
    active = getattr(model, "active_adapter", None)
    model.save_pretrained(directory, **({"selected_adapters": [active]} if isinstance(active, str) else {}))


def generate_answers(model: Any, tokenizer: Any, prompts: Sequence[Prompt], max_new_tokens: int) -> list[str]:
    """Greedy answers from the weights being trained, through the same backend the suites use."""
    from harness.cache import GenerationCache
    from harness.models.hf import HFBackend, HFWeights
    from harness.progress import no_progress

    backend = HFBackend(HFWeights.of(model, tokenizer), GenerationCache(Path("unused"), enabled=False),
                        label="training", batch_size=16)  # fmt: skip
    params = {"max_new_tokens": max_new_tokens, "temperature": 0.0}
    answers: dict[int, str] = {}
    was_training = model.training
    model.eval()  # also turns gradient checkpointing's no-cache rule off: generation needs its KV cache
    try:
        with _class_forward(model):
            for index, completion in backend.generate(list(prompts), params, no_progress):
                answers[index] = completion.text
    finally:
        model.train(was_training)
    return [answers[i] for i in range(len(prompts))]


@contextmanager
def _class_forward(model: Any) -> Iterator[None]:
    """Score with the model's own forward, as the suites do. Under mixed precision, accelerate replaces the
    trained model's `forward` with an autocast wrapper (an instance attribute); the prompt prefix would then
    be encoded in bf16 while generation, which calls the base model's forward, decodes in float32."""
    wrapper = model.__dict__.pop("forward", None)
    try:
        yield
    finally:
        if wrapper is not None:
            model.forward = wrapper


def _describe(evaluation: Evaluation, improved: bool) -> str:
    parts = [check.describe() for check in evaluation.checks]
    mark = "  (best so far, saved)" if improved else ""
    return f"eval gate @ step {evaluation.step}: {'; '.join(parts)}; {evaluation.seconds:.0f}s{mark}"
