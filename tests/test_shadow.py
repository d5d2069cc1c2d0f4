"""Shadow comparison: agreement, flips, slices and the paired accuracy on corrected traces (FakeModel routers);
`harness shadow` on tiny real models; and `harness promote` refusing a candidate through the shadow gate.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness import gates
from harness.cache import GenerationCache
from harness.cli import main
from harness.gates import GateFailure, GateResult, GateSettings
from harness.golden import generation_settings
from harness.models.cached import CachedModel
from harness.production import shadow
from harness.production.traces import Trace
from harness.testing import FakeModel
from tests.tiny_models import CORPUS, build_tiny_adapter

LABELS = ["card_arrival", "top_up_failed", "exchange_rate", "lost_or_stolen_card"]


def traces(n: int = 100, **fields: Any) -> list[Trace]:
    """n traces; query i belongs to LABELS[i % 4], its channel is web for the first half and app for the rest."""
    start = datetime(2025, 6, 2, tzinfo=UTC)
    return [Trace(f"t-{i}", start + timedelta(minutes=i), "3", [{"role": "user", "content": f"query {i}"}],
                  LABELS[i % 4], tags={"channel": "web" if i < n // 2 else "app"}, **fields)
            for i in range(n)]  # fmt: skip


def router(flipped: Callable[[int], bool] = lambda i: False) -> Callable[[list[dict[str, str]]], str]:
    """Answers query i with its label, or card_linking when flipped(i)."""

    def respond(messages: list[dict[str, str]]) -> str:
        i = int(messages[-1]["content"].split()[-1])
        return "card_linking" if flipped(i) else LABELS[i % 4].replace("_", " ").title() + "."  # not yet normalised

    return respond


def model(respond: Callable[[list[dict[str, str]]], str], label: str, cache: GenerationCache) -> CachedModel:
    return CachedModel(FakeModel(respond, label=label), cache, {"max_new_tokens": 8})


# --- the comparison (FakeModel) ---------------------------------------------------------------------------


def test_the_champion_against_itself_agrees_everywhere_and_passes(cache, recorded: list[GateResult]) -> None:
    champion = model(router(), "fake:champion", cache)
    result = shadow.replay(traces(), champion, champion)
    assert result.agreement == 1.0 and result.flips() == []
    assert result.candidate[0] == "card_arrival"  # "Card Arrival." read as the label
    shadow.gate(result, 0.05)
    [passed] = recorded  # no corrected traces: no McNemar gate
    assert passed.name == "shadow.disagreement" and passed.passed and passed.interval[1] < 0.05


def test_a_candidate_flipping_ten_percent_of_labels_fails_a_five_percent_bar(cache, recorded) -> None:
    champion = model(router(), "fake:champion", cache)
    candidate = model(router(lambda i: i % 10 == 0), "fake:candidate", cache)
    result = shadow.replay(traces(), candidate, champion)
    assert result.agreement == pytest.approx(0.9)
    assert result.flips() == [(("card_arrival", "card_linking"), 5), (("exchange_rate", "card_linking"), 5)]
    with pytest.raises(GateFailure, match=r"shadow\.disagreement 0\.100 \[0\.055, 0\.174\] > 0\.05 \(10/100 cases; "
                                          r"worst: #t-0 card_arrival→card_linking, #t-10 exchange_rate→card_linking"):
        shadow.gate(result, 0.05)
    assert [c.id for c in recorded[0].cases if not c.passed][:3] == ["t-0", "t-10", "t-20"]


def test_the_configured_bar_wins_and_slices_show_where_they_disagree(cache, recorded) -> None:
    champion = model(router(), "fake:champion", cache)
    candidate = model(router(lambda i: i >= 50 and i % 10 == 0), "fake:candidate", cache)  # app traffic only
    result = shadow.replay(traces(), candidate, champion)
    assert result.slices("channel") == {"app": (5, 50), "web": (0, 50)}
    assert result.slice_names() == ["channel"]  # one model version served them: no version slice
    gates.configure(GateSettings(thresholds={"shadow.disagreement": 0.15}), recorded.append)
    shadow.gate(result)  # 5% observed, upper bound 0.11 <= 0.15 (configured), though > the 0.05 default
    lines = result.lines("fake:candidate", "fake:champion")
    assert "agreement: 95.0% of 100 trace(s); disagreement 5.0% [2.2%, 11.2%]" in lines
    assert "disagreement by channel: app 5/50 (10%), web 0/50 (0%)" in lines
    assert lines[lines.index("flips (champion -> candidate):") + 1 :][:2] == [
        "     3  exchange_rate -> card_linking", "     2  card_arrival -> card_linking"]


def test_on_corrected_traces_the_paired_accuracy_is_compared_with_mcnemar(cache, recorded) -> None:
    corrected = [Trace(t.id, t.timestamp, t.model_version, t.messages, t.output,
                       correction=LABELS[(int(t.id[2:]) + 1) % 4] if int(t.id[2:]) < 12 else None, tags=t.tags)
                 for t in traces()]  # fmt: skip
    champion = model(router(), "fake:champion", cache)  # wrong on all 12 corrected traces
    candidate = model(lambda m: LABELS[(int(m[-1]["content"].split()[-1]) + 1) % 4], "fake:candidate", cache)
    result = shadow.replay(corrected, candidate, champion)
    indices, ours, theirs = result.corrected()
    assert (len(indices), sum(ours), sum(theirs)) == (12, 12, 0)
    assert any(line.startswith("on 12 corrected trace(s): candidate 12 right, champion 0; candidate lost 0, "
                               "gained 12; McNemar p=0.000488") for line in result.lines("a", "b"))  # fmt: skip
    with pytest.raises(GateFailure, match="shadow.disagreement"):
        shadow.gate(result, 0.05)  # it disagrees everywhere: the disagreement gate still stops it
    assert [r.name for r in recorded] == ["shadow.disagreement"]

    worse = model(router(lambda i: i < 12), "fake:worse", cache)  # champion right where it is wrong
    fixed = [Trace(t.id, t.timestamp, "3", t.messages, t.output, correction=LABELS[int(t.id[2:]) % 4])
             for t in corrected]
    gates.configure(GateSettings(thresholds={"shadow.disagreement": 0.5}), recorded.append)
    with pytest.raises(GateFailure, match=r"shadow\.not_worse_on_corrections: .*McNemar p\(worse\)=0\.000244"):
        shadow.gate(shadow.replay(fixed, worse, champion))


def test_traces_logged_without_a_system_turn_are_replayed_after_the_production_prompt(cache) -> None:
    fake = FakeModel(router(), label="fake:champion")
    champion = CachedModel(fake, cache, {})
    with_system = traces(2)
    logged = [{"role": "system", "content": "Old prompt."}, {"role": "user", "content": "query 1"}]
    with_system[1] = Trace("t-1", with_system[1].timestamp, "3", logged, "x")
    shadow.replay(with_system, champion, champion, system="Route the message.")
    assert fake.generated[0] == [{"role": "system", "content": "Route the message."},
                                 {"role": "user", "content": "query 0"}]  # fmt: skip
    assert fake.generated[1][0] == {"role": "system", "content": "Old prompt."}  # as logged
    assert len(fake.generated) == 2  # the second model call was answered by the cache


def test_the_system_prompt_comes_from_a_golden_set() -> None:
    root = Path(__file__).resolve().parents[1] / "golden"
    assert shadow.system_prompt(root, "banking77").startswith("Classify the bank customer's message")


def test_a_replay_asks_as_the_served_sets_suites_do() -> None:
    """Same system turn and generation settings as the set's suites: the same answers, from the same cache."""
    root = Path(__file__).resolve().parents[1] / "golden"
    system, generation = shadow.served_as(root, "banking77")
    assert system == shadow.system_prompt(root, "banking77")
    assert generation == generation_settings(root, "banking77") == {"max_new_tokens": 20}
    assert shadow.served_as(root, "") == (None, {})


