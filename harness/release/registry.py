"""The model registry: promoted adapters as MLflow model versions, the production one under an alias.

A version's source is never the training directory: the adapter's files are copied into a content-addressed
store (`<store_dir>/adapters/<adapter sha256>/`, read-only) first, so retraining into the same directory
cannot change a promoted model, and the run's results.json is stored beside it (`<store_dir>/results/`),
because the next promotion compares its per-case outcomes with the champion's.

The store is MLflow's embedded sqlite file `runs/mlflow.db` unless `[tool.harness.registry] tracking_uri` or
`$MLFLOW_TRACKING_URI` names another (a team server). MLflow imports in seconds and logs freely, so it is
imported only here, only when a registry is actually used, with its logging and warnings kept quiet;
its errors still propagate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.cache import sha256_file
from harness.config import HarnessConfig
from harness.errors import RegistryError
from harness.models.files import ADAPTER_PATTERNS, TOKENIZER_FILES

TAG_ADAPTER = "harness.adapter_sha256"
TAG_GOLDEN = "harness.golden_lock_hash"
TAG_COMMIT = "harness.git_commit"
TAG_BASE = "harness.base_model"
TAG_GATES = "harness.gates"
TAG_REPORT = "harness.report"
TAG_RESULTS = "harness.results"
TAG_FINGERPRINT = "harness.model_fingerprint"
MAX_TAG_CHARS = 5000  # MLflow caps tag values (8000 on sqlite); the full gate table is in the stored results


@dataclass(frozen=True)
class RegisteredVersion:
    """One model version as promotion sees it: its number, its stored adapter and its tags."""

    version: str
    adapter_dir: Path
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def adapter_sha256(self) -> str | None:
        return self.tags.get(TAG_ADAPTER)

    def results(self) -> dict[str, Any] | None:
        """The results.json this version was promoted on, or None when it was registered without one."""
        path = self.tags.get(TAG_RESULTS)
        if not path or not Path(path).is_file():
            return None
        data: dict[str, Any] = json.loads(Path(path).read_text())
        return data


def tracking_uri(config: HarnessConfig) -> str:
    """$MLFLOW_TRACKING_URI, else [tool.harness.registry] tracking_uri, else sqlite under <root>/runs/."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    if config.registry.tracking_uri:
        return config.registry.tracking_uri
    return f"sqlite:///{(config.root / 'runs' / 'mlflow.db').resolve()}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for any other store (a server, another database)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def adapter_files(adapter_dir: Path) -> list[Path]:
    """The files that define an adapter as the harness loads it: weights, adapter_config.json and, when the
    adapter ships one, its tokenizer and chat template. Checkpoints and training logs are left out."""
    names = {p.name for pattern in (*ADAPTER_PATTERNS, *TOKENIZER_FILES) for p in adapter_dir.glob(pattern)}
    files = sorted(adapter_dir / name for name in names if (adapter_dir / name).is_file())
    has_weights = any(f.name.startswith("adapter_model.") for f in files)
    if not has_weights or not (adapter_dir / "adapter_config.json").is_file():
        raise RegistryError(
            f"{adapter_dir}: not a PEFT adapter directory (needs adapter_config.json and adapter_model.safetensors "
            "or .bin); pass the directory `save_pretrained` wrote, e.g. --adapter runs/banking77/adapter"
        )
    return files


def adapter_sha256(adapter_dir: Path) -> str:
    """sha256 over (name, sha256) of each adapter file: the adapter's identity, independent of where it lives."""
    parts = [(f.name, sha256_file(f)) for f in adapter_files(adapter_dir)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's INFO logs (database migrations) and its warnings stay out of the output; errors do not."""
    with warnings.catch_warnings():
        for module in (r"mlflow(\..*)?$", r"alembic(\..*)?$", r"sqlalchemy(\..*)?$", r"pydantic(\..*)?$"):
            warnings.filterwarnings("ignore", module=module)
        import mlflow  # noqa: F401  (configures its loggers on import; quiet them afterwards)

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.ERROR)
        yield


