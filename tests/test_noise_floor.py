"""The forgetting gate's noise floor: flips counted against the reference run, and the regression builder
dropping the passes that flipped (and their twins) with the reason recorded."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

from harness.golden import GoldenCase, load_set
from harness.noise_floor import VariantRun, flips

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
BUILD = GOLDEN / "regression" / "build.py"


def _builder(path: Path = BUILD) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flips_are_counted_against_the_reference_in_both_directions() -> None:
    ids = ["a", "b", "c", "d"]
    negative, positive = flips([True, True, False, False], [True, False, True, False], ids)
    assert (negative, positive) == (["b"], ["c"])
    record = VariantRun("bf16", [True, False, True, False], negative, positive).to_json(reference_passes=2)
    assert record == {"passes": 2, "negative_flips": ["b"], "positive_flips": ["c"], "negative_flip_share": 0.5}


def _case(case_id: str, *tags: str) -> GoldenCase:
    return GoldenCase(id=case_id, input=f"say {case_id}", expected=[{"check": "contains_all", "words": ["ok"]}],
                      tags=["fact", *tags])  # fmt: skip


def test_the_builder_drops_noisy_passes_and_their_twins_and_says_why(tmp_path: Path) -> None:
    build = _builder()
    pool = [_case("steady"), _case("hair"), _case("twin-a", "twin:t"), _case("twin-b", "twin:t"), _case("wrong")]
    outputs = ["ok", "ok", "ok", "ok", "no"]
    record = {"variants": {"bf16": {"negative_flips": ["hair", "twin-a"]},
                           "null-adapter": {"negative_flips": ["hair"]}}}  # fmt: skip
    (tmp_path / "noise.json").write_text(json.dumps(record))
    noisy = build.noise_flips(tmp_path / "noise.json")
    assert noisy == {"hair": ["bf16", "null-adapter"], "twin-a": ["bf16"]}

    kept, dropped = build.select(pool, outputs, noisy)
    assert [c.id for c in kept] == ["steady"]
    why = {d["id"]: d["why"] for d in dropped}
    assert why == {"hair": "passed, but flipped under bf16, null-adapter (noise floor)",
                   "twin-a": "passed, but flipped under bf16 (noise floor)",
                   "twin-b": "passed, but its twin failed", "wrong": "failed its checks"}  # fmt: skip
    assert build.noise_flips(tmp_path / "missing.json") == {}  # no record: every pass counts, as before


def test_every_variant_runs_and_batching_changes_no_answer(tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    """On a tiny real model: the reference passes its own answers, and batch sizes 1 and 5 (other padding,
    other neighbours) give exactly those answers again, as the Banking77 measurement found."""
    from harness.models.hf import HFSource, HFWeights
    from harness.noise_floor import generate, measure

    prompts = [f"say something about {word}" for word in ("cats", "the sea", "a long green river", "x", "tea", "sun")]
    reference = [a.text for a in generate(HFWeights(HFSource(tiny_model_dir)), prompts, 4, batch_size=16, label="t")]
    passed, variants = measure(tiny_model_dir, tiny_adapter_dir, prompts, [f"c{i}" for i in range(len(prompts))],
                               lambda i, text: text == reference[i], max_new_tokens=4, batch_size=16)  # fmt: skip
    assert passed == [True] * len(prompts)
    by_name = {v.name: v for v in variants}
    assert set(by_name) == {"bf16", "batch1", "batch5", "null-adapter"}
    assert by_name["batch1"].negative_flips == [] and by_name["batch5"].negative_flips == []


def test_the_dev_set_asks_the_regression_sets_kinds_of_question_about_other_items() -> None:
    """The eval gate's forgetting vote replays golden/regression_dev so that the checkpoint it keeps is
    scored fairly by the regression suite: the pools share families, checks and formats, never a prompt."""
    build, dev = _builder(), _builder(GOLDEN / "regression_dev" / "build.py")
    pool, dev_pool = build.candidate_pool(), dev.regression.candidate_pool(dev.DEV)
    assert not {repr(c.prompt()) for c in pool} & {repr(c.prompt()) for c in dev_pool}
    assert not {c.id for c in pool} & {c.id for c in dev_pool}
    assert Counter(map(build.family, pool)) == Counter(map(build.family, dev_pool))
    shipped = {c.id for c in load_set(GOLDEN, "regression_dev")}
    assert shipped <= {c.id for c in dev_pool}  # every shipped case comes from the dev pool
    assert not {repr(c.prompt()) for c in load_set(GOLDEN, "regression")} & {
        repr(c.prompt()) for c in load_set(GOLDEN, "regression_dev")
    }
