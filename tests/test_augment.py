"""The augmentation stage of `harness curate`: synthetic train rows from train rows only, and no golden case
or adversarial probe in training.

A small planted project (chat rows under a label-router system prompt, a router golden set) is curated
with augmentation on, again with the same seed, with another seed and with augmentation off; the rows
are read back from the files training reads. The leakage tests plant a train row equal to an adversarial
probe, and a transform that returns one, and check that both are dropped with the probe named.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from harness.adversarial import (
    CONTENT_FREE,
    edge,
    first_per_label,
    long_input,
    perturb,
    perturbations,
    seed_for,
    wrap_in_markup,
)
from harness.curation import augment, checks, leakage, minhash, pipeline
from harness.curation import config as curation_config
from harness.curation.config import AUGMENT_MIX, AugmentConfig, CurationError, SchemaConfig
from harness.curation.dataset import load_dataset
from harness.curation.records import Example
from harness.golden import load_set

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["activate_my_card", "cancel_transfer", "card_arrival", "exchange_rate"]
SYSTEM = ("Classify the bank customer's message into one intent. Reply with the intent label only, copied "
          "exactly from this list:\n" + "\n".join(LABELS) +
          "\nIf the message fits none of these intents, reply out_of_scope.")  # fmt: skip
GOLDEN = [("toy-1", "Has the new card you promised me been dispatched from your office yet?", "card_arrival"),
          ("toy-2", "How do I turn on the card I got in the post this morning?", "activate_my_card"),
          ("toy-3", "Please reverse the payment I sent to my landlord by mistake.", "cancel_transfer"),
          ("toy-4", "What rate will I get when I swap pounds for dollars?", "exchange_rate")]  # fmt: skip
ROWS = {
    "card_arrival": ["Where is my card?", "My card is late, any news on the delivery?",
                     "How long does a card take to be delivered?", "Has my new card been posted yet?",
                     "Is there a tracking number for the card you sent me?", "The card still has not come.",
                     "When should I expect the replacement card to arrive?", "No card in my mailbox after two weeks."],
    "activate_my_card": ["The card came today, how do I start using it?", "I need to switch on my new card.",
                         "Where in the app do I turn the card on?", "My card arrived but it does not work yet.",
                         "What are the steps to activate a card?", "Activation of my debit card keeps failing.",
                         "Can I activate the card without the app?", "Is activation needed before first use?"],
    "cancel_transfer": ["I sent money to the wrong person, please stop it.", "Can a payment I made be reversed?",
                        "Stop the transfer I just made!", "I want my bank transfer cancelled right now.",
                        "Is it too late to undo a transfer from this morning?", "Cancel my last transfer please.",
                        "How do I call back money I sent yesterday?", "The transfer went to an old account, undo it."],
    "exchange_rate": ["What rate do you use to change pounds to euros?", "How much is one dollar in yen today?",
                      "Is the conversion rate fixed at the weekend?", "Where do I see current exchange rates?",
                      "Why did I get a worse rate than the market rate?", "Do exchange rates change every hour?",
                      "What is the euro to franc rate right now?", "Which rate applies when I pay abroad?"],
    "out_of_scope": ["What is the capital of Peru?", "Write me a haiku about autumn.",
                     "How many legs does a spider have?", "Recommend a film for tonight.",
                     "What is the boiling point of water on a mountain?", "Tell me about the Roman empire."],
}  # fmt: skip
PLANTED_PROBE = wrap_in_markup(GOLDEN[0][1], "json")  # a train row equal to the adversarial probe toy-1~json
SHARE = 0.4  # of ~30 train rows: 20 augmented, at least one per transform
AUGMENT = f"  augment:\n    enabled: true\n    share: {SHARE}\n    seed: {{seed}}\n"
FAST = "  semantic:\n    enabled: false\n  pii:\n    enabled: false\n  label_noise:\n    enabled: false\n"


def chat(text: str, label: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                {"role": "assistant", "content": label}]  # fmt: skip
    return {"messages": messages, "label": label}


def write_project(root: Path, curate_extra: str = "") -> Path:
    """A tmp project: pyproject.toml, a router golden set, a label list, chat rows, a config."""
    (root / "pyproject.toml").write_text('[project]\nname = "toy"\n')
    golden = root / "golden" / "toy"
    golden.mkdir(parents=True)
    cases = [{"id": i, "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
              "expected": label} for i, q, label in GOLDEN]  # fmt: skip
    (golden / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    (root / "labels.json").write_text(json.dumps(LABELS))
    rows = [chat(text, label) for label, texts in ROWS.items() for text in texts] + [
        chat(PLANTED_PROBE, "card_arrival")
    ]
    (root / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = root / "toy.yaml"
    config.write_text(f"""task: toy
