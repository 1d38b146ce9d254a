"""Exports of a generative model that serving stacks load: the merged model in plain
transformers, the adapter in PEFT; the memorization scan in front of the approver; bundle
formats 3 and 2 verifying, tampering failing.

One home and one LoRA SFT job of the tiny Llama (the real job path) serve the whole module; each
test sets the card's memorization scan it needs (tests/training/tiny_sft_home.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from appliance.crypto import load_public_key, load_signing_key
from appliance.errors import Conflict, IntegrityError, InvalidInput
from appliance.training import export, models
from tests.training.tiny_sft_home import (
    BASE,
    make_people,
    register_tiny_llama,
    scan_result,
    set_card_metrics,
    train_sft_model,
)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from appliance.context import init_home, open_context

    root = tmp_path_factory.mktemp("merged-export")
    init_home(root / "home")
    ctx = open_context(root / "home")
    try:
        people = make_people(ctx)
        base_path = register_tiny_llama(ctx, root)
        model_id = train_sft_model(ctx, people)
        yield {"ctx": ctx, "people": people, "model_id": model_id, "base": base_path,
               "root": root}
    finally:
        ctx.close()


def released(trained: dict[str, Any], tmp_path: Path, merged: bool) -> tuple[Any, Path]:
    """Request (olivia), approve (carol), download (olivia): the released bundle's path."""
    ctx, people = trained["ctx"], trained["people"]
    set_card_metrics(ctx, trained["model_id"], memorization=scan_result(flagged=False))
    request = export.request_export(ctx, people["olivia"], trained["model_id"], merged=merged)
    export.approve_export(ctx, people["carol"], request.export_id, "scan clean")
    out = tmp_path / "bundle.tar"
    export.download_export(ctx, people["olivia"], request.export_id, out)
    return request, out


def extract(bundle: Path, into: Path) -> Path:
    with tarfile.open(bundle) as tar:
        tar.extractall(into, filter="data")
    return into


def predictor_logits(trained: dict[str, Any], ids: torch.Tensor) -> torch.Tensor:
    """The appliance's own model (the predictor behind ``model generate``), on ``ids``."""
    from appliance.training.inference import load_predictor

    ctx, people = trained["ctx"], trained["people"]
    info = models.load_model_info(ctx, trained["model_id"])
    weights = models.read_model_weights(ctx, people["olivia"], trained["model_id"],
                                        "model.predict", info.resource(), "inference")
    predictor = load_predictor(weights, trained["base"], device="cpu")
    with torch.no_grad():
        return predictor.model(input_ids=ids).logits


def sample_ids(directory: Path) -> torch.Tensor:
    from transformers import AutoTokenizer

    from appliance.training.generation import prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    return torch.tensor([prompt_ids(tokenizer, [{"role": "user",
                                                 "content": "what is the weather today"}])])


def public_key(trained: dict[str, Any]) -> Any:
    return load_public_key(export.public_key_file(trained["ctx"]))


def test_merged_bundle_loads_in_plain_transformers(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    request, bundle = released(trained, tmp_path, merged=True)
    assert request.contents == "merged" and request.memorization is not None
    report = export.verify_bundle(bundle, public_key(trained))
    assert report["format"] == "appliance-export/3" and report["contents"] == "merged"
    assert {"model/config.json", "model/model.safetensors", "model/generation_config.json",
            "model/tokenizer.json", "model_card.json"} <= set(report["files"])

    directory = extract(bundle, tmp_path / "out") / "model"
    merged = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True).eval()
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert not any("lora" in name for name, _ in merged.named_parameters())
    ids = sample_ids(directory)
    with torch.no_grad():
        logits = merged(input_ids=ids).logits
    torch.testing.assert_close(logits, predictor_logits(trained, ids), atol=1e-5, rtol=1e-4)

    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["export"]["contents"] == "merged" and card["export"]["directory"] == "model/"
    assert card["metrics"]["memorization"]["flagged"] is False
    # built in memory: nothing of it was ever written in the home
    assert not [p for p in trained["ctx"].settings.home.rglob("*")
                if p.suffix in WEIGHT_SUFFIXES or p.name.startswith("export-")]


