"""The model registry: the content-addressed adapter store, the champion alias behind `--model=champion`,
[tool.harness.registry] config, and two promotions racing for the alias. Real MLflow on a tmp sqlite file."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.config import ConfigError, HarnessConfig, RegistrySettings
from harness.models.resolve import pinned
from harness.models.spec import HFSpec, PeftSpec, RegistrySpec, describe_forms, parse_spec
from harness.release.registry import TAG_ADAPTER, TAG_RESULTS, Registry, RegistryError, adapter_sha256, tracking_uri
from tests.tiny_models import build_tiny_adapter

ROOT = Path(__file__).resolve().parents[1]


def config_for(root: Path, uri: str, models: dict[str, str] | None = None) -> HarnessConfig:
    registry = RegistrySettings(tracking_uri=uri, model_name="tiny-router")
    return HarnessConfig(root=root, models=models or {"base": "hf:unused"}, registry=registry, cache_dir=root / "cache")


def copy_adapter(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# --- configuration ----------------------------------------------------------------------------------------


def test_tracking_uri_is_the_env_then_the_config_then_sqlite_under_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(HarnessConfig(root=tmp_path)) == f"sqlite:///{tmp_path.resolve()}/runs/mlflow.db"
    configured = HarnessConfig.from_table({"registry": {"tracking_uri": "http://mlflow:5000"}}, root=tmp_path)
    assert tracking_uri(configured) == "http://mlflow:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team-server:5000")
    assert tracking_uri(configured) == "http://team-server:5000"


def test_registry_section_is_typed_and_checked(tmp_path: Path) -> None:
    config = HarnessConfig.from_table({"registry": {"model_name": "router", "alias": "prod"}}, root=tmp_path)
    assert (config.registry.model_name, config.registry.alias, config.registry.store_dir) == (
        "router", "prod", "runs/registry",
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['aliass'\] in \[tool.harness.registry\]"):
        HarnessConfig.from_table({"registry": {"aliass": "prod"}}, root=tmp_path)
    with pytest.raises(ConfigError, match="alias = 'peft:x': ':' and '@' would read as a model spec scheme"):
        RegistrySettings(alias="peft:x")
    assert HarnessConfig.load(ROOT).registry.model_name == "banking77-router"  # this repo's own setting


def test_this_repo_ships_two_tasks_and_every_suite_decides_some_tasks_promotions() -> None:
    """A suite in no task's list would never run in a `harness promote --task` decision."""
    config = HarnessConfig.load(ROOT)
    assert sorted(config.tasks) == ["banking77", "quantities"]
    assert config.for_task("quantities").registry.model_name == "quantities-extractor"
    assert config.for_task("banking77").registry.model_name == "banking77-router"
    suites = {path.relative_to(ROOT).as_posix() for path in (ROOT / "suites").glob("test_*.py")}
    assert suites == {suite for task in config.tasks.values() for suite in task.suites}
    assert "suites/test_quantities.py" not in config.tasks["banking77"].suites


# --- the content-addressed store ----------------------------------------------------------------------------


def test_stored_adapter_is_content_addressed_read_only_and_immune_to_retraining(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    adapter = copy_adapter(tiny_adapter_dir, tmp_path / "adapter")
    (adapter / "checkpoint-10").mkdir()
    (adapter / "checkpoint-10" / "adapter_model.safetensors").write_bytes(b"an old checkpoint")
    (adapter / "trainer_log.txt").write_text("loss 1.0\n")
    sha = adapter_sha256(adapter)
    registry = Registry(config_for(tmp_path, "sqlite:///unused.db"))

    stored = registry.store_adapter(adapter, sha)

    assert stored == tmp_path / "runs" / "registry" / "adapters" / sha
    assert sorted(p.name for p in stored.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert all(not p.stat().st_mode & stat.S_IWUSR for p in stored.iterdir())
    assert registry.store_adapter(adapter, sha) == stored  # storing again is a no-op

    build_tiny_adapter(tiny_model_dir, adapter, seed=7)  # retrain into the same directory
    assert adapter_sha256(adapter) != sha
    assert adapter_sha256(stored) == sha
    with pytest.raises(RegistryError, match="changed after the suites evaluated it"):
        registry.store_adapter(adapter, "0" * 64)
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".")]  # no half-written copy left


