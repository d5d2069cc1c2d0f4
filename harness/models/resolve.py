"""Turn specs into ready `Model`s: find the files (offline), share weights, put the cache in front.

`pinned(spec)` reads the model registry for a `RegistrySpec` (`--model=champion`), once, when pytest
starts: the session then evaluates that adapter even if the alias moves while it runs. `check(spec)` is
cheap and runs then too, so a missing adapter dir or wheel is a usage error before any test runs.
`ModelFactory.build` runs when a fixture is first requested; it may materialise the embedded model once,
but never loads weights: that waits for the first cache miss.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.models import embedded
from harness.models.base import ProgressFactory
from harness.models.cached import CachedModel
from harness.models.hf import HFBackend, HFSource, HFWeights
from harness.models.openai_compat import OpenAIBackend
from harness.models.spec import HFSpec, ModelSpec, OpenAISpec, PeftSpec, PinnedSpec, RegistrySpec, SpecError
from harness.progress import plain_progress
from harness.release.registry import champion_adapter_dir


def pinned(spec: ModelSpec, config: HarnessConfig) -> PinnedSpec:
    """A RegistrySpec as the PeftSpec of the stored adapter its alias points to now (a RegistryError says
    why there is none: nothing promoted yet, the store gone, the server down); any other spec as it is."""
    if isinstance(spec, RegistrySpec):
        if spec.task is None and config.task is None and len(config.tasks) > 1:
            tasks = ", ".join(f"{spec.alias}:{name}" for name in sorted(config.tasks))
            count = len(config.tasks)
            raise SpecError(f"{spec.alias!r} is ambiguous in a project of {count} tasks: name one ({tasks}), "
                            "or pass --task NAME")  # fmt: skip
        return PeftSpec(champion_adapter_dir(config.for_task(spec.task)))
    return spec


def check(spec: PinnedSpec) -> None:
    """Fail fast, without loading anything, if a spec's files cannot be found (pin a RegistrySpec first)."""
    if isinstance(spec, PeftSpec):
        _check_hf_source(adapter_base(spec.adapter_dir))
    elif isinstance(spec, HFSpec):
        _check_hf_source(spec.path_or_id)


def adapter_base(adapter_dir: Path) -> str:
    """The base model an adapter was trained on, from its adapter_config.json."""
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise SpecError(f"peft:{adapter_dir}: no adapter_config.json there; is it a PEFT adapter directory?")
    base = json.loads(config_file.read_text()).get("base_model_name_or_path")
    if not base:
        raise SpecError(f"{config_file}: field 'base_model_name_or_path' is missing or empty")
    return str(base)


def local_model_dir(path_or_id: str, cache_dir: Path) -> Path:
    """A local directory for a model: the path itself, the embedded wheel, or the offline HF cache."""
    if Path(path_or_id).is_dir():
        return Path(path_or_id)
    if embedded.is_embedded(path_or_id):
        return embedded.materialised_dir(path_or_id, cache_dir)
    return _hub_cache_dir(path_or_id)


def _check_hf_source(path_or_id: str) -> None:
    if Path(path_or_id).is_dir():
        return
    if embedded.is_embedded(path_or_id):
        embedded.check_available(path_or_id)
        return
    _hub_cache_dir(path_or_id)


def _hub_cache_dir(model_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError) as error:
        raise SpecError(
            f"hf:{model_id}: not a local directory, not an embedded model, and not in the local Hugging Face "
            "cache; the harness never downloads at run time: pass a directory (hf:/path/to/model)"
        ) from error


class ModelFactory:
    """Builds cached models from specs, loading each set of weights at most once per process."""

    def __init__(
        self, config: HarnessConfig, cache: GenerationCache, progress: ProgressFactory = plain_progress
    ) -> None:
        self.config = config
        self.cache = cache
        self.progress = progress
        self._weights: dict[HFSource, HFWeights] = {}

    def build_all(self, specs: list[ModelSpec]) -> list[CachedModel]:
        """Build several models; adapters first, so a plain base among them reuses their weights."""
        specs = [pinned(spec, self.config) for spec in specs]
        order = sorted(range(len(specs)), key=lambda i: not isinstance(specs[i], PeftSpec))
        built = {i: self.build(specs[i]) for i in order}
        return [built[i] for i in range(len(specs))]

    def build(self, spec: ModelSpec) -> CachedModel:
        spec = pinned(spec, self.config)
        if isinstance(spec, OpenAISpec):
            return self._cached(OpenAIBackend(spec, self.config.openai))
        if isinstance(spec, PeftSpec):
            base_dir = local_model_dir(adapter_base(spec.adapter_dir), self.config.cache_dir)
            source = HFSource(base_dir.resolve(), spec.adapter_dir)
            return self._hf(self._weights.setdefault(source, HFWeights(source)), f"peft:{spec.adapter_dir}", True)
        base_dir = local_model_dir(spec.path_or_id, self.config.cache_dir).resolve()
        return self._hf(self._weights_for_base(base_dir), f"hf:{spec.path_or_id}", False)

    def _weights_for_base(self, base_dir: Path) -> HFWeights:
        """Weights already built on this base (an adapter's, used with the adapter off), else new ones.

        An adapter's weights are shared only if switching the adapter off gives exactly the base model,
        which fails when the adapter ships its own tokenizer or chat template."""
        plain = HFSource(base_dir)
        for source, weights in self._weights.items():
            if source.base_dir == base_dir and self._same_without_adapter(source, plain):
                return weights
        return self._weights.setdefault(plain, HFWeights(plain))

    def _same_without_adapter(self, source: HFSource, plain: HFSource) -> bool:
        if source.tokenizer_dir == plain.tokenizer_dir:
            return True
        without = source.fingerprint(self.cache, adapter_enabled=False)
        return without == plain.fingerprint(self.cache, adapter_enabled=False)

    def _hf(self, weights: HFWeights, label: str, adapter_enabled: bool) -> CachedModel:
        batch_size = self.config.generation.batch_size
        backend = HFBackend(weights, self.cache, label=label, adapter_enabled=adapter_enabled, batch_size=batch_size)
        return self._cached(backend)

    def _cached(self, backend: OpenAIBackend | HFBackend) -> CachedModel:
        return CachedModel(backend, self.cache, self.config.generation.params(), self.progress)
