"""The pytest plugin: command-line options, start-up checks and the `model` / `baseline` fixtures.

Registered through the `pytest11` entry point, so installing the package is enough. Heavy imports
(torch, transformers) happen inside fixtures, never at collection, so `pytest --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import gates, report
from harness.cache import GenerationCache
from harness.config import ConfigError, HarnessConfig
from harness.errors import HarnessError, ModelError
from harness.golden import GoldenSet, evenly_spread, generation_settings, list_sets, load_set
from harness.golden.lock import set_hashes
from harness.models.base import Model, ProgressFactory
from harness.models.spec import ModelSpec, parse_spec
from harness.progress import MIN_TOTAL_FOR_BAR, no_progress

if TYPE_CHECKING:
    from harness.curation.dataset import CuratedDataset
    from harness.judge import Judge
    from harness.models.resolve import ModelFactory
    from harness.production.drift import Reference
    from harness.production.store import Window

CONFIG_KEY = pytest.StashKey[HarnessConfig]()
SPECS_KEY = pytest.StashKey[tuple[ModelSpec, ModelSpec]]()
JUDGE_KEY = pytest.StashKey["ModelSpec | None"]()
RECORD_KEY = pytest.StashKey[report.RunRecord]()
WORKER_USAGE_ERROR_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "eval harness: the model under test")
    group.addoption(
        "--model", default="base",
        help="model under test: a [tool.harness.models] name, hf:PATH_OR_ID, peft:ADAPTER_DIR "
        "or openai:MODEL@BASE_URL (default: base)",
    )  # fmt: skip
    group.addoption("--baseline", default="base", help="model to compare against, same forms (default: base)")
    group.addoption(
        "--model-key-env", default="OPENAI_API_KEY", metavar="NAME",
        help="environment variable holding the API key for openai: specs (default: OPENAI_API_KEY)",
    )  # fmt: skip
    group.addoption(
        "--judge", default=None, metavar="SPEC",
        help="LLM judge, same forms as --model (usually openai:MODEL@BASE_URL); default: [tool.harness.judge] "
        "spec; empty: no judge (the judge suite skips)",
    )  # fmt: skip
    group.addoption(
        "--task", default=None, metavar="NAME",
        help="run only task NAME's suites ([tool.harness.tasks.NAME] suites); `champion` is then its champion",
    )  # fmt: skip
    group.addoption("--no-cache", action="store_true", help="neither read nor write the generation cache")
    group.addoption(
        "--golden-limit", type=int, default=None, metavar="N",
        help="smoke runs: use N evenly spread cases of each golden set (gates on a slice are not a decision)",
    )  # fmt: skip
    group.addoption(
        "--report-dir", default=None, metavar="DIR",
        help="write this run's report (results.json, summary.md) to DIR (default: reports/<timestamp>-<model>)",
    )  # fmt: skip
    group.addoption(
        "--cache-dir", default=None, metavar="DIR",
        help="where the generation cache and materialised models live (default: $HARNESS_CACHE or ~/.cache/harness)",
    )  # fmt: skip
    group.addoption(
        "--dataset", default=None, metavar="DIR",
        help="a curated dataset dir (`harness curate` output) for the data suites; without it they skip",
    )  # fmt: skip
    group.addoption(
        "--traces", default=None, metavar="DIR",
        help="a trace store (`harness traces import` output) for the production suite; without it it skips",
    )  # fmt: skip
    group.addoption(
        "--drift-reference", default=None, metavar="REF",
        help="what recent traces are compared with in the drift gates: a training split (.jsonl/.csv) or a "
        "golden set; without it the drift tests skip",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    """Read config and check both specs now, so a bad option stops the run before any test."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a hub at run time
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    _share_cores_between_workers(config)
    harness_config = _load_config(config)
    specs = []
    for option in ("--model", "--baseline"):
        text = config.getoption(option)
        specs.append(_checked_spec(config, harness_config, text, where=option))
    config.stash[CONFIG_KEY] = harness_config
    config.stash[SPECS_KEY] = (specs[0], specs[1])
    config.stash[JUDGE_KEY] = _judge_spec(config, harness_config)
    _check_dataset(config)
    _check_traces(config)
    lock_hash = _verify_golden(harness_config)
    config.stash[RECORD_KEY] = _start_record(config, harness_config, lock_hash, config.getoption("--model"))


