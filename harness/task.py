"""`harness task new NAME --from TABLE`: a working task in one command, a classifier or a generator.

    harness task new tickets --from tickets.csv --input-column text --label-column label --fallback other
    harness task new replies --from replies.csv --kind generation --input-column question --label-column answer

From a CSV/TSV/JSONL table of labelled messages it writes, refusing to overwrite anything:

- `golden/NAME/cases.jsonl`: a case per row, each with a system prompt that lists the labels (the
  model is asked to answer with one, or with the fallback when none fits); rows labelled with the
  fallback are tagged `ood`;
- `golden/NAME/generation.toml`: a new-token budget that fits the longest label;
- `suites/test_NAME.py`: accuracy, macro-F1 and per-class recall on the in-scope cases and, with a
  fallback, the out-of-scope fallback rate;
- the suite's bars under `[tool.harness.gates]` and the task under `[tool.harness.tasks.NAME]` in
  pyproject.toml (starting bars, for the team to set to what "better" means);

then freezes `golden/` with a reason. `pytest suites/ --task NAME --model=base` runs at once.

`--kind generation` makes a task whose answers are free text scored against reference answers: the
cases keep the table's input as the user turn (with `--system TEXT` before it, if given), the budget fits
the longest reference, and the suite gates the mean ROUGE-L and the mean BERTScore (the bundled MiniLM).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.errors import UsageError
from harness.golden import GoldenCase, GoldenError, display_path
from harness.golden.cases import set_name_problem
from harness.golden.lock import freeze
from harness.golden.table import cases_from_table

OOD_TAG = "ood"
STARTING_BARS = {"accuracy": 0.8, "macro_f1": 0.7, "recall_floor": 0.2, "ood_fallback": 0.8}
"""Where a new classifier's bars start: a team edits them to its definition of "better" before training."""
GENERATION_BARS = {"rouge_l": 0.3, "bert_score": 0.8}
"""Where a new generation task's bars start (means over the cases, judged on their 95% lower bounds)."""

GENERATION_SUITE = '''"""Task {name}: answer each message as its reference answer does.

Scaffolded by `harness task new --kind generation`; the bars are in pyproject.toml's [tool.harness.gates].
"""

import pytest

from harness import gate, metrics


@pytest.fixture(scope="module")
def answered(model, golden):
    cases = golden("{name}")
    return cases, model.generate([c.prompt() for c in cases], **cases.generation)


def test_rouge_l(answered):
    cases, answers = answered
    scores = [metrics.rouge_l(a, c.expected) for a, c in zip(answers, cases, strict=True)]
    gate.at_least("{name}.rouge_l", scores, cases=cases, outputs=answers)


def test_bert_score(answered):
    cases, answers = answered
    scores = metrics.bert_score(answers, [c.expected for c in cases])
    gate.at_least("{name}.bert_score", scores, cases=cases, outputs=answers)
'''

SUITE = '''"""Task {name}: route each message to one of its labels{fallback_doc}.

Scaffolded by `harness task new`; the bars are in pyproject.toml's [tool.harness.gates].
"""

import pytest

from harness import gate, metrics


@pytest.fixture(scope="module")
def routed(model, golden):
    cases = golden("{name}").untagged("{ood}")
    return cases, model.generate([c.prompt() for c in cases], **cases.generation)


def test_accuracy(routed):
    cases, answers = routed
    right = [metrics.label_match(a, c.expected) for a, c in zip(answers, cases, strict=True)]
    gate.at_least("{name}.accuracy", right, cases=cases, outputs=answers)


def test_macro_f1(routed):
    cases, answers = routed
    gate.macro_f1("{name}.macro_f1", answers, cases)


def test_no_label_left_behind(routed):
    cases, answers = routed
    gate.per_class_recall("{name}.recall_floor", answers, cases, mode="point")
'''

