"""The recognizer set is validated when the analyzer is built, with errors naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import ConfigurationError
from appliance.redaction.registry import DEFAULT_CONFIG, load_recognizer_set


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "recognizers.yaml"
    path.write_text(body, "utf-8")
    return path


def test_shipped_set_loads_every_recognizer() -> None:
    rs = load_recognizer_set(DEFAULT_CONFIG)
    assert len(rs.recognizers) == 17
    wanted = {"EMAIL_ADDRESS", "IBAN_CODE", "UK_NHS", "CRYPTO", "BANK_ACCOUNT"}
    assert wanted <= set(rs.pattern_entities)


@pytest.mark.parametrize(("body", "message"), [
    ("version: 2\nrecognizers: []\n", "version: 1"),
    ("version: 1\nrecognizers:\n  - {name: NopeRecognizer, entity: X}\n", "unknown recognizer"),
    ("version: 1\nrecognizers:\n  - {name: EmailRecognizer, entity: URL}\n",
     "detects EMAIL_ADDRESS"),
    ("version: 1\nrecognizers:\n  - {name: EmailRecognizer, entity: EMAIL_ADDRESS}\n"
     "  - {name: EmailRecognizer, entity: EMAIL_ADDRESS}\n", "listed twice"),
    ("version: 1\nscore_threshold: 2\nrecognizers:\n  - {name: IpRecognizer, entity: IP_ADDRESS}\n",
     "score_threshold"),
    ("version: 1\nextra: 1\nrecognizers: []\n", "unknown keys"),
    ("version: 1\nrecognizers:\n  - {name: IpRecognizer, entity: IP_ADDRESS, enabled: false}\n",
     "no recognizer enabled"),
    ("version: 1\nner: {entities: [MISC]}\nrecognizers: []\n", "ner.entities"),
    ("version: [\n", "invalid recognizer set"),
])
def test_bad_sets_fail_at_load(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[")):
        load_recognizer_set(_write(tmp_path, body))


def test_build_analyzer_fails_fast_on_a_bad_set(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from appliance.redaction import build_analyzer

    with pytest.raises(ConfigurationError):
        build_analyzer(SimpleNamespace(ner_backend="none", ner_model_path=None),
                       recognizers_yaml=_write(tmp_path, "version: 1\nrecognizers: [1]\n"))


def test_unknown_or_incomplete_ner_backend_is_a_configuration_error() -> None:
    from types import SimpleNamespace

    from appliance.redaction import build_analyzer

    with pytest.raises(ConfigurationError, match="ner_model_path"):
        build_analyzer(SimpleNamespace(ner_backend="hf", ner_model_path=None))
    with pytest.raises(ConfigurationError, match="cannot load the spacy"):
        build_analyzer(SimpleNamespace(ner_backend="spacy", ner_model_path=Path("/nonexistent")))