curate:
  sources:
    - path: rows.jsonl
  labels: labels.json
  extra_labels: [out_of_scope]
  prompt:
    system_from: golden/toy/cases.jsonl
  output_dir: out
{FAST}{curate_extra}""")
    return config


def curate(root: Path, curate_extra: str) -> dict[str, Any]:
    result = pipeline.curate(curation_config.load(write_project(root, curate_extra)))
    splits = {name: [json.loads(line) for line in (result.output_dir / f"{name}.jsonl").read_text().splitlines()]
              for name in ("train", "val", "test")}  # fmt: skip
    rejected = [json.loads(line) for line in (result.output_dir / "rejected.jsonl").read_text().splitlines()]
    return {"out": result.output_dir, "curation": result.curation, "splits": splits, "rejected": rejected}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The same project curated with augmentation (seed 3, twice), with seed 4, and without it."""
    made = {name: curate(tmp_path_factory.mktemp(name), extra) for name, extra in
            [("on", AUGMENT.format(seed=3)), ("again", AUGMENT.format(seed=3)), ("other_seed", AUGMENT.format(seed=4)),
             ("off", "")]}  # fmt: skip
    return made


def augmented(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in run["splits"]["train"] if "augmented" in row]


def real(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if "augmented" not in row]


def test_every_augmented_row_names_its_source_and_transform(runs):
    train = runs["on"]["splits"]["train"]
    by_id = {row["id"]: row for row in real(train)}
    rows = augmented(runs["on"])
    assert {row["augmented"]["transform"] for row in rows} == set(AUGMENT_MIX), "every transform gets rows"
    for row in rows:
        source, transform = row["augmented"]["source"], row["augmented"]["transform"]
        assert set(row) == {"id", "messages", "label", "augmented"} and set(row["augmented"]) == {"source", "transform"}
        assert row["messages"][0] == {"role": "system", "content": SYSTEM}, f"{row['id']}: the rows' system prompt"
        assert row["messages"][-1] == {"role": "assistant", "content": row["label"]}
        if transform == "content_free":
            assert source is None and re.fullmatch(r"aug-content_free-\d+", row["id"])
            continue
        assert re.fullmatch(rf"{re.escape(source)}~aug-{transform}-\d+", row["id"]), row["id"]
        original = by_id[source]
        assert row["label"] == original["label"], f"{row['id']}: a transform keeps the label"
        assert row["messages"][1]["content"] != original["messages"][1]["content"]
    assert len({row["id"] for row in train}) == len(train), "ids are unique"


def test_only_train_rows_are_sources_and_val_test_are_untouched(runs):
    on, off = runs["on"], runs["off"]
    train_ids = {row["id"] for row in real(on["splits"]["train"])}
    assert {row["augmented"]["source"] for row in augmented(on)} - {None} <= train_ids
    for name in ("val", "test"):
        assert on["splits"][name] == off["splits"][name], f"{name}.jsonl is the same with augmentation on or off"
        assert not any("augmented" in row for row in on["splits"][name])
    assert real(on["splits"]["train"]) == off["splits"]["train"], "the real train rows are unchanged"
    dataset = load_dataset(on["out"])
    assert checks.overlaps(dataset) == {}, "no augmented row repeats a val/test text"
    assert checks.leaks(dataset, on["out"].parent / "golden") == {}