# --- `harness shadow` on tiny real models -----------------------------------------------------------------


def tiny_prompts(n: int = 100) -> list[str]:
    """n distinct prompts in the tiny tokenizer's vocabulary."""
    words = sorted(set(" ".join(CORPUS[:5]).split()))
    return [f"{a} {b}" for a, b in itertools.islice(itertools.permutations(words, 2), n)]


def write_store(root: Path, prompts: Sequence[str], name: str = "traces") -> Path:
    start = datetime(2025, 6, 2, tzinfo=UTC)
    rows = [{"text": p, "output": "x", "model_version": "1", "timestamp": (start + timedelta(minutes=i)).isoformat()}
            for i, p in enumerate(prompts)]  # fmt: skip
    export = root / f"{name}.jsonl"
    export.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["traces", "import", str(export), "--store", str(root / name)]) == 0
    return root / name


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.harness.models]\nbase = "hf:{tiny_model_dir}"\n[tool.harness.generation]\nmax_new_tokens = 4\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_shadow_command_agrees_with_itself_and_refuses_another_model(
    tiny_project: Path, tiny_adapter_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = write_store(tiny_project, tiny_prompts())
    capsys.readouterr()
    adapter = f"peft:{tiny_adapter_dir}"
    code = main(["shadow", "--candidate", adapter, "--champion", adapter, "--store", str(store), "--json", "same.json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "agreement: 100.0% of 100 trace(s); disagreement 0.0% [0.0%, 3.7%]" in out
    assert "gate shadow.disagreement: pass — shadow.disagreement 0.000 [0.000, 0.037] <= 0.05" in out
    assert json.loads((tiny_project / "same.json").read_text())["agreement"] == 1.0

    code = main(["shadow", "--candidate", "base", "--champion", adapter, "--store", str(store)])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    assert "flips (champion -> candidate):" in captured.out
    assert "harness: refused: shadow.disagreement 1.000 [0.963, 1.000] > 0.05" in captured.err


def test_shadow_in_a_project_of_two_tasks_asks_which_champion(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    with (tiny_project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('[tool.harness.tasks.a]\nsuites = ["suites/test_a.py"]\nmodel_name = "a-model"\n'
                        '[tool.harness.tasks.b]\nsuites = ["suites/test_b.py"]\nmodel_name = "b-model"\n')  # fmt: skip
    store = write_store(tiny_project, tiny_prompts())
    capsys.readouterr()

    assert main(["shadow", "--candidate", "base", "--store", str(store)]) == 2
    ambiguous = "'champion' is ambiguous in a project of 2 tasks: name one (champion:a, champion:b)"
    assert ambiguous in capsys.readouterr().err
    assert main(["shadow", "--candidate", "base", "--store", str(store), "--task", "b"]) == 2
    err = capsys.readouterr().err
    assert "no 'champion' in the model registry yet (model 'b-model'" in err  # task b's champion was asked for
    assert "`harness promote --task b --adapter DIR`" in err


# --- promotion requires the shadow gate through config --------------------------------------------------

TOY_SUITE = """
from harness import gate


def test_answers(model, golden):
    cases = golden("toy")
    answers = model.generate([case.prompt() for case in cases])
    gate.at_least("toy.answered", [bool(a.text.strip()) for a in answers], cases=cases, outputs=answers)
"""


def test_promote_with_a_trace_store_configured_refuses_a_candidate_the_shadow_gate_stops(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path, registry_uri: str,
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from harness.golden.lock import freeze

    root = tmp_path / "project"
    (root / "suites").mkdir(parents=True)
    (root / "suites" / "test_toy.py").write_text(TOY_SUITE)
    suite = Path(__file__).resolve().parents[1] / "suites" / "test_production.py"
    (root / "suites" / "test_production.py").write_text(suite.read_text())
    (root / "pyproject.toml").write_text(
        f'[tool.harness.models]\nbase = "hf:{tiny_model_dir}"\n[tool.harness.generation]\nmax_new_tokens = 4\n'
        f'[tool.harness.registry]\ntracking_uri = "{registry_uri}"\nmodel_name = "tiny-router"\n'
        '[tool.harness.production]\nstore = "traces"\n[tool.harness.gates]\n"shadow.disagreement" = 0.05\n'
        '"shadow.not_worse_on_corrections" = 0.05\n"production.input_drift" = 0.01\n"production.label_shift" = 0.01\n'
        '"toy.answered" = 0.0\n'  # a bar every adapter clears: here only the shadow gate can refuse
    )
    golden = root / "golden" / "toy" / "cases.jsonl"
    golden.parent.mkdir(parents=True)
    golden.write_text("".join(json.dumps({"id": f"g-{i}", "input": p, "expected": "x"}) + "\n"
                              for i, p in enumerate(tiny_prompts(8))))  # fmt: skip
    freeze(root / "golden", "toy prompts")
    monkeypatch.chdir(root)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    write_store(root, tiny_prompts())
    other = build_tiny_adapter(tiny_model_dir, tmp_path / "other", seed=2)
    capfd.readouterr()

    assert main(["promote", "--adapter", str(tiny_adapter_dir)]) == 0  # the first champion: nothing to shadow
    out = capfd.readouterr().out
    assert f"--traces={root / 'traces'}" in out
    assert "  - suites.test_production (2 tests) (skipped: no --drift-reference given" in out  # drift: not promote's
    assert "  - suites.test_production (2 tests) (skipped: no 'champion' in the model registry yet" in out

    code = main(["promote", "--adapter", str(other)])
    out = capfd.readouterr().out
    assert code == 1, out
    assert "shadow.disagreement 0.9" in out and "> 0.05" in out
    assert "decision:   REFUSE\n  - gate(s) failed: shadow.disagreement\n" in out
    assert "  - toy.answered: " in out and ": not worse" in out  # the golden gates alone would have promoted it