@contextmanager
def usage_errors(where: str = "") -> Iterator[None]:
    """Whatever the harness raises on purpose while a run is being set up stops it as a pytest usage error
    (exit 4), its message prefixed with `where` (the option it came from): a bad config key, spec, golden
    set or dataset, a registry that cannot answer. A ModelError is not the user's to fix by changing the
    command: it propagates, and pytest reports it as an error, never a pass."""
    try:
        yield
    except ModelError:
        raise
    except HarnessError as error:
        raise pytest.UsageError(f"{where}{error}") from None


def _checked_spec(config: pytest.Config, harness_config: HarnessConfig, text: str, *, where: str) -> ModelSpec:
    """A spec string parsed, pinned (the registry's champion is read once, now) and its files checked; a
    problem with any of it stops the run as a usage error naming `where` it came from."""
    from harness.models.resolve import check, pinned

    with usage_errors(f"{where}={text}: "):
        spec = parse_spec(text.strip(), harness_config, cwd=config.invocation_params.dir,
                          key_env=config.getoption("--model-key-env"))  # fmt: skip
        spec = pinned(spec, harness_config)
        check(spec)
    return spec


def _judge_spec(config: pytest.Config, harness_config: HarnessConfig) -> ModelSpec | None:
    """--judge, else [tool.harness.judge] spec; parsed and checked like --model. Empty means no judge."""
    option = config.getoption("--judge")
    text = harness_config.judge.spec if option is None else option
    if not text.strip():
        return None
    return _checked_spec(config, harness_config, text, where="--judge" if option is not None else
                         "[tool.harness.judge] spec")  # fmt: skip


def _check_dataset(config: pytest.Config) -> None:
    """A --dataset that is not a curated dataset dir stops the run: the data gates must never pass vacuously."""
    if (option := config.getoption("--dataset")) is not None:
        from harness.curation.dataset import problem

        if reason := problem(Path(config.invocation_params.dir, option)):
            raise pytest.UsageError(f"--dataset={option}: {reason}")


def _check_traces(config: pytest.Config) -> None:
    """A --traces that is not a trace store stops the run: the production gates must never skip by mistake."""
    if (option := config.getoption("--traces")) is not None:
        from harness.production.store import TraceStore

        with usage_errors(f"--traces={option}: "):
            TraceStore.open(Path(config.invocation_params.dir, option))


def _verify_golden(harness_config: HarnessConfig) -> str | None:
    """Stop the session if a golden set changed since it was frozen, or holds a malformed case."""
    from harness.golden.lock import verify

    golden_dir = harness_config.golden_dir
    if not golden_dir.is_dir() or not list_sets(golden_dir):
        return None
    with usage_errors():
        status = verify(golden_dir)  # loads and checks every set, as `harness golden verify` does
    if not status.ok:
        raise pytest.UsageError(status.explain())
    return status.lock_hash


def _start_record(
    config: pytest.Config, harness_config: HarnessConfig, lock_hash: str | None, model_text: str
) -> report.RunRecord:
    """The run's record; gates report into it. xdist workers write into the controller's run dir."""
    worker_input = getattr(config, "workerinput", {})
    chosen = config.getoption("--report-dir")  # `harness promote` names the dir so it can read the report back
    default = harness_config.root / "reports" / report.run_dir_name(model_text)
    run_dir = Path(worker_input.get("harness_run_dir") or
                   (Path(config.invocation_params.dir, chosen).resolve() if chosen else default))  # fmt: skip
    with usage_errors():
        settings = gates.GateSettings.from_table(harness_config.gates)
    record = report.RunRecord(
        run_dir,
        golden_lock_hash=lock_hash,
        golden_sets=set_hashes(harness_config.golden_dir) if harness_config.golden_dir.is_dir() else {},
        git_commit=report.git_commit(harness_config.root),
        thresholds=harness_config.gates,
        golden_limit=config.getoption("--golden-limit"),
    )
    hint = os.path.relpath(run_dir / "summary.md", config.invocation_params.dir)
    gates.configure(settings, lambda result: record.gates.append({**result.to_record(), "test": _Running.test}), hint)
    report.configure_attach(record.extras.__setitem__)
    if not hasattr(config, "workerinput"):  # the controller sees every worker's test reports
        config.pluginmanager.register(_TestLog(record), "harness-test-log")
    return record


