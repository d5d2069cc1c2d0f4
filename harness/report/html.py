"""`reports/<run>/report.html`: the run's results for a person to read, in one self-contained file.

Built only from the `results.json` document (nothing is re-run), so it can be rebuilt from any old run.
Everything is inline: the CSS is a module constant and the plots are PNGs rendered by matplotlib's Agg
canvas (imported lazily, without pyplot's global state) and embedded as base64, so the file opens offline,
from an artifact store or an e-mail attachment, with nothing fetched. Long texts and long lists are cut
with a visible marker; results.json keeps everything.

Sections, most decisive first: the verdict and run header, the gate table (failed gates first), then
what explains a verdict: confusions of classification gates, score distributions, regression flips
against the baseline, latency and tokens, the judge's calibration and any other attached extras.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.gate_results import from_record, result_type
from harness.metrics import OTHER, classification_report, label_match, normalise_label
from harness.report.record import NO_DECISION, Verdict, verdict
from harness.report.summary import error_rows, gate_rows

HTML_FILE = "report.html"
TEXT_LIMIT = 280  # characters of a model output or input shown in a table cell
ROW_LIMIT = 25  # rows of a case list (flips, confused pairs, lowest scores) shown per table
MAX_F1_BARS = 80  # classes in a per-class F1 chart; past that, the worst ones
FULL_MATRIX_MAX = 12  # label sets up to this size get the whole confusion matrix
HEATMAP_CLASSES = 12  # otherwise: a heatmap of this many most-confused true classes

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;
  margin:0;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 20px 18px;margin:16px 0}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:0 0 10px}h3{font-size:14px;margin:18px 0 6px}
p.note{color:#57606a;font-size:12.5px;margin:4px 0 10px}
nav{font-size:13px;margin:6px 0 0}nav a{margin-right:14px;color:#0969da;text-decoration:none}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
table.cases{table-layout:fixed}table.cases th:first-child{width:90px}  /* lost and gained tables line up */
tr.fail td{background:#fff0ee}tr.fail td:first-child{box-shadow:inset 4px 0 0 #cf222e}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:600;font-size:12px}
.pill.fail{background:#cf222e;color:#fff}.pill.pass{background:#1a7f37;color:#fff}
.pill.measured{background:#eaeef2;color:#57606a}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}
.banner.fail{background:#ffebe9;border:1px solid #ff8182;color:#82071e}
.banner.pass{background:#dafbe1;border:1px solid #4ac26b;color:#116329}
.banner.warn{background:#fff8c5;border:1px solid #d4a72c;color:#633c01}
.msg{color:#57606a;font-size:12px;margin-top:2px;word-break:break-word}
.text{white-space:pre-wrap;word-break:break-word;max-width:340px}
.cut{color:#bc4c00;font-style:italic;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;padding:1px 4px;
  border-radius:4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:8px 0;font-size:13px}
dl.meta dt{color:#57606a}dl.meta dd{margin:0}
img.plot{max-width:100%;height:auto;display:block;margin:8px 0}
.plots{display:flex;gap:18px;align-items:flex-start}.plots img.plot{min-width:0;flex:0 1 auto}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}
.tile{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:130px}
.tile span{color:#57606a;font-size:12px}.tile b{display:block;font-size:20px}
"""


def write(run_dir: Path, results: Mapping[str, Any]) -> Path:
    """Write `run_dir/report.html` from a results.json document; returns its path."""
    path = run_dir / HTML_FILE
    path.write_text(render(results, run_dir.name), encoding="utf-8")
    return path