def test_the_share_is_respected_and_reported(runs):
    on = runs["on"]
    rows, real_rows = augmented(on), real(on["splits"]["train"])
    assert len(rows) == augment.target(len(real_rows), SHARE) == round(SHARE * len(real_rows) / (1 - SHARE))
    assert len(rows) / len(on["splits"]["train"]) == pytest.approx(SHARE, abs=1 / len(on["splits"]["train"]))
    info = on["curation"]["augment"]
    counts = {name: sum(r["augmented"]["transform"] == name for r in rows) for name in AUGMENT_MIX}
    assert info["by_transform"] == counts == info["wanted"] == augment.quotas(len(rows), AUGMENT_MIX)
    assert info["rows"] == len(rows) and info["share_target"] == SHARE and info["enabled"] is True
    stage = next(s for s in on["curation"]["stages"] if s["name"] == "augment")
    assert stage["in"] == len(real_rows) and stage["out"] == len(on["splits"]["train"])
    summary = (on["out"] / "summary.md").read_text()
    kept = sum(len(rows) for rows in on["splits"].values()) - len(rows)
    assert f"rows read, {kept} kept plus {len(rows)} augmented (train {len(on['splits']['train'])}," in summary
    assert f"Augmentation: {len(rows)} of {len(on['splits']['train'])} train rows" in summary
    assert "| augment |" in summary
    assert runs["off"]["curation"]["augment"] == {"enabled": False}
    assert "Augmentation: off" in (runs["off"]["out"] / "summary.md").read_text()


def test_same_seed_same_rows_other_seed_other_rows(runs):
    assert runs["again"]["splits"] == runs["on"]["splits"]
    assert (runs["again"]["out"] / "train.jsonl").read_bytes() == (runs["on"]["out"] / "train.jsonl").read_bytes()
    texts = {name: {r["messages"][1]["content"] for r in augmented(runs[name])} for name in ("on", "other_seed")}
    assert texts["on"] != texts["other_seed"]


def test_content_free_rows_get_the_fallback_label(runs):
    rows = [r for r in augmented(runs["on"]) if r["augmented"]["transform"] == "content_free"]
    assert rows
    for row in rows:
        assert row["label"] == "out_of_scope" and row["messages"][-1]["content"] == "out_of_scope"
        assert row["messages"][1]["content"] in augment.content_free_texts()


def test_a_train_row_equal_to_an_adversarial_probe_is_rejected_with_the_probe_named(runs):
    for name in ("on", "off"):
        leak = [r for r in runs[name]["rejected"] if r["stage"] == "leakage"]
        assert len(leak) == 1 and leak[0]["row"]["messages"][1]["content"] == PLANTED_PROBE
        assert leak[0]["golden"] == {"file": "golden/toy/cases.jsonl", "case_id": "toy-1", "kind": "exact",
                                     "probe": "toy-1~json"}  # fmt: skip
        assert leak[0]["reason"] == ("leaks into adversarial probe toy-1~json (generated from golden/toy/cases.jsonl): "
                                     "same text once normalised")  # fmt: skip


def examples() -> list[Example]:
    rows = [chat(text, label) for label, texts in ROWS.items() for text in texts]
    return [Example(f"rows.jsonl:{i}", f"rows.jsonl:{i}", r["messages"], r["label"], {}) for i, r in enumerate(rows)]


def guard(root: Path) -> augment.Guard:
    write_project(root)
    finder = leakage.finder_for(root / "golden", 13, minhash.MinHashParams(), root, None)
    return augment.Guard(finder, frozenset(), SchemaConfig())


