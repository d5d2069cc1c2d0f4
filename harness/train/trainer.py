"""`SharedPrefixSFTTrainer`: TRL's SFTTrainer, with batches that share their prompt prefix computed once,
and, when only the top layers are adapted, the frozen layers below them computed once per run.

Everything else (dataset preparation, completion-only labels, optimiser, schedule, logging, PEFT saving)
is TRL's. Four things change: the training batches are grouped by prefix (`PrefixGroupedBatches`); the
training loss runs the shared prefix once per batch (`embedded_predictors`, in chunks of rows of similar
length, or `prefix_shared_predictors` for models off that path); with `frozen_trunk`, the
layers below the first adapted one run once over the whole training set before the first step
(`build_trunk_cache`), so every step runs only the adapted layers (`trunk_predictors`); and replay rows
may be learned by distillation from the base model (`harness.train.distill`), whose states along each
replayed chat are computed at its first visit and kept. Evaluation and batches
without a worthwhile shared prefix take TRL's own path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trl import SFTTrainer

from harness.train.config import TrainConfigError
from harness.train.distill import TeacherStates, adapter_off, distilled_rows, mixed_loss
from harness.train.frozen_trunk import (
    TrunkCache,
    build_trunk_cache,
    embedded_predictors,
    first_trained_layer,
    load_trunk,
    reusable_trunk,
    save_trunk,
    trunk_file_name,
    trunk_fingerprint,
    trunk_predictors,
    trunk_supported,
)
from harness.train.shared_prefix import (
    MIN_SHARED_TOKENS,
    PrefixGroupedBatches,
    batch_rows,
    causal_lm,
    label_loss,
    min_group_rows,
    plain_predictors,
    prefix_groups,
    prefix_shared_predictors,
    real_rows,
    shared_length,
    splittable,
)

TRUNK_MIN_EPOCHS = 0.5
"""`frozen_trunk: auto` runs the one-off trunk pass when the run visits at least this many epochs of rows
(and uses a trunk stored by an earlier run on the same rows and weights whatever the run's length)."""


class SharedPrefixSFTTrainer(SFTTrainer):  # type: ignore[misc]
    """SFTTrainer for datasets whose examples repeat a long prompt prefix (a system prompt, few shots)."""

    frozen_trunk: bool | str = False
    """Cache the frozen layers' states once per run: True, False or "auto" (set from `train.frozen_trunk`)."""
    trunk_store: Path | None = None
    """Where computed trunks are kept for the next run on the same rows and weights (None: not kept)."""
    trunk: TrunkCache | None = None
    trunk_seconds: float = 0.0
    distilled: frozenset[tuple[int, ...]] = frozenset()
    """Rows (their token ids) learned by distillation from the base model, not by cross-entropy: replay rows
    under `replay.loss: distill` (`harness.train.distill`)."""
    distill_weight: float = 1.0
    """How much a distilled token's KL counts against a task token's cross-entropy (`replay.distill_weight`)."""
    teacher_states: TeacherStates | None = None
    """The base model's states along the distilled rows, kept from a row's first visit (`TeacherStates`)."""
    layer_path: bool = False
    """The model runs on the trunk's own layer path (`trunk_supported`): without a trunk, shared-prefix
    batches then run their rows in length chunks (`embedded_predictors`) instead of padded to the longest."""

    def get_train_dataloader(self) -> Any:
        from torch.utils.data import DataLoader

        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        size = self.args.per_device_train_batch_size
        groups = prefix_groups(dataset["input_ids"], min_group_rows(size))
        batches = PrefixGroupedBatches(dataset["input_ids"], size, self.args.seed, groups)
        loader = DataLoader(
            dataset, batch_sampler=batches, collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory,
        )  # fmt: skip
        self._check_distilled(dataset["input_ids"])
        self.layer_path = trunk_supported(self.model, max(map(len, dataset["input_ids"]), default=0))
        self._prepare_trunk(dataset, groups)
        return self.accelerator.prepare(loader)

    def _check_distilled(self, input_ids: list[list[int]]) -> None:
        """Distilled rows are found by their token ids in each batch; one TRL changed (truncated) would
        silently be learned by cross-entropy instead."""
        missing = len(self.distilled - {tuple(row) for row in input_ids})
        if missing:
            raise TrainConfigError(f"{missing} distilled replay rows are not in the prepared training set as "
                                   "tokenized; a max_length shorter than the longest row truncates them")  # fmt: skip

    def _prepare_trunk(self, dataset: Any, groups: list[str]) -> None:
        """Run the frozen layers once over every training row, when there are frozen layers to skip."""
        boundary = first_trained_layer(self.model)
        if not self.frozen_trunk or self.trunk is not None or boundary == 0 or not self.layer_path:
            return
        started = time.perf_counter()
        fingerprint = trunk_fingerprint(self.model, boundary, str(self.accelerator.mixed_precision))
        stored = self.trunk_store / trunk_file_name(fingerprint, dataset["input_ids"], groups) \
            if self.trunk_store is not None else None  # fmt: skip
        if self.frozen_trunk == "auto" and not (stored is not None and stored.is_file()) \
                and not self._trunk_pays(len(dataset)):  # fmt: skip
            print("frozen trunk: off (auto): the run visits fewer rows than the one-off pass would compute; "
                  "set train.frozen_trunk: true to force it", flush=True)  # fmt: skip
            return
        self.trunk = load_trunk(stored) if stored is not None else None
        how = f"reused from {stored}"
        if self.trunk is None:
            self.trunk, how = self._compute_trunk(dataset, boundary, groups, fingerprint)
            if stored is not None:
                save_trunk(self.trunk, stored)
        self.trunk_seconds = time.perf_counter() - started
        print(f"frozen trunk: layers 0-{boundary - 1} over {len(self.trunk.group)} distinct rows, {how} in "
              f"{self.trunk_seconds:.0f}s ({self.trunk.megabytes:.0f} MB of states); each step runs only the "
              f"{_layer_count(self.model) - boundary} adapted layers", flush=True)  # fmt: skip

    def _compute_trunk(
        self, dataset: Any, boundary: int, groups: list[str], fingerprint: str
    ) -> tuple[TrunkCache, str]:  # fmt: skip
        """The trunk pass, taking every row a stored trunk of the same fingerprint already holds; and how it
        went, for the log line."""
        lender = reusable_trunk(self.trunk_store, fingerprint) if self.trunk_store is not None else None
        earlier = load_trunk(lender) if lender is not None else None
        learned = [[int(label != -100) for label in row] for row in dataset["labels"]]  # TRL's completion labels
        trunk = build_trunk_cache(self.model, dataset["input_ids"], learned, boundary, groups,
                                  autocast=self.accelerator.autocast(), reuse=earlier)  # fmt: skip
        if not trunk.reused_rows:
            return trunk, "computed once"
        computed = len(trunk.group) - trunk.reused_rows
        return trunk, f"computed once ({computed} rows; {trunk.reused_rows} taken from {lender})"

    def _trunk_pays(self, rows: int) -> bool:
        """The one-off pass runs the trunk once per row, without gradients; each visit of a row then skips the
        trunk's forward with gradients. Measured with bench/frozen_trunk.py (top 8 of 30 layers, Banking77
        batches) the pass costs under a third of what one visit per row saves, so it pays from a third of an
        epoch on; TRUNK_MIN_EPOCHS keeps a margin for other shapes. (That was against the padded shared-prefix
        path; the length-chunked one it has given way to is cheaper per step, so the break-even lies later.
        Not re-measured.)"""
        args = self.args
        per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
        visits = args.max_steps * per_step if args.max_steps > 0 else args.num_train_epochs * rows
        return visits >= TRUNK_MIN_EPOCHS * rows

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        # Gradient checkpointing re-runs layers in backward, which would write the shared cache twice.
        plain = return_outputs or not model.training or self.args.gradient_checkpointing or not splittable(model)
        distilled = distilled_rows(inputs["input_ids"], inputs["attention_mask"], self.distilled) \
            if self.distilled and not plain else None  # fmt: skip
        forward = None if plain else self._forward(model, inputs)
        if forward is None and (distilled is None or not distilled.any()):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        forward = forward or (lambda: plain_predictors(model, inputs))
        head = causal_lm(model).get_output_embeddings()
        with self.accelerator.autocast():
            predictors, targets = forward()
            if distilled is not None and distilled.any():
                teacher = self._teacher_states(model, inputs, distilled)
                parts = mixed_loss(
                    head, predictors, teacher, targets, distilled, num_items_in_batch, self.distill_weight
                )
            else:
                parts = label_loss(head, predictors, targets, num_items_in_batch)
        metrics = self._metrics["train"]
        metrics["mean_token_accuracy"].append(parts.correct_tokens / max(parts.label_tokens, 1))
        self._total_train_tokens += int(inputs["attention_mask"].sum())
        metrics["num_tokens"] = [self._total_train_tokens]
        return parts.loss

    def _teacher_states(self, model: Any, inputs: dict[str, Any], distilled: Any) -> Any:
        """The base model's states along the batch's distilled rows, run (adapter off) only for rows not met
        before: they never change, and each replayed chat is visited several times a run."""

        def compute(indices: list[int]) -> tuple[Any, Any]:
            rows = batch_rows(inputs, indices)
            forward = self._forward(model, rows) or (lambda: plain_predictors(model, rows))
            with adapter_off(self.accelerator.unwrap_model(model)):
                return forward()

        if self.teacher_states is None:
            self.teacher_states = TeacherStates()
        return self.teacher_states.for_batch(real_rows(inputs["input_ids"], inputs["attention_mask"]), distilled,
                                             compute)  # fmt: skip

    def _forward(self, model: Any, inputs: dict[str, Any]) -> Callable[[], tuple[Any, Any]] | None:
        """How this batch's predicting states are computed: on the frozen trunk, with its shared prefix run
        once, or None for TRL's plain path (no prefix worth sharing, or a single row)."""
        if self.trunk is not None:
            trunk = self.trunk
            return lambda: trunk_predictors(model, trunk, inputs)
        prefix = shared_length(inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
        if prefix < MIN_SHARED_TOKENS or len(inputs["input_ids"]) < 2:
            return None
        if self.layer_path:
            return lambda: embedded_predictors(model, inputs, prefix)
        return lambda: prefix_shared_predictors(model, inputs, prefix)


def _layer_count(model: Any) -> int:
    return int(causal_lm(model).config.num_hidden_layers)
