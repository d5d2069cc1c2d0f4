"""`harness promote --adapter DIR`: the suites decide whether an adapter becomes the registry's champion.

    harness promote --adapter runs/banking77/adapter [--task NAME] [--dry-run] [--baseline base] [--suites DIR]

With --task NAME ([tool.harness.tasks.NAME]) only that task's suites decide, and its registered model and
champion are the ones read and moved: one task's unfinished suite never blocks another task's release. In a
project of several tasks, --task is required (which champion to beat is not a guess).

1. Run `pytest suites/ --model=peft:DIR --baseline=base` in a subprocess (same python), its output streamed,
   its report written to a directory named up front (`--report-dir`) with a JUnit XML beside it. With
   [tool.harness.production] store set, `--traces=STORE` too: the shadow gates (suites/test_production.py)
   replay recent production traffic through the candidate and the champion.
2. Decide (harness.release.decision): pytest exit 0, every gate passed, and not significantly worse than the
   champion on paired per-case outcomes. The champion's stored results.json serves when its golden lock is
   the candidate's; otherwise the suites run on the champion's stored adapter first (mostly cached).
3. Promote under a file lock: re-read the champion inside it, compare again if it moved meanwhile, copy the
   adapter into the content-addressed store, register a version with its tags, move the alias.

Exit codes: 0 promoted (or, with --dry-run, would be), 1 refused on the results (a gate failed, worse than
the champion), 2 bad input or a broken run (a test errored, pytest itself exited 2 or above: nothing was
decided). A refusal changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import report
from harness.config import HarnessConfig
from harness.errors import UsageError
from harness.gates import GateSettings
from harness.golden.lock import case_sets
from harness.release import registry as reg
from harness.release.decision import Decision, changed_sets, decide, read_junit
from harness.release.registry import RegisteredVersion, Registry, adapter_sha256

EXIT_PROMOTED, EXIT_REFUSED = 0, 1
EXIT_BROKEN = 2
"""A run that broke decided nothing: CI must not read it as "the adapter is worse" (1)."""


@dataclass(frozen=True)
class PromoteOptions:
    adapter: Path
    dry_run: bool = False
    baseline: str = "base"
    suites: Path = Path("suites")
    pytest_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteRun:
    """What one suites run left behind: pytest's exit code, its report and its non-passing tests."""

    exit_code: int
    report_dir: Path
    results: dict[str, Any] | None

    @property
    def tests(self) -> list[Any]:
        return read_junit(self.report_dir / "junit.xml")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `promote` to the `harness` command."""
    parser = commands.add_parser("promote", help="run the suites on an adapter and promote it to champion if it wins")
    parser.add_argument("--adapter", type=Path, required=True, metavar="DIR", help="the PEFT adapter directory")
    parser.add_argument("--dry-run", action="store_true", help="show the decision; register and move nothing")
    parser.add_argument("--baseline", default="base", metavar="SPEC", help="the suites' --baseline (default: base)")
    parser.add_argument("--suites", type=Path, default=Path("suites"), metavar="PATH", help="default: suites/")
    parser.add_argument("--task", default=None, metavar="NAME",
                        help="promote for task NAME ([tool.harness.tasks]): its suites decide, against its champion")
    parser.add_argument("pytest_args", nargs="*", metavar="-- ARGS", help="more pytest arguments, after --")
    parser.set_defaults(run=_run_command)


def _run_command(args: argparse.Namespace) -> int:
    extra = tuple(a for i, a in enumerate(args.pytest_args) if not (i == 0 and a == "--"))
    options = PromoteOptions(args.adapter, args.dry_run, args.baseline, args.suites, extra)
    config = HarnessConfig.load(Path.cwd()).for_task(args.task)  # `harness` turns a HarnessError into exit 2
    if config.task is None and len(config.tasks) > 1:
        tasks = ", ".join(sorted(config.tasks))
        raise UsageError(f"this project has {len(config.tasks)} tasks ([tool.harness.tasks]: {tasks}); name the one "
                         "to promote with --task NAME: its suites decide, against its champion")  # fmt: skip
    return promote(options, config)


def promote(options: PromoteOptions, config: HarnessConfig) -> int:
    """The whole promotion; returns the exit code. Prints the suites' output and a decision block."""
    adapter = options.adapter.resolve()
    sha = adapter_sha256(adapter)  # also checks that it is an adapter directory
    if not (config.root / options.suites).exists():
        raise UsageError(f"{options.suites}: no suites there; run from the repository root or pass --suites PATH")
    run = run_suites(config, f"peft:{adapter}", options, f"promote-{adapter.name}")
    return conclude(config, options, adapter, sha, run)


