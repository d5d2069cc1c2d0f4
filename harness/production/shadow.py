"""Shadow comparison: replay logged production inputs through a candidate and the champion, no labels needed.

What a candidate would have answered to last week's real traffic, next to what the champion answers now:
how often they agree, which labels moved where (the flip table), where they disagree most (per slice of a
trace tag or the model version), and, on the traces a user corrected, which of the two was right more often
(exact McNemar on the paired outcomes). Answers are compared as labels (harness.metrics.normalise_label),
so "Card arrival." and "card_arrival" agree.

Both models are built like the suites' fixtures (same specs, same generation cache, same backends): a
replay already run is read from the cache, and `--champion=champion` is the registry's champion. A trace
logged without a system turn is replayed after the one production used, when `system_from` names a golden
set whose system turn that was; otherwise as logged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import stats
from harness.golden import generation_settings, load_set
from harness.models.base import Model
from harness.production.traces import Trace, TraceError

DISAGREEMENT = "shadow.disagreement"
"""The gate: the share of traces the candidate answers differently from the champion, at most the bar."""
DEFAULT_MAX_DISAGREEMENT = 0.05
"""The bar unless [tool.harness.gates] sets one: a candidate that answers 1 in 20 real requests differently is a
different product, whatever the golden set says; more is a decision for a person, not for a default."""
NOT_WORSE = "shadow.not_worse_on_corrections"
"""The gate: on corrected traces, the candidate not significantly worse than the champion (McNemar)."""
VERSION_SLICE = "model_version"


@dataclass(frozen=True)
class Shadow:
    """Both models' answers to the same traces, as labels."""

    traces: list[Trace]
    candidate: list[str]
    champion: list[str]

    @property
    def disagreed(self) -> list[bool]:
        return [a != b for a, b in zip(self.candidate, self.champion, strict=True)]

    @property
    def agreement(self) -> float:
        return 1.0 - sum(self.disagreed) / len(self.traces)

    def flips(self) -> list[tuple[tuple[str, str], int]]:
        """(champion's label, candidate's label) -> how many traces moved that way, most first."""
        moved = Counter((b, a) for a, b in zip(self.candidate, self.champion, strict=True) if a != b)
        return sorted(moved.items(), key=lambda item: (-item[1], item[0]))

    def slices(self, name: str) -> dict[str, tuple[int, int]]:
        """Per value of a tag (or `model_version`): (disagreements, traces). Traces without it: "(none)"."""
        found: dict[str, list[int]] = {}
        for trace, disagreed in zip(self.traces, self.disagreed, strict=True):
            value = trace.model_version if name == VERSION_SLICE else trace.tags.get(name, "(none)")
            counts = found.setdefault(value, [0, 0])
            counts[0] += disagreed
            counts[1] += 1
        return {value: (d, n) for value, (d, n) in sorted(found.items())}

    def slice_names(self) -> list[str]:
        """Every tag the traces carry, and the model version when more than one served them."""
        tags = sorted({name for trace in self.traces for name in trace.tags})
        versions = {trace.model_version for trace in self.traces}
        return tags + ([VERSION_SLICE] if len(versions) > 1 else [])

    def cases(self) -> list[TraceCase]:
        """Each trace as a gate case, held against the champion's label."""
        return [TraceCase(trace, theirs) for trace, theirs in zip(self.traces, self.champion, strict=True)]

    def corrected(self) -> tuple[list[int], list[bool], list[bool]]:
        """Indices of the corrected traces, and whether the candidate and the champion got each right."""
        from harness.metrics import normalise_label

        indices = [i for i, t in enumerate(self.traces) if t.correction is not None]
        truth = [normalise_label(self.traces[i].correction or "") for i in indices]
        return (indices, [self.candidate[i] == label for i, label in zip(indices, truth, strict=True)],
                [self.champion[i] == label for i, label in zip(indices, truth, strict=True)])  # fmt: skip

    def lines(self, candidate: str, champion: str, shown: int = 8) -> list[str]:
        """The report: agreement, the flip table, slices, and the paired accuracy on corrected traces."""
        n, disagreed = len(self.traces), sum(self.disagreed)
        low, high = stats.wilson_interval(disagreed, n)
        lines = [f"candidate: {candidate}", f"champion:  {champion}",
                 f"agreement: {self.agreement:.1%} of {n} trace(s); disagreement {disagreed / n:.1%} "
                 f"[{low:.1%}, {high:.1%}]"]  # fmt: skip
        if flips := self.flips():
            lines.append("flips (champion -> candidate):")
            lines += [f"  {count:>4}  {old} -> {new}" for (old, new), count in flips[:shown]]
            lines += [f"  … {len(flips) - shown} more pair(s)"] if len(flips) > shown else []
        for name in self.slice_names():
            parts = [f"{value} {d}/{n_} ({d / n_:.0%})" for value, (d, n_) in self.slices(name).items()]
            lines.append(f"disagreement by {name}: " + ", ".join(parts))
        indices, ours, theirs = self.corrected()
        if not indices:
            lines.append("corrections: none in these traces, so no paired accuracy comparison")
            return lines
        test = stats.mcnemar_exact(ours, theirs)
        lines.append(f"on {len(indices)} corrected trace(s): candidate {sum(ours)} right, champion {sum(theirs)}; "
                     f"candidate lost {test.b}, gained {test.c}; McNemar p={test.p_value:.3g} "
                     f"(p(candidate worse)={test.p_worse:.3g})")  # fmt: skip
        return lines


