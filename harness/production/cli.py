"""`harness traces ...` and `harness shadow`: the commands of the loop after release.

    harness traces import FILE --store DIR [--reject-to FILE]   check, redact and store a trace export
    harness traces drift --store DIR --reference REF            exit 1 when recent inputs or labels drifted
    harness traces review --store DIR --out DIR                 corrected / thumbs-down / least confident
                                                                traces, clustered -> review.csv + .html
    harness traces confirmed REVIEW_CSV --out FILE              rows a reviewer marked `add` -> training rows
    harness traces pairs --store DIR --out FILE                 corrections -> DPO preference pairs (TRL)
    harness shadow --candidate SPEC --champion SPEC --store DIR exit 1 when the candidate disagrees too often

Exit codes as for every `harness` command: 0 done (no drift, the shadow gates passed), 1 the harness said
no (drift found, a shadow gate failed), 2 bad input (the message says what, where and how to fix it).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.config import HarnessConfig

EXIT_OK, EXIT_REFUSED = 0, 1
INPUT_DRIFT, LABEL_SHIFT = "production.input_drift", "production.label_shift"
DEFAULT_ALPHA = 0.01
"""Drift's significance unless [tool.harness.gates] sets the gate's bar: a weekly alarm that cries wolf
once a year at most (52 weeks x 0.01), not every other month."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `traces` and `shadow` to the `harness` command."""
    traces = commands.add_parser("traces", help="import production traces; drift; traces -> review -> cases")
    actions = traces.add_subparsers(title="traces commands", metavar="ACTION", required=True)
    _add_import(actions)
    _add_drift(actions)
    _add_review(actions)
    _add_confirmed(actions)
    _add_pairs(actions)
    _add_prune(actions)
    _add_shadow(commands)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, required=True, metavar="DIR", help="the trace store directory")


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=float, default=None, metavar="N",
                        help="traces of the N days up to --until (default: [tool.harness.production] window_days)")
    parser.add_argument("--until", type=_when, default=None, metavar="ISO",
                        help="end of the window, ISO 8601 with a time zone (default: the newest trace)")
    parser.add_argument("--max-traces", type=int, default=None, metavar="N",
                        help="a seeded sample of at most N traces ([tool.harness.production] max_traces)")  # fmt: skip


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ISO 8601 — e.g. 2025-06-08T00:00:00Z") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone — add Z (UTC) or an offset")
    return when


# --- retention -------------------------------------------------------------------------------------------


