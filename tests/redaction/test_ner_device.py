"""Where the NER model runs: ``ner_device`` auto | cpu | cuda (a CUDA path when a GPU is there)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from appliance.errors import ConfigurationError
from appliance.redaction import build_analyzer
from appliance.redaction.ner_model import load_bundled, resolve_device

HAS_CUDA = torch.cuda.is_available()


def test_auto_is_cuda_when_torch_sees_one_else_the_cpu() -> None:
    assert resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("tpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA device")
def test_cuda_without_a_device_is_a_configuration_error_at_engine_start() -> None:
    with pytest.raises(ConfigurationError, match="no CUDA device"):
        build_analyzer(SimpleNamespace(ner_backend="bundled", ner_model_path=None,
                                       ner_device="cuda"))


def test_the_setting_is_validated_and_carried_to_worker_processes() -> None:
    from pydantic import ValidationError

    from appliance.config import Settings
    from appliance.redaction.anonymizer import RedactorConfig

    with pytest.raises(ValidationError):
        Settings(ner_device="gpu")  # type: ignore[arg-type]
    settings = Settings(ner_device="cpu")
    assert RedactorConfig.from_settings(settings).ner_device == "cpu"


TEXTS = ["Dear Ms Amara Okafor, your parcel from Zalando left Hamburg on Monday.",
         "Call Jonas Weber at Siemens AG in Munich about the Lisbon office.",
         "Patient: Li Wei, seen at St Thomas' Hospital, London, by Dr Priya Nair."] * 8


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_gives_the_cpu_spans() -> None:
    cpu, cuda = load_bundled(device="cpu"), load_bundled(device="cuda")
    assert next(cuda.model.parameters()).device.type == "cuda"
    a, b = cpu.predict(TEXTS), cuda.predict(TEXTS)
    assert [[(s.start, s.end, s.entity_type) for s in x] for x in a] == \
        [[(s.start, s.end, s.entity_type) for s in x] for x in b]
    for x, y in zip(a, b, strict=True):
        assert all(abs(s.score - t.score) < 1e-3 for s, t in zip(x, y, strict=True))
    with pytest.raises(ValueError, match="CPU only"):
        load_bundled(device="cuda", quantize=True)