class _Running:
    """The suite test running in this process, so a gate's record names the test that recorded it."""

    test: str | None = None


SUITE_FIXTURES = frozenset({"model", "baseline", "golden", "judge", "dataset", "harness_config", "generation_cache",
                            "traces", "drift_reference", "champion"})  # fmt: skip
"""A test that uses one of these fixtures of this plugin is a suite test and gets a line in the run record."""


def _is_suite_test(item: pytest.Item) -> bool:
    """Whether `item` uses one of this plugin's fixtures (a fixture of the same name defined elsewhere, as in
    the harness's own tests, does not count)."""
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(
        name in SUITE_FIXTURES and chain and getattr(chain[-1].func, "__module__", None) == __name__
        for name, chain in defs.items()
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _Running.test = item.nodeid if _is_suite_test(item) else None
    try:
        return (yield)
    finally:
        _Running.test = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Mark a suite test's reports, with what kind of exception it raised. The marks travel to the xdist
    controller with the report, where the exception itself is gone."""
    test_report = yield
    if _is_suite_test(item):
        test_report.harness_suite = True
        if call.excinfo is not None:
            test_report.harness_raised = _exception_kind(call.excinfo.value)
            test_report.harness_message = _one_line(call.excinfo.value)
    return test_report


def _exception_kind(error: BaseException) -> str:
    if isinstance(error, gates.GateFailure):
        return "gate"
    return "assert" if isinstance(error, AssertionError) else "other"


def _one_line(error: BaseException, limit: int = 300) -> str:
    """`ModelError: openai:x@…: request #0 failed …`: the exception's type and the first line of its message."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _TestLog:
    """Records every suite test's outcome into the run record (on the controller when xdist runs workers)."""

    def __init__(self, record: report.RunRecord) -> None:
        self.record = record

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:  # noqa: D102 - a pytest hook
        if getattr(report, "harness_suite", False):
            outcome = _outcome(report)
            if outcome is not None:
                self.record.note_test(report.nodeid, outcome, _message(report))


def _outcome(test_report: pytest.TestReport) -> str | None:
    """The run record's outcome for one phase report; None for a phase that says nothing (a passed setup)."""
    raised = getattr(test_report, "harness_raised", None)
    if hasattr(test_report, "wasxfail"):
        return "xfailed" if test_report.skipped else "xpassed" if test_report.passed else "failed"
    if test_report.skipped:
        return "skipped"
    if test_report.failed:
        if test_report.when != "call":
            return "error"
        return {"gate": "gate failed", "assert": "failed", None: "failed"}.get(raised, "error")
    return "passed" if test_report.when == "call" else None


def _message(test_report: pytest.TestReport) -> str:
    if message := getattr(test_report, "harness_message", None):
        return str(message)
    longrepr = test_report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(getattr(test_report, "wasxfail", "") or "")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Check [tool.harness.gates] against the gates the collected suites declare, then note every suite test
    collected, so one that never reports (an interrupted run) shows as not run."""
    suite_items = [item for item in session.items if _is_suite_test(item)]
    if suite_items and CONFIG_KEY in session.config.stash:
        _check_gate_keys(session, {Path(item.path) for item in suite_items})
    record = session.config.stash.get(RECORD_KEY, None)
    if record is not None and not session.config.option.collectonly:  # --collect-only runs nothing: no report
        record.collected.update(item.nodeid for item in suite_items)


def _check_gate_keys(session: pytest.Session, modules: set[Path]) -> None:
    """A key of [tool.harness.gates] that no gate of the suites reads is a usage error naming the closest
    gate: misspelt, its bar would silently never apply. So is a gate of the collected modules with no bar,
    or with a bar in code that differs from its key. Names and bars are read from the suites' source."""
    from harness import gate_keys

    config = session.config
    harness_config = config.stash[CONFIG_KEY]
    files = gate_keys.suite_files(modules, Path(config.rootpath), config.getini("python_files"))
    source = os.path.relpath(harness_config.root / "pyproject.toml", config.invocation_params.dir)
    try:
        with usage_errors():
            gate_keys.check_keys(harness_config.gates, gate_keys.declared(files), source)
            gate_keys.check_bars(harness_config.gates, modules, source)
    except pytest.UsageError as error:
        _hand_to_controller(session, str(error))
        raise


def _hand_to_controller(session: pytest.Session, message: str) -> None:
    """On an xdist worker, a usage error raised in collection would leave the controller waiting for tests it
    handed out (an INTERNALERROR). The worker stops its session instead and passes the message on; the
    controller ends the run as a usage error with it (`pytest_testnodedown`, `pytest_sessionfinish`)."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["harness_usage_error"] = message
        session.shouldstop = message


def pytest_unconfigure(config: pytest.Config) -> None:
    """Detach gates from the finished run, so later library use neither records into it nor cites it."""
    if RECORD_KEY in config.stash:
        gates.configure(gates.GateSettings(), lambda result: None)
        report.configure_attach(None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker records into the same run dir."""
    node.workerinput["harness_run_dir"] = str(node.config.stash[RECORD_KEY].run_dir)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect the gates and model fingerprints a worker recorded."""
    record = node.config.stash[RECORD_KEY]
    output = getattr(node, "workeroutput", {})
    record.gates.extend(output.get("harness_gates", []))
    record.models.update(output.get("harness_models", {}))
    record.extras.update(output.get("harness_extras", {}))
    record.collected.update(output.get("harness_collected", []))
    if message := output.get("harness_usage_error"):
        node.config.stash[WORKER_USAGE_ERROR_KEY] = message


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    if (message := session.config.stash.get(WORKER_USAGE_ERROR_KEY, None)) is not None:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR  # as the same run without xdist would end
        sys.stderr.write(f"ERROR: {message}\n")
        return
    record = session.config.stash.get(RECORD_KEY, None)
    if record is None:
        return
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["harness_gates"] = record.gates
        session.config.workeroutput["harness_models"] = record.models
        session.config.workeroutput["harness_extras"] = record.extras
        session.config.workeroutput["harness_collected"] = sorted(record.collected)
        return
    record.pytest_exit = int(exitstatus)
    if record.worth_writing:
        report.write(record)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    record = config.stash.get(RECORD_KEY, None)
    if record is None or not record.worth_writing or hasattr(config, "workeroutput"):
        return
    results = record.to_json()
    terminalreporter.section("harness gates")
    for line in report.terminal_table(record.gates, results["tests"]):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"verdict: {results['verdict']['headline']}")
    where = os.path.relpath(record.run_dir, config.invocation_params.dir)
    terminalreporter.write_line(f"report: {where}/summary.md")
    if record.html_written:
        terminalreporter.write_line(f"html:   {where}/report.html")


def _share_cores_between_workers(config: pytest.Config) -> None:
    """Give each xdist worker its share of the cores. Two workers each running torch on every core spin
    against each other in OpenMP and run many times slower than one worker alone."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 0) or 0)
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)