def _add_prune(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("prune", help="delete traces older than a retention limit (and vacuum the store)")
    _store_option(parser)
    parser.add_argument("--keep-days", type=float, required=True, metavar="N",
                        help="keep the traces served in the N days up to --now; delete the older ones")
    parser.add_argument("--now", type=_when, default=None, metavar="ISO", help="the reference time (default: now)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    parser.set_defaults(run=prune_command)


def prune_command(args: argparse.Namespace) -> int:
    from datetime import UTC, timedelta

    from harness.production.store import TraceStore
    from harness.production.traces import TraceError, iso

    if args.keep_days <= 0:
        raise TraceError(f"--keep-days {args.keep_days:g} must be above 0")
    store = TraceStore.open(args.store)
    before = (args.now or datetime.now(UTC)) - timedelta(days=args.keep_days)
    count = store.prune(before, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    kept = store.count() - (count if args.dry_run else 0)
    print(f"harness traces prune: {verb} {count} trace(s) served before {iso(before)}; {kept} kept"
          + ("" if args.dry_run else " (store vacuumed)"))
    return 0


# --- import ----------------------------------------------------------------------------------------------


def _add_import(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("import", help="check, redact PII and store a .jsonl/.csv trace export")
    parser.add_argument("file", type=Path, metavar="FILE", help="the export: one trace per JSONL line or CSV row")
    _store_option(parser)
    parser.add_argument("--reject-to", type=Path, default=None, metavar="FILE",
                        help="store the good rows, write bad ones here, redacted (default: refuse the import)")
    parser.add_argument("--drop-field", action="append", default=[], metavar="NAME",
                        help="a field of the export traces do not use (repeatable): read past, never stored")
    parser.set_defaults(run=import_command)


def import_command(args: argparse.Namespace) -> int:
    from harness.curation.config import PIIConfig
    from harness.curation.pii import Redactor
    from harness.golden import display_path
    from harness.production.ingest import import_traces

    config = HarnessConfig.load(Path.cwd())
    redactor = Redactor(PIIConfig(), config.cache_dir)  # curation's defaults: the same entities and score bars
    done = import_traces(args.file, args.store, redactor, reject_to=args.reject_to, drop_fields=args.drop_field)
    log = done.log
    redacted = ", ".join(f"{k} {v}" for k, v in sorted(log.redactions.items())) or "none"
    print(f"imported {display_path(args.file)} into {display_path(done.store.path)}: {log.rows} row(s), "
          f"{log.stored} new, {log.updated} updated, {log.duplicates} already stored, "
          f"{log.rejected} rejected")  # fmt: skip
    print(f"PII redacted before storing: {redacted}")
    if done.rejected_path is not None:
        print(f"{log.rejected} row(s) set aside, redacted, in {display_path(done.rejected_path)}:")
        for problem in done.problems[:10]:
            print(f"  {problem}")
    print(f"the store holds {done.store.count()} trace(s)")
    return EXIT_OK


# --- drift -----------------------------------------------------------------------------------------------


def _add_drift(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("drift", help="have recent inputs or labels moved from the training data? (exit 1)")
    _store_option(parser)
    parser.add_argument("--reference", required=True, metavar="REF",
                        help="a training split (.jsonl/.csv) or a golden set (name or directory)")  # fmt: skip
    parser.add_argument("--text-field", default="text", metavar="NAME", help="the reference file's text column")
    parser.add_argument("--label-field", default=None, metavar="NAME",
                        help="the reference file's label column (default: label, category or intent)")  # fmt: skip
    _window_options(parser)
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")
    parser.set_defaults(run=drift_command)


def drift_command(args: argparse.Namespace) -> int:
    from harness.baselines import Embedder
    from harness.gates import GateSettings
    from harness.production import drift
    from harness.production.store import TraceStore

    config = HarnessConfig.load(Path.cwd())
    settings = config.production
    window = TraceStore.open(args.store).recent(args.days or settings.window_days, args.max_traces or
                                                 settings.max_traces, settings.seed, args.until)  # fmt: skip
    reference = drift.load_reference(args.reference, config.golden_dir, text_field=args.text_field,
                                     label_field=args.label_field)
    reference = reference.sample(settings.max_reference, settings.seed)
    report = drift.measure(window.traces, reference, Embedder(config.cache_dir), permutations=settings.permutations,
                           seed=settings.seed, window=window.describe())  # fmt: skip
    bars = GateSettings.from_table(config.gates)
    alphas = bars.threshold(INPUT_DRIFT, DEFAULT_ALPHA), bars.threshold(LABEL_SHIFT, DEFAULT_ALPHA)
    for line in report.lines(*alphas):
        print(line)
    if args.json is not None:
        _write_json(args.json, _drift_record(report, alphas))
    return EXIT_REFUSED if report.drifted(*alphas) else EXIT_OK


def _drift_record(report: Any, alphas: tuple[float, float]) -> dict[str, Any]:
    from dataclasses import asdict

    return {"window": report.window, "reference": report.reference, "inputs": asdict(report.inputs),
            "labels": asdict(report.labels) if report.labels else None, "alpha": list(alphas),
            "drifted": report.drifted(*alphas)}  # fmt: skip


def _write_json(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


# --- review ----------------------------------------------------------------------------------------------


def _add_review(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("review", help="traces worth a person's look, clustered -> review.csv + review.html")
    _store_option(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where review.csv and .html go")
    parser.add_argument("--days", type=float, default=None, metavar="N",
                        help="traces of the N days up to --until (default: [tool.harness.production] window_days)")
    parser.add_argument("--until", type=_when, default=None, metavar="ISO", help="end of the window (default: newest)")
    parser.add_argument("--least-confident", type=int, default=20, metavar="N",
                        help="also the N traces with the lowest confidence / logprob (default: 20)")  # fmt: skip
    parser.add_argument("--max", type=int, default=200, metavar="N", help="rows at most (default: 200)")
    parser.add_argument("--cluster-distance", type=float, default=0.4, metavar="D",
                        help="cosine distance under which traces share a cluster (default: 0.4)")  # fmt: skip
    parser.set_defaults(run=review_command)


def review_command(args: argparse.Namespace) -> int:
    from harness.baselines import Embedder
    from harness.golden import display_path
    from harness.production import cases
    from harness.production.store import TraceStore

    config = HarnessConfig.load(Path.cwd())
    window = TraceStore.open(args.store).recent(args.days or config.production.window_days, None, until=args.until)
    csv_path, html_path, picks = cases.export(
        window.traces, args.out, args.store.resolve().name, Embedder(config.cache_dir),
        least_confident=args.least_confident, max_rows=args.max, max_distance=args.cluster_distance,
    )  # fmt: skip
    clusters = len({p.cluster for p in picks})
    print(f"{window.describe()}: {len(picks)} selected for review in {clusters} cluster(s)")
    print(f"wrote {display_path(csv_path)} (fill in 'verdict': add, with the right label in 'expected') and "
          f"{display_path(html_path)} (to read)")  # fmt: skip
    print(f"then: harness review import {display_path(csv_path)} --propose SET   (golden proposals), or")
    print(f"      harness traces confirmed {display_path(csv_path)} --out FILE.jsonl   (a training source)")
    return EXIT_OK


def _add_confirmed(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("confirmed", help="review rows marked add -> JSONL training rows curation reads")
    parser.add_argument("file", type=Path, metavar="REVIEW_CSV", help="the review.csv a reviewer filled in")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .jsonl to write")
    parser.add_argument("--labels", type=Path, default=None, metavar="JSON",
                        help="a JSON list of the valid labels (e.g. golden/banking77/labels.json)")
    parser.set_defaults(run=confirmed_command)


def confirmed_command(args: argparse.Namespace) -> int:
    from harness.golden import display_path
    from harness.production import cases

    labels = None
    if args.labels is not None:
        try:
            labels = json.loads(args.labels.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            from harness.production.traces import TraceError

            raise TraceError(f"{display_path(args.labels)}: not a readable JSON list of labels ({error})") from None
    count = cases.confirmed(args.file, args.out, labels)
    print(f"wrote {count} confirmed row(s) to {display_path(args.out)}: add it to a training config's curate.sources "
          "(format jsonl, text_field text, label_field label)")  # fmt: skip
    return EXIT_OK


def _add_pairs(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("pairs", help="corrected traces -> preference pairs in TRL's DPO format (JSONL)")
    _store_option(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .jsonl to write")
    parser.add_argument("--days", type=float, default=None, metavar="N",
                        help="only traces of the N days up to the newest one (default: all of them)")
    parser.add_argument("--system-from", default=None, metavar="SET",
                        help="golden set whose system turn goes before traces logged without one "
                        "([tool.harness.production] system_from)")  # fmt: skip
    parser.set_defaults(run=pairs_command)


def pairs_command(args: argparse.Namespace) -> int:
    from harness.golden import display_path
    from harness.production import pairs, shadow
    from harness.production.store import TraceStore

    config = HarnessConfig.load(Path.cwd())
    store = TraceStore.open(args.store)
    traces = store.recent(args.days).traces if args.days else store.between()
    system_from = config.production.system_from if args.system_from is None else args.system_from
    system = shadow.system_prompt(config.golden_dir, system_from) if system_from else None
    rows = pairs.pairs(traces, system)
    pairs.write(rows, args.out)
    print(f"wrote {len(rows)} preference pair(s) from {len(traces)} trace(s) to {display_path(args.out)} "
          "(prompt / chosen / rejected, TRL's conversational DPO format)")  # fmt: skip
    return EXIT_OK


# --- shadow ----------------------------------------------------------------------------------------------


def _add_shadow(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("shadow", help="replay recent traces through a candidate and the champion; compare")
    parser.add_argument("--candidate", required=True, metavar="SPEC", help="the model to try (any --model form)")
    parser.add_argument("--champion", default="champion", metavar="SPEC",
                        help="the model serving now (default: champion, the registry's alias)")  # fmt: skip
    parser.add_argument("--task", default=None, metavar="NAME",
                        help="the task ([tool.harness.tasks]) whose champion `champion` is; needed in a project of "
                        "several tasks")  # fmt: skip
    _store_option(parser)
    _window_options(parser)
    parser.add_argument("--system-from", default=None, metavar="SET",
                        help="golden set whose system turn goes before traces logged without one "
                        "([tool.harness.production] system_from)")  # fmt: skip
    parser.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                        help="generation bound (default: the --system-from set's generation.toml, else "
                        "[tool.harness.generation] max_new_tokens)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the comparison as JSON")
    parser.set_defaults(run=shadow_command)


def shadow_command(args: argparse.Namespace) -> int:
    """Print the comparison, then apply the shadow gates: a failed one exits 1 through `harness`."""
    from harness import gates
    from harness.cache import GenerationCache
    from harness.models.resolve import ModelFactory
    from harness.models.spec import parse_spec
    from harness.production import shadow
    from harness.production.store import TraceStore

    config = HarnessConfig.load(Path.cwd()).for_task(args.task)
    settings = config.production
    window = TraceStore.open(args.store).recent(args.days or settings.window_days, args.max_traces or
                                                 settings.max_traces, settings.seed, args.until)  # fmt: skip
    system_from = settings.system_from if args.system_from is None else args.system_from
    system, params = shadow.served_as(config.golden_dir, system_from)
    if args.max_new_tokens:
        params["max_new_tokens"] = args.max_new_tokens
    specs = [parse_spec(text, config, cwd=Path.cwd()) for text in (args.candidate, args.champion)]
    cache = GenerationCache.in_dir(config.cache_dir)
    try:
        candidate, champion = ModelFactory(config, cache).build_all(specs)
        result = shadow.replay(window.traces, candidate, champion, system=system, **params)
    finally:
        cache.close()
    print(f"traces:    {window.describe()}")
    for line in result.lines(candidate.label, champion.label):
        print(line)
    recorded: list[Any] = []
    gates.configure(gates.GateSettings.from_table(config.gates), recorded.append)
    try:
        _gate_and_report(shadow.gate, result, recorded)
    finally:
        gates.configure(gates.GateSettings(), lambda result: None)
        if args.json is not None:
            _write_json(args.json, {"window": window.describe(), "candidate": candidate.label,
                                    "champion": champion.label, "agreement": result.agreement,
                                    "flips": [[old, new, n] for (old, new), n in result.flips()],
                                    "gates": [r.to_record() for r in recorded]})  # fmt: skip
    return EXIT_OK


def _gate_and_report(apply: Callable[[Any], None], result: Any, recorded: list[Any]) -> None:
    """Apply the gates; print each recorded verdict (a failure still raises, after its line is printed)."""
    try:
        apply(result)
    finally:
        for gate in recorded:
            print(f"gate {gate.name}: {'pass' if gate.passed else 'FAIL'} — {gate.message}")
