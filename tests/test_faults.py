"""Fault injection: the server faults and bad inputs of issue 11, kept as regression tests.

`FaultServer` is a real HTTP server (stdlib http.server in a thread) that speaks just enough of the
chat-completions protocol to misbehave on purpose: an HTML page, JSON cut off, a legacy completions body,
429 then an answer, 500, a hang, a connection closed mid-body. It is a fault injector, not a model: in
"ok" mode it answers from a function the test gives it. The fault table in docs/reliability.md states what the
harness promises for each fault; every row is checked here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.cache import GenerationCache
from harness.cli import main as harness_main
from harness.config import HarnessConfig, OpenAISettings
from harness.golden import GoldenError, load_file, load_set
from harness.golden.lock import LOCK_FILE, freeze, verify
from harness.models.base import ModelError
from harness.models.cached import CachedModel
from harness.models.openai_compat import OpenAIBackend
from harness.models.spec import OpenAISpec
from harness.progress import no_progress

Answer = Callable[[list[dict[str, str]]], str]
HTML_PAGE = ("<!DOCTYPE html><html><head><title>Sign in to the corporate proxy</title></head><body><form "
             "action=/login method=post>Your session has expired. Sign in again to continue to the requested page "
             "at this address; the proxy keeps no record of it.</form></body></html>")  # fmt: skip


# --- the fault injector ---------------------------------------------------------------------------------


class FaultServer:
    """`POST <base_url>/chat/completions` answering as `mode` says; `requests` counts what it was sent."""

    MODES = ("ok", "html", "badjson", "legacy", "429-then-ok", "500", "hang", "close-mid-body")

    def __init__(self, mode: str = "ok", answer: Answer = lambda messages: "ok") -> None:
        assert mode in self.MODES, mode
        self.mode, self.answer, self.requests = mode, answer, 0
        self._lock, self._released = threading.Lock(), threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()  # hanging requests give up
        self._http.shutdown()
        self._http.server_close()

    def count(self) -> int:
        with self._lock:
            self.requests += 1
            return self.requests

    def completion(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        text = self.answer(messages)
        return {"id": "c-1", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}}  # fmt: skip


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return  # quiet: test output is for the harness's messages

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            number = server.count()
            mode = server.mode
            if mode == "429-then-ok":
                mode = "429" if number == 1 else "ok"
            ok = json.dumps(server.completion(request["messages"]))
            if mode == "hang":
                server._released.wait(30)
                self.close_connection = True
                return
            if mode == "close-mid-body":
                self._head(200, "application/json", len(ok))
                self.wfile.write(ok[: len(ok) // 2].encode())
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, kind, body = {
                "ok": (200, "application/json", ok),
                "html": (200, "text/html; charset=utf-8", HTML_PAGE),
                "badjson": (200, "application/json", ok[:60]),
                "legacy": (200, "application/json", json.dumps({"id": "c-1", "object": "text_completion",
                           "choices": [{"index": 0, "text": "4", "finish_reason": "stop"}]})),  # fmt: skip
                "429": (429, "application/json", json.dumps({"error": {"message": "slow down"}})),
                "500": (500, "application/json", json.dumps({"error": {"message": "model crashed"}})),
            }[mode]
            self._head(status, kind, len(body.encode()))
            self.wfile.write(body.encode())

        def _head(self, status: int, kind: str, length: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(length))
            self.end_headers()

    return Handler


FAST = OpenAISettings(concurrency=2, timeout_s=1.0, max_retries=2, backoff_s=0.01, backoff_max_s=0.02)


def model_for(server: FaultServer, cache: GenerationCache) -> CachedModel:
    backend = OpenAIBackend(OpenAISpec("m", server.base_url, key_env="HARNESS_FAULTS_NO_KEY"), FAST)
    return CachedModel(backend, cache, {"max_new_tokens": 8, "temperature": 0.0}, no_progress)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[GenerationCache]:
    store = GenerationCache(tmp_path / "generations.sqlite")
    yield store
    store.close()


# --- 3: the openai: backend, on every fault ---------------------------------------------------------------


@pytest.mark.parametrize(("mode", "why", "body"), [
    ("html", "the body is not JSON (an HTML page?)", HTML_PAGE[:200]),
    ("badjson", "the body is not JSON: Unterminated string", '{"id": "c-1", "object": "chat.completion"'),
    ("legacy", "choices[0] has no 'message' object (choices[0].text: a legacy /v1/completions body)",
     '{"id": "c-1", "object": "text_completion", "choices": [{"index": 0, "text": "4"'),
])  # fmt: skip
def test_a_malformed_200_body_is_one_error_naming_url_request_and_body_never_retried_or_cached(
    cache: GenerationCache, mode: str, why: str, body: str
) -> None:
    with FaultServer(mode) as server, pytest.raises(ModelError) as failure:
        model_for(server, cache).generate(["Say hi.", "What is 2 + 2?"])
    message = str(failure.value)
    assert f"openai:m@{server.base_url}: request #" in message
    assert f" to {server.base_url}/chat/completions got HTTP 200 but {why}" in message
    assert f"the body starts: '{body}" in message  # the first 200 characters, as sent
    assert "Is this an OpenAI-compatible /v1/chat/completions endpoint?" in message
    assert "of this call ('Say hi.')]" in message or "of this call ('What is 2 + 2?')]" in message
    assert "Traceback" not in message and server.requests <= 2  # one request per prompt: never retried
    assert cache.count() == 0


def test_429_then_ok_is_retried_once_and_the_answer_cached(cache: GenerationCache) -> None:
    with FaultServer("429-then-ok", answer=lambda messages: "4") as server:
        [answer] = model_for(server, cache).generate(["What is 2 + 2?"])
        assert (answer.text, answer.cached, server.requests) == ("4", False, 2)
        [again] = model_for(server, cache).generate(["What is 2 + 2?"])
    assert again.cached and server.requests == 2 and cache.count() == 1


@pytest.mark.parametrize(("mode", "last_error"), [
    ("500", "HTTP 500 (Error code: 500 - model crashed)"),
    ("hang", "APITimeoutError (timed out)"),
    ("close-mid-body", "APIConnectionError (peer closed connection without sending complete message body"),
])  # fmt: skip
def test_server_failures_are_retried_then_reported_as_errors_never_as_answers(
    cache: GenerationCache, mode: str, last_error: str
) -> None:
    with FaultServer(mode) as server, pytest.raises(ModelError) as failure:
        model_for(server, cache).generate(["What is 2 + 2?"])
    message = str(failure.value)
    assert f"request #0 failed after 3 attempt(s), last error: {last_error}" in message
    assert f"Is the server running at {server.base_url}?" in message
    assert message.endswith("[request #0 is prompt #0 of this call ('What is 2 + 2?')]")
    assert server.requests == 3 and cache.count() == 0


# --- 1, 2, 6: what a run whose test errored leaves behind --------------------------------------------------

LABELS = [f"intent_{chr(ord('a') + i)}" for i in range(13)]  # more than harness.report.html.FULL_MATRIX_MAX labels
TOY = {f"query number {i} about {label}": label for label in LABELS for i in range(2)}
SUITE = """
import pytest

