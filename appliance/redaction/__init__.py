"""PII redaction: detection (Presidio, offline, own NER model) and anonymization.

Public API (imported lazily, so ``python -m appliance.redaction.train_ner`` on a bare GPU box
needs only torch, transformers and peft):

- ``build_analyzer(settings) -> PiiAnalyzer``; ``PiiAnalyzer.analyze_batch(texts)``
- ``Redactor``, ``RedactionResult``, ``RedactionReport``, ``render_chart_svg``,
  ``RedactorConfig``, ``build_redactor``, ``analyze_texts`` (process-pool worker)
- ``analyze_lines``, ``redact_lines``, ``evaluate`` (the ``appliance pii`` commands)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "build_analyzer": "analyzer", "PiiAnalyzer": "analyzer", "PiiSpan": "analyzer",
    "Redactor": "anonymizer", "RedactionResult": "anonymizer", "RedactorConfig": "anonymizer",
    "Mark": "anonymizer",
    "build_redactor": "anonymizer", "analyze_texts": "anonymizer", "OPERATORS": "anonymizer",
    "RedactionReport": "report", "render_chart_svg": "report",
    "analyze_lines": "commands", "redact_lines": "commands",
    "evaluate": "evaluation", "EvalTable": "evaluation",
    "normalize": "normalize",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'appliance.redaction' has no attribute {name!r}")
    return getattr(import_module(f"appliance.redaction.{_EXPORTS[name]}"), name)
