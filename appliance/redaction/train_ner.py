"""Train the bundled NER adapter: ``python -m appliance.redaction.train_ner --seed 0 --out DIR``.

LoRA (rank 16) on every attention projection and feed-forward layer of all-MiniLM-L6-v2, and the
BIO classification head trained in full (``modules_to_save``), on the synthetic ``train`` split
(appliance.redaction.synthetic). The same seed gives the same data, the same initialisation and
the same batch order. Runs on CPU, or on CUDA when present (bf16 autocast). With ``--data`` it
reads a pre-generated JSONL(.gz) instead of generating (for machines without Faker), and
``--base`` points at another copy of the base weights (an fp16 copy is widened on load).
Writes ``adapter_model.safetensors``, ``adapter_config.json`` and ``training.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import torch

from appliance.redaction.ner_model import (
    ENTITY_TYPES,
    LABELS,
    LORA_TARGETS,
    load_base,
    load_tokenizer,
)
from appliance.redaction.ner_shape import SHAPE_FILE, ShapeEmbedding, token_shapes
from appliance.redaction.ner_shape import forward as shape_forward

_LABEL_ID = {label: i for i, label in enumerate(LABELS)}


def read_records(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as src:
        return [json.loads(line) for line in src if line.strip()]


def encode(records: list[dict[str, Any]], tokenizer: Any,
           max_length: int) -> list[dict[str, list[int]]]:
    """Tokenize and align BIO labels to word pieces; long records overflow into more windows."""
    enc = tokenizer([r["text"] for r in records], truncation=True, max_length=max_length,
                    stride=32, return_overflowing_tokens=True, return_offsets_mapping=True)
    out = []
    for i, ids in enumerate(enc["input_ids"]):
        rec = records[enc["overflow_to_sample_mapping"][i]]
        spans = sorted((s["start"], s["end"], s["label"]) for s in rec["spans"]
                       if s["label"] in ENTITY_TYPES)
        labels: list[int] = []
        seen: set[int] = set()
        for s, e in enc["offset_mapping"][i]:
            if s == e:
                labels.append(-100)  # special tokens do not count in the loss
                continue
            tag = "O"
            for k, (a, b, kind) in enumerate(spans):
                if a <= s < b:
                    tag = ("I-" if k in seen else "B-") + kind
                    seen.add(k)
                    break
            labels.append(_LABEL_ID[tag])
        out.append({"input_ids": list(ids), "labels": labels,
                    "shapes": token_shapes(rec["text"], enc["offset_mapping"][i])})
    return out


def collate(batch: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    shapes = torch.zeros((len(batch), width), dtype=torch.long)
    for row, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[row, :n] = torch.tensor(b["input_ids"])
        labels[row, :n] = torch.tensor(b["labels"])
        mask[row, :n] = 1
        if "shapes" in b:
            shapes[row, :n] = torch.tensor(b["shapes"])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "shape_ids": shapes}


def forward(model: Any, shape: ShapeEmbedding | None, batch: dict[str, torch.Tensor]) -> Any:
    """The model on a collated batch, with the word-shape embedding when there is one."""
    return shape_forward(model, shape, batch["input_ids"], batch["attention_mask"],
                         batch["shape_ids"], batch.get("labels"))


def _spans(tags: list[int]) -> set[tuple[int, int, str]]:
    found, start, kind = set(), -1, ""
    for i, t in enumerate([*tags, 0]):
        label = LABELS[t]
        if start >= 0 and not (label.startswith("I-") and label[2:] == kind):
            found.add((start, i, kind))
            start = -1
        if label.startswith("B-") or (label.startswith("I-") and start < 0):
            start, kind = i, label[2:]
    return found


def evaluate_tokens(model: Any, data: list[dict[str, list[int]]], pad_id: int,
                    device: torch.device,
                    shape: ShapeEmbedding | None = None) -> dict[str, float]:
    """Entity-level F1 on token spans of the validation windows (same templates as training)."""
    model.eval()
    tp = fp = fn = 0
    with torch.inference_mode():
        for i in range(0, len(data), 128):
            batch = collate(data[i : i + 128], pad_id)
            on_device = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            logits = forward(model, shape, on_device).logits
            pred = logits.argmax(-1).cpu()
            for row in range(pred.shape[0]):
                keep = batch["labels"][row] != -100
                gold = _spans(batch["labels"][row][keep].tolist())
                got = _spans(pred[row][keep].tolist())
                tp, fp, fn = tp + len(gold & got), fp + len(got - gold), fn + len(gold - got)
    model.train()
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / max(1e-9, p + r), 4)}


def train(args: argparse.Namespace) -> dict[str, Any]:
    from peft import LoraConfig, TaskType, get_peft_model

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    if args.data:
        records = read_records(args.data)[: args.n]
    else:
        from appliance.redaction.synthetic import generate

        records = list(generate(args.n, args.seed, "train"))
    tokenizer = load_tokenizer(args.base)
    n_val = max(1, min(len(records) // 5, max(200, len(records) // 40)))
    val = encode(records[:n_val], tokenizer, args.max_length)
    data = encode(records[n_val:], tokenizer, args.max_length)
    if args.init:  # go on from a trained adapter (e.g. the shipped one) instead of a fresh one
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_base(args.base), str(args.init), is_trainable=True)
    else:
        model = get_peft_model(load_base(args.base), LoraConfig(
            task_type=TaskType.TOKEN_CLS, r=args.rank, lora_alpha=2 * args.rank,
            lora_dropout=0.05, target_modules=LORA_TARGETS, modules_to_save=["classifier"]))
    shape = ShapeEmbedding(model.config.hidden_size) if args.shape else None
    if shape is not None and args.init:
        shape = ShapeEmbedding.load(args.init, model.config.hidden_size) or shape
        shape.train()
    if args.threads:
        torch.set_num_threads(args.threads)
    model.to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    if shape is not None:
        shape.to(device)
        params += list(shape.parameters())
    optim = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(data) / args.batch_size)
    warmup = max(1, steps // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    rng = random.Random(args.seed)
    started, step, history = time.time(), 0, []
    meta: dict[str, Any] = {}
    for epoch in range(args.epochs):
        order = list(range(len(data)))
        rng.shuffle(order)
        # Bucket by length inside chunks of 50 batches: less padding, still shuffled.
        chunk = args.batch_size * 50
        order = [i for c in range(0, len(order), chunk)
                 for i in sorted(order[c : c + chunk], key=lambda j: len(data[j]["input_ids"]))]
        batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        rng.shuffle(batches)
        for idx in batches:
            batch = {k: v.to(device) for k, v in
                     collate([data[i] for i in idx], tokenizer.pad_token_id).items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = forward(model, shape, batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            step += 1
            if step % args.log_every == 0:
                print(f"step {step}/{steps} loss {loss.item():.4f} {time.time() - started:.0f}s",
                      flush=True)
        scores = evaluate_tokens(model, val, tokenizer.pad_token_id, device, shape)
        history.append({"epoch": epoch + 1, **scores})
        print(f"epoch {epoch + 1}: validation {scores}", flush=True)
        meta = _save(model, shape, args, records, data, device, started, history)
    return meta


def _save(model: Any, shape: ShapeEmbedding | None, args: argparse.Namespace,
          records: list[Any], data: list[Any], device: torch.device, started: float,
          history: list[Any]) -> dict[str, Any]:
    """Written after every epoch, so a run cut short still leaves its last full epoch."""
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out), safe_serialization=True)
    if shape is not None:
        shape.save(args.out)
    else:
        (args.out / SHAPE_FILE).unlink(missing_ok=True)
    (args.out / "README.md").unlink(missing_ok=True)  # peft's boilerplate card; ours is in docs/
    meta = {"seed": args.seed, "records": len(records), "windows": len(data),
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "rank": args.rank, "max_length": args.max_length, "device": str(device),
            "shape_features": shape is not None, "data": str(args.data) if args.data else None,
            "init": str(args.init) if args.init else None,
            "seconds": round(time.time() - started, 1), "validation": history,
            "labels": list(LABELS)}
    (args.out / "training.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    # Defaults are the shipped run (docs/model-card-ner.md); on CPU, --n 40000 --epochs 1.
    parser.add_argument("--n", type=int, default=90000, help="training records to generate/read")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--data", type=Path, default=None, help="pre-generated JSONL(.gz)")
    parser.add_argument("--base", type=Path, default=None, help="base model dir (default: wheel)")
    parser.add_argument("--cpu", action="store_true", help="train on CPU even if CUDA is present")
    parser.add_argument("--init", type=Path, default=None,
                        help="continue training this adapter dir (its shape table too, if any)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument("--no-shape", dest="shape", action="store_false",
                        help="without the word-shape embedding (ner_shape), for comparison")
    parser.add_argument("--log-every", type=int, default=100)
    meta = train(parser.parse_args(argv))
    print(json.dumps({k: meta[k] for k in ("records", "epochs", "device", "seconds")}))


if __name__ == "__main__":
    main()