def test_an_augmented_row_equal_to_an_adversarial_probe_is_dropped_with_the_probe_named(tmp_path):
    """A transform that, for one source row, returns exactly the suite's typo probe of golden case toy-1:
    that candidate is rejected naming the probe, and the next candidate takes its place."""
    probe = perturb(GOLDEN[0][1], "typo", seed_for("toy-1", "typo"))
    train = examples()
    poisoned = train[0].id

    def typo_or_probe(text: str, rng: random.Random, room: int) -> str:
        return probe if text == train[0].messages[1]["content"] else augment.typo(text, rng, room)

    config = AugmentConfig(enabled=True, share=0.5, mix={"typo": 1.0})
    out = augment.augment(train, config, system=SYSTEM, fallback="out_of_scope", guard=guard(tmp_path),
                          transforms={"typo": typo_or_probe})  # fmt: skip
    [dropped] = [r.to_json() for r in out.rejected]
    assert dropped["stage"] == "augment" and dropped["row"]["augmented"] == {"source": poisoned, "transform": "typo"}
    assert dropped["golden"]["probe"] == "toy-1~typo" and dropped["golden"]["kind"] == "exact"
    assert "leaks into adversarial probe toy-1~typo (generated from golden/toy/cases.jsonl)" in dropped["reason"]
    made = out.kept[len(train) :]
    assert len(made) == augment.target(len(train), 0.5), "the dropped candidate was replaced"
    assert probe not in {row.messages[1]["content"] for row in made}
    assert out.info["rejected"] == {"leakage": 1}


def test_a_blank_augmented_row_is_the_empty_probe_and_is_dropped(tmp_path):
    """Blank messages (whitespace, zero-width) are the suite's empty probes, whatever the blank characters."""
    config = AugmentConfig(enabled=True, share=0.2, mix={"spacing": 1.0})
    out = augment.augment(examples(), config, system=SYSTEM, fallback="out_of_scope", guard=guard(tmp_path),
                          transforms={"spacing": lambda text, rng, room: " \u200b\t"})  # fmt: skip
    assert out.kept == examples() and out.rejected
    assert all(r.extra["golden"]["probe"].startswith("empty~") for r in out.rejected)


def test_a_candidate_repeating_a_val_row_or_too_long_is_dropped_and_replaced(tmp_path):
    """Splits stay disjoint (data.splits_disjoint) and rows stay within the schema's bounds: a candidate
    equal to a val row's text, or longer than max_chars, is rejected with the reason, and replaced."""
    train, val = examples()[:-6], examples()[-6:]
    held_out = val[0].messages[1]["content"].upper()
    sources = {train[0].messages[1]["content"]: held_out, train[1].messages[1]["content"]: "x" * 5000}

    def framing_or_bad(text: str, rng: random.Random, room: int) -> str:
        return sources.get(text) or augment.framing(text, rng, room)

    checks_ = augment.Guard(guard(tmp_path).finder, augment.held_out({"train": train, "val": val}), SchemaConfig())
    config = AugmentConfig(enabled=True, share=0.5, mix={"framing": 1.0})
    out = augment.augment(train, config, system=SYSTEM, fallback=None, guard=checks_,
                          transforms={"framing": framing_or_bad})  # fmt: skip
    reasons = {r.row["augmented"]["source"]: r.reason for r in out.rejected}
    too_long = 5000 + len(train[1].label or "")
    assert reasons == {train[0].id: "same text as a val or test row once normalised: the splits must stay disjoint",
                       train[1].id: f"{too_long} characters outside the schema bounds [1, 4000]"}  # fmt: skip
    assert len(out.kept) - len(train) == augment.target(len(train), 0.5)
    assert out.info["rejected"] == {"held_out": 1, "bounds": 1}


def test_every_probe_the_adversarial_suite_builds_is_checked():
    """Rebuild the suite's own probes with its own module (constants, subset, evenly_spread) from the real
    golden/banking77: each must be among the texts the leakage check indexes."""
    spec = importlib.util.spec_from_file_location("adversarial_suite", ROOT / "suites" / "test_adversarial.py")
    assert spec and spec.loader
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    subset = first_per_label(load_set(ROOT / "golden", "banking77"), suite.PER_INTENT)
    query = {case.id: case.messages[-1]["content"] for case in subset}
    built = [perturb(query[c.id], suite.KINDS[i % len(suite.KINDS)], seed_for(c.id, suite.KINDS[i % len(suite.KINDS)]))
             for i, c in enumerate(subset)]  # fmt: skip
    built += [long_input(query[c.id], seed_for(c.id, "long"), question_first=i % 2 == 1).text
              for i, c in enumerate(suite.evenly_spread(subset, suite.LONG_CASES))]  # fmt: skip
    kinds = [suite.MARKUP_KINDS[i % len(suite.MARKUP_KINDS)] for i in range(suite.MARKUP_CASES)]
    built += [wrap_in_markup(query[c.id], k) for c, k in zip(suite.evenly_spread(subset, suite.MARKUP_CASES), kinds,
                                                              strict=False)]  # fmt: skip
    built += list(CONTENT_FREE.values())
    indexed = {g.text for g in leakage.probe_texts(ROOT / "golden", ["banking77"], ROOT)}
    missing = [text[:60] for text in built if text not in indexed]
    assert len(built) == 154 + 10 + 18 + 6 and not missing, missing[:5]
    assert leakage.router_sets(ROOT / "golden") == ["banking77", "injection", "multilingual", "ood"]