def test_a_directory_without_an_adapter_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match="not a PEFT adapter directory .* e.g. --adapter runs/banking77/adapter"):
        adapter_sha256(tmp_path / "empty")


# --- the champion alias and --model=champion ---------------------------------------------------------------


def test_champion_resolves_to_the_stored_adapter_the_alias_points_to(
    tmp_path: Path, registry_uri: str, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    config = config_for(tmp_path, registry_uri)
    assert parse_spec("champion", config, cwd=tmp_path) == RegistrySpec("champion")  # parsing reads no registry
    with pytest.raises(RegistryError, match=r"no 'champion' in the model registry yet .* `harness promote --adapter"):
        pinned(RegistrySpec("champion"), config)
    assert "champion (the model registry's champion version)" in describe_forms(config)

    registry = Registry(config)
    first = registry.store_adapter(tiny_adapter_dir, adapter_sha256(tiny_adapter_dir))
    v1 = registry.register(first, {TAG_ADAPTER: adapter_sha256(tiny_adapter_dir)}, "first")
    assert (v1.version, v1.aliases, v1.tags[TAG_ADAPTER]) == ("1", ("champion",), adapter_sha256(tiny_adapter_dir))
    assert pinned(parse_spec("champion", config, cwd=tmp_path), config) == PeftSpec(first)

    other = build_tiny_adapter(tiny_model_dir, tmp_path / "other", seed=3)
    second = registry.store_adapter(other, adapter_sha256(other))
    registry.register(second, {TAG_ADAPTER: adapter_sha256(other)}, "second")
    assert registry.champion() is not None and registry.champion().version == "2"  # type: ignore[union-attr]
    assert [v.version for v in registry.versions()] == ["1", "2"]
    assert pinned(parse_spec("champion", config, cwd=tmp_path), config) == PeftSpec(second)

    explicit = config_for(tmp_path, registry_uri, models={"champion": f"hf:{tiny_model_dir}"})
    assert parse_spec("champion", explicit, cwd=tmp_path) == HFSpec(str(tiny_model_dir))  # the config's name wins


def test_a_champion_whose_stored_adapter_is_gone_says_how_to_recover(
    tmp_path: Path, registry_uri: str, tiny_adapter_dir: Path
) -> None:
    config = config_for(tmp_path, registry_uri)
    registry = Registry(config)
    registry.register(registry.store_adapter(tiny_adapter_dir, adapter_sha256(tiny_adapter_dir)), {}, "d")
    shutil.rmtree(tmp_path / "runs" / "registry")
    with pytest.raises(RegistryError, match=r"tiny-router version 1 \(champion\): its adapter .* is missing; restore"):
        pinned(RegistrySpec("champion"), config)


def test_a_broken_registry_store_is_a_clear_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    db = tmp_path / "mlflow.db"
    db.write_text("this is not an sqlite database, whatever its name says\n" * 4)
    config = config_for(tmp_path, f"sqlite:///{db}")
    with pytest.raises(RegistryError, match=rf"model registry 'tiny-router' at sqlite:///{db}: .*file is not a database"
                       r" — check \$MLFLOW_TRACKING_URI or \[tool.harness.registry\] tracking_uri"):  # fmt: skip
        pinned(parse_spec("champion", config, cwd=tmp_path), config)


def test_model_champion_with_nothing_promoted_stops_the_run_saying_how_to_get_one(
    tiny_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = tiny_project()
    project.makepyfile(test_x="def test_x(model):\n    pass\n")
    result = project.runpytest("--model=champion")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--model=champion: no 'champion' in the model registry yet" in result.stderr.str()
    assert "`harness promote --adapter DIR`" in result.stderr.str()


# --- two promotions at once ---------------------------------------------------------------------------------

RACER = """
import json, sys, time
from pathlib import Path
from harness.release import promote
from harness.config import HarnessConfig, RegistrySettings
from harness.release.registry import Registry, adapter_sha256

root, uri, adapter, report_dir, me = sys.argv[1:]
config = HarnessConfig(root=Path(root), registry=RegistrySettings(tracking_uri=uri, model_name="tiny-router"),
                       cache_dir=Path(root, "cache"))
real_locked = Registry.locked

def locked_once_both_have_decided(self):
    # Both promotions have read "no champion" and decided to promote before either takes the lock.
    Path(root, "ready-" + me).touch()
    deadline = time.time() + 120
    while len(list(Path(root).glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    return real_locked(self)

Registry.locked = locked_once_both_have_decided
run = promote.SuiteRun(0, Path(report_dir), json.loads(Path(report_dir, "results.json").read_text()))
adapter = Path(adapter)
sys.exit(promote.conclude(config, promote.PromoteOptions(adapter), adapter, adapter_sha256(adapter), run))
"""


def results(passed: list[bool]) -> dict[str, Any]:
    """A results.json whose one gate passes (bar 0) with these per-case outcomes."""
    cases = [{"id": f"c-{i}", "passed": ok, "score": float(ok)} for i, ok in enumerate(passed)]
    gate = {"name": "toy.match", "kind": "at_least", "passed": True, "value": sum(passed) / len(passed),
            "threshold": 0.0, "interval": [0.0, 1.0], "cases": cases}  # fmt: skip
    return {"golden_lock_hash": "lock-1", "git_commit": "abc123", "golden_limit": None,
            "models": {"model": {"label": "peft:x", "fingerprint": "f" * 64}}, "gates": [gate]}  # fmt: skip


def test_two_promotions_racing_end_consistent(
    tmp_path: Path, registry_uri: str, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    """Good (8/8) and worse (0/8 on the same cases) both pass their gates and both see no champion. Whoever
    locks second must compare with the first winner: worse never ends up champion, whatever the order."""
    adapters = {"good": tiny_adapter_dir, "worse": build_tiny_adapter(tiny_model_dir, tmp_path / "worse", seed=2)}
    racers = {}
    for name, passed in (("good", [True] * 8), ("worse", [False] * 8)):
        report_dir = tmp_path / "reports" / name
        report_dir.mkdir(parents=True)
        (report_dir / "results.json").write_text(json.dumps(results(passed)))
        command = [sys.executable, "-c", RACER, str(tmp_path), registry_uri, str(adapters[name]), str(report_dir), name]
        racers[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {name: racer.communicate(timeout=300)[0] for name, racer in racers.items()}
    codes = {name: racer.returncode for name, racer in racers.items()}

    registry = Registry(config_for(tmp_path, registry_uri))
    versions = registry.versions()
    shas = {name: adapter_sha256(path) for name, path in adapters.items()}
    assert codes["good"] == 0, outputs["good"]
    if codes["worse"] == 0:  # worse locked first and won against no champion; good then beat it
        assert [v.tags[TAG_ADAPTER] for v in versions] == [shas["worse"], shas["good"]], outputs
        assert "the champion moved from None to 1 while the suites ran" in outputs["good"]
    else:  # good locked first; worse, re-checked inside the lock, lost to it
        assert codes["worse"] == 1 and [v.tags[TAG_ADAPTER] for v in versions] == [shas["good"]], outputs
        assert "the champion moved from None to 1 while the suites ran" in outputs["worse"]
        assert "significantly worse than the champion (alpha 0.05) on: toy.match (lost 8, gained 0" in outputs["worse"]
    champion = registry.champion()
    assert champion is not None and champion.version == versions[-1].version
    assert champion.tags[TAG_ADAPTER] == shas["good"]
    for version in versions:  # every version is whole: its stored adapter and results match its tags
        assert adapter_sha256(version.adapter_dir) == version.tags[TAG_ADAPTER]
        assert Path(version.tags[TAG_RESULTS]).is_file()
    assert not [p for p in (tmp_path / "runs" / "registry" / "adapters").iterdir() if p.name.startswith(".")]