def test_adapter_bundle_loads_with_peft(trained: dict[str, Any], tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    request, bundle = released(trained, tmp_path, merged=False)
    assert request.contents == "adapter"
    report = export.verify_bundle(bundle, public_key(trained))
    assert report["contents"] == "adapter" and report["directory"] == "adapter"
    directory = extract(bundle, tmp_path / "out") / "adapter"
    config = json.loads((directory / "adapter_config.json").read_text())
    assert (config["peft_type"], config["task_type"], config["r"]) == ("LORA", "CAUSAL_LM", 4)
    assert config["base_model_name_or_path"] == BASE and config["inference_mode"] is True

    base = AutoModelForCausalLM.from_pretrained(trained["base"], local_files_only=True)
    tuned = PeftModel.from_pretrained(base, directory).eval()
    ids = sample_ids(directory)
    with torch.no_grad():
        logits = tuned(input_ids=ids).logits
    torch.testing.assert_close(logits, predictor_logits(trained, ids), atol=1e-5, rtol=1e-4)


def test_tampered_merged_bundle_fails_to_verify(trained: dict[str, Any], tmp_path: Path) -> None:
    _, bundle = released(trained, tmp_path, merged=True)
    public = public_key(trained)
    data = bundle.read_bytes()
    weights_at = data.index(b'{"__metadata__"', data.index(b"model/model.safetensors"))
    config_at = data.index(b'"architectures"')
    for offset in (100, weights_at + 4, weights_at + 5000, config_at, len(data) - 1):
        tampered = bytearray(data)
        tampered[offset] ^= 0x01
        bad = tmp_path / f"bad-{offset}.tar"
        bad.write_bytes(bytes(tampered))
        with pytest.raises(IntegrityError):
            export.verify_bundle(bad, public)

    files = export._untar(data)
    for name, change in (
        ("added", {**files, "model/extra.json": b"{}"}),  # a file the manifest does not list
        ("dropped", {k: v for k, v in files.items() if k != "model/config.json"}),
        ("swapped", {**files, "model/config.json": files["model/generation_config.json"]}),
    ):
        bad = tmp_path / f"{name}.tar"
        bad.write_bytes(export._tar(change))
        with pytest.raises(IntegrityError):
            export.verify_bundle(bad, public)
    # a name outside the layouts' directories is refused before anything is read
    outside = io.BytesIO()
    with tarfile.open(fileobj=outside, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("../escape.json", "model/sub/config.json"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    (tmp_path / "outside.tar").write_bytes(outside.getvalue())
    with pytest.raises(IntegrityError, match="unexpected entry"):
        export.verify_bundle(tmp_path / "outside.tar", public)


def test_format_2_bundles_still_verify_and_seal(trained: dict[str, Any], tmp_path: Path) -> None:
    """Released before format 3 (the weights layout, no ``contents``), or requested before the
    upgrade and approved after it."""
    home = trained["ctx"].settings.home
    signing = load_signing_key(home / "keys" / "audit-signing.key")
    weights = b"stand-in weights"
    card = json.dumps({"model_id": "mdl_old"}, indent=2, sort_keys=True).encode() + b"\n"
    files = {export.WEIGHTS: weights, export.CARD: card}
    manifest = {
        "format": "appliance-export/2", "export_id": "exp_old", "model_id": "mdl_old",
        "requested_by": "olivia", "created_at": "2026-01-01T00:00:00+00:00", "approvals": [],
        "signing_key_sha256": "unused",
        "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
                  for n, d in sorted(files.items())},
    }
    reviewed = export._signed(files, manifest, signing)
    sealed = export.seal_approval(reviewed, "carol", "2026-01-02T00:00:00+00:00", signing)
    path = tmp_path / "old.tar"
    path.write_bytes(sealed)
    report = export.verify_bundle(path, public_key(trained))
    assert report["format"] == "appliance-export/2" and report["contents"] == "weights"
    assert (report["requested_by"], report["approved_by"]) == ("olivia", "carol")
    assert report["reviewed_bundle_sha256"] == hashlib.sha256(reviewed).hexdigest()


def test_flagged_export_is_approved_only_with_a_reason(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    ctx, people, model_id = trained["ctx"], trained["people"], trained["model_id"]
    scan = scan_result(flagged=True)
    set_card_metrics(ctx, model_id, memorization=scan)
    request = export.request_export(ctx, people["olivia"], model_id, merged=True)
    assert request.memorization == scan and request.contents == "merged"
    assert export.show_export(ctx, people["carol"], request.export_id).memorization == scan
    [event] = [e for e in ctx.audit.query(action="model.export.request", limit=1000)
               if e.details.get("export_id") == request.export_id]
    assert event.details["contents"] == "merged"
    summary = {k: v for k, v in event.details.items() if k.startswith("memorization_")}
    assert summary == {
        "memorization_flagged": True, "memorization_reasons": 2, "memorization_canaries": 1,
        "memorization_max_exposure": "29.897", "memorization_verbatim_train": "0.950",
        "memorization_verbatim_heldout": "0.000"}

    for empty in ("", "   \n"):
        with pytest.raises(InvalidInput, match="flagged by the memorization scan.*needs a "
                                               "reason"):
            export.approve_export(ctx, people["carol"], request.export_id, empty)
    assert export.get_export(ctx, request.export_id).state == "PENDING_REVIEW"
    assert not [e for e in ctx.audit.query(action="model.export.approve", limit=1000)
                if e.details.get("bundle_sha256") == request.bundle_sha256]
    approved = export.approve_export(ctx, people["carol"], request.export_id,
                                     "synthetic canary only; records are public FAQ text")
    assert approved.state == "APPROVED"
    [decision] = [e for e in ctx.audit.query(action="model.export.approve", limit=1000)
                  if e.details.get("bundle_sha256") == request.bundle_sha256]
    assert decision.details["memorization_flagged"] is True
    assert decision.details["memorization_max_exposure"] == "29.897"
    assert decision.details["contents"] == "merged" and decision.details["reason_given"]


def test_generative_model_without_a_scan_cannot_be_exported(trained: dict[str, Any]) -> None:
    ctx, people, model_id = trained["ctx"], trained["people"], trained["model_id"]
    set_card_metrics(ctx, model_id, memorization=None)
    before = len(list(ctx.audit.query(action="model.export.request", limit=10_000)))
    for merged in (False, True):
        with pytest.raises(Conflict, match="no memorization scan.*retrain it with a current "
                                           "version"):
            export.request_export(ctx, people["olivia"], model_id, merged=merged)
    # refused before the weights were decrypted: no request decision at all
    assert len(list(ctx.audit.query(action="model.export.request", limit=10_000))) == before
    set_card_metrics(ctx, model_id, memorization=scan_result(flagged=False))


@pytest.mark.slow
def test_merged_smollm2_matches_the_predictor(smollm2_dir: Path, tmp_path: Path) -> None:
    """The bundled base (tied embeddings, converted from GGUF): LoRA adapters with non-zero
    weights merged in memory, written as a plain directory, loaded by plain transformers."""
    from transformers import AutoModelForCausalLM

    from appliance.training import hf_export
    from appliance.training.inference import load_predictor
    from appliance.training.modeling import (
        LORA_TARGETS,
        ModelSpec,
        build_model,
        weights_to_bytes,
    )

    spec = ModelSpec("sft", "lora", "causal", "smollm2-135m-instruct", "unused", [], None,
                     {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": LORA_TARGETS["llama"]},
                     [], 256)
    model = build_model(spec, smollm2_dir)
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(0, 0.01)  # a trained adapter is not the identity
    weights = weights_to_bytes(model, spec)
    del model
    files = hf_export.merged_files(weights, smollm2_dir)
    assert "quantization_config" not in json.loads(files["config.json"])
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    assert merged.lm_head.weight.data_ptr() == merged.model.embed_tokens.weight.data_ptr()
    ids = sample_ids(tmp_path)
    with torch.no_grad():
        logits = merged(input_ids=ids).logits
        expected = load_predictor(weights, smollm2_dir, device="cpu").model(input_ids=ids).logits
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
