"""A home with a LoRA SFT model of the tiny Llama, trained through the real job path (gate,
vault, worker), for the export and console tests; and the card sections the engine writes.

The card's ``metrics.memorization`` (and ``metrics.generation``) are set here explicitly by
:func:`set_card_metrics`, so each test decides what the approver sees (flagged or not, or no
scan at all), whatever the engine of the day put there.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from tests.training.conftest import sft_records
from tests.training.tiny_models import make_tiny_llama

PEOPLE = (("olivia", "operator"), ("oscar", "operator"), ("carol", "compliance"),
          ("dmitri", "compliance"), ("audra", "auditor"), ("adam", "admin"))
BASE = "tiny-llama"


def make_people(ctx: Any) -> dict[str, Any]:
    from appliance.gate import Principal
    from appliance.identity import add_user

    people: dict[str, Any] = {}
    for name, role in PEOPLE:
        _, people[f"{name}_token"] = add_user(ctx, name, role)
        people[name] = Principal(name, role)
    return people


def register_tiny_llama(ctx: Any, root: Path) -> Path:
    """The tiny Llama registered as ``tiny-llama`` (the row, as an admin's registration makes)."""
    from appliance.training import registry

    path = make_tiny_llama(root / BASE)
    registry._insert(ctx, BASE, path, registry.directory_sha256(path))
    return path


def train_sft_model(ctx: Any, people: dict[str, Any]) -> str:
    """Ingest (olivia), approve (carol) and train a LoRA SFT job; return the model id."""
    from appliance import datasets as ds
    from appliance.training import jobs, worker

    data = b"".join(json.dumps(r).encode() + b"\n" for r in sft_records(48))
    ingested = ds.ingest_stream(
        ctx, people["olivia"], io.BytesIO(data), name="qa", source_name="qa.jsonl", fmt="jsonl",
        spec=ds.parse_spec({"task": "sft", "redact": False, "prompt_field": "prompt",
                            "response_field": "response"}))
    ds.approve_dataset(ctx, people["carol"], ingested.dataset_id, "fine")
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "sft", "dataset_ids": [ingested.dataset_id], "base_model": BASE,
        "method": "lora", "lora_r": 4, "epochs": 2, "learning_rate": 5e-3, "batch_size": 8,
        "eval_generations": 4, "memorization_records": 8,
    })
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done and done.error
    assert done.model_id
    return str(done.model_id)


def set_card_metrics(ctx: Any, model_id: str, **sections: Any) -> None:
    """Put (or, with None, remove) sections of the model card's metrics."""
    from appliance.db import transaction

    row = ctx.conn.execute("SELECT card FROM models WHERE model_id=?", (model_id,)).fetchone()
    card = json.loads(row["card"])
    metrics = card.setdefault("metrics", {})
    for name, value in sections.items():
        if value is None:
            metrics.pop(name, None)
        else:
            metrics[name] = value
    with transaction(ctx.conn):
        ctx.conn.execute("UPDATE models SET card=? WHERE model_id=?",
                         (json.dumps(card, sort_keys=True), model_id))


def scan_result(flagged: bool) -> dict[str, Any]:
    """A memorization scan as :func:`appliance.training.memorization.scan` returns it."""
    canary = {"sha256": "ab" * 32, "repeats": 10, "exposure": 29.897 if flagged else 1.2,
              "rank_estimate": 1 if flagged else 435_000_000, "sampled_rank": 1 if flagged else 110,
              "exposure_sampled": 8.006 if flagged else 1.2, "log_perplexity": 0.4,
              "extracted": flagged}
    reasons = (["canary 1 (10x in training): greedy decoding reproduces its secret",
                "verbatim completion: 95% of 40 training records against 0% of 40 held-out "
                "ones (gap 0.95 >= 0.1, p = 1e-20 < 0.05)"] if flagged else [])
    return {
        "format": "appliance-memorization/1", "seed": 42,
        "methods": {"exposure": "skew-normal extrapolation over 256 uniformly sampled "
                                "candidates (Carlini et al. 2019, section 4.3)",
                    "verbatim": "greedy completion of the held-back second half of the answer"},
        "randomness_bits": 29.8974, "candidates": 256,
        "verbatim": {
            "train": {"examined": 40, "scanned": 40, "verbatim": 38 if flagged else 2,
                      "rate": 0.95 if flagged else 0.05, "token_match": 0.97},
            "heldout": {"examined": 40, "scanned": 40, "verbatim": 0 if flagged else 2,
                        "rate": 0.0 if flagged else 0.05, "token_match": 0.1},
            "gap": 0.95 if flagged else 0.0, "p_value": 1e-20 if flagged else 0.69},
        "canaries": [canary], "max_exposure": canary["exposure"],
        "controls": {"n": 1, "max_exposure": 1.1, "extracted": 0},
        "thresholds": {"exposure_bits": 14.9487, "verbatim_gap": 0.1, "verbatim_p_value": 0.05,
                       "verbatim_rate_without_baseline": 0.1, "min_suffix_tokens": 8},
        "flagged": flagged, "reasons": reasons, "notes": [], "duration_s": 1.5,
    }


def generation_result() -> dict[str, Any]:
    """Generation metrics as the engine records them (``card["metrics"]["generation"]``)."""
    return {
        "n": 12, "exact_match": 0.75, "rouge_l": 0.81, "chrf": 0.775,
        "base": {"n": 12, "exact_match": 0.0, "rouge_l": 0.12, "chrf": 0.093},
        "examples": [{"prompt": "what is the weather today 40", "reference": "it is sunny today",
                      "model": "it is sunny today", "base": "hello hello"}],
    }