def _load_config(config: pytest.Config) -> HarnessConfig:
    with usage_errors():
        harness_config = HarnessConfig.load(Path(config.rootpath))
    if task := config.getoption("--task"):
        with usage_errors("--task: "):
            harness_config = _checked_task(harness_config.for_task(task))
    if cache_dir := config.getoption("--cache-dir"):
        harness_config = _with_cache_dir(harness_config, Path(config.invocation_params.dir, cache_dir).resolve())
    return harness_config


def _checked_task(config: HarnessConfig) -> HarnessConfig:
    """A task whose suites are all there, or a ConfigError naming the missing one."""
    assert config.task is not None
    for suite in config.task_settings(config.task).suites:
        if not (config.root / suite).exists():
            where = f"[tool.harness.tasks.{config.task}]"
            raise ConfigError(f"task {config.task!r}: suite {suite} does not exist ({where} suites)")
    return config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --task, keep the tests of the task's suites; the others are deselected (and said so)."""
    harness_config = config.stash.get(CONFIG_KEY, None)
    if harness_config is None or harness_config.task is None:
        return
    suites = harness_config.task_settings(harness_config.task).suites
    roots = [(harness_config.root / suite).resolve() for suite in suites]
    kept = [item for item in items if any(_within(Path(item.path).resolve(), root) for root in roots)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _with_cache_dir(config: HarnessConfig, cache_dir: Path) -> HarnessConfig:
    return replace(config, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def harness_config(pytestconfig: pytest.Config) -> HarnessConfig:
    """`[tool.harness]` from pyproject.toml, with command-line overrides applied."""
    return pytestconfig.stash[CONFIG_KEY]


@pytest.fixture(scope="session")
def generation_cache(pytestconfig: pytest.Config, harness_config: HarnessConfig) -> Iterator[GenerationCache]:
    """The SQLite generation cache shared by every suite, run and xdist worker."""
    cache = GenerationCache.in_dir(harness_config.cache_dir, enabled=not pytestconfig.getoption("--no-cache"))
    yield cache
    cache.close()


@pytest.fixture(scope="session")
def _model_factory(
    pytestconfig: pytest.Config, harness_config: HarnessConfig, generation_cache: GenerationCache
) -> ModelFactory:
    """One factory per session, so the model, its baseline and the judge share weights where they can."""
    from harness.models.resolve import ModelFactory

    return ModelFactory(harness_config, generation_cache, _visible_progress(pytestconfig))


@pytest.fixture(scope="session")
def _model_pair(pytestconfig: pytest.Config, _model_factory: ModelFactory) -> tuple[Model, Model]:
    model_spec, baseline_spec = pytestconfig.stash[SPECS_KEY]
    built = _model_factory.build_all([model_spec, baseline_spec])
    record = pytestconfig.stash[RECORD_KEY]
    for role, built_model in zip(("model", "baseline"), built, strict=True):
        record.models[role] = {"label": built_model.label, "fingerprint": built_model.fingerprint()}
    return built[0], built[1]


@pytest.fixture(scope="session")
def model(_model_pair: tuple[Model, Model]) -> Model:
    """The model under test (`--model`). Weights load lazily, on the first uncached request."""
    return _model_pair[0]


@pytest.fixture(scope="session")
def baseline(_model_pair: tuple[Model, Model]) -> Model:
    """The model to compare against (`--baseline`). For a peft model on the same base, it is the same
    loaded weights with the adapter switched off."""
    return _model_pair[1]


@pytest.fixture(scope="session")
def judge(pytestconfig: pytest.Config, harness_config: HarnessConfig, _model_factory: ModelFactory) -> Judge:
    """The LLM judge (`--judge`, else [tool.harness.judge] spec), its calls cached like any generation.
    Skips the requesting test when no judge is configured."""
    from harness.judge import Judge

    spec = pytestconfig.stash[JUDGE_KEY]
    if spec is None:
        pytest.skip(
            "no LLM judge configured: pass --judge=openai:MODEL@BASE_URL (any --model form works) or set "
            'spec = "..." in [tool.harness.judge] of pyproject.toml'
        )
    built = _model_factory.build(spec)
    pytestconfig.stash[RECORD_KEY].models["judge"] = {"label": built.label, "fingerprint": built.fingerprint()}
    return Judge(built, harness_config.judge)


@pytest.fixture(scope="session")
def golden(pytestconfig: pytest.Config, harness_config: HarnessConfig) -> Callable[[str], GoldenSet]:
    """`golden("banking77")` -> the frozen cases of golden/banking77/cases.jsonl (verified at start-up), a
    list with `.generation`: the set's generation settings (golden/banking77/generation.toml)."""
    loaded: dict[str, GoldenSet] = {}
    limit = pytestconfig.getoption("--golden-limit")

    def load(name: str) -> GoldenSet:
        if name not in loaded:
            root = harness_config.golden_dir
            cases = load_set(root, name)
            cases = evenly_spread(cases, limit) if limit else cases
            loaded[name] = GoldenSet(name, cases, generation_settings(root, name))
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def dataset(pytestconfig: pytest.Config) -> CuratedDataset:
    """The curated dataset given by --dataset (splits + curation.json), for suites/data. Without the option
    the tests using it skip, so `pytest suites/ --model=X` collects the data suites without running them."""
    option = pytestconfig.getoption("--dataset")
    if option is None:
        pytest.skip("no --dataset DIR given: the data suites check a curated dataset (`harness curate` writes one)")
    from harness.curation.dataset import load_dataset

    with usage_errors(f"--dataset={option}: "):
        return load_dataset(Path(pytestconfig.invocation_params.dir, option))


@pytest.fixture(scope="session")
def traces(pytestconfig: pytest.Config, harness_config: HarnessConfig) -> Window:
    """The recent traces of the store given by --traces ([tool.harness.production] window_days up to the newest
    trace, a seeded sample of at most max_traces). Without the option the tests using it skip, saying why."""
    option = pytestconfig.getoption("--traces")
    if option is None:
        pytest.skip("no --traces DIR given: the production suite reads a trace store "
                    "(`harness traces import FILE --store DIR` writes one)")  # fmt: skip
    from harness.production.store import TraceStore

    settings = harness_config.production
    with usage_errors(f"--traces={option}: "):
        store = TraceStore.open(Path(pytestconfig.invocation_params.dir, option))
        return store.recent(settings.window_days, settings.max_traces, settings.seed)


@pytest.fixture(scope="session")
def drift_reference(pytestconfig: pytest.Config, harness_config: HarnessConfig) -> Reference:
    """--drift-reference read (a training split or a golden set) and sampled to [tool.harness.production]
    max_reference rows. Without the option the drift tests skip: drift is about the traffic, so `harness
    promote`, which judges a candidate, does not pass it."""
    option = pytestconfig.getoption("--drift-reference")
    if option is None:
        pytest.skip("no --drift-reference given: the drift gates compare recent traces with a training split "
                    "(.jsonl/.csv) or a golden set")  # fmt: skip
    from harness.production.drift import load_reference

    settings = harness_config.production
    where = option if not Path(pytestconfig.invocation_params.dir, option).exists() else str(
        Path(pytestconfig.invocation_params.dir, option))  # fmt: skip
    with usage_errors(f"--drift-reference={option}: "):
        return load_reference(where, harness_config.golden_dir).sample(settings.max_reference, settings.seed)


@pytest.fixture(scope="session")
def champion(pytestconfig: pytest.Config, harness_config: HarnessConfig, _model_factory: ModelFactory) -> Model:
    """The registry's champion (`[tool.harness.registry] alias`), read when first requested. The tests using it
    skip when nothing has been promoted yet: a first candidate has no champion to be compared with."""
    from harness.release.registry import Registry

    registry = Registry(harness_config)
    if registry.champion() is None:
        pytest.skip(f"no {registry.alias!r} in the model registry yet ({registry.model_name} at {registry.uri}): "
                    "nothing to compare with")  # fmt: skip
    from harness.models.spec import RegistrySpec

    built = _model_factory.build(RegistrySpec(registry.alias))
    pytestconfig.stash[RECORD_KEY].models["champion"] = {"label": built.label, "fingerprint": built.fingerprint()}
    return built


def _visible_progress(config: pytest.Config) -> ProgressFactory:
    """Progress bars that show through pytest's output capture (none on xdist workers, whose output
    the controller does not stream)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None or hasattr(config, "workerinput"):
        return no_progress

    @contextmanager
    def progress(total: int, description: str) -> Iterator[Callable[[int], None]]:
        if total < MIN_TOTAL_FOR_BAR:
            yield lambda n: None
            return
        from tqdm import tqdm

        with capture.global_and_fixture_disabled():
            bar = tqdm(total=total, desc=description, file=sys.stderr, leave=False)

        def advance(n: int) -> None:
            with capture.global_and_fixture_disabled():
                bar.update(n)

        try:
            yield advance
        finally:
            with capture.global_and_fixture_disabled():
                bar.close()

    return progress