def conclude(config: HarnessConfig, options: PromoteOptions, adapter: Path, sha: str, run: SuiteRun) -> int:
    """Decide on a finished suites run and, if it wins, promote it; returns the exit code.

    The champion is read once to decide, and again inside the registry lock: if another promotion moved
    it meanwhile, the candidate is compared with the new champion before anything is written, so two
    promotions at once cannot both win on a stale view."""
    registry = Registry(config)
    alpha = GateSettings.from_table(config.gates).alpha
    champion = registry.champion()
    decision = _decide(run, champion, alpha, config, options)
    if adapter_sha256(adapter) != sha:
        decision.reasons.append(f"{adapter} changed while the suites ran; promote again once it is stable")
    registered: RegisteredVersion | None = None
    if decision.promote and not options.dry_run:
        with registry.locked():
            latest = registry.champion()
            if _number(latest) != _number(champion):
                print(f"harness promote: the champion moved from {_number(champion)} to {_number(latest)} while the "
                      "suites ran; comparing with the new one", flush=True)  # fmt: skip
                champion, decision = latest, _decide(run, latest, alpha, config, options)
            if decision.promote and not _is_champion(champion, sha):
                registered = _register(registry, adapter, sha, run, champion)
    for line in decision_block(decision, adapter, sha, champion, registry, run, registered, options.dry_run):
        print(line, flush=True)
    _write_decision(run.report_dir, decision, champion, registered, _is_champion(champion, sha), options.dry_run)
    if decision.promote:
        return EXIT_PROMOTED
    return EXIT_BROKEN if decision.broken else EXIT_REFUSED


def run_suites(config: HarnessConfig, spec: str, options: PromoteOptions, label: str) -> SuiteRun:
    """`python -m pytest SUITES --model=SPEC --baseline=...` with its output streamed to ours; the report
    goes to a directory named here, so it is found without guessing."""
    report_dir = config.root / "reports" / report.run_dir_name(label)
    task = ["--task", config.task] if config.task else []  # only its suites' tests; its champion
    command = [sys.executable, "-m", "pytest", str(options.suites), *task, f"--model={spec}",
               f"--baseline={options.baseline}", f"--report-dir={report_dir}", f"--junitxml={report_dir / 'junit.xml'}",
               *_traces_option(config, options), *options.pytest_args]  # fmt: skip
    print(f"harness promote: {' '.join(command[1:])}", flush=True)
    exit_code = subprocess.run(command, cwd=config.root, check=False).returncode
    results_file = report_dir / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else None
    return SuiteRun(exit_code, report_dir, results)


def _traces_option(config: HarnessConfig, options: PromoteOptions) -> list[str]:
    """`--traces=STORE` when [tool.harness.production] store names one (and the arguments give none): the
    production suite then replays recent traffic through the candidate and the champion, and its shadow
    gates decide with the others."""
    store = config.production.store
    if not store or any(arg.startswith("--traces") for arg in options.pytest_args):
        return []
    return [f"--traces={config.root / store}"]


def _decide(
    run: SuiteRun, champion: RegisteredVersion | None, alpha: float, config: HarnessConfig, options: PromoteOptions
) -> Decision:
    """decide(), with the champion's results on the candidate's golden lock (re-run when they are not)."""
    champion_results, problem, sets = None, None, case_sets(config.golden_dir) if config.golden_dir.is_dir() else None
    if champion is not None and run.results is not None:
        champion_results, problem = _champion_results(champion, run.results, config, options, sets)
    decision = decide(run.results, champion_results, alpha, exit_code=run.exit_code, tests=run.tests, case_sets=sets)
    if problem:
        decision.reasons.append(problem)
        decision.broken = True  # the champion's run broke: the comparison the decision needs never happened
    return decision


