"""reports/<run>/report.html from outside: written at the end of every run with gates (serially and with
xdist), self-contained, readable for empty and old-format results, with long texts and lists cut visibly;
and rendered by a real headless Chromium (one integration test, skipped when Chromium is absent)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import gates
from harness.gates import GateFailure, GateResult
from harness.golden.lock import freeze
from harness.report import html as report_html

ROUTES = [  # id, query, expected intent, the model's answer, the baseline's answer
    ("r-01", "where is my card", "card_arrival", "card_arrival", "card_arrival"),
    ("r-02", "my new card still has not come", "card_arrival", "card_linking", "card_arrival"),
    ("r-03", "link my card to the app", "card_linking", "card_linking", "Sure! To link a card, open the app"),
    ("r-04", "how do I add my card", "card_linking", "card_linking", "card_linking"),
    ("r-05", "what rate do you use for euros", "exchange_rate", "exchange_rate", "exchange_rate"),
    ("r-06", "is the dollar rate fair", "exchange_rate", "Label: exchange rate.", "top_up_failed"),
    ("r-07", "my top up did not work", "top_up_failed", "top_up_failed", "top_up_failed"),
    ("r-08", "top-up declined", "top_up_failed", "exchange_rate", "top_up_failed"),
    ("r-09", "card never arrived", "card_arrival", "I cannot help with that.\n" + "blah " * 200, "card_arrival"),
]  # fmt: skip
FAQ = [  # id, question, reference answer, the model's answer
    ("f-1", "How long does delivery take?", "Cards arrive within five working days.", "Cards arrive in five days."),
    ("f-2", "Can I freeze my card?", "Yes, freeze it in the app under Card settings.", "Yes, in the app."),
    ("f-3", "Is there a fee for top-ups?", "Top-ups by bank transfer are free.", "I do not know."),
    ("f-4", "Which currencies?", "You can hold 30 currencies.", "You can hold 30 currencies."),
]

CONFTEST = f"""
import pytest
from harness.cache import GenerationCache
from harness.models.cached import CachedModel
from harness.testing import FakeModel

ROUTES = {ROUTES!r}
FAQ = {FAQ!r}
MODEL = {{query: answer for _, query, _, answer, _ in ROUTES}} | {{q: answer for _, q, _, answer in FAQ}}
BASELINE = {{query: answer for _, query, _, _, answer in ROUTES}}


def fake(answers, label, tmp_path_factory):
    backend = FakeModel(lambda messages: answers[messages[-1]["content"]], label=label, delay_s=0.002)
    return CachedModel(backend, GenerationCache(tmp_path_factory.mktemp("cache") / "g.sqlite", enabled=False), {{}})


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    return fake(MODEL, "fake:candidate", tmp_path_factory)


@pytest.fixture(scope="session")
def baseline(tmp_path_factory):
    return fake(BASELINE, "fake:baseline", tmp_path_factory)
"""

ROUTING_SUITE = """
from harness import gate, metrics


def test_routing(model, baseline, golden):
    cases = golden("routes")
    answers = model.generate([c.prompt() for c in cases])
    before = baseline.generate([c.prompt() for c in cases])
    correct = [metrics.label_match(a, c.expected) for a, c in zip(answers, cases)]
    base_ok = [metrics.label_match(b, c.expected) for b, c in zip(before, cases)]
    gate.measure("routes.baseline_accuracy", base_ok, cases=cases, outputs=before)
    gate.no_regression("routes.no_regression", correct, base_ok, max_drop=0.5, cases=cases, outputs=answers,
                       baseline_outputs=before)
    gate.at_least("routes.accuracy", correct, 0.9, cases=cases, outputs=answers)
"""

FAQ_SUITE = """
from harness import gate, metrics, report


def test_answers(model, golden):
    cases = golden("faq")
    answers = model.generate([c.prompt() for c in cases])
    scores = [metrics.rouge_l(a, c.expected) for a, c in zip(answers, cases)]
    gate.at_least("faq.rouge_l", scores, 0.05, cases=cases, outputs=answers)


def test_judge_is_calibrated():
    report.attach("judge_calibration", {"accuracy": 0.83, "kappa": 0.64, "position_bias_rate": 0.06,
                                        "trusted": True, "why": "kappa >= 0.6 and position bias <= 0.1", "n": 60,
                                        "cases": [{"id": "j-1", "human": 4, "judge": 3},
                                                  {"id": "j-2", "human": 2, "judge": 2}]})
    report.attach("data_stats", {"rows": 1200, "per_split": {"train": 1000, "test": 200}})
    report.attach("judge_rubric", {"items": {"f-1": {"score": 4, "reason": "mostly right"},
                                             "f-2": {"score": 1, "reason": "wrong"}}})
