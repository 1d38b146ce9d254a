"""A tiny causal LM trained (really, a few seconds of Adam) to answer every prompt with one text.

The output guard's adversary: a model that writes personal data. Its tokenizer is byte-level
BPE (as SmolLM2's, Llama's and GPT-2's are), so an e-mail address comes out a few characters per
token, split across stream events the way a real model splits it; decoding is lossless, so what
the model "says" is exactly the text. ChatML template, ``<|im_end|>`` as EOS.
"""

from __future__ import annotations

from pathlib import Path

from tests.training.tiny_models import CHATML_TEMPLATE

PII_ANSWER = ("Write to john.smith@example.com or call 212-555-0187, "
              "card 4111 1111 1111 1111. Thanks!")
#: Fragments of the values above that must never reach a caller while the guard is on.
PII_FRAGMENTS = ("john", "smith", "example.com", "@", "212", "555", "0187", "4111", "1111")
PROMPTS = ("how do i reach you", "who do i contact", "hello", "help me please",
           "what is your number", "tell me")


def make_parrot_llama(path: Path, answer: str = PII_ANSWER, steps: int = 80) -> Path:
    """Train a two-layer Llama until greedy decoding repeats ``answer``; save it at ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(
        [answer, *PROMPTS, "user assistant system"],
        trainers.BpeTrainer(vocab_size=300, special_tokens=specials, show_progress=False,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>",
                                        eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=256, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    target = tokenizer(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
    rows = []
    for prompt in PROMPTS:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             tokenize=False, add_generation_prompt=True)
        rows.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    width = max(len(r) for r in rows) + len(target)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row) + len(target)] = torch.tensor(row + target)
        labels[i, len(row) : len(row) + len(target)] = torch.tensor(target)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    def step() -> None:
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def repeats() -> bool:
        """Greedy decoding gives exactly ``answer`` for every prompt (a test compares text)."""
        model.eval()
        try:
            with torch.no_grad():
                for row in rows:
                    out = model.generate(torch.tensor([row]), max_new_tokens=len(target) + 2,
                                         do_sample=False, pad_token_id=0, eos_token_id=2)
                    if out[0, len(row) : len(row) + len(target)].tolist() != target:
                        return False
            return True
        finally:
            model.train()

    for _ in range(steps):
        step()
    for _ in range(8):  # almost always done by now; a busy machine's run can need a few more
        if repeats():
            break
        for _ in range(steps // 4):
            step()
    else:
        raise AssertionError(f"the parrot does not repeat {answer!r} after {steps * 3} steps")
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_rambler_llama(path: Path) -> Path:
    """An untrained Llama with the tiny Llama's tokenizer, wide enough to take a few seconds for
    1024 tokens and long enough (RoPE, 4096 positions) to be asked for them: it never says EOS
    on purpose, so only max_new_tokens or a stop ends it."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tests.training.tiny_models import make_tiny_llama

    make_tiny_llama(path)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=384, intermediate_size=1024,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(path)
    return path
