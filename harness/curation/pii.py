"""Stage 5, PII redaction with Presidio's pattern recognizers, fully offline.

Presidio needs a spaCy pipeline; a blank English one (tokenizer only, no model download) is built once
under the harness cache dir. Without a trained NER model, **person names, locations and organisations
are not detected**: only pattern-based entities are (email, phone, credit card with Luhn check, IBAN with
checksum, IP, URL, US SSN, crypto wallet). Detected spans are replaced in place by `<ENTITY_TYPE>`, and
counted; a row that is mostly PII (more than `max_fraction` of its characters) is rejected instead.

URLs default to a higher score bar (0.6: with a scheme such as https://) because Presidio scores
`bad.This` in "the rate is bad.This can't be right" as a 0.5 URL; Banking77 has a dozen such typos.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.curation.config import PIIConfig
from harness.curation.records import Example, StageOutput, reject

NOT_DETECTED = ("Person names, locations and organisations are not detected: offline, Presidio runs on a blank "
                "spaCy pipeline without a trained NER model, so only pattern recognizers apply.")  # fmt: skip
_COMPLETE = ".complete"


@dataclass
class Redaction:
    text: str
    counts: Counter[str] = field(default_factory=Counter)
    pii_chars: int = 0


class Redactor:
    """Finds and replaces PII with the configured entities and score bars."""

    def __init__(self, config: PIIConfig, cache_dir: Path) -> None:
        self.config = config
        self.analyzer = _analyzer(str(blank_spacy_dir(cache_dir)))
        from presidio_anonymizer import AnonymizerEngine

        self.anonymizer = AnonymizerEngine()

    def find(self, text: str) -> list[Any]:
        """Presidio results that clear their entity's score bar."""
        config = self.config
        floor = min([config.min_score, *config.entity_min_score.values()])
        results = self.analyzer.analyze(text, language="en", entities=config.entities, score_threshold=floor)
        return [r for r in results if r.score >= config.entity_min_score.get(r.entity_type, config.min_score)]

    def redact(self, text: str) -> Redaction:
        results = self.find(text)
        if not results:
            return Redaction(text)
        anonymized = self.anonymizer.anonymize(text=text, analyzer_results=results)
        counts = Counter(item.entity_type for item in anonymized.items)  # overlaps resolved: one per span
        return Redaction(anonymized.text, counts, _covered_chars([(r.start, r.end) for r in results]))


def _covered_chars(spans: list[tuple[int, int]]) -> int:
    """Characters inside at least one span (an email also matched as a URL counts once)."""
    total, reach = 0, 0
    for start, end in sorted(spans):
        start = max(start, reach)
        if end > start:
            total += end - start
            reach = end
    return total


def redact(examples: list[Example], redactor: Redactor) -> StageOutput:
    """Redact every non-system turn in place; reject rows that are mostly PII. `counts` are the entities
    redacted in the rows kept (rejected rows are counted as rows)."""
    kept, rejected, redactions = [], [], []
    totals: Counter[str] = Counter()
    for example in examples:
        counts: Counter[str] = Counter()
        pii_chars = chars = 0
        for message in example.messages:
            if message["role"] == "system":
                continue
            result = redactor.redact(message["content"])
            chars += len(message["content"])
            pii_chars += result.pii_chars
            counts += result.counts
            message["content"] = result.text
        if not counts:
            kept.append(example)
            continue
        example.raw = _redact_raw(example.raw, redactor)  # rejected.jsonl must not carry the PII either
        share, most = pii_chars / max(chars, 1), redactor.config.max_fraction
        if share > most:
            reason = f"mostly PII: {share:.0%} of the text is {dict(counts)} (more than max_fraction {most})"
            rejected.append(reject("pii", example, reason))
            continue
        totals += counts
        redactions.append({"id": example.id, "source": example.source, "entities": dict(counts)})
        kept.append(example)
    info = {"counts": dict(totals), "rows_redacted": len(redactions), "rows_rejected": len(rejected),
            "redactions": redactions,
            "entities": redactor.config.entities, "not_detected": NOT_DETECTED}  # fmt: skip
    return StageOutput(kept, rejected, info)


def _redact_raw(raw: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    return {k: redactor.redact(v).text if isinstance(v, str) else v for k, v in raw.items()}


@functools.cache
def _analyzer(spacy_dir: str) -> Any:
    """Presidio's analyzer on the blank pipeline; built once per process (about a second)."""
    # tldextract (Presidio's email check) would fetch the public suffix list from the internet; its
    # bundled snapshot is enough and keeps runs offline and reproducible.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import tldextract.tldextract as tld
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    tld.TLD_EXTRACTOR.suffix_list_urls = ()
    presidio_log = logging.getLogger("presidio-analyzer")
    level = presidio_log.level
    presidio_log.setLevel(logging.ERROR)  # one warning per non-English recognizer it (rightly) leaves out
    try:
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_dir}])
        engine.load()
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
        return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    finally:
        presidio_log.setLevel(level)


def blank_spacy_dir(cache_dir: Path) -> Path:
    """A blank English spaCy pipeline on disk (what Presidio loads), written once per cache dir and spaCy
    version, under a file lock into a staging dir renamed into place: never half-written."""
    import spacy

    target = cache_dir / "spacy" / f"blank-en-{spacy.__version__}"
    if (target / _COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / _COMPLETE).is_file():
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
            try:
                spacy.blank("en").to_disk(staging)
                (staging / _COMPLETE).write_text("blank en\n")
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target