def render(results: Mapping[str, Any], title: str) -> str:
    """The whole page. Sections with nothing to show are left out rather than shown empty."""
    gates = list(results.get("gates", []))
    streams = _streams(gates)
    sections = [
        ("gates", "Gates", _gate_table(gates, results.get("tests"))),
        ("classes", "Classification", _classification(streams)),
        ("scores", "Score distributions", _distributions(gates)),
        ("flips", "Regression flips", _flips(gates)),
        ("cost", "Latency and tokens", _cost(streams)),
        ("judge", "Judge calibration", _judge(results.get("extras", {}).get("judge_calibration"))),
        ("extras", "Other attached data", _extras(results.get("extras", {}))),
    ]
    shown = [(anchor, heading, body) for anchor, heading, body in sections if body]
    nav = "".join(f'<a href="#{anchor}">{heading}</a>' for anchor, heading, _ in shown)
    body = "".join(f'<section id="{anchor}"><h2>{heading}</h2>{content}</section>' for anchor, heading, content
                   in shown)  # fmt: skip
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Eval run {_esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><main><section id=\"run\">{_header(results, title, gates)}<nav>{nav}</nav></section>{body}"
        "</main></body></html>\n"
    )


# --- header and gate table ------------------------------------------------------------------------------


def _header(results: Mapping[str, Any], title: str, gates: list[dict[str, Any]]) -> str:
    verdict_html = _verdict_banner(verdict(dict(results)), [g for g in gates if result_type(g).deciding], bool(gates))
    if limit := results.get("golden_limit"):
        verdict_html += (f'<div class="banner warn">Smoke run: {int(limit)} cases per golden set (--golden-limit). '
                         "These gates are not a decision.</div>")  # fmt: skip
    rows = [(role, f"<code>{_esc(info.get('label', '?'))}</code> fingerprint {_hash(info.get('fingerprint'))}")
            for role, info in results.get("models", {}).items()]  # fmt: skip
    if not rows:
        rows = [("models", '<span class="msg">not recorded: no test used the model or baseline fixture</span>')]
    rows += [("golden lock", _hash(results.get("golden_lock_hash"))), ("git commit", _hash(results.get("git_commit"))),
             ("started", _esc(results.get("started", "unknown")))]  # fmt: skip
    meta = "".join(f"<dt>{_esc(key)}</dt><dd>{value}</dd>" for key, value in rows)
    return f"<h1>Eval run {_esc(title)}</h1>{verdict_html}<dl class=\"meta\">{meta}</dl>"


def _verdict_banner(decided: Verdict, deciding: list[dict[str, Any]], any_gates: bool) -> str:
    """The run's verdict (harness.report.verdict, as in summary.md). A broken run says "not a decision" above
    all else; a smoke run keeps its gate banner and gets its own warning below."""
    failed = [g["name"] for g in deciding if not g["passed"]]
    if decided.broken:
        why = decided.headline.removeprefix("not a decision: ")
        return f'<div class="banner warn">Not a decision: {_esc(why)}</div>'
    if decided.decision == "fail":
        return f'<div class="banner fail">{_esc(decided.headline.removeprefix("FAIL: "))}</div>'
    if failed:  # a smoke run's failed gates
        names = _esc(", ".join(failed))
        return f'<div class="banner fail">{len(failed)} of {len(deciding)} gates failed: {names}</div>'
    if not any_gates:
        return '<div class="banner warn">No gates were recorded in this run.</div>'
    return f'<div class="banner pass">All {len(deciding)} gates passed.</div>'


def _hash(value: Any) -> str:
    """The first 12 characters, full value on hover: enough to tell runs apart, short enough to read."""
    if not value:
        return '<span class="msg">none</span>'
    return f'<code title="{_esc(value)}">{_esc(str(value)[:12])}</code>'