from harness import gate, metrics


@pytest.fixture(scope="module")
def routed(model, golden):
    cases = golden("toy")
    answers = model.generate([case.prompt() for case in cases])
    return cases, answers, [metrics.label_match(a, c.expected) for a, c in zip(answers, cases, strict=True)]


def test_accuracy(routed):
    cases, answers, correct = routed
    gate.at_least("toy.accuracy", correct, 0.5, cases=cases, outputs=answers)


def test_macro_f1(routed):
    cases, answers, correct = routed
    labels = sorted({c.expected for c in cases})
    truth = [labels.index(c.expected) for c in cases]
    guess = [labels.index(a.text) if a.text in labels else -1 for a in answers]

    def macro_f1(indices):
        return metrics.macro_f1_codes([truth[i] for i in indices], [guess[i] for i in indices], len(labels))

    gate.statistic_at_least("toy.macro_f1", macro_f1, len(cases), 0.5, passed_cases=correct, cases=cases,
                            outputs=answers)


def test_beats_prompted_baseline(routed, baseline):
    cases, answers, correct = routed
    prompted = baseline.generate([case.prompt() for case in cases])
    ok = [metrics.label_match(a, c.expected) for a, c in zip(prompted, cases, strict=True)]
    gate.better_than("toy.beats_prompted_baseline", correct, ok, cases=cases, outputs=answers,
                     reference_outputs=prompted)
