"""Preference pairs from corrections, in TRL's conversational DPO format (`harness traces pairs`).

    {"id": "t-…", "prompt": [{"role": "system", …}, {"role": "user", "content": "my card never came"}],
     "chosen": [{"role": "assistant", "content": "card_arrival"}],
     "rejected": [{"role": "assistant", "content": "card_linking"}]}

A trace a user corrected is a pair: the correction is preferred to what the model said, for the prompt the
model was given (with [tool.harness.production] system_from's system turn where the trace logged none, as
shadow replays it). `trl.DPOTrainer` reads such rows as they are (`datasets.load_dataset("json", …)`);
`id` points back at the trace. A correction is a user's word, not a reviewer's: for pairs a person has
confirmed, review the traces first (`harness traces review`) and keep the confirmed ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.production.shadow import prompts
from harness.production.traces import Trace


def pairs(traces: Sequence[Trace], system: str | None = None) -> list[dict[str, Any]]:
    """One pair per trace whose correction differs from its output (ignoring surrounding whitespace)."""
    corrected = [t for t in traces if t.correction is not None and t.correction.strip() != t.output.strip()]
    return [{"id": t.id, "prompt": prompt, "chosen": [{"role": "assistant", "content": t.correction}],
             "rejected": [{"role": "assistant", "content": t.output}]}
            for t, prompt in zip(corrected, prompts(corrected, system), strict=True)]  # fmt: skip


def write(rows: Sequence[dict[str, Any]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
