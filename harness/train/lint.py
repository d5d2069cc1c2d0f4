"""Config lint: training recipes that practitioners keep reporting as failures, caught before training.

Each rule is a plain function from the facts of a run to a warning (or None). Warnings land in the run
summary; `harness train --strict` turns them into errors. A config may accept a rule's warning for a
stated reason (`train.lint_accepted: {rule: reason}`): a recipe whose measurements contradict a rule of
thumb says so once, in the config, and `--strict` still guards against everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.golden import REGRESSION_SET
from harness.train.config import TrainConfig, TrainConfigError

SMALL_DATASET = 1000
HIGH_RANK = 64
MANY_EPOCHS = 3
INSTRUCT_LR_BAR = {"lora": 1e-3, "dora": 1e-3, "qlora": 1e-3}
"""Above this an adapter on an instruct model starts to overwrite its alignment; full fine-tunes use ~1e-5."""


@dataclass(frozen=True)
class RunFacts:
    """What the rules look at, gathered once the data and the base model are known."""

    train_rows: int
    val_rows: int
    base_is_instruct: bool
    has_regression_suite: bool


Rule = Callable[[TrainConfig, RunFacts], str | None]


def memorisation_recipe(config: TrainConfig, facts: RunFacts) -> str | None:
    if facts.train_rows < SMALL_DATASET and (config.adapter.rank >= HIGH_RANK or config.epochs >= MANY_EPOCHS):
        return (
            f"memorisation recipe: {facts.train_rows} training rows (< {SMALL_DATASET}) with rank "
            f"{config.adapter.rank} and {config.epochs:g} epochs; use rank <= 16 and 1-2 epochs, or more data"
        )
    return None


def high_learning_rate_on_instruct(config: TrainConfig, facts: RunFacts) -> str | None:
    bar = INSTRUCT_LR_BAR[config.adapter.method]
    if facts.base_is_instruct and config.learning_rate > bar:
        advice = "lower it" if config.replay.prompts is not None else "lower it or replay general data"
        return (
            f"learning rate {config.learning_rate:g} > {bar:g} on an instruct model tends to destroy its alignment "
            f"(watch the regression suite); {advice}"
        )
    return None


def no_validation_split(config: TrainConfig, facts: RunFacts) -> str | None:
    if facts.val_rows == 0:
        return (
            f"no validation split in {config.dataset}: checkpoints cannot be chosen by suite score; "
            "curate with a val share > 0"
        )
    return None


def narrow_training_without_replay(config: TrainConfig, facts: RunFacts) -> str | None:
    if facts.has_regression_suite and config.replay.prompts is None and config.learning_rate > 2e-4:
        return (
            "narrow task training at a high learning rate without replay: expect forgetting in the regression "
            "suite; set train.replay.prompts or lower the learning rate"
        )
    return None


def forgetting_vote_on_the_promotion_set(config: TrainConfig, facts: RunFacts) -> str | None:
    if "forgetting" in config.eval_gate.gates and config.eval_gate.forgetting_set == REGRESSION_SET:
        return (
            f"the eval gate's forgetting vote replays golden/{REGRESSION_SET}, the set the promotion gate "
            "scores: the checkpoint kept is the one that happened to lose fewest of those very cases, so the "
            "suite's figure for it is optimistic; set train.eval_gate.forgetting_set to a dev set "
            "of the same families (golden/regression_dev)"
        )
    return None


RULES: tuple[Rule, ...] = (
    memorisation_recipe,
    high_learning_rate_on_instruct,
    no_validation_split,
    narrow_training_without_replay,
    forgetting_vote_on_the_promotion_set,
)


RULE_NAMES = tuple(rule.__name__ for rule in RULES)
"""What `train.lint_accepted` may name."""


@dataclass(frozen=True)
class LintReport:
    warnings: list[str]
    """Warnings the config does not accept: `--strict` refuses to train while there are any."""
    accepted: list[str]
    """Warnings the config accepts, each followed by its stated reason."""


def check_accepted(config: TrainConfig) -> None:
    """An accepted rule must exist (a typo would accept nothing) and carry a reason (an acceptance without one
    is a silenced warning). `harness train` checks this first, before the data gates' slow work."""
    for rule, reason in config.lint_accepted.items():
        if rule not in RULE_NAMES:
            raise TrainConfigError(f"{config.source}: train.lint_accepted.{rule}: no such lint rule; "
                                   f"the rules are {list(RULE_NAMES)}")  # fmt: skip
        if not reason.strip():
            raise TrainConfigError(f"{config.source}: train.lint_accepted.{rule} needs a reason: say why this "
                                   "recipe goes against the rule (a measurement, a doc page)")  # fmt: skip


def review(config: TrainConfig, facts: RunFacts) -> LintReport:
    """The rules' warnings, split by `train.lint_accepted` into those that stand and those accepted."""
    check_accepted(config)
    report = LintReport(warnings=[], accepted=[])
    for rule in RULES:
        if (warning := rule(config, facts)) is None:
            continue
        if (reason := config.lint_accepted.get(rule.__name__)) is None:
            report.warnings.append(warning)
        else:
            report.accepted.append(f"{warning} [accepted: {reason}]")
    return report