"""


def oracle(messages: list[dict[str, str]]) -> str:
    return TOY.get(messages[-1]["content"], "out_of_scope")


@pytest.fixture
def toy_project(tiny_project: Callable[[str], pytest.Pytester]) -> pytest.Pytester:
    """A project with a 26-case, 13-label frozen golden set and the suite above; fast server retries."""
    project = tiny_project("[tool.harness.openai]\nmax_retries = 1\nbackoff_s = 0.01\ntimeout_s = 5.0\n")
    cases = [{"id": f"toy-{i:02d}", "input": text, "expected": label} for i, (text, label) in enumerate(TOY.items())]
    path = project.path / "golden" / "toy" / "cases.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(case) + "\n" for case in cases))
    freeze(project.path / "golden", "toy set")
    project.makepyfile(test_suite=SUITE)
    return project


def results_of(project: pytest.Pytester) -> tuple[Path, dict[str, Any]]:
    [path] = (project.path / "reports").glob("*/results.json")
    return path.parent, json.loads(path.read_text())


@pytest.mark.parametrize("workers", [0, 2])
def test_a_test_that_errored_is_in_every_report_as_no_decision_and_promote_exits_2(
    toy_project: pytest.Pytester, workers: int
) -> None:
    """With xdist the outcomes come from the controller's copies of the workers' reports."""
    with FaultServer("ok", oracle) as good, FaultServer("500") as down:
        models = (f"--model=openai:m@{good.base_url}", f"--baseline=openai:b@{down.base_url}")
        result = toy_project.runpytest_subprocess(*models, "-n", str(workers)) if workers else \
            toy_project.runpytest(*models)  # fmt: skip
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # pytest's code: the reports say which kind of failure
    run_dir, data = results_of(toy_project)

    tests = {t["test"]: t for t in data["tests"]}
    assert [t["outcome"] for t in data["tests"]] == ["passed", "error", "passed"]
    broken = tests["test_suite.py::test_beats_prompted_baseline"]
    assert broken["message"].startswith(f"ModelError: openai:b@{down.base_url}: request #")
    assert "failed after 2 attempt(s), last error: HTTP 500 (Error code: 500 - model crashed)" in broken["message"]
    assert data["verdict"]["decision"] == "none"
    assert data["verdict"]["errored"] == ["test_suite.py::test_beats_prompted_baseline"]
    assert [g["name"] for g in data["gates"]] == ["toy.accuracy", "toy.macro_f1"]  # both passed...
    assert all(g["passed"] for g in data["gates"])

    summary = (run_dir / "summary.md").read_text()  # ...and the summary still says the run decided nothing
    assert "**Verdict: not a decision** — 1 test(s) errored (test_suite.py::test_beats_prompted_baseline)" in summary
    assert "| test_suite.py::test_beats_prompted_baseline | - | - | - | ERROR: no decision |" in summary
    assert "| test_suite.py::test_beats_prompted_baseline | ERROR: no decision | none | ModelError: " in summary
    page = (run_dir / "report.html").read_text()
    assert '<div class="banner warn">Not a decision: 1 test(s) errored (test_suite.py::test_beats_' in page
    assert '<span class="pill fail">ERROR: no decision</span>' in page
    result.stdout.fnmatch_lines(["test_suite.py::test_beats_prompted_baseline *ERROR: no decision",
                                 "verdict: not a decision: 1 test(s) errored*", "report: *", "html: *"])  # fmt: skip

    from harness.release.decision import decide

    decision = decide(data, None, 0.05, exit_code=1)
    assert decision.broken and not decision.promote
    assert decision.reasons[0].startswith("the suites run broke: 1 test(s) errored or did not run, so their gates "
                                          "decided nothing (not a decision): test_suite.py::test_beats_prompted_"
                                          "baseline (error: ModelError: openai:b@")  # fmt: skip


def test_tests_that_never_ran_leave_the_run_undecided_unless_a_gate_already_failed(tmp_path: Path) -> None:
    from harness.report import RunRecord, summary_markdown

    record = RunRecord(tmp_path / "run", collected={"suites/test_a.py::test_one", "suites/test_a.py::test_two"})
    record.note_test("suites/test_a.py::test_one", "passed")
    record.gates.append({"name": "a.accuracy", "kind": "at_least", "passed": True, "value": 1.0,
                         "interval": (0.8, 1.0), "threshold": 0.5, "cases": [], "test": "suites/test_a.py::test_one"})
    data = record.to_json()
    assert [t["outcome"] for t in data["tests"]] == ["passed", "not run"]
    assert data["verdict"]["decision"] == "none" and data["verdict"]["errored"] == ["suites/test_a.py::test_two"]
    assert "| test_a.py::test_two | - | - | - | NOT RUN |" in summary_markdown(record)
    record.gates[0]["passed"] = False  # a failed gate decides even if the run stopped early (-x)
    assert record.to_json()["verdict"]["headline"] == "FAIL: 1 of 1 gates failed: a.accuracy; 1 test(s) did not run"


def test_promote_exits_2_for_a_broken_run_and_1_for_a_refusal(
    tmp_path: Path, tiny_adapter_dir: Path, registry_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.config import RegistrySettings
    from harness.release.promote import PromoteOptions, SuiteRun, conclude
    from harness.release.registry import adapter_sha256

    config = HarnessConfig(root=tmp_path, cache_dir=tmp_path, registry=RegistrySettings(tracking_uri=registry_uri))
    gate = {"name": "toy.accuracy", "kind": "at_least", "passed": True, "value": 1.0, "threshold": 0.5, "cases": []}
    errored = {"test": "suites/test_toy.py::test_b", "outcome": "error", "message": "ModelError: server down"}
    failed = {**gate, "passed": False}
    sha = adapter_sha256(tiny_adapter_dir)
    options = PromoteOptions(tiny_adapter_dir, dry_run=True)

    def code(results: dict[str, Any], exit_code: int) -> int:
        return conclude(config, options, tiny_adapter_dir, sha, SuiteRun(exit_code, tmp_path / "run", results))

    assert code({"gates": [gate], "tests": [errored]}, 1) == 2
    out = capsys.readouterr().out
    assert "decision:   REFUSE (the run broke: not a decision)" in out
    assert "suites/test_toy.py::test_b (error: ModelError: server down)" in out
    assert code({"gates": [gate]}, 2) == 2  # pytest itself broke (interrupted)
    assert code({"gates": [failed], "tests": []}, 1) == 1  # a failed gate is a decision: refused
    assert code({"gates": [gate], "tests": []}, 0) == 0


def test_make_demo_stops_with_exit_2_when_promote_reports_a_broken_run() -> None:
    """harness/demo.py accepts promote's 0 and 1 and exits 2 on any other code; promote now exits 2 when
    the run broke, so a broken promote step stops the demo with 2."""
    from harness.demo import run

    with pytest.raises(SystemExit) as stopped:
        run("promote", [sys.executable, "-c", "raise SystemExit(2)"], ok=(0, 1))
    assert stopped.value.code == 2


def test_a_perfect_classification_gate_renders_and_the_html_path_is_printed_only_when_written(
    toy_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultServer("ok", oracle) as good:
        perfect = toy_project.runpytest(f"--model=openai:m@{good.base_url}", "-k", "macro_f1")
        perfect.assert_outcomes(passed=1)
        run_dir, data = results_of(toy_project)
        assert data["gates"][0]["value"] == 1.0 and data["verdict"]["decision"] == "pass"
        assert "not written" not in perfect.stderr.str()
        page = (run_dir / "report.html").read_text()
        assert "No confusions: every answer named its expected label." in page
        perfect.stdout.fnmatch_lines([f"html:   reports/{run_dir.name}/report.html"])

        import harness.report.html

        def broken_renderer(run_dir: Path, results: Any) -> Path:
            raise TypeError("a rendering bug")

        monkeypatch.setattr(harness.report.html, "write", broken_renderer)
        (run_dir / "report.html").unlink()
        unwritten = toy_project.runpytest(f"--model=openai:m@{good.base_url}", "-k", "macro_f1")
    unwritten.assert_outcomes(passed=1)
    assert "report.html not written (TypeError: a rendering bug)" in unwritten.stderr.str()
    assert "html:" not in unwritten.stdout.str() and "report: reports/" in unwritten.stdout.str()


# --- 4: case identity: ids are unique across golden sets ----------------------------------------------------


def write_set(golden: Path, name: str, ids: list[str], text: str = "query") -> Path:
    path = golden / name / "cases.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": i, "input": f"{text} {i}", "expected": "x"}) + "\n" for i in ids))
    return path


def test_an_id_used_by_two_sets_is_refused_by_freeze_verify_and_golden_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = tmp_path / "golden"
    write_set(golden, "banking77", ["b77-0001", "b77-0002"])
    write_set(golden, "ood", ["ood-1", "b77-0002"], text="ood")
    with pytest.raises(GoldenError) as refused:
        freeze(golden, "two sets")
    expected = ("golden/ood/cases.jsonl:2: id 'b77-0002' is also used by golden/banking77/cases.jsonl:2 — ids must "
                "be unique across golden sets")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert expected in str(refused.value).replace(f"{tmp_path}/", "")
    assert not verify(golden).ok and any("is also used by" in p for p in verify(golden).problems)
    assert harness_main(["golden", "verify"]) == 1 and expected in capsys.readouterr().err

    write_set(golden, "ood", ["ood-1", "ood-2"], text="ood")
    freeze(golden, "two sets, distinct ids")
    table = tmp_path / "more.csv"
    table.write_text("id,input,expected\nb77-0001,another query,x\n")
    assert harness_main(["golden", "add", "ood", "--from", str(table)]) == 2
    assert "1 id(s) already taken: b77-0001 (golden/banking77/cases.jsonl)" in capsys.readouterr().err


def test_review_export_refuses_a_run_that_holds_two_cases_under_one_id(tmp_path: Path) -> None:
    from harness.judge.review import ReviewError, export

    def gate(name: str, text: str) -> dict[str, Any]:
        case = {"id": "dup-1", "input": text, "output": "no", "expected": "yes", "passed": False, "score": 0.0}
        return {"name": name, "kind": "at_least", "passed": False, "cases": [case]}

    (tmp_path / "results.json").write_text(json.dumps({"gates": [gate("banking77.accuracy", "my card"),
                                                                 gate("adversarial.ood", "tell me a joke")]}))
    with pytest.raises(ReviewError, match=r"case id 'dup-1' names two different cases in this run \(gate "
                                          r"banking77.accuracy: 'my card'; gate adversarial.ood: 'tell me a joke'\)"):
        export(tmp_path, 10)


# --- 5: messages that name the right thing ------------------------------------------------------------------


def test_a_huge_golden_case_is_named_by_file_line_and_id_and_refused_before_tokenizing(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.models.resolve import ModelFactory
    from harness.models.spec import HFSpec

    golden = tmp_path / "golden"
    path = golden / "big" / "cases.jsonl"
    path.parent.mkdir(parents=True)
    huge = "my card has not arrived " * 420_000  # 10 MB
    path.write_text(json.dumps({"id": "big-1", "input": "short", "expected": "x"}) + "\n"
                    + json.dumps({"id": "big-2", "input": huge, "expected": "x"}) + "\n")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    cases = load_set(golden, "big")
    factory = ModelFactory(HarnessConfig(root=tmp_path, cache_dir=tmp_path), GenerationCache(tmp_path / "g.sqlite"),
                           no_progress)  # fmt: skip
    model = factory.build(HFSpec(str(tiny_model_dir)))
    model.generate([cases[0].prompt()], max_new_tokens=2)  # the short case alone is answered and cached
    started = time.perf_counter()
    with pytest.raises(ModelError) as refused:
        model.generate([case.prompt() for case in cases], max_new_tokens=2)
    message = str(refused.value)
    assert re.match(rf"hf:{tiny_model_dir}: 1 prompt\(s\) too long: golden/big/cases\.jsonl:2 \(case 'big-2'\) is "
                    r"100800\d\d characters, so at least \d+ tokens\. ", message)  # fmt: skip
    assert "With max_new_tokens 2, the model's context of 256 tokens (config.max_position_embeddings)" in message
    assert "prompt #0" not in message  # an index into the uncached prompts names nothing the user can find
    assert time.perf_counter() - started < 20  # tokenizing 10 MB took 26 s and 2 GB; counting characters does not


def test_a_non_utf8_byte_is_named_by_line_in_curation_sources_golden_sets_and_tables(tmp_path: Path) -> None:
    from harness.curation.config import CurationError, SourceConfig
    from harness.curation.sources import read
    from harness.golden.table import cases_from_table

    data = b'text,label\nfine,a\nalso fine,b\ncaf\xe9 au lait,c\n'
    source = tmp_path / "raw.csv"
    source.write_bytes(data)
    with pytest.raises(CurationError, match=r"raw\.csv:4: not UTF-8 \(invalid continuation byte: byte 0xe9, byte 4 "
                                            r"of the line\) — save the file as UTF-8"):  # fmt: skip
        read(source, SourceConfig(path=str(source)))
    table = tmp_path / "table.csv"
    table.write_bytes(data.replace(b"text,label", b"input,expected"))
    with pytest.raises(GoldenError, match=r"table\.csv:4: not UTF-8"):
        cases_from_table(table)
    golden = tmp_path / "cases.jsonl"
    golden.write_bytes(b'{"id": "a", "input": "x", "expected": "y"}\n{"id": "b", "input": "\xff", "expected": "y"}\n')
    with pytest.raises(GoldenError, match=r"cases\.jsonl:2: not UTF-8 \(invalid start byte: byte 0xff, byte 23 "):
        load_file(golden)


def test_a_csv_row_with_an_extra_field_is_rejected_with_its_raw_line(tmp_path: Path) -> None:
    from harness.curation.config import SourceConfig
    from harness.curation.records import reject
    from harness.curation.sources import read

    source = tmp_path / "raw.csv"
    source.write_text('text,label\nfine,a\ntoo,many,"fields, here"\n"spans\ntwo lines",b\n')
    rows = read(source, SourceConfig(path=str(source)))
    assert [row.problem is None for row in rows] == [True, False, True]
    assert rows[1].problem == "1 more field(s) than the header's 2 — fix the quoting"
    assert reject("schema", rows[1], rows[1].problem).to_json()["row"] == {"line": 'too,many,"fields, here"'}
    assert rows[2].raw == {"text": "spans\ntwo lines", "label": "b"} and rows[2].source.endswith("raw.csv:4")


def test_set_names_follow_one_rule_in_verify_freeze_and_the_suites(
    tiny_project: Callable[[str], pytest.Pytester], capsys: pytest.CaptureFixture[str]
) -> None:
    project = tiny_project("")
    golden = project.path / "golden"
    write_set(golden, "toy", ["toy-1"])
    write_set(golden, ".wip", ["wip-1"])  # scratch space: neither frozen nor loaded, by every command
    freeze(golden, "toy")
    assert "wip" not in (golden / LOCK_FILE).read_text()
    project.makepyfile(test_ok="def test_ok(golden):\n    assert [c.id for c in golden('toy')] == ['toy-1']\n")
    project.runpytest().assert_outcomes(passed=1)

    write_set(golden, "my set", ["my-1"])
    assert harness_main(["golden", "verify", "--root", str(golden)]) == 1
    err = capsys.readouterr().err
    assert "golden/my set/cases.jsonl: golden set name 'my set' is invalid — a set name starts with a letter or" in err
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "golden/my set/cases.jsonl: golden set name 'my set' is invalid" in result.stderr.str()


def test_the_lock_case_counts_and_version_are_checked_and_a_refreeze_keeps_freeze_times(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    write_set(golden, "a", ["a-1", "a-2"])
    write_set(golden, "b", ["b-1"])
    first = freeze(golden, "first")
    lock = golden / LOCK_FILE
    data = json.loads(lock.read_text())
    data["files"]["a/cases.jsonl"]["cases"] = 999
    lock.write_text(json.dumps(data))
    status = verify(golden)
    assert not status.ok
    assert "a/cases.jsonl records 999 cases, but the file (unchanged since the freeze) has 2" in status.explain()

    data["files"]["a/cases.jsonl"]["cases"], data["version"] = 2, 7
    lock.write_text(json.dumps(data))
    with pytest.raises(GoldenError, match="lock version 7, but this harness reads version 1"):
        verify(golden)
    data["lock_hash"] = "0" * 64  # broken twice over
    lock.write_text(json.dumps(data))
    write_set(golden, "b", ["b-1", "b-2"])
    time.sleep(1.1)  # freeze times have one-second resolution
    second = freeze(golden, "repair the lock")
    assert second.files["a/cases.jsonl"].frozen_at == first.files["a/cases.jsonl"].frozen_at  # unchanged: kept
    assert second.files["b/cases.jsonl"].frozen_at == second.frozen_at != first.frozen_at
    assert verify(golden).ok


# --- 7: no warnings a user cannot act on ---------------------------------------------------------------------

WARNING_SUITE = """
SYSTEM = "You route bank customer messages. Reply with one word from this list: card, transfer, balance, other."


