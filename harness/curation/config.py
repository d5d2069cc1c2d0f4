"""The `curate:` section of a training config (YAML, torchtune style) read into typed dataclasses.

Unknown keys and wrong types are errors that name the file, the line and the key path
(`training/configs/banking77.yaml:31: curate.near_dup.band: unknown key ...`): a misspelt threshold must
never fall back to its default silently. Relative paths resolve against the project root (the nearest
directory above the config holding pyproject.toml), so `harness curate` works from any directory.
Other top-level sections (`train:`) belong to other stages and are not read here.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.curation.minhash import MinHashParams
from harness.errors import InputDataError


class CurationError(InputDataError, ValueError):
    """Bad curation input (config, source file, golden set). The message says what, where and how to fix."""


@dataclass(frozen=True)
class SourceConfig:
    """One raw data file: CSV, JSONL, or a `datasets` dir written by `save_to_disk`."""

    path: str
    format: str = "auto"  # csv | jsonl | hf; auto: by extension, a directory is hf
    text_field: str = "text"
    label_field: str | None = "label"
    answer_field: str | None = None
    """The assistant's answer as free text (an extraction or generation task), instead of a class label: such
    rows carry no label, so nothing is stratified, counted or checked per class. Needs label_field: null."""
    messages_field: str = "messages"  # a JSONL/hf row holding this field is already a chat
    split: str | None = None  # for a saved DatasetDict: which split
    max_rows: int | None = None  # only the first N rows (a pool larger than the task needs)


@dataclass(frozen=True)
class PromptConfig:
    system_from: str | None = None  # a golden cases.jsonl: messages[0].content of its first case
    system: str | None = None  # or a literal system prompt; neither: no system turn


@dataclass(frozen=True)
class SchemaConfig:
    min_chars: int = 1  # of the non-system turns together
    max_chars: int = 4000


@dataclass(frozen=True)
class ExactDedupConfig:
    enabled: bool = True


@dataclass(frozen=True)
class NearDupConfig:
    enabled: bool = True
    bands: int = 14
    rows: int = 8
    threshold: float = 0.8
    ngram: int = 5
    seed: int = 1
    drop: bool = True  # false: keep every member, but keep each cluster inside one split

    def params(self) -> MinHashParams:
        return MinHashParams(self.bands, self.rows, self.threshold, self.ngram, self.seed)


@dataclass(frozen=True)
class SemanticConfig:
    enabled: bool = True
    threshold: float = 0.95
    block_size: int = 2048
    batch_size: int = 64
    drop: bool = True


DEFAULT_PII_ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL",
                        "US_SSN", "CRYPTO"]  # fmt: skip


@dataclass(frozen=True)
class PIIConfig:
    enabled: bool = True
    entities: list[str] = field(default_factory=lambda: list(DEFAULT_PII_ENTITIES))
    min_score: float = 0.4
    entity_min_score: dict[str, float] = field(default_factory=lambda: {"URL": 0.6})
    max_fraction: float = 0.5  # reject a row when more than this share of its text is PII


@dataclass(frozen=True)
class LabelNoiseConfig:
    enabled: bool = True
    folds: int = 5
    c: float = 10.0
    min_df: int = 2
    seed: int = 0
    drop: bool = False


@dataclass(frozen=True)
class LeakageConfig:
    enabled: bool = True
    golden_dir: str = "golden"
    ngram: int = 13
    near_dup: bool = True
    # golden sets whose adversarial probes (harness.adversarial, as suites/test_adversarial.py builds them) are
    # checked too; None: every set whose system turn is a label-router prompt, [] for none
    probes_from: list[str] | None = None


# The augmentation transforms and their default share of the augmented rows (harness.curation.augment).
# Content-free rows are few: they all carry the fallback label, which must not become the largest class.
AUGMENT_MIX: dict[str, float] = {"typo": 0.25, "casing": 0.15, "spacing": 0.15, "framing": 0.15, "long": 0.10,
                                 "markup": 0.15, "content_free": 0.05}  # fmt: skip


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = False  # off unless a config turns it on: synthetic rows must earn their place in an ablation
    share: float = 0.10  # augmented rows' share of the final train split
    seed: int = 0
    mix: dict[str, float] = field(default_factory=lambda: dict(AUGMENT_MIX))  # weights, normalised to sum to 1
    fallback_label: str | None = None  # content-free rows' label; None: the only entry of extra_labels


@dataclass(frozen=True)
class SplitConfig:
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class ReportConfig:
    golden_set: str | None = None


@dataclass(frozen=True)
class CurateConfig:
    sources: list[SourceConfig]
    output_dir: str | None = None  # default runs/<task>/data
    labels: str | None = None  # JSON list of allowed labels
    extra_labels: list[str] = field(default_factory=list)  # allowed too, e.g. a fallback label not in the file
    prompt: PromptConfig = field(default_factory=PromptConfig)
    schema: SchemaConfig = field(default_factory=SchemaConfig)
    exact_dedup: ExactDedupConfig = field(default_factory=ExactDedupConfig)
    near_dup: NearDupConfig = field(default_factory=NearDupConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    pii: PIIConfig = field(default_factory=PIIConfig)
    label_noise: LabelNoiseConfig = field(default_factory=LabelNoiseConfig)
    leakage: LeakageConfig = field(default_factory=LeakageConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    report: ReportConfig = field(default_factory=ReportConfig)


@dataclass(frozen=True)
class Curation:
    """A loaded config: the `curate:` section plus where it came from."""

    task: str
    curate: CurateConfig
    config_path: Path
    root: Path

    def path(self, relative: str) -> Path:
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def output_dir(self) -> Path:
        return self.path(self.curate.output_dir or f"runs/{self.task}/data")


def load(config_path: Path, root: Path | None = None) -> Curation:
    """Read and check a config file; raises CurationError naming file:line and key path."""
    if not config_path.is_file():
        raise CurationError(f"{config_path}: config file not found — check the path given to --config")
    text = config_path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CurationError(f"{config_path}: not valid YAML: {error}") from None
    lines = _key_lines(node) if node is not None else {}
    where = _Where(config_path, lines)
    if not isinstance(data, dict):
        raise CurationError(f"{config_path}: expected a mapping with keys `task` and `curate` at the top")
    task = data.get("task")
    if not isinstance(task, str) or not task.strip():
        raise CurationError(f"{where(('task',))}: task: missing or not a string — add e.g. `task: banking77`")
    if not isinstance(data.get("curate"), dict):
        raise CurationError(f"{where(('curate',))}: curate: missing or not a mapping — add a `curate:` section")
    curate = _build(CurateConfig, data["curate"], ("curate",), where)
    curation = Curation(task, curate, config_path, root or _project_root(config_path))
    _check(curation, where)
    return curation


def _project_root(config_path: Path) -> Path:
    for directory in config_path.resolve().parents:
        if (directory / "pyproject.toml").is_file():
            return directory
    return Path.cwd()


class _Where:
    """`file:line` for a key path, so every message points at the line to edit."""

    def __init__(self, path: Path, lines: dict[tuple[str | int, ...], int]) -> None:
        self.path, self.lines = path, lines

    def __call__(self, keys: tuple[str | int, ...]) -> str:
        for end in range(len(keys), 0, -1):
            if keys[:end] in self.lines:
                return f"{self.path}:{self.lines[keys[:end]]}"
        return str(self.path)


def _key_lines(node: yaml.Node, prefix: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], int]:
    lines: dict[tuple[str | int, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            lines[path] = key.start_mark.line + 1
            lines.update(_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*prefix, i)] = item.start_mark.line + 1
            lines.update(_key_lines(item, (*prefix, i)))
    return lines


def _dotted(keys: tuple[str | int, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")


def _build(cls: type, data: Any, keys: tuple[str | int, ...], where: _Where) -> Any:
    """A dataclass from a mapping: every key known, every value of its declared type."""
    if not isinstance(data, dict):
        raise CurationError(f"{where(keys)}: {_dotted(keys)}: expected a mapping, got {_type_name(data)}")
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            raise CurationError(
                f"{where((*keys, key))}: {_dotted((*keys, key))}: unknown key — valid keys: {', '.join(known)}"
            )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, spec in known.items():
        if name in data:
            values[name] = _convert(data[name], hints[name], (*keys, name), where)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise CurationError(f"{where(keys)}: {_dotted((*keys, name))}: missing — add it")
    return cls(**values)


def _convert(value: Any, hint: Any, keys: tuple[str | int, ...], where: _Where) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, keys, where)
    if is_dataclass(hint):
        return _build(hint, value, keys, where)  # type: ignore[arg-type]
    if origin is list:
        if not isinstance(value, list):
            raise CurationError(f"{where(keys)}: {_dotted(keys)}: expected a list, got {_type_name(value)}")
        return [_convert(item, args[0], (*keys, i), where) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise CurationError(f"{where(keys)}: {_dotted(keys)}: expected a mapping, got {_type_name(value)}")
        return {str(k): _convert(v, args[1], (*keys, str(k)), where) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
        raise CurationError(
            f"{where(keys)}: {_dotted(keys)}: expected {_TYPE_NAMES.get(hint, hint.__name__)}, "
            f"got {value!r} — fix the value"
        )
    return value


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value), f"{value!r}")


Problem = tuple[tuple[str | int, ...], str]


def _check(curation: Curation, where: _Where) -> None:
    """Constraints between values, and paths that must exist, checked before any work starts."""
    problems = _path_problems(curation) + _value_problems(curation.curate)
    if problems:
        keys, message = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CurationError(f"{where(keys)}: {_dotted(keys)}: {message}{more}")


def _path_problems(curation: Curation) -> list[Problem]:
    c = curation.curate
    problems: list[Problem] = []
    if not c.sources:
        problems.append((("curate", "sources"), "no sources — list at least one file"))
    names = [Path(s.path).name for s in c.sources]
    for i, source in enumerate(c.sources):
        if not curation.path(source.path).exists():
            problems.append((("curate", "sources", i, "path"), f"{source.path} does not exist — fix the path"))
        if source.format not in ("auto", "csv", "jsonl", "hf"):
            problems.append((("curate", "sources", i, "format"), f"{source.format!r}: use auto, csv, jsonl or hf"))
        if source.answer_field is not None and source.label_field is not None:
            problems.append((("curate", "sources", i, "answer_field"), "a row's answer is either a class label or "
                             "free text: with answer_field, set label_field: null"))
        if names.count(names[i]) > 1:
            problems.append((("curate", "sources", i, "path"), f"two sources named {names[i]}: row ids would clash"))
    for keys, path in ((("curate", "labels"), c.labels), (("curate", "prompt", "system_from"), c.prompt.system_from)):
        if path is not None and not curation.path(path).is_file():
            problems.append((keys, f"{path} does not exist — fix the path"))
    golden_dir = curation.path(c.leakage.golden_dir)
    for i, name in enumerate(c.leakage.probes_from or []):
        if not (golden_dir / name / "cases.jsonl").is_file():
            problems.append((("curate", "leakage", "probes_from", i), f"no golden set {name!r} under {golden_dir}"))
    return problems + _fallback_problems(curation)


def fallback_label(c: CurateConfig) -> str | None:
    """The label content-free augmented rows get: augment.fallback_label, else the only extra label (the
    router's fallback is the label a task adds to its intent list; with several, which one is ambiguous)."""
    if c.augment.fallback_label is not None:
        return c.augment.fallback_label
    return c.extra_labels[0] if len(c.extra_labels) == 1 else None


def _fallback_problems(curation: Curation) -> list[Problem]:
    """Content-free rows need a fallback label, and one the label list allows."""
    c, keys = curation.curate, ("curate", "augment", "fallback_label")
    if not c.augment.enabled or not c.augment.mix.get("content_free"):
        return []
    label = fallback_label(c)
    if label is None:
        return [(keys, f"content-free rows need a label and extra_labels {c.extra_labels} does not name exactly one "
                       "— set fallback_label (e.g. out_of_scope) or mix.content_free: 0")]  # fmt: skip
    allowed = _label_file(curation)
    if allowed is not None and label not in allowed and label not in c.extra_labels:
        return [(keys, f"{label!r} is neither in {c.labels} nor in extra_labels — add it to extra_labels")]
    return []


def _label_file(curation: Curation) -> list[str] | None:
    """The label list's entries, or None when there is none or it is unreadable (the pipeline reports that)."""
    if curation.curate.labels is None:
        return None
    try:
        labels = json.loads(curation.path(curation.curate.labels).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return labels if isinstance(labels, list) else None


def _value_problems(c: CurateConfig) -> list[Problem]:
    problems: list[Problem] = []
    if c.prompt.system is not None and c.prompt.system_from is not None:
        problems.append((("curate", "prompt"), "give system or system_from, not both"))
    fractions = (c.split.train, c.split.val, c.split.test)
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9 or c.split.train <= 0:
        problems.append((("curate", "split"), f"train/val/test = {fractions} must be >= 0 and sum to 1"))
    thresholds = {"near_dup": c.near_dup.threshold, "semantic": c.semantic.threshold, "pii": c.pii.max_fraction}
    for section, threshold in thresholds.items():
        if not 0 < threshold <= 1:
            key = "max_fraction" if section == "pii" else "threshold"
            problems.append((("curate", section, key), f"{threshold} must be in (0, 1]"))
    near, noise = c.near_dup, c.label_noise
    minimums = {("near_dup", "bands"): (near.bands, 2), ("near_dup", "rows"): (near.rows, 1),
                ("near_dup", "ngram"): (near.ngram, 1), ("leakage", "ngram"): (c.leakage.ngram, 1),
                ("semantic", "block_size"): (c.semantic.block_size, 1), ("label_noise", "folds"): (noise.folds, 2),
                ("schema", "max_chars"): (c.schema.max_chars, 1)}  # fmt: skip
    for keys, (number, least) in minimums.items():
        if number < least:
            problems.append((("curate", *keys), f"{number} is too small — use at least {least}"))
    return problems + _augment_problems(c.augment)


def _augment_problems(a: AugmentConfig) -> list[Problem]:
    """share a fraction, mix keys known transforms with non-negative weights, some weight somewhere."""
    keys = ("curate", "augment")
    problems: list[Problem] = []
    if not 0 < a.share < 1:
        problems.append(((*keys, "share"), f"{a.share} must be in (0, 1): the augmented rows' share of train"))
    for name, weight in a.mix.items():
        if name not in AUGMENT_MIX:
            problems.append(((*keys, "mix", name), f"unknown transform — valid: {', '.join(AUGMENT_MIX)}"))
        elif weight < 0:
            problems.append(((*keys, "mix", name), f"{weight} is negative — use a weight >= 0"))
    if not sum(w for w in a.mix.values() if w > 0):
        problems.append(((*keys, "mix"), "no transform has a weight above 0 — give one, or set enabled: false"))
    return problems
