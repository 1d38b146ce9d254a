"""Record cleaning before redaction: normalisation, missing values, length limits, duplicates.

Each step is configured by :class:`CleaningSpec` and counted, and the counts go into the
redaction report. Duplicate detection keeps keyed 8-byte digests (BLAKE2b under a random key
drawn per ingest and never stored) in a temporary SQLite table on disk, so memory stays bounded
for inputs of any size and nothing on disk can be matched against guessed record text.

A preference record is checked for its shape too (:mod:`appliance.datasets.preference_shapes`):
one that fits none is dropped and counted by reason, as a record missing a field is. Its prompt
turns and its list of responses are cleaned text by text.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from appliance.datasets import preference_shapes as shapes
from appliance.datasets.spec import DatasetSpec, get_path, set_path
from appliance.scratch import ScratchEntry, make_scratch

_SPACES = re.compile(r"\s+")


class Cleaner:
    """Applies a spec's cleaning to records one at a time; ``counts`` says what it did."""

    def __init__(self, spec: DatasetSpec, scratch_dir: Path) -> None:
        self.spec = spec
        self.counts: Counter[str] = Counter()
        #: Records dropped, per field and reason, so an error can name the field.
        self.missing: Counter[str] = Counter()
        self.too_long: Counter[str] = Counter()
        #: Label values that are not text, by kind (stored as given: the label field is kept).
        self.label_kinds: Counter[str] = Counter()
        #: Preference records that fit no shape, per reason (field names only, never a value).
        self.malformed: Counter[str] = Counter()
        self._key = secrets.token_bytes(32)
        self._seen: sqlite3.Connection | None = None
        self._scratch: ScratchEntry | None = None
        if spec.cleaning.dedupe != "none":
            # Locked while this ingest runs, so a sweep removes it only once its process died.
            self._scratch = make_scratch(scratch_dir, "dedupe", directory=False, suffix=".db")
            self._seen = sqlite3.connect(self._scratch.path)
            self._seen.execute("PRAGMA journal_mode=OFF")
            self._seen.execute("PRAGMA synchronous=OFF")
            self._seen.execute("CREATE TABLE seen (digest BLOB PRIMARY KEY) WITHOUT ROWID")

    def clean(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The cleaned record, or None when a step drops it."""
        self.counts["records_in"] += 1
        cleaning = self.spec.cleaning
        for field in self.spec.required_fields():
            value = get_path(record, field)
            if value is None or (isinstance(value, str) and not value.strip()):
                if cleaning.missing == "drop":
                    self.counts["dropped_missing"] += 1
                    self.missing[field] += 1
                    return None
                set_path(record, field, "")
                self.counts["filled_missing"] += 1
        if self.spec.label_field:
            self._count_label(get_path(record, self.spec.label_field))
        preference = self.spec.task == "preference"
        if preference and self._malformed(self._shape_problem(record)):
            return None
        for field in self.spec.text_fields():
            value = get_path(record, field)
            if value is None:
                continue
            if preference and isinstance(value, list):
                if not self._fit_items(field, value):
                    return None
                continue
            text = self._fitted(field, value)
            if text is None:
                return None
            set_path(record, field, text)
        if preference and self._malformed(self._equal_answers(record)):
            return None
        if self._seen is not None and self._is_duplicate(record):
            self.counts["dropped_duplicate"] += 1
            return None
        self.counts["records_out"] += 1
        return record

    def _fitted(self, field: str, value: Any) -> str | None:
        """The value's text normalised and within ``max_chars``; None when that drops it."""
        cleaning = self.spec.cleaning
        text = self._normalise(str(value))
        if len(text) > cleaning.max_chars:
            if cleaning.over_length == "reject":
                self.counts["dropped_too_long"] += 1
                self.too_long[field] += 1
                return None
            text = text[: cleaning.max_chars]
            self.counts["truncated"] += 1
        return text

    def _fit_items(self, field: str, items: list[Any]) -> bool:
        """Prompt turns' contents or ranked responses, each fitted in place (their shape is
        checked already); False when one drops the record."""
        for i, item in enumerate(items):
            if isinstance(item, dict):
                content = self._fitted(field, item["content"])
                if content is None:
                    return False
                item["content"] = content
            else:
                text = self._fitted(field, item)
                if text is None:
                    return False
                items[i] = text
        return True

    def _malformed(self, problem: str | None) -> bool:
        """Count a record dropped for ``problem``; False when there is none."""
        if problem is None:
            return False
        self.counts["dropped_malformed"] += 1
        self.malformed[problem] += 1
        return True

    def _shape_problem(self, record: dict[str, Any]) -> str | None:
        """Why a preference record fits none of the shapes (a phrase naming fields), or None."""
        spec = self.spec
        if shapes.prompt_turns(get_path(record, spec.prompt_field or "")) is None:
            # no commas: the phrases are joined by commas in the drop summary
            return (f"with a {spec.prompt_field!r} that is neither text nor a list of "
                    "role/content turns (roles system/user/assistant; no empty content)")
        if spec.chosen_field and spec.rejected_field:
            for field in (spec.chosen_field, spec.rejected_field):
                if not shapes.is_text(get_path(record, field)):
                    return f"with a {field!r} that is not text"
        if spec.responses_field and spec.ranking_field:
            responses = get_path(record, spec.responses_field)
            if not shapes.is_response_list(responses):
                return f"with {spec.responses_field!r} not a list of at least 2 texts"
            if not shapes.is_ranking(get_path(record, spec.ranking_field), len(responses)):
                return (f"with a {spec.ranking_field!r} that is not a best-first list of "
                        f"indices into {spec.responses_field!r}")
        if spec.rating_field:
            if spec.response_field and not shapes.is_text(get_path(record, spec.response_field)):
                return f"with a {spec.response_field!r} that is not text"
            if shapes.rating_value(get_path(record, spec.rating_field)) is None:
                return (f"with a {spec.rating_field!r} that is not true/false, up/down or "
                        "a number")
        return None

    def _equal_answers(self, record: dict[str, Any]) -> str | None:
        """After cleaning: the answers compared must differ (a pair of equals teaches nothing)."""
        spec = self.spec
        if spec.chosen_field and spec.rejected_field and \
                get_path(record, spec.chosen_field) == get_path(record, spec.rejected_field):
            return f"with {spec.chosen_field!r} equal to {spec.rejected_field!r}"
        if spec.responses_field and spec.ranking_field:
            responses = get_path(record, spec.responses_field)
            ranked = [responses[i] for i in get_path(record, spec.ranking_field)]
            if len(set(ranked)) < len(ranked):
                return f"with the same text twice among the ranked {spec.responses_field!r}"
        return None

    def _count_label(self, value: Any) -> None:
        if isinstance(value, bool):
            self.label_kinds["booleans"] += 1
        elif isinstance(value, int | float):
            self.label_kinds["numbers"] += 1
        elif isinstance(value, dict | list):
            self.label_kinds["lists or objects"] += 1

    def _normalise(self, text: str) -> str:
        cleaning = self.spec.cleaning
        if cleaning.nfkc:
            normal = unicodedata.normalize("NFKC", text)
            if normal != text:
                self.counts["nfkc_changed"] += 1
            text = normal
        if cleaning.whitespace:
            collapsed = _SPACES.sub(" ", text).strip()
            if collapsed != text:
                self.counts["whitespace_changed"] += 1
            text = collapsed
        if cleaning.lowercase:
            text = text.lower()
        return text

    def _is_duplicate(self, record: dict[str, Any]) -> bool:
        assert self._seen is not None
        canonical = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if self.spec.cleaning.dedupe == "normalized":
            canonical = _SPACES.sub(" ", unicodedata.normalize("NFKC", canonical).casefold())
        digest = hashlib.blake2b(canonical.encode(), key=self._key, digest_size=8).digest()
        cursor = self._seen.execute("INSERT OR IGNORE INTO seen VALUES (?)", (digest,))
        return cursor.rowcount == 0

    def close(self) -> None:
        if self._seen is not None:
            self._seen.close()
            self._seen = None
        if self._scratch is not None:
            self._scratch.remove()
            self._scratch = None