def _gate_table(gates: list[dict[str, Any]], tests: list[dict[str, Any]] | None = None) -> str:
    broken = [t for t in tests or [] if t["outcome"] in NO_DECISION]
    if not gates and not broken:
        return '<p class="note">No gates: nothing was decided in this run.</p>'

    def order(gate: dict[str, Any]) -> tuple[int, str]:
        return (0 if not gate["passed"] else 1 if result_type(gate).deciding else 2, gate["name"])

    rows = [_error_row(test, row) for test, row in zip(broken, error_rows(broken), strict=True)]
    for gate in sorted(gates, key=order):
        name, value, interval, bar, status = gate_rows([gate])[0]
        css = "fail" if status == "FAIL" else "measured" if status == "measured" else "pass"
        rows.append(
            f'<tr class="{"fail" if css == "fail" else ""}"><td><b>{_esc(name)}</b><div class="msg">'
            f"{_clip(gate.get('message', ''), 400)}</div></td><td>{_esc(gate['kind'])}</td>"
            f'<td class="num">{_esc(value)}</td><td class="num">{_esc(interval)}</td><td class="num">{_esc(bar)}</td>'
            f'<td><span class="pill {css}">{_esc(status)}</span></td></tr>'
        )
    head = "<tr><th>gate</th><th>kind</th><th>value</th><th>95% interval</th><th>bar</th><th>result</th></tr>"
    return (
        '<p class="note">Tests that errored first (their gates decided nothing), then failed gates. A gate in '
        "lower_bound mode passes when its interval's lower bound clears the bar; comparisons use exact McNemar "
        f"p-values.</p><table>{head}{''.join(rows)}</table>"
    )


def _error_row(test: Mapping[str, Any], row: tuple[str, str, str, str, str]) -> str:
    """A test that errored before its gates, as a row of the gate table: it must not go unseen there."""
    return (
        f'<tr class="fail"><td><b>{_esc(test["test"])}</b><div class="msg">{_clip(test.get("message", ""), 400)}'
        f'</div></td><td>test</td><td class="num">-</td><td class="num">-</td><td class="num">-</td>'
        f'<td><span class="pill fail">{_esc(row[4])}</span></td></tr>'
    )


# --- per-case streams -----------------------------------------------------------------------------------


@dataclass
class _Stream:
    """One model's answers to one set of cases. Several gates often score the same answers (accuracy,
    macro-F1, recall floor…); grouping them shows each set of answers once."""

    cases: list[dict[str, Any]]
    gates: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, list[Any]]] = field(default_factory=list)
    """(gate name, that gate's per-case passed) for every gate scoring these answers."""

    def title(self, names: Sequence[str] | None = None) -> str:
        names = list(names or self.gates)
        shown = ", ".join(names[:4]) + (f" +{len(names) - 4} more" if len(names) > 4 else "")
        return f"answers scored by {shown} ({len(self.cases)} cases)"


