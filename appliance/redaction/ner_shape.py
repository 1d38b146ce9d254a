"""Word-shape features for the NER model: the casing the uncased encoder cannot see.

all-MiniLM-L6-v2 lower-cases its input, so "Rose" the name and "rose" the flower reach it as the
same ids. Each word piece gets a shape class read from the ORIGINAL text through the tokenizer's
offsets (every piece of a word takes the word's shape), and a small learned embedding of that
class is added to the piece's word embedding before the encoder runs. The embedding starts at
zero, so an untrained one changes nothing; it is trained with the adapter and saved beside it as
``shape_embedding.safetensors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

SHAPES = ("pad", "lower", "capitalised", "capitalised-initial", "upper", "mixed", "digit",
          "punct", "uncased-letter")
_PAD, _LOWER, _CAP, _CAP_INITIAL, _UPPER, _MIXED, _DIGIT, _PUNCT, _UNCASED = range(len(SHAPES))
SHAPE_FILE = "shape_embedding.safetensors"
# Where a capital says little: the start of a text, a line, or a sentence.
_INITIAL_AFTER = set(".!?:\n\"'(")


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


def _is_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in _INITIAL_AFTER


def word_shape(text: str, start: int, end: int) -> int:
    """The shape class of the whole word around ``text[start:end]``."""
    if start >= end:
        return _PAD
    ws, we = _word_bounds(text, start, end)
    word = text[ws:we] or text[start:end]
    letters = [ch for ch in word if ch.isalpha()]
    if not letters:
        return _DIGIT if any(ch.isdigit() for ch in word) else _PUNCT
    cased = [ch for ch in letters if ch.isupper() or ch.islower()]
    if not cased:
        return _UNCASED
    if all(ch.islower() for ch in cased):
        return _LOWER
    if all(ch.isupper() for ch in cased):
        if len(cased) == 1:  # "I", an initial "J."
            return _CAP_INITIAL if _is_initial(text, ws) else _CAP
        return _UPPER
    if cased[0].isupper() and all(ch.islower() for ch in cased[1:]):
        return _CAP_INITIAL if _is_initial(text, ws) else _CAP
    return _MIXED


def token_shapes(text: str, offsets: list[tuple[int, int]]) -> list[int]:
    """One shape id per token offset (special tokens, empty offsets: ``pad``)."""
    return [word_shape(text, s, e) for s, e in offsets]


class ShapeEmbedding(torch.nn.Module):
    """A (shapes x hidden) table added to the word embeddings; zero at initialisation."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(len(SHAPES), hidden)
        torch.nn.init.zeros_(self.table.weight)

    def forward(self, word_embeddings: torch.Tensor, shape_ids: torch.Tensor) -> torch.Tensor:
        return word_embeddings + self.table(shape_ids)

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        save_file({"table.weight": self.table.weight.detach().cpu().contiguous()},
                  str(directory / SHAPE_FILE))

    @classmethod
    def load(cls, directory: Path, hidden: int) -> ShapeEmbedding | None:
        """The trained table in ``directory``, or None when the adapter was trained without."""
        path = directory / SHAPE_FILE
        if not path.is_file():
            return None
        from safetensors.torch import load_file

        weights = load_file(str(path))
        table = weights.get("table.weight")
        if table is None or tuple(table.shape) != (len(SHAPES), hidden):
            raise ValueError(f"{path} does not hold a {len(SHAPES)}x{hidden} shape table")
        module = cls(hidden)
        module.table.weight.data.copy_(table)
        module.eval()
        return module


def forward(model: Any, shape: ShapeEmbedding | None, input_ids: torch.Tensor,
            attention_mask: torch.Tensor, shape_ids: torch.Tensor,
            labels: torch.Tensor | None = None) -> Any:
    """``model`` on a batch: with the shape embedding added to its word embeddings, if any."""
    if shape is None:
        return model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    embeds = shape(model.get_input_embeddings()(input_ids), shape_ids)
    return model(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)