def test_exact_keys_of_texts_without_words():
    assert leakage.exact_key("") == leakage.exact_key(" \t") == leakage.exact_key("\u200b\u200b\n")
    assert leakage.exact_key("???") != leakage.exact_key("") and leakage.exact_key("???") != leakage.exact_key("!")
    assert leakage.exact_key(" ? ") == leakage.exact_key("?")
    assert leakage.exact_key("Where is my CARD?") == leakage.exact_key("where is my card")


def test_the_transforms_are_independent_of_the_probe_generators():
    """Own filler, frames and content-free texts: none is a probe's, so the suite still tests generalisation."""
    assert not set(augment.FILLER) & set(edge.FILLER)
    assert not {f.format(q="") for f in augment.FRAMES} & {p.format(q="") for p in perturbations.PARAPHRASES}
    probes = {leakage.exact_key(text) for text in CONTENT_FREE.values()}
    assert not {leakage.exact_key(text) for text in augment.content_free_texts()} & probes
    assert set(augment.TRANSFORMS) | {augment.CONTENT_FREE} == set(AUGMENT_MIX)


def test_transforms_are_seeded_and_change_the_text():
    query = "My replacement card still has not arrived, what should I do?"
    for name, transform in augment.TRANSFORMS.items():
        outputs = [transform(query, random.Random(seed), 1000) for seed in range(8)]
        assert outputs == [transform(query, random.Random(seed), 1000) for seed in range(8)], name
        assert all(out != query for out in outputs), name
        if name not in ("typo", "casing", "spacing"):
            assert all(query.rstrip("?") in out or "replacement card" in out for out in outputs), name
    letter = augment.long(query, random.Random(0), 200)
    assert len(letter) <= 200 and query in letter, "long keeps within its room"


def test_quotas_follow_the_mix_and_sum_to_the_total():
    assert augment.quotas(10, {"typo": 0.5, "casing": 0.3, "long": 0.2, "markup": 0.0}) == {"typo": 5, "casing": 3,
                                                                                            "long": 2}  # fmt: skip
    assert sum(augment.quotas(749, AUGMENT_MIX).values()) == 749
    assert augment.target(6903, 0.10) == 767


@pytest.mark.parametrize(("block", "message"), [
    ("    share: 1.5\n", "curate.augment.share: 1.5 must be in (0, 1)"),
    ("    mix:\n      typoo: 1.0\n", "curate.augment.mix.typoo: unknown transform — valid: typo,"),
    ("    mix:\n      typo: -1.0\n", "curate.augment.mix.typo: -1.0 is negative"),
    ("    fallback_label: declined\n", "curate.augment.fallback_label: 'declined' is neither in labels.json"),
])  # fmt: skip
def test_config_errors_name_the_key(tmp_path, block, message):
    config = write_project(tmp_path, "  augment:\n    enabled: true\n" + block)
    with pytest.raises(CurationError, match=re.escape(message)):
        curation_config.load(config)


def test_content_free_rows_need_a_fallback_label(tmp_path):
    config = write_project(tmp_path, "  augment:\n    enabled: true\n")
    config.write_text(config.read_text().replace("  extra_labels: [out_of_scope]\n", ""))
    with pytest.raises(CurationError, match=r"toy.yaml:\d+: curate.augment.fallback_label: content-free rows need"):
        curation_config.load(config)
    config.write_text(config.read_text() + "    fallback_label: card_arrival\n")
    assert curation_config.fallback_label(curation_config.load(config).curate) == "card_arrival"