class Registry:
    """The registered model `[tool.harness.registry] model_name`, its alias and the adapter store."""

    def __init__(self, config: HarnessConfig) -> None:
        settings = config.registry
        self.uri = tracking_uri(config)
        self.model_name = settings.model_name
        self.alias = settings.alias
        self.store = (config.root / settings.store_dir).resolve()
        self._client: Any = None
        db = sqlite_path(self.uri)
        lock_dir = db.parent if db else self.store
        lock_name = f"{db.name}.promote.lock" if db else "promote.lock"
        self._promote_lock = FileLock(str(lock_dir / lock_name))

    def __repr__(self) -> str:
        return f"Registry({self.model_name!r} at {self.uri})"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise promotions that share this lock file: one decides and registers at a time.

        For the embedded sqlite store the lock sits beside the database, so it covers every promotion into
        it. For a remote server it sits in the store dir: it serialises promotions that share that
        filesystem, not clients elsewhere (MLflow's alias update is last-writer-wins)."""
        Path(self._promote_lock.lock_file).parent.mkdir(parents=True, exist_ok=True)
        with self._promote_lock:
            yield

    # --- reading -----------------------------------------------------------------------------------------

    def champion(self) -> RegisteredVersion | None:
        """The version the alias points to, or None when nothing was promoted yet."""
        db = sqlite_path(self.uri)
        if db is not None and not db.exists():
            return None  # nothing was ever registered: do not create a database just to find that out
        model = self._registered_model()
        if model is None or self.alias not in model.aliases:
            return None
        with self._calling():
            return self._version(self._mlflow().get_model_version(self.model_name, str(model.aliases[self.alias])))

    def versions(self) -> list[RegisteredVersion]:
        """Every version of the registered model, oldest first."""
        db = sqlite_path(self.uri)
        if (db is not None and not db.exists()) or self._registered_model() is None:
            return []
        name = self.model_name.replace("'", "\\'")
        with self._calling():
            found = self._mlflow().search_model_versions(f"name = '{name}'")
        return sorted((self._version(v) for v in found), key=lambda v: int(v.version))

    # --- writing (inside `locked()`) ----------------------------------------------------------------------

    def store_adapter(self, adapter_dir: Path, sha256: str) -> Path:
        """Copy the adapter into the content-addressed store (read-only) and return the copy's directory.

        The copy is made in a temporary directory and renamed into place, so a reader never sees half of
        one; its digest must equal `sha256`, the digest of what the suites evaluated."""
        target = self.store / "adapters" / sha256
        if not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=target.parent))
            try:
                for source in adapter_files(adapter_dir):
                    shutil.copy2(source, tmp / source.name)
                    (tmp / source.name).chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                _check_digest(tmp, sha256, f"{adapter_dir} changed after the suites evaluated it")
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        _check_digest(target, sha256, f"the stored copy {target} was modified")
        return target

    def store_results(self, results: dict[str, Any]) -> Path:
        """Keep a run's results.json in the store, named by its own sha256, for the next champion comparison."""
        text = json.dumps(results, indent=1, sort_keys=True, default=str) + "\n"
        target = self.store / "results" / f"{hashlib.sha256(text.encode()).hexdigest()}.json"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, target)
        return target

    def register(self, stored_adapter: Path, tags: dict[str, str], description: str) -> RegisteredVersion:
        """Create a version of the stored adapter with its tags, then move the alias to it.

        The tags are written with the version in one call, so the alias never points to a version that
        lacks them. Call it inside `locked()`, after re-reading the champion there."""
        client = self._mlflow()
        with self._calling():
            if self._registered_model() is None:
                client.create_registered_model(self.model_name, description="adapters promoted by `harness promote`")
            created = client.create_model_version(
                self.model_name, source=str(stored_adapter), tags=_bounded(tags), description=description
            )
            client.set_registered_model_alias(self.model_name, self.alias, created.version)
            return self._version(client.get_model_version(self.model_name, created.version))

    # --- MLflow ---------------------------------------------------------------------------------------------

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """MLflow calls, quiet, with their errors said in the registry's terms (which store, what to check)."""
        with quiet_mlflow():
            from mlflow.exceptions import MlflowException
            from sqlalchemy.exc import SQLAlchemyError  # a broken sqlite store fails below MLflow

            try:
                yield
            except (MlflowException, SQLAlchemyError) as error:
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise RegistryError(
                    f"model registry {self.model_name!r} at {self.uri}: {first_line} — check $MLFLOW_TRACKING_URI "
                    "or [tool.harness.registry] tracking_uri"
                ) from error

    def _mlflow(self) -> Any:
        """An MlflowClient on the registry. The first open of a new sqlite file creates its tables; two
        processes doing that at once collide, so opening takes a short lock of its own."""
        if self._client is None:
            with quiet_mlflow():
                from mlflow import MlflowClient

                db = sqlite_path(self.uri)
                if db is None:
                    self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
                else:
                    db.parent.mkdir(parents=True, exist_ok=True)
                    with FileLock(str(db.with_name(f"{db.name}.init.lock"))):
                        client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
                        client.search_registered_models(max_results=1)
                    self._client = client
        return self._client

    def _registered_model(self) -> Any:
        with self._calling():
            from mlflow.exceptions import MlflowException

            try:
                return self._mlflow().get_registered_model(self.model_name)
            except MlflowException as error:
                if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise

    def _version(self, version: Any) -> RegisteredVersion:
        source = str(version.source).removeprefix("file://")
        return RegisteredVersion(str(version.version), Path(source), dict(version.tags), tuple(version.aliases))


def _check_digest(directory: Path, expected: str, what: str) -> None:
    actual = adapter_sha256(directory)
    if actual != expected:
        raise RegistryError(f"{what}: adapter sha256 {actual[:12]} != {expected[:12]}; re-run the promotion")


def _bounded(tags: dict[str, str]) -> dict[str, str]:
    """Tag values within MLflow's limit; a longer one is cut with a pointer to the stored results."""
    cut = "…(truncated; full values in the stored results.json)"
    return {k: v if len(v) <= MAX_TAG_CHARS else v[: MAX_TAG_CHARS - len(cut)] + cut for k, v in tags.items()}


def champion_adapter_dir(config: HarnessConfig) -> Path:
    """What `--model=champion` loads: the stored adapter of the version the registry's alias points to."""
    registry = Registry(config)
    champion = registry.champion()
    hint = f"harness promote{f' --task {config.task}' if config.task else ''} --adapter DIR"
    if champion is None:
        raise RegistryError(
            f"no {registry.alias!r} in the model registry yet (model {registry.model_name!r} at {registry.uri}): "
            f"promote an adapter first with `{hint}`, or name a model explicitly (--model=peft:DIR)"
        )
    if not (champion.adapter_dir / "adapter_config.json").is_file():
        raise RegistryError(
            f"{registry.model_name} version {champion.version} ({registry.alias}): its adapter "
            f"{champion.adapter_dir} is missing; restore the store dir [tool.harness.registry] store_dir, "
            f"or promote again with `{hint}`"
        )
    return champion.adapter_dir
