"""Classification scores, computed with scikit-learn so they mean what its documentation says."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
)


def classification_metrics(logits: Any, label_ids: Any, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro and weighted P/R/F1, the per-class report and the confusion matrix."""
    y_pred = np.asarray(logits).argmax(axis=-1)
    y_true = np.asarray(label_ids)
    every = list(range(len(labels)))  # classes absent from this split still get a row
    out: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, y_pred)), "n": int(len(y_true))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=every, average=average, zero_division=0
        )
        out[f"{average}_precision"] = float(p)
        out[f"{average}_recall"] = float(r)
        out[f"{average}_f1"] = float(f)
    report = classification_report(
        y_true, y_pred, labels=every, target_names=labels, output_dict=True, zero_division=0
    )
    out["per_class"] = {
        name: {k: float(v) for k, v in report[name].items()} for name in labels if name in report
    }
    out["confusion_matrix"] = {
        "labels": labels,
        "matrix": confusion_matrix(y_true, y_pred, labels=every).tolist(),
    }
    return out
