"""A curated dataset dir as the data suites see it: the three splits and curation.json, read back from
disk (the suites judge what was written, not what the pipeline remembers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.curation.config import CurationError
from harness.curation.report import CURATION_FILE
from harness.curation.split import SPLITS
from harness.golden import display_path

REQUIRED = ("train.jsonl", CURATION_FILE)


@dataclass(frozen=True)
class Row:
    split: str
    line: int
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data.get("id", f"{self.split}.jsonl:{self.line}"))

    @property
    def label(self) -> str | None:
        label = self.data.get("label")
        return None if label is None else str(label)

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.data.get("messages") or [])

    def user_turns(self) -> list[str]:
        return [str(m.get("content", "")) for m in self.messages if m.get("role") == "user"]


@dataclass(frozen=True)
class CuratedDataset:
    path: Path
    splits: dict[str, list[Row]]
    curation: dict[str, Any]

    @property
    def rows(self) -> list[Row]:
        return [row for name in SPLITS for row in self.splits.get(name, [])]

    @property
    def has_classes(self) -> bool:
        """Whether the answers are class labels: False when every source of the curation run gave free-text
        answers (`answer_field`: an extraction or generation task), which have no classes to count."""
        sources = (self.curation.get("parameters") or {}).get("sources") or []
        return not sources or any(source.get("answer_field") is None for source in sources)

    @property
    def labels(self) -> list[str] | None:
        """The configured label list from curation.json, if the run had one."""
        labels = self.curation.get("labels")
        return list(labels) if isinstance(labels, list) else None


def problem(path: Path) -> str | None:
    """Why `path` is not a curated dataset dir (cheap: for start-up checks), or None."""
    if not path.is_dir():
        return f"{display_path(path)}: no such directory — run `harness curate --config ...` first"
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        return f"{display_path(path)}: {', '.join(missing)} missing — not a `harness curate` output dir"
    return None


def load_dataset(path: Path) -> CuratedDataset:
    if reason := problem(path):
        raise CurationError(reason)
    try:
        curation = json.loads((path / CURATION_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CurationError(f"{display_path(path / CURATION_FILE)}: not JSON ({error.msg})") from None
    splits = {name: _read(path / f"{name}.jsonl", name) for name in SPLITS if (path / f"{name}.jsonl").is_file()}
    return CuratedDataset(path, splits, curation)


def _read(path: Path, split: str) -> list[Row]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise CurationError(f"{display_path(path)}:{number}: not JSON ({error.msg})") from None
        if not isinstance(data, dict):
            raise CurationError(f"{display_path(path)}:{number}: expected a JSON object per line")
        rows.append(Row(split, number, data))
    return rows