"""


@pytest.fixture
def project(tiny_project) -> pytest.Pytester:
    """Two frozen golden sets and a FakeModel candidate and baseline (the conftest overrides the fixtures)."""
    pytester = tiny_project("")
    for name, lines in (("routes", [{"id": i, "input": q, "expected": e} for i, q, e, _, _ in ROUTES]),
                        ("faq", [{"id": i, "input": q, "expected": e} for i, q, e, _ in FAQ])):  # fmt: skip
        path = pytester.path / "golden" / name / "cases.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    freeze(pytester.path / "golden", "report tests")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_routing=ROUTING_SUITE, test_faq=FAQ_SUITE)
    return pytester


def run_dir_of(project: pytest.Pytester) -> Path:
    [results] = (project.path / "reports").glob("*/results.json")
    return results.parent


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def assert_self_contained(page: str) -> None:
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    images = re.findall(r"<img [^>]*src=\"([^\"]{0,30})", page)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.DOTALL)
    assert match, f"no section #{anchor}"
    return match.group(1)


def test_a_run_writes_a_self_contained_report_next_to_results_json(project: pytest.Pytester) -> None:
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    run_dir = run_dir_of(project)
    result.stdout.fnmatch_lines([f"html:   reports/{run_dir.name}/report.html"])
    assert {p.name for p in run_dir.iterdir()} == {"results.json", "summary.md", "report.html"}
    page = (run_dir / "report.html").read_text()
    assert_self_contained(page)
    assert "1 of 3 gates failed: routes.accuracy" in page

    gate_table = section(page, "gates")
    order = [gate_table.index(f"<b>{name}</b>") for name in
             ("routes.accuracy", "faq.rouge_l", "routes.no_regression", "routes.baseline_accuracy")]  # fmt: skip
    assert order == sorted(order)  # the failed gate first, measured last
    assert '<tr class="fail"><td><b>routes.accuracy</b>' in gate_table

    classes = section(page, "classes")  # the model's answers and the baseline's, each once
    assert "answers scored by routes.accuracy, routes.no_regression (9 cases)" in classes
    assert "routes.baseline_accuracy, routes.no_regression [baseline] (9 cases)" in classes
    assert "<td>card_arrival</td><td>card_linking</td>" in classes  # r-02: a confused pair
    assert "<td>card_arrival</td><td>(other)</td>" in classes  # r-09 names no label
    assert 'alt="confusion matrix"' in classes and 'alt="per-class F1"' in classes

    assert 'alt="faq.rouge_l score histogram"' in section(page, "scores")
    flips = section(page, "flips")
    assert "3 lost (baseline passed, model failed), 2 gained, 4 unchanged" in flips
    assert flips.index("r-02") < flips.index("r-03")  # lost before gained
    assert '<span class="cut"> … [+' in flips  # r-09's 1000-character answer is cut, visibly

    cost = section(page, "cost")
    assert re.search(r"routes\.accuracy, routes\.no_regression \(9 cases\)</td><td class=\"num\">9</td>"
                     r"<td class=\"num\">0\.0\d\d s</td>", cost)  # fmt: skip
    judge = section(page, "judge")
    assert "Judge trusted: kappa &gt;= 0.6 and position bias &lt;= 0.1" in judge
    assert "<span>Cohen&#x27;s kappa</span><b>0.640</b>" in judge and "<code>n</code>" in judge
    assert "<code>cases</code>: 2 records" in judge and "<th>id</th><th>human</th><th>judge</th>" in judge
    extras = section(page, "extras")
    assert "<code>per_split.train</code></td><td class=\"text\">1000" in extras
    assert "<code>items</code>: 2 records" in extras and "<th>key</th><th>score</th><th>reason</th>" in extras

    cases = json.loads((run_dir / "results.json").read_text())["gates"][0]["cases"]
    assert all(c["prompt_tokens"] > 0 and c["completion_tokens"] > 0 and c["latency_s"] > 0 for c in cases)


def test_xdist_workers_gates_all_reach_the_html_report(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("-n", "2").assert_outcomes(passed=2, failed=1)
    page = (run_dir_of(project) / "report.html").read_text()
    assert_self_contained(page)
    for name in ("routes.accuracy", "routes.no_regression", "routes.baseline_accuracy", "faq.rouge_l"):
        assert f"<b>{name}</b>" in section(page, "gates")
    assert "<b>0.640</b>" in section(page, "judge")


# --- rendering results documents directly ---------------------------------------------------------------


def results_of(recorded: list[GateResult], **more: Any) -> dict[str, Any]:
    return {"models": {}, "gates": [r.to_record() for r in recorded], "extras": {}, **more}


def test_empty_runs_and_results_written_before_extras_and_token_counts_still_render() -> None:
    empty = report_html.render({"gates": []}, "empty")
    assert "No gates were recorded in this run." in empty and 'id="classes"' not in empty
    assert "<img" not in empty and not EXTERNAL.search(empty)
    old_case = {"id": "a", "passed": True, "score": 1.0, "input": "q", "output": "yes", "expected": "yes",
                "baseline_output": None, "baseline_passed": None, "latency_s": 0.5}  # fmt: skip
    old = {"models": {"model": {"label": "hf:x", "fingerprint": "f" * 64}}, "golden_limit": 40,
           "gates": [{"name": "old.acc", "kind": "at_least", "value": 1.0, "interval": [0.2, 1.0],
                      "threshold": 0.5, "passed": True, "message": "old.acc ok", "details": {},
                      "cases": [old_case]}]}  # fmt: skip
    nan_scores = {"name": "nan.scores", "kind": "measure", "value": 0.5, "interval": [0.0, 1.0], "threshold": 0.0,
                  "passed": True, "message": "", "details": {},
                  "cases": [{**old_case, "passed": None, "score": s} for s in (0.5, float("nan"))]}  # fmt: skip
    old["gates"].append(nan_scores)
    page = report_html.render(old, "old")
    assert "n=1 (1 NaN or infinite scores left out), mean 0.500" in page
    assert "Smoke run: 40 cases per golden set (--golden-limit). These gates are not a decision." in page
    assert "All 1 gates passed." in page
    assert '<td class="num">0.500 s</td><td class="num">0.500 s</td><td class="num">-</td>' in page


def test_many_labels_show_the_most_confused_classes_and_long_lists_are_cut(recorded: list[GateResult]) -> None:
    labels = [f"intent_{i:02d}" for i in range(40)]
    cases = [_Case(f"c-{i}", labels[i % 40]) for i in range(120)]
    answers = [labels[(i + 1) % 40] if i % 3 == 0 else labels[i % 40] for i in range(120)]
    correct = [a == c.expected for a, c in zip(answers, cases, strict=True)]
    with pytest.raises(GateFailure):
        gates.at_least("many.accuracy", correct, 0.9, cases=cases, outputs=answers)
    page = report_html.render(results_of(recorded), "many")
    assert 'alt="the 12 most-confused of 40 classes"' in page
    assert "… 15 more pairs not shown; results.json has them all." in page  # 40 confused pairs, 25 shown


class _Case:
    def __init__(self, case_id: str, expected: str) -> None:
        self.id, self.expected, self.input = case_id, expected, f"query {case_id}"


# --- a real browser -------------------------------------------------------------------------------------

CHECK_SCRIPT = """<script>
addEventListener("load", () => {
  const images = [...document.images];
  const loaded = images.filter((image) => image.complete && image.naturalWidth > 0).length;
  const marker = document.createElement("div");
  marker.id = "render-check";
  marker.textContent = `images=${images.length} loaded=${loaded} gate_rows=${document.querySelectorAll(
    "#gates tr").length} overflow=${document.documentElement.scrollWidth > innerWidth}`;
  document.body.append(marker);
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed: `apt-get install -y chromium` (.ci/run does it where apt works)")
    return found


def browse(tmp_path: Path, page: Path, *args: str) -> str:
    command = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--mute-audio",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,2400",
               "--virtual-time-budget=10000", *args, page.as_uri()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.integration
def test_chromium_renders_the_gate_table_and_every_plot(project: pytest.Pytester, tmp_path: Path) -> None:
    project.runpytest().assert_outcomes(passed=2, failed=1)
    report = run_dir_of(project) / "report.html"
    checked = tmp_path / "checked.html"  # the report plus a probe script; the report itself has no script
    checked.write_text(report.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))

    dom = browse(tmp_path, checked, "--dump-dom")
    marker = re.search(r'<div id="render-check">images=(\d+) loaded=(\d+) gate_rows=(\d+) overflow=(\w+)</div>', dom)
    assert marker, dom[-2000:]
    images, loaded, gate_rows, overflow = marker.groups()
    assert int(images) >= 5 and loaded == images  # per-class F1 ×2, confusion ×2, histogram: all decoded
    assert gate_rows == "5" and overflow == "false"  # header + 4 gates; nothing wider than the window
    assert "<b>routes.accuracy</b>" in dom

    screenshot = tmp_path / "report.png"
    browse(tmp_path, report, f"--screenshot={screenshot}")
    from PIL import Image

    with Image.open(screenshot) as image:
        assert image.size == (1280, 2400)
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 50  # text, pills and plots, not a blank page