def prompts(traces: Sequence[Trace], system: str | None) -> list[list[dict[str, str]]]:
    """What each trace's model was asked, with `system` first where the trace logged no system turn."""
    out = []
    for trace in traces:
        messages = [dict(m) for m in trace.messages]
        if system is not None and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system})
        out.append(messages)
    return out


def replay(
    traces: Sequence[Trace], candidate: Model, champion: Model, *, system: str | None = None, **params: Any
) -> Shadow:
    """Both models' answers to the traces' inputs (cached like every generation), as labels."""
    from harness.metrics import normalise_label

    if not traces:
        raise TraceError("no traces to replay: the window is empty — import traces or widen it (--days)")
    asked: Sequence[Any] = prompts(traces, system)
    ours = candidate.generate(asked, **params)
    theirs = champion.generate(asked, **params)
    return Shadow(list(traces), [normalise_label(a) for a in ours], [normalise_label(b) for b in theirs])


def served_as(golden_dir: Path, set_name: str | None) -> tuple[str | None, dict[str, Any]]:
    """How production asked: the system turn and the generation settings of the golden set it serves
    (`[tool.harness.production] system_from`), so a replay asks exactly as the set's suites do and shares
    their cached answers. No set: the traces as logged, with the default settings."""
    if not set_name:
        return None, {}
    return system_prompt(golden_dir, set_name), generation_settings(golden_dir, set_name)


def system_prompt(golden_dir: Path, set_name: str) -> str:
    """The system turn of a golden set's first case: the prompt production sends before each message."""
    cases = load_set(golden_dir, set_name)
    first = cases[0].messages if cases else None
    if not first or first[0]["role"] != "system":
        raise TraceError(f"golden set {set_name!r} has no system turn to replay traces with — set [tool.harness."
                         "production] system_from to a set whose cases start with one, or to \"\"")  # fmt: skip
    return str(first[0]["content"])


def gate(result: Shadow, max_disagreement: float | None = DEFAULT_MAX_DISAGREEMENT) -> None:
    """The shadow gates, recorded like any suite gate: disagreement at most the bar (the config's;
    `max_disagreement` only where the config has none), and (on
    corrected traces, when there are any) the candidate not significantly worse than the champion. Raises
    GateFailure. suites/test_production.py calls the same two gates by name."""
    from harness import gates

    bar = None if gates.configured_bar(DISAGREEMENT) is not None else max_disagreement
    gates.at_most(DISAGREEMENT, result.disagreed, bar, cases=result.cases(), outputs=result.candidate)
    indices, ours, theirs = result.corrected()
    if indices:
        gates.not_worse_than(NOT_WORSE, ours, theirs, reference_name="champion",
                             cases=[TraceCase(result.traces[i], result.traces[i].correction) for i in indices],
                             outputs=[result.candidate[i] for i in indices],
                             reference_outputs=[result.champion[i] for i in indices])  # fmt: skip


@dataclass(frozen=True)
class TraceCase:
    """A trace as a gate records a case: its id, the user's message, and what the answer is held against
    (the champion's label for disagreement, the user's correction for accuracy), so gate messages read
    `#t-0 card_arrival→card_linking` and a review export shows both sides."""

    trace: Trace
    expected: str | None

    @property
    def id(self) -> str:
        return self.trace.id

    @property
    def input(self) -> str:
        return self.trace.input