def _champion_results(
    champion: RegisteredVersion, candidate: dict[str, Any], config: HarnessConfig, options: PromoteOptions,
    sets: dict[str, str] | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The champion's results on the candidate's golden sets: stored ones if the sets the candidate scored
    are unchanged since (or, for older records, the whole lock is), else a fresh run of the suites on the
    champion's stored adapter (its answers are mostly cached). None and why if neither."""
    stored = champion.results()
    if stored is not None:
        changed = changed_sets(candidate, stored, sets)
        if changed == [] or (changed is None and stored.get("golden_lock_hash") == candidate.get("golden_lock_hash")):
            return stored, None
        what = f"golden set(s) {', '.join(changed)} changed" if changed else "its results are on another golden lock"
    else:
        what = "it has no stored results"
    print(f"harness promote: the champion (version {champion.version}) cannot be compared as stored ({what}); "
          "running the suites on it", flush=True)  # fmt: skip
    run = run_suites(config, f"peft:{champion.adapter_dir}", options, f"promote-champion-v{champion.version}")
    if run.results is None or run.exit_code >= 2:
        return None, (f"cannot compare with the champion (version {champion.version}): its suites run exited "
                      f"{run.exit_code} with {'a' if run.results else 'no'} report in {run.report_dir}")  # fmt: skip
    return run.results, None


def _register(
    registry: Registry, adapter: Path, sha: str, run: SuiteRun, champion: RegisteredVersion | None
) -> RegisteredVersion:
    """Store the adapter and its results, then register the version and move the alias (inside the lock)."""
    from harness.models.resolve import adapter_base

    assert run.results is not None  # a promotable run has results
    stored = registry.store_adapter(adapter, sha)
    results_path = registry.store_results(run.results)
    gates = {g["name"]: [g["passed"], round(float(g["value"]), 4)] for g in run.results["gates"]}
    tags = {
        reg.TAG_ADAPTER: sha,
        reg.TAG_GOLDEN: str(run.results.get("golden_lock_hash") or "none"),
        reg.TAG_COMMIT: str(run.results.get("git_commit") or "unknown"),
        reg.TAG_BASE: adapter_base(stored),
        reg.TAG_GATES: json.dumps(gates, separators=(",", ":")),
        reg.TAG_REPORT: str(run.report_dir),
        reg.TAG_RESULTS: str(results_path),
        reg.TAG_FINGERPRINT: str(run.results.get("models", {}).get("model", {}).get("fingerprint", "unknown")),
        "harness.adapter_source": str(adapter),
    }
    previous = f"; champion before: version {champion.version}" if champion else "; first champion"
    return registry.register(stored, tags, f"promoted by harness promote from {adapter}{previous}")


def _number(version: RegisteredVersion | None) -> str | None:
    return version.version if version else None


def _is_champion(champion: RegisteredVersion | None, sha: str) -> bool:
    return champion is not None and champion.adapter_sha256 == sha


def decision_block(
    decision: Decision, adapter: Path, sha: str, champion: RegisteredVersion | None, registry: Registry,
    run: SuiteRun, registered: RegisteredVersion | None, dry_run: bool,
) -> list[str]:  # fmt: skip
    """The short summary printed last: what was judged, on what, and what happened."""
    lines = ["", "== harness promote: decision " + "=" * 50, f"candidate:  peft:{adapter} (adapter sha256 {sha[:12]})"]
    allowed = f" ({len(decision.allowed)} skipped/xfailed, allowed)" if decision.allowed else ""
    status = f"exit {run.exit_code}{allowed}"
    lines.append(f"pytest:     {status}")
    lines += [f"  - {line}" for line in decision.allowed_lines()]
    lines.append(f"gates:      {len(decision.gates_passed)} passed, {len(decision.gates_failed)} failed")
    lines.append(f"champion:   {_describe(champion)}")
    lines += [f"  - {c.line()}" for c in decision.comparisons]
    lines += [f"  - not compared: {item}" for item in decision.not_compared]
    verdict = "PROMOTE" if decision.promote else "REFUSE"
    verdict += " (the run broke: not a decision)" if decision.broken else ""
    lines.append(f"decision:   {verdict}{' (dry run: nothing registered)' if dry_run else ''}")
    lines += [f"  - {reason}" for reason in decision.reasons]
    lines.append(f"registry:   {_registry_line(decision, registry, champion, registered, sha, dry_run)}")
    lines.append(f"report:     {os.path.relpath(run.report_dir)}/summary.md")
    return lines


DECISION_FILE = "decision.json"


def _write_decision(
    report_dir: Path, decision: Decision, champion: RegisteredVersion | None,
    registered: RegisteredVersion | None, unchanged: bool, dry_run: bool,
) -> None:  # fmt: skip
    """The decision block as data, beside the run's results.json: for CI, dashboards and `make demo`."""
    record = {
        "promote": decision.promote, "broken": decision.broken, "dry_run": dry_run, "reasons": decision.reasons,
        "gates_failed": decision.gates_failed,
        "worse_than_champion": [c.gate for c in decision.comparisons if c.worse],
        "comparisons": [c.line() for c in decision.comparisons],
        "champion_before": _number(champion), "registered": _number(registered),
        "already_champion": unchanged and decision.promote,
    }  # fmt: skip
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / DECISION_FILE).write_text(json.dumps(record, indent=2) + "\n")


def _describe(champion: RegisteredVersion | None) -> str:
    if champion is None:
        return "none yet (first promotion: no champion comparison)"
    return f"version {champion.version} (adapter sha256 {(champion.adapter_sha256 or 'unknown')[:12]})"


def _registry_line(
    decision: Decision, registry: Registry, champion: RegisteredVersion | None,
    registered: RegisteredVersion | None, sha: str, dry_run: bool,
) -> str:  # fmt: skip
    where = f"{registry.model_name} at {registry.uri}"
    if registered is not None:
        return f"registered {registry.model_name} version {registered.version}; alias {registry.alias} -> " \
               f"{registered.version} ({where})"  # fmt: skip
    if not decision.promote:
        return f"unchanged ({registry.alias}: {_number(champion) or 'none'}; {where})"
    if _is_champion(champion, sha):
        return f"unchanged: this adapter already is {registry.alias} (version {_number(champion)}; {where})"
    stored = registry.store / "adapters" / sha
    return f"would register {stored} as a new version and move {registry.alias} to it ({where})" if dry_run else where
