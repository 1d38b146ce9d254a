"""A varied synthetic PII corpus for training the NER adapter (issue 16), outside the package.

``generate(n, seed)`` yields ``{"text", "spans", "genre", "hard_negative"}`` records; the spans
are ``{"start", "end", "label"}`` with ``text[start:end]`` the value, as
``appliance.redaction.train_ner --data`` reads them (it ignores the extra keys). Run
``python -m tools.pii_corpus --n 40000 --seed 0 --out corpus.jsonl.gz``.
"""

from tools.pii_corpus.corpus import generate, write_jsonl
from tools.pii_corpus.doc import InvalidRecord, validate_record

__all__ = ["InvalidRecord", "generate", "validate_record", "write_jsonl"]
