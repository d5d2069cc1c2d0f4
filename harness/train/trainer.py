"""`SharedPrefixSFTTrainer`: TRL's SFTTrainer, with batches that share their prompt prefix computed once.

Everything else (dataset preparation, completion-only labels, optimiser, schedule, logging, PEFT saving)
is TRL's. Only two things change: the training batches are grouped by prefix (`PrefixGroupedBatches`)
and the training loss runs the shared prefix once per batch (`prefix_shared_loss`). Evaluation and
batches without a worthwhile shared prefix take TRL's own path.
"""

from __future__ import annotations

from typing import Any

from trl import SFTTrainer

from harness.train.shared_prefix import (
    MIN_SHARED_TOKENS,
    PrefixGroupedBatches,
    prefix_shared_loss,
    shared_length,
    splittable,
)


class SharedPrefixSFTTrainer(SFTTrainer):  # type: ignore[misc]
    """SFTTrainer for datasets whose examples repeat a long prompt prefix (a system prompt, few shots)."""

    def get_train_dataloader(self) -> Any:
        from torch.utils.data import DataLoader

        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        batches = PrefixGroupedBatches(dataset["input_ids"], self.args.per_device_train_batch_size, self.args.seed)
        loader = DataLoader(
            dataset, batch_sampler=batches, collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory,
        )  # fmt: skip
        return self.accelerator.prepare(loader)

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        prefix = shared_length(inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
        # Gradient checkpointing re-runs layers in backward, which would write the shared cache twice.
        plain = return_outputs or not model.training or self.args.gradient_checkpointing or not splittable(model)
        if plain or prefix < MIN_SHARED_TOKENS or len(inputs["input_ids"]) < 2:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        parts = prefix_shared_loss(model, inputs, prefix, num_items_in_batch)
        metrics = self._metrics["train"]
        metrics["mean_token_accuracy"].append(parts.correct_tokens / max(parts.label_tokens, 1))
        self._total_train_tokens += int(inputs["attention_mask"].sum())
        metrics["num_tokens"] = [self._total_train_tokens]
        return parts.loss