def test_generate_and_score(model):
    answers = model.generate([[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "My card is lost"}],
                              [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Send money"}]],
                             max_new_tokens=4)
    assert all(not a.cached for a in answers)
    assert len(model.score_choices(["Is Paris in France?"], ["yes", "no"])[0]) == 2
"""


def assert_no_warnings(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert "warnings summary" not in output and "Warning" not in output, output


@pytest.mark.integration
def test_a_run_on_the_embedded_model_prints_no_warnings(
    pytester: pytest.Pytester, fresh_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared system prompt makes generation start from the prefix KV cache and score_choices pass a
    cache too: the two calls that used to print `past_key_values` FutureWarnings."""
    monkeypatch.setenv("HARNESS_CACHE", str(fresh_cache_dir))
    pytester.makepyfile(test_slice=WARNING_SUITE)
    result = pytester.runpytest_subprocess("--model=base", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert_no_warnings(result)


def test_a_run_on_a_peft_adapter_prints_no_warnings(
    tiny_project: Callable[[str], pytest.Pytester], tiny_adapter_dir: Path
) -> None:
    project = tiny_project("")
    project.makepyfile(test_slice=WARNING_SUITE)
    result = project.runpytest_subprocess(f"--model=peft:{tiny_adapter_dir}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert_no_warnings(result)


# --- a kill -9 inside a batch ---------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from dataclasses import replace
    from pathlib import Path
    from harness.cache import GenerationCache
    from harness.config import GenerationDefaults, HarnessConfig
    from harness.models.resolve import ModelFactory
    from harness.models.spec import HFSpec
    from harness.progress import no_progress

    model_dir, cache_dir, marker, kill_in = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    prompts = json.loads(sys.argv[5])
    config = HarnessConfig(root=cache_dir, cache_dir=cache_dir, generation=GenerationDefaults(batch_size=2))
    cache = GenerationCache(cache_dir / "generations.sqlite")
    model = ModelFactory(config, cache, no_progress).build(HFSpec(model_dir))
    if kill_in:
        backend = model.backend
        weights, _ = backend.weights.get()
        seen = {"batch": 0, "steps": 0}
        run_batch = backend._generate_batch

        def counted(*args, **kwargs):
            seen["batch"] += 1
            return run_batch(*args, **kwargs)

        def inside(module, args, kwargs):  # one forward pass per decoding step
            if seen["batch"] == kill_in:
                seen["steps"] += 1
                if seen["steps"] == 2:  # the batch's prompts are in and a token is out: mid-batch
                    marker.write_text("inside the batch")
                    time.sleep(600)

        backend._generate_batch = counted
        weights.register_forward_pre_hook(inside, with_kwargs=True)
    answers = model.generate(prompts, max_new_tokens=6)
    print(json.dumps([[a.text, a.cached] for a in answers]))
    """
)
PROMPTS = ["where is my card", "send money to my savings account please", "what is the capital of france",
           "answer with yes or no only", "the quick brown fox jumps over the lazy dog",
           "my card has not arrived yet"]  # fmt: skip


def child(tiny_model_dir: Path, cache_dir: Path, marker: Path, kill_in: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", CHILD, str(tiny_model_dir), str(cache_dir), str(marker), str(kill_in),
               json.dumps(PROMPTS)]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def answers_of(process: subprocess.Popen[str]) -> list[list[Any]]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_kill_9_inside_a_batch_reruns_only_that_batch_with_identical_answers(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    killed_dir, marker = tmp_path / "killed", tmp_path / "inside"
    killed_dir.mkdir()
    process = child(tiny_model_dir, killed_dir, marker, kill_in=3)  # 6 prompts, batches of 2: the last batch
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the child never reached its third batch"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    kept = GenerationCache(killed_dir / "generations.sqlite")
    assert kept.count() == 4  # two whole batches were kept; nothing of the killed one
    kept.close()

    rerun = answers_of(child(tiny_model_dir, killed_dir, marker, kill_in=0))
    assert sum(not cached for _, cached in rerun) == 2  # exactly the killed batch is generated again
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    uninterrupted = answers_of(child(tiny_model_dir, clean_dir, marker, kill_in=0))
    assert [text for text, _ in rerun] == [text for text, _ in uninterrupted]
