"""Analyzers shared by the redaction tests: building one loads the NER model (seconds)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import appliance  # noqa: F401  (offline mode first)


@pytest.fixture(scope="session")
def pattern_analyzer():  # type: ignore[no-untyped-def]
    from appliance.redaction import build_analyzer

    return build_analyzer(SimpleNamespace(ner_backend="none", ner_model_path=None))


@pytest.fixture(scope="session")
def full_analyzer():  # type: ignore[no-untyped-def]
    from appliance.redaction import build_analyzer

    return build_analyzer(None)


def found(analyzer, text: str) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(matched original text, entity type) for every span the analyzer reports."""
    return {(text[s.start : s.end], s.entity_type) for s in analyzer.analyze(text)}