def _sides(gate: Mapping[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The gate's model answers, and for comparisons the baseline's (or reference's) answers too."""
    cases = gate.get("cases", [])
    yield gate["name"], [_side(case, "") for case in cases]
    typed = from_record(gate)
    if typed.compares:
        yield f"{gate['name']} [{typed.other_side}]", [_side(case, "baseline_") for case in cases]


def _side(case: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A case as seen from one side; records written before token counts existed simply lack them."""
    return {
        "id": case.get("id"), "input": case.get("input"), "expected": case.get("expected"),
        "output": case.get(prefix + "output"), "passed": case.get(prefix + "passed"),
        "latency_s": case.get(prefix + "latency_s"), "prompt_tokens": case.get(prefix + "prompt_tokens"),
        "completion_tokens": case.get(prefix + "completion_tokens"),
    }  # fmt: skip


def _streams(gates: list[dict[str, Any]]) -> list[_Stream]:
    found: dict[tuple[tuple[Any, Any], ...], _Stream] = {}
    for gate in sorted(gates, key=lambda g: g["name"]):
        for name, cases in _sides(gate):
            if not cases or all(case["output"] is None for case in cases):
                continue  # a gate given values only: no answers to show
            stream = found.setdefault(tuple((case["id"], case["output"]) for case in cases), _Stream(cases))
            _fill_missing(stream.cases, cases)
            stream.gates.append(name)
            stream.verdicts.append((name, [case["passed"] for case in cases]))
    return list(found.values())


def _fill_missing(cases: list[dict[str, Any]], more: list[dict[str, Any]]) -> None:
    """Take timings and token counts from another gate's record of the same answers when this one lacks
    them (e.g. a comparison's baseline side recorded before the baseline's latency was kept)."""
    for case, other in zip(cases, more, strict=True):
        for key in ("latency_s", "prompt_tokens", "completion_tokens"):
            if case[key] is None:
                case[key] = other[key]


# --- classification -------------------------------------------------------------------------------------


def _classification(streams: list[_Stream]) -> str:
    parts = []
    for stream in streams:
        gates = _label_gates(stream)
        if gates:
            parts.append(_classification_block(stream, gates))
    if not parts:
        return ""
    note = ('<p class="note">For gates whose verdict is "the answer names the expected label". An answer that '
            "names no known label counts as <code>(other)</code>.</p>")  # fmt: skip
    return note + "".join(parts)


def _label_gates(stream: _Stream) -> list[str]:
    """The gates of this stream that are classification gates: expected values are short labels (two or
    more distinct ones) and the gate passed exactly the cases whose answer names the expected label."""
    cases = stream.cases
    if not all(_is_label(case["expected"]) and isinstance(case["output"], str) for case in cases):
        return []
    if len({case["expected"] for case in cases}) < 2:
        return []
    matches = [label_match(case["output"], case["expected"]) for case in cases]
    return [name for name, passed in stream.verdicts if passed == matches]


def _is_label(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and "\n" not in value and len(value.split()) <= 4


def _classification_block(stream: _Stream, gates: list[str]) -> str:
    truth = [case["expected"] for case in stream.cases]
    scores = classification_report(truth, [case["output"] for case in stream.cases])
    per_class = sorted(scores.per_class.items(), key=lambda item: (item[1].f1, item[0]))
    zero = [label for label, s in per_class if s.f1 == 0]
    shown = [(label, s.f1) for label, s in per_class if s.f1 > 0][:MAX_F1_BARS]
    f1_plot = _png(_f1_figure([label for label, _ in shown], [f1 for _, f1 in shown]), "per-class F1") if shown else ""
    labels, matrix = list(scores.confusion_labels), scores.confusion
    rows, cols = _confusion_focus(labels, matrix)
    whole = len(labels) <= FULL_MATRIX_MAX
    what = "confusion matrix" if whole else f"the {len(rows)} most-confused of {len(scores.labels)} classes"
    # A perfect score on many classes leaves no confused class to draw: the pairs table below says so.
    matrix_plot = _png(_confusion_figure(labels, matrix, rows, cols, what), what) if rows and cols else ""
    known = set(scores.labels)
    predicted = [label if (label := normalise_label(case["output"])) in known else OTHER for case in stream.cases]
    summary = (f"accuracy {scores.accuracy:.3f}, macro-F1 {scores.macro_f1:.3f} over {len(known)} labels; "
               f"{predicted.count(OTHER)} of {len(predicted)} answers name no known label")  # fmt: skip
    if zero:
        summary += f". F1 is 0 for {len(zero)} of {len(per_class)} labels: " + ", ".join(zero[:12]) + (
            f", … (+{len(zero) - 12})" if len(zero) > 12 else "")  # fmt: skip
    if len(per_class) - len(zero) > MAX_F1_BARS:
        summary += f". The chart shows the {MAX_F1_BARS} lowest of the rest"
    return (
        f"<h3>{_esc(stream.title(gates))}</h3><p class=\"note\">{_esc(summary)}</p>"
        f'<div class="plots">{f1_plot}{matrix_plot}</div>'
        f"{_confused_pairs(stream.cases, [normalise_label(t) for t in truth], predicted)}"
    )


def _pair_order(item: tuple[tuple[str, str], int]) -> tuple[int, bool, str, str]:
    """Most frequent first; at equal counts one label mistaken for another before an answer naming no label,
    which says less about what the model confuses."""
    (expected, answered), count = item
    return (-count, answered == OTHER, expected, answered)


def _confused_pairs(cases: list[dict[str, Any]], truth: list[str], predicted: list[str]) -> str:
    pairs = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    if not pairs:
        return '<p class="note">No confusions: every answer named its expected label.</p>'
    example: dict[tuple[str, str], dict[str, Any]] = {}
    for case, t, p in zip(cases, truth, predicted, strict=True):
        example.setdefault((t, p), case)
    rows = [
        f'<tr><td>{_esc(t)}</td><td>{_esc(p)}</td><td class="num">{count}</td>'
        f"<td class=\"num\"><code>{_esc(example[(t, p)]['id'])}</code></td>"
        f'<td>{_clip(" ".join(str(example[(t, p)]["output"]).split()), 160)}</td></tr>'
        for (t, p), count in sorted(pairs.items(), key=_pair_order)[:ROW_LIMIT]
    ]
    return (
        "<h3>Most confused pairs</h3><table><tr><th>expected</th><th>answered</th><th>cases</th><th>e.g.</th>"
        f"<th>that answer</th></tr>{''.join(rows)}</table>{_more(len(pairs), ROW_LIMIT, 'pairs')}"
    )


# --- score distributions --------------------------------------------------------------------------------


def _distributions(gates: list[dict[str, Any]]) -> str:
    """Histograms for gates with per-case scores (ROUGE, judge scores…), which a mean alone hides."""
    parts = []
    for gate in sorted(gates, key=lambda g: g["name"]):
        cases = gate.get("cases", [])
        if not cases or any(case.get("passed") is not None for case in cases):
            continue
        scored = [case for case in cases if math.isfinite(case["score"])]
        if scored:
            parts.append(_score_block(gate, scored, len(cases) - len(scored)))
    return "".join(parts)


def _score_block(gate: Mapping[str, Any], cases: list[dict[str, Any]], non_finite: int) -> str:
    scores = [float(case["score"]) for case in cases]
    bar = from_record(gate).plot_bar
    plot = _png(_histogram_figure(scores, bar), f"{gate['name']} score histogram")
    rows = "".join(
        f'<tr><td class="num"><code>{_esc(case["id"])}</code></td><td class="num">{case["score"]:.3f}</td>'
        f'<td class="text">{_clip(case.get("input"))}</td><td class="text">{_clip(case.get("output"))}</td>'
        f'<td class="text">{_clip(case.get("expected"))}</td></tr>'
        for case in sorted(cases, key=lambda case: case["score"])[:5]
    )
    figures = f"n={len(scores)}{_non_finite(non_finite)}, mean {sum(scores) / len(scores):.3f}, "
    return (
        f"<h3>{_esc(gate['name'])}</h3><p class=\"note\">{figures}min {min(scores):.3f}, max {max(scores):.3f}</p>"
        f"{plot}<table><tr><th>lowest</th><th>score</th><th>input</th><th>answer</th><th>expected</th></tr>{rows}"
        "</table>"
    )


def _non_finite(count: int) -> str:
    return f" ({count} NaN or infinite scores left out)" if count else ""


# --- regression flips -----------------------------------------------------------------------------------


def _flips(gates: list[dict[str, Any]]) -> str:
    """Cases where the model and its baseline (or reference) disagree on pass/fail: lost ones first."""
    parts = []
    for gate in sorted(gates, key=lambda g: g["name"]):
        typed = from_record(gate)
        if not typed.compares:
            continue
        cases = [c for c in gate.get("cases", []) if c.get("baseline_passed") is not None]
        lost = [c for c in cases if c["baseline_passed"] and c.get("passed") is False]
        gained = [c for c in cases if not c["baseline_passed"] and c.get("passed")]
        other = typed.other_side
        unchanged = len(cases) - len(lost) - len(gained)
        parts.append(f"<h3>{_esc(gate['name'])}</h3><p class=\"note\">{len(lost)} lost ({other} passed, model "
                     f"failed), {len(gained)} gained, {unchanged} unchanged</p>")  # fmt: skip
        for label, flipped, css in (("lost", lost, "fail"), ("gained", gained, "")):
            if flipped:
                parts.append(_flip_table(label, flipped, css, other))
    return "".join(parts)


def _flip_table(label: str, cases: list[dict[str, Any]], css: str, other: str) -> str:
    columns = ("input", "expected", "output", "baseline_output")
    rows = "".join(
        f'<tr class="{css}"><td class="num"><code>{_esc(case.get("id"))}</code></td>'
        + "".join(f'<td class="text">{_clip(case.get(key))}</td>' for key in columns)
        + "</tr>"
        for case in cases[:ROW_LIMIT]
    )
    return (
        f'<table class="cases"><tr><th>{_esc(label)}</th><th>input</th><th>expected</th><th>model</th>'
        f"<th>{_esc(other)}</th></tr>"
        f"{rows}</table>{_more(len(cases), ROW_LIMIT, f'{label} cases')}"
    )


# --- latency and tokens ---------------------------------------------------------------------------------


def _cost(streams: list[_Stream]) -> str:
    rows = []
    for stream in streams:
        latencies = [float(c["latency_s"]) for c in stream.cases if c["latency_s"] is not None]
        prompt = [int(c["prompt_tokens"]) for c in stream.cases if c["prompt_tokens"] is not None]
        completion = [int(c["completion_tokens"]) for c in stream.cases if c["completion_tokens"] is not None]
        if not (latencies or prompt or completion):
            continue
        rows.append(
            f"<tr><td>{_esc(stream.title())}</td><td class=\"num\">{len(stream.cases)}</td>"
            f'<td class="num">{_quantile(latencies, 0.5, "{:.3f} s")}</td>'
            f'<td class="num">{_quantile(latencies, 0.95, "{:.3f} s")}</td>'
            f'<td class="num">{_mean(prompt)}</td><td class="num">{_mean(completion)}</td>'
            f'<td class="num">{sum(prompt) + sum(completion) if prompt or completion else "-"}</td></tr>'
        )
    if not rows:
        return ""
    return (
        '<p class="note">Per set of answers. Latency is as measured when each answer was generated (a cached '
        "answer keeps its original timing); on HF backends it is batch time divided by batch size.</p>"
        "<table><tr><th>answers</th><th>cases</th><th>latency p50</th><th>latency p95</th>"
        f"<th>prompt tokens (mean)</th><th>completion tokens (mean)</th><th>tokens (total)</th></tr>{''.join(rows)}"
        "</table>"
    )


def _quantile(values: list[float], q: float, fmt: str) -> str:
    if not values:
        return "-"
    import numpy as np

    return fmt.format(float(np.quantile(values, q)))


def _mean(values: list[int]) -> str:
    return f"{sum(values) / len(values):.1f}" if values else "-"


# --- extras ---------------------------------------------------------------------------------------------

JUDGE_FIGURES = (("accuracy", "agreement with humans"), ("kappa", "Cohen's kappa"),
                 ("cohen_kappa", "Cohen's kappa"), ("position_bias_rate", "position-bias rate"),
                 ("position_bias", "position-bias rate"), ("rubric_accuracy", "rubric: exact agreement"),
                 ("rubric_within_one", "rubric: within one point"), ("rubric_kappa", "rubric: kappa"),
                 ("error_rate", "unparseable verdicts"))  # fmt: skip
JUDGE_REASONS = ("why", "reason", "reasons")


def _judge(calibration: Any) -> str:
    """The judge's calibration against human labels: whether its scores can be trusted, and why."""
    if not isinstance(calibration, Mapping):
        return ""
    tiles = "".join(
        f'<div class="tile"><span>{_esc(title)}</span><b>{_number(calibration[key])}</b></div>'
        for key, title in JUDGE_FIGURES
        if key in calibration
    )
    trusted = calibration.get("trusted")
    verdict = ""
    if trusted is not None:
        css, word = ("pass", "trusted") if trusted else ("fail", "not trusted")
        reasons = [calibration[k] for k in JUDGE_REASONS if k in calibration]
        why = "; ".join(", ".join(map(str, r)) if isinstance(r, list) else str(r) for r in reasons)
        verdict = f'<div class="banner {css}">Judge {word}{": " + _esc(why) if why else ""}</div>'
    shown = {key for key, _ in JUDGE_FIGURES} | set(JUDGE_REASONS) | {"trusted"}
    rest = {k: v for k, v in calibration.items() if k not in shown}
    return f'{verdict}<div class="tiles">{tiles}</div>' + (_data_tables(rest) if rest else "")


def _extras(extras: Mapping[str, Any]) -> str:
    parts = [f"<h3>{_esc(name)}</h3>{_data_tables(data)}" for name, data in sorted(extras.items())
             if name != "judge_calibration"]  # fmt: skip
    return "".join(parts)


def _data_tables(data: Any) -> str:
    """Attached data of any shape: scalars and small nested dicts as key/value rows; collections of
    records (a list of dicts, or dicts keyed by case id) as tables of their own, one row per record."""
    if not isinstance(data, Mapping):
        data = {"(value)": data}
    plain, collections = {}, []
    for key, value in data.items():
        records = _records(value)
        if records is None:
            plain[key] = value
        else:
            collections.append((key, records))
    parts = [_key_value_table(plain)] if plain else []
    parts += [f'<p class="note"><code>{_esc(key)}</code>: {len(records)} records</p>{_records_table(records)}'
              for key, records in collections]  # fmt: skip
    return "".join(parts)


def _records(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        return [dict(item) for item in value]
    if isinstance(value, Mapping) and len(value) > 1 and all(isinstance(item, Mapping) for item in value.values()):
        return [{"key": key, **item} for key, item in value.items()]
    return None


def _records_table(records: list[dict[str, Any]], max_columns: int = 8) -> str:
    columns = list(dict.fromkeys(key for record in records for key in record))
    shown = columns[:max_columns]
    head = "".join(f"<th>{_esc(column)}</th>" for column in shown)
    rows = "".join(
        "<tr>" + "".join(f'<td class="text">{_cell(record.get(column))}</td>' for column in shown) + "</tr>"
        for record in records[:ROW_LIMIT]
    )
    hidden = len(columns) - len(shown)
    cut = f'<p class="note cut">… {hidden} more columns not shown; results.json has them.</p>' if hidden else ""
    return f"<table><tr>{head}</tr>{rows}</table>{_more(len(records), ROW_LIMIT, 'records')}{cut}"


def _cell(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(value)
    return _clip(value, 160)


def _key_value_table(data: Any) -> str:
    rows = list(_flatten(data))
    body = "".join(f"<tr><td><code>{_esc(key)}</code></td><td class=\"text\">{value}</td></tr>"
                   for key, value in rows[:ROW_LIMIT * 4])  # fmt: skip
    return f"<table><tr><th>key</th><th>value</th></tr>{body}</table>{_more(len(rows), ROW_LIMIT * 4, 'rows')}"


def _flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Nested dicts become dotted keys; lists and scalars are shown as compact JSON."""
    if isinstance(data, Mapping) and data:
        for key, value in data.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        shown = _number(data) if isinstance(data, float) else _clip(json.dumps(data, ensure_ascii=False))
        yield prefix or "(value)", shown


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _esc(value)
    return _esc(f"{value:.3f}" if isinstance(value, float) else str(value))


# --- plots ----------------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas: no pyplot, so no global backend or open-figure state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="plot" alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _f1_figure(labels: list[str], f1: list[float]) -> Any:
    figure = _figure(4.6, max(1.6, 0.17 * len(labels) + 0.9))
    axes = figure.add_subplot()
    colours = ["#cf222e" if v < 0.5 else "#bf8700" if v < 0.8 else "#1a7f37" for v in f1]
    axes.barh(range(len(labels)), f1, color=colours, height=0.75)
    axes.set_yticks(range(len(labels)), labels, fontsize=7 if len(labels) > 20 else 9)
    axes.set_xlim(0, 1)
    axes.invert_yaxis()  # worst class on top
    axes.set_xlabel("F1")
    axes.set_title("per-class F1 (worst first)", fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    return figure


def _confusion_figure(labels: list[str], matrix: list[list[int]], rows: list[int], cols: list[int], title: str) -> Any:
    """The matrix restricted to `rows` (true classes) and `cols` (answered labels), counts in the cells."""
    values = [[matrix[r][c] for c in cols] for r in rows]
    figure = _figure(max(4.0, 0.32 * len(cols) + 3.2), max(3.0, 0.3 * len(rows) + 2.4))
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(cols)), [labels[c] for c in cols], rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), [labels[r] for r in rows], fontsize=8)
    axes.set_xlabel("answered")
    axes.set_ylabel("expected")
    top = max((v for row in values for v in row), default=0)
    for i, row in enumerate(values):
        for j, count in enumerate(row):
            if count:
                axes.text(j, i, str(count), ha="center", va="center", fontsize=7,
                          color="white" if count > top / 2 else "#1f2328")  # fmt: skip
    axes.set_title(title, fontsize=10)
    from matplotlib.ticker import MaxNLocator

    figure.colorbar(image, ax=axes, shrink=0.8, ticks=MaxNLocator(integer=True))  # counts: no 0.5 ticks
    return figure


def _confusion_focus(labels: list[str], matrix: list[list[int]]) -> tuple[list[int], list[int]]:
    """Row and column indices to draw: all of them for a small label set; for many (Banking77's 77), the true
    classes with the most errors and the labels they were most often answered as (their own columns kept
    for the diagonal), so every cell stays readable."""
    if len(labels) <= FULL_MATRIX_MAX:  # no row for (other): no case expects it
        return [i for i, label in enumerate(labels) if label != OTHER], list(range(len(labels)))
    other = labels.index(OTHER) if OTHER in labels else -1
    errors = [sum(row) - row[i] for i, row in enumerate(matrix)]
    mistaken = [errors[i] - (row[other] if other >= 0 else 0) for i, row in enumerate(matrix)]  # for another label
    ranked = sorted((i for i in range(len(labels)) if errors[i]), key=lambda i: (-errors[i], -mistaken[i], labels[i]))
    rows = ranked[:HEATMAP_CLASSES]
    answered_as = Counter[int]()
    for i in rows:
        for j in range(len(labels)):
            if j != i:
                answered_as[j] += matrix[i][j]
    confused = [j for j, count in answered_as.most_common(HEATMAP_CLASSES) if count]
    cols = sorted(set(rows) | set(confused), key=lambda j: labels[j])
    return rows, cols


def _histogram_figure(scores: list[float], bar: float | None) -> Any:
    figure = _figure(6.0, 2.4)
    axes = figure.add_subplot()
    axes.hist(scores, bins=min(30, max(5, len(scores) // 4)), color="#0969da", alpha=0.8)
    mean = sum(scores) / len(scores)
    axes.axvline(mean, color="#1f2328", linestyle="--", linewidth=1, label=f"mean {mean:.3f}")
    if bar is not None:
        axes.axvline(bar, color="#cf222e", linewidth=1.5, label=f"bar {bar:g}")
    axes.set_xlabel("score")
    axes.set_ylabel("cases")
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8)
    return figure


# --- text helpers ---------------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _clip(value: Any, limit: int = TEXT_LIMIT) -> str:
    """Escaped text cut at `limit` characters with a visible marker of how much was left out."""
    if value is None:
        return '<span class="msg">—</span>'
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return _esc(text)
    return f'{_esc(text[:limit])}<span class="cut"> … [+{len(text) - limit} chars]</span>'


def _more(total: int, shown: int, what: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="note cut">… {total - shown} more {_esc(what)} not shown; results.json has them all.</p>'
