"""Text classification: text -> one label, scored with scikit-learn's standard metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput
from appliance.training.tasks import Task, register_task

if TYPE_CHECKING:
    from appliance.training.config import JobConfig


@register_task("classification")
class ClassificationTask(Task):
    description = (
        "text -> label; accuracy, macro/weighted P/R/F1, per-class report, confusion matrix"
    )
    model_kind = "encoder"
    default_base_model = "minilm-l6"
    uses_pooling = True
    selection_metric = "accuracy"
    greater_is_better = True

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        text_field, label_field = config.text_field, config.label_field
        examples, bad = [], []
        for index, record in enumerate(records):
            text, label = record.get(text_field), record.get(label_field)
            if not isinstance(text, str) or not text.strip() or not _is_label(label):
                bad.append(index)
                continue
            text = f"[{tag}] {text}" if tag else text
            examples.append({"text": text, "label": str(label)})
        if bad:
            # Never quote the record: it may hold personal data. Its position is enough.
            raise InvalidInput(
                f"{len(bad)} records lack a non-empty '{text_field}' string or a '{label_field}' "
                f"value (first at record {bad[0]}); set text_field/label_field to the right names"
            )
        return examples

    def stratify_key(self, example: dict[str, Any]) -> str | None:
        return str(example["label"])

    def label_names(self, examples: Sequence[dict[str, Any]]) -> list[str]:
        return sorted({e["label"] for e in examples})

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        batch = tokenizer([e["text"] for e in examples], add_special_tokens=True)
        return [len(ids) for ids in batch["input_ids"]]

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        index = {name: i for i, name in enumerate(labels)}
        batch = tokenizer([e["text"] for e in examples], truncation=True, max_length=max_length)
        return [
            {"input_ids": ids, "labels": index[e["label"]]}
            for ids, e in zip(batch["input_ids"], examples, strict=True)
        ]

    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        from appliance.training.metrics import classification_metrics

        return {"loss": loss, **classification_metrics(predictions, label_ids, labels)}


def _is_label(value: Any) -> bool:
    if isinstance(value, bool | int):
        return True
    return isinstance(value, str) and bool(value.strip())