FALLBACK_TEST = '''

def test_out_of_scope_gets_the_fallback(model, golden):
    ood = golden("{name}").tagged("{ood}")
    answers = model.generate([c.prompt() for c in ood], **ood.generation)
    fallback = [metrics.label_match(a, "{fallback}") for a in answers]
    gate.at_least("{name}.ood_fallback", fallback, cases=ood, outputs=answers)
'''


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `task new` to the `harness` command."""
    task = commands.add_parser("task", help="scaffold a task: golden set, suite, bars, registry name")
    actions = task.add_subparsers(title="task commands", metavar="ACTION", required=True)
    new = actions.add_parser("new", help="a classification task from a labelled table, ready to run")
    new.add_argument("name", help="the task's name: its golden set, suite file, gates and registered model")
    new.add_argument("--from", dest="table", type=Path, required=True, metavar="TABLE", help=".csv/.tsv/.jsonl")
    new.add_argument("--input-column", default="text", help="the message column (default: text)")
    new.add_argument("--label-column", default="label", help="the label column (default: label)")
    new.add_argument("--fallback", default=None, metavar="LABEL",
                     help="the label for messages no other label fits; its rows become the out-of-scope cases")
    new.add_argument("--kind", choices=("classification", "generation"), default="classification",
                     help="classification (labels; default) or generation (reference answers, ROUGE-L and BERTScore)")
    new.add_argument("--system", default=None, metavar="TEXT", help="generation: a system turn before every input")
    new.add_argument("--reason", default=None, help="why the set is frozen (default: scaffolded from TABLE)")
    new.set_defaults(run=_new_command)


def _new_command(args: argparse.Namespace) -> int:
    if args.kind == "generation":
        if args.fallback is not None:
            raise UsageError("--fallback is a classifier's: a generation task has reference answers, not labels")
        written = new_generation_task(Path.cwd(), args.name, args.table, input_column=args.input_column,
                                      answer_column=args.label_column, system=args.system, reason=args.reason)
    else:
        written = new_task(Path.cwd(), args.name, args.table, input_column=args.input_column,
                           label_column=args.label_column, fallback=args.fallback, reason=args.reason)  # fmt: skip
    for path in written:
        print(f"wrote {display_path(path)}")
    print(f"run it: pytest suites/ --task {args.name} --model=base")
    return 0


def new_task(
    root: Path, name: str, table: Path, *, input_column: str = "text", label_column: str = "label",
    fallback: str | None = None, reason: str | None = None,
) -> list[Path]:  # fmt: skip
    """Scaffold task `name` in the project at `root`; the paths written, in order."""
    golden_dir, suite = root / "golden" / name, root / "suites" / f"test_{name}.py"
    pyproject = root / "pyproject.toml"
    _refuse_clashes(name, golden_dir, suite, pyproject)
    raw = cases_from_table(table, input_column=input_column, expected_column=label_column)
    labels = sorted({str(case.expected) for case in raw})
    if fallback is not None and fallback not in labels:
        listed = ", ".join(labels)
        raise UsageError(f"--fallback {fallback!r} labels no row of {display_path(table)} (labels: {listed})")
    cases = [_routed(case, name, labels, fallback) for case in raw]
    golden_dir.mkdir(parents=True)
    (golden_dir / "cases.jsonl").write_text("".join(case.to_json_line() + "\n" for case in cases), encoding="utf-8")
    budget = max(8, max(len(label) for label in labels) // 2 + 4)  # ~2 characters a token, plus the end of turn
    (golden_dir / "generation.toml").write_text(
        f"# How task {name}'s answers are generated (every reader takes it from here).\n"
        f"max_new_tokens = {budget}   # room for the longest label, {max(labels, key=len)!r}\n", encoding="utf-8")
    suite.parent.mkdir(parents=True, exist_ok=True)
    text = SUITE.format(name=name, ood=OOD_TAG, fallback_doc=f", or {fallback!r} when none fits" if fallback else "")
    suite.write_text(text + (FALLBACK_TEST.format(name=name, ood=OOD_TAG, fallback=fallback) if fallback else ""))
    bars = {gate: bar for gate, bar in STARTING_BARS.items() if fallback is not None or gate != "ood_fallback"}
    _add_to_pyproject(pyproject, name, suite.relative_to(root).as_posix(), bars)
    freeze(root / "golden", reason or f"task {name}: scaffolded from {table.name} ({len(cases)} cases)")
    lock = root / "golden" / "golden.lock"
    return [golden_dir / "cases.jsonl", golden_dir / "generation.toml", suite, pyproject, lock]


def new_generation_task(
    root: Path, name: str, table: Path, *, input_column: str = "text", answer_column: str = "answer",
    system: str | None = None, reason: str | None = None,
) -> list[Path]:  # fmt: skip
    """Scaffold generation task `name`: reference answers scored by ROUGE-L and BERTScore."""
    golden_dir, suite = root / "golden" / name, root / "suites" / f"test_{name}.py"
    pyproject = root / "pyproject.toml"
    _refuse_clashes(name, golden_dir, suite, pyproject)
    cases = cases_from_table(table, input_column=input_column, expected_column=answer_column, system=system)
    longest = max(len(str(case.expected)) for case in cases)
    golden_dir.mkdir(parents=True)
    (golden_dir / "cases.jsonl").write_text("".join(case.to_json_line() + "\n" for case in cases), encoding="utf-8")
    budget = min(512, max(32, longest // 3 + 16))  # ~3-4 characters a token for English, plus a margin
    (golden_dir / "generation.toml").write_text(
        f"# How task {name}'s answers are generated (every reader takes it from here).\n"
        f"max_new_tokens = {budget}   # room for the longest reference answer ({longest} characters)\n",
        encoding="utf-8")  # fmt: skip
    suite.parent.mkdir(parents=True, exist_ok=True)
    suite.write_text(GENERATION_SUITE.format(name=name))
    _add_to_pyproject(pyproject, name, suite.relative_to(root).as_posix(), GENERATION_BARS)
    freeze(root / "golden", reason or f"task {name}: scaffolded from {table.name} ({len(cases)} cases)")
    lock = root / "golden" / "golden.lock"
    return [golden_dir / "cases.jsonl", golden_dir / "generation.toml", suite, pyproject, lock]


def _refuse_clashes(name: str, golden_dir: Path, suite: Path, pyproject: Path) -> None:
    if problem := set_name_problem(name):
        raise UsageError(f"task name {name!r}: {problem}")
    existing = [display_path(path) for path in (golden_dir, suite) if path.exists()]
    if existing:
        raise UsageError(f"task {name!r} would overwrite {', '.join(existing)}; pick another name or remove them")
    if not pyproject.is_file():
        raise UsageError(f"{display_path(pyproject)}: no pyproject.toml here; run from the project's root")
    if f"[tool.harness.tasks.{name}]" in pyproject.read_text(encoding="utf-8"):
        raise UsageError(f"{display_path(pyproject)} already has [tool.harness.tasks.{name}]")


def _routed(case: GoldenCase, name: str, labels: list[str], fallback: str | None) -> GoldenCase:
    """The case asked under the task's system prompt; a fallback-labelled case tagged out of scope."""
    listed = "\n".join(f"- {label}" for label in labels if label != fallback)
    rule = f' If none fits, answer "{fallback}".' if fallback else ""
    system = (f"You route messages for the task {name}. Answer with exactly one of these labels and nothing "
              f"else.{rule}\nLabels:\n{listed}")  # fmt: skip
    if case.input is None:
        raise GoldenError([f"case {case.id}: the input column must hold the message as text, not a chat"])
    user = case.input
    tags = [*case.tags, OOD_TAG] if fallback is not None and case.expected == fallback else list(case.tags)
    try:
        return GoldenCase.model_validate({"id": case.id, "expected": case.expected, "tags": tags, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": user}]})
    except ValueError as error:
        raise GoldenError([f"case {case.id}: {error}"]) from None


def _add_to_pyproject(pyproject: Path, name: str, suite: str, starting: dict[str, float]) -> None:
    """The task's starting bars go right under the [tool.harness.gates] header (one is added when there is
    none); the task's table goes at the end. The rest of the file is left as it is, comments included."""
    bars = [f'"{name}.{gate}" = {bar}   # scaffolded starting bar: set it to what "better" means\n'
            for gate, bar in starting.items()]
    lines = pyproject.read_text(encoding="utf-8").splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if line.strip() == "[tool.harness.gates]"), None)
    if header is None:
        lines += ["\n[tool.harness.gates]\n", *bars]
    else:
        lines[header + 1 : header + 1] = bars
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines += [f"\n[tool.harness.tasks.{name}]\n", f"suites = {json.dumps([suite])}\n", f'model_name = "{name}"\n']
    pyproject.write_text("".join(lines), encoding="utf-8")
