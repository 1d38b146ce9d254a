"""What an ingest does with each field: the dataset spec.

A spec maps fields (dotted paths into nested JSON) to roles: free text to redact, labels or ids to
keep, fields to drop; it names the task shape and the cleaning steps. It comes from a TOML/YAML
file or from CLI flags, and is validated before the first record is read.

Default closed: a field the spec does not keep is redacted, named or not (see
:mod:`appliance.datasets.fields`). The label field is kept by construction; ``keep_fields`` adds
labels and ids that must stay as given.

A chat dataset (``task = "sft"`` with ``messages_field``) holds a list of ``{"role", "content"}``
turns per record: every ``content`` is redacted like any free text, while the roles (system,
user, assistant: words of the schema, no personal data) are kept as given so that redaction can
never turn a role into a placeholder; a role that looks like PII is still flagged to the
reviewer, and training refuses any role but the three.

A preference dataset (``task = "preference"``) has a prompt (a text, or a list of turns kept
like a chat's) and one of three shapes (:mod:`appliance.datasets.preference_shapes`): pairwise
(``chosen_field``, ``rejected_field``), ranked (``responses_field``, ``ranking_field``) or rated
(``response_field``, ``rating_field``). Every answer is free text and redacted; the ranking and
the rating are kept as given (indices, thumbs and scores: a placeholder in one would break it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from appliance.errors import InvalidInput

Task = Literal["raw", "classification", "sft", "preference"]
Operator = Literal["placeholder", "mask", "pseudonym", "drop_record"]
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")


class CleaningSpec(BaseModel):
    """Cleaning steps, each counted in the redaction report."""

    nfkc: bool = Field(True, description="Unicode NFKC normalisation of text fields.")
    whitespace: bool = Field(True, description="Collapse runs of whitespace, strip ends.")
    missing: Literal["drop", "fill"] = Field(
        "drop", description="A record missing a required field: drop it, or fill with ''."
    )
    dedupe: Literal["none", "exact", "normalized"] = Field(
        "normalized", description="Drop duplicate records (normalized: case and spacing folded)."
    )
    lowercase: bool = Field(False, description="Lower-case text fields.")
    max_chars: int = Field(20_000, gt=0, description="Longest text field, in characters.")
    over_length: Literal["reject", "truncate"] = Field(
        "reject", description="A text field over max_chars: drop the record, or truncate it."
    )


class DatasetSpec(BaseModel):
    """Field roles, task shape and cleaning for one ingest."""

    task: Task = "raw"
    text_field: str | None = None
    label_field: str | None = None
    prompt_field: str | None = None
    response_field: str | None = None
    messages_field: str | None = Field(
        None, description="Chat field (sft): a list of {role, content} turns; contents are "
        "redacted, roles kept.")
    chosen_field: str | None = Field(
        None, description="Preferred answer (preference, pairwise); redacted.")
    rejected_field: str | None = Field(
        None, description="Worse answer (preference, pairwise); redacted.")
    responses_field: str | None = Field(
        None, description="A list of answers (preference, ranked); each redacted.")
    ranking_field: str | None = Field(
        None, description="Indices into the responses, best first (preference, ranked); kept.")
    rating_field: str | None = Field(
        None, description="The response's rating: true/false, up/down or a number (preference, "
        "rated); kept.")
    redact_fields: list[str] = Field(
        default_factory=list, description="Free-text fields cleaned like the text field; "
        "redacted (as every field not kept is).")
    keep_fields: list[str] = Field(
        default_factory=list, description="Fields stored as given (labels, ids, an SFT response "
        "of intent names); still scanned, and flagged to the reviewer when they look like PII. "
        "The label field is always kept.")
    drop_fields: list[str] = Field(default_factory=list, description="Fields removed whole.")
    operators: dict[str, Operator] = Field(
        default_factory=dict, description="Entity type -> operator; default 'placeholder'."
    )
    field_operators: dict[str, dict[str, Operator]] = Field(
        default_factory=dict, description="Per-field overrides of `operators`."
    )
    default_operator: Operator = "placeholder"
    redact: bool = Field(True, description="Run PII redaction on the text fields.")
    classification: str = Field("internal", description="public|internal|confidential|restricted")
    cleaning: CleaningSpec = Field(default_factory=CleaningSpec)

    @model_validator(mode="after")
    def _check_task_fields(self) -> DatasetSpec:
        if self.task == "classification" and not (self.text_field and self.label_field):
            raise ValueError("task 'classification' needs --text-field and --label-field")
        pair = bool(self.prompt_field and self.response_field)
        if self.task == "sft" and not (pair or self.messages_field):
            raise ValueError(
                "task 'sft' needs --prompt-field and --response-field, or --messages-field"
            )
        self._check_preference_fields()
        if self.messages_field and (self.prompt_field or self.response_field):
            raise ValueError("a chat dataset (messages_field) takes no prompt or response field")
        if self.messages_field and self.messages_field in (self.text_field, self.label_field):
            raise ValueError("the messages field cannot also be the text or label field")
        if self.classification not in CLASSIFICATIONS:
            raise ValueError(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
        overlap = set(self.drop_fields) & (
            set(self.text_fields()) | set(self.kept_fields()) | set(self.chat_fields()))
        if overlap:
            raise ValueError(f"fields both dropped and used: {', '.join(sorted(overlap))}")
        kept_text = [f for f in self.text_fields() if f in self.kept_fields()]
        if kept_text:
            # A text field is what gets redacted; keeping it would store free text as given.
            raise ValueError(f"fields both redacted and kept: {', '.join(kept_text)} "
                             "(use --no-redact to store text as given)")
        return self

    def _check_preference_fields(self) -> None:
        shapes = {name: [f for f in fields if getattr(self, f)]
                  for name, fields in PREFERENCE_SHAPES.items()}
        if self.task != "preference":
            # The rated shape's response field is also an SFT pair's; its rating is not.
            stray = [*shapes["pairwise"], *shapes["ranked"], *(["rating_field"]
                                                             if self.rating_field else [])]
            if stray:
                flags = ", ".join(_flag(f) for f in stray)
                raise ValueError(f"{flags} {'is' if len(stray) == 1 else 'are'} for task "
                                 f"'preference', not '{self.task}'")
            return
        given = [name for name, fields in shapes.items() if fields]
        if not self.prompt_field or not given:
            raise ValueError(
                "task 'preference' needs --prompt-field and one of: --chosen-field/"
                "--rejected-field, --responses-field/--ranking-field, --response-field/"
                "--rating-field")
        if len(given) > 1:
            raise ValueError("a preference dataset has one shape, not several: "
                             + " and ".join(f"{n} ({', '.join(_flag(f) for f in shapes[n])})"
                                            for n in given))
        missing = [f for f in PREFERENCE_SHAPES[given[0]] if not getattr(self, f)]
        if missing:
            raise ValueError(f"task 'preference' ({given[0]}) needs "
                             f"{' and '.join(_flag(f) for f in missing)} too")
        if self.messages_field or self.text_field or self.label_field:
            raise ValueError("task 'preference' takes no --messages-field, --text-field or "
                             "--label-field (a prompt may itself be a list of turns)")
        used = [self.prompt_field, *(getattr(self, f) for f in PREFERENCE_SHAPES[given[0]])]
        if len(set(used)) < len(used):
            raise ValueError("the prompt and answer fields of a preference dataset must differ")

    def text_fields(self) -> list[str]:
        """Free-text fields: cleaned and redacted. A response field in ``keep_fields`` is not
        one: its answers are names (an intent, a category) that a model must learn as given.
        A preference prompt given as turns is cleaned and redacted turn by turn."""
        response = None if self.response_field in self.keep_fields else self.response_field
        fields = [self.text_field, self.prompt_field, response, self.chosen_field,
                  self.rejected_field, self.responses_field, *self.redact_fields]
        return list(dict.fromkeys(f for f in fields if f))

    def kept_fields(self) -> list[str]:
        """Fields stored as given: the label field, a chat's roles, a preference prompt's roles,
        ranking and rating, and ``keep_fields``. All others are redacted."""
        roles = [f"{chat}.role" for chat in self._turn_fields()]
        fields = [self.label_field, *roles, self.ranking_field, self.rating_field,
                  *self.keep_fields]
        return list(dict.fromkeys(f for f in fields if f))

    def chat_fields(self) -> list[str]:
        """Paths of turn lists (a chat; a preference prompt, which may be one): the list and
        its turns' keys (schema, not data)."""
        return [path for chat in self._turn_fields()
                for path in (chat, f"{chat}.role", f"{chat}.content")]

    def _turn_fields(self) -> list[str]:
        """Fields that hold (or, for a preference prompt, may hold) ``{role, content}`` turns."""
        prompt = self.prompt_field if self.task == "preference" else None
        return [f for f in (self.messages_field, prompt) if f]

    def named_fields(self) -> list[str]:
        """Every path the spec names (their keys are schema, not data)."""
        return [*self.text_fields(), *self.kept_fields(), *self.chat_fields(), *self.drop_fields,
                *self.field_operators]

    def operator_field(self, path: str) -> str:
        """The ``field_operators`` entry that covers ``path`` (itself or its nearest ancestor)."""
        parts = path.split(".")
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in self.field_operators:
                return ".".join(parts[:n])
        return path

    def required_fields(self) -> list[str]:
        fields = [self.text_field, self.label_field, self.prompt_field, self.response_field,
                  self.messages_field, self.chosen_field, self.rejected_field,
                  self.responses_field, self.ranking_field, self.rating_field]
        return [f for f in fields if f]

    def operator_for(self, field: str) -> dict[str, Operator]:
        return {**self.operators, **self.field_operators.get(field, {})}


#: The fields of each preference shape, in the order the usage line names them.
PREFERENCE_SHAPES = {
    "pairwise": ("chosen_field", "rejected_field"),
    "ranked": ("responses_field", "ranking_field"),
    "rated": ("response_field", "rating_field"),
}


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def parse_spec(data: dict[str, Any]) -> DatasetSpec:
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"invalid dataset spec: {problems}") from None


def load_spec_file(path: Path) -> dict[str, Any]:
    """Read a TOML or YAML spec file into a dict (validated by :func:`parse_spec`)."""
    try:
        text = path.read_text("utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read dataset spec: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: a dataset spec must be a mapping")
    return data


def get_path(record: dict[str, Any], path: str) -> Any:
    """Look up a dotted path (``customer.address.city``); None when absent."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def set_path(record: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = record
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def del_path(record: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    node: Any = record
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(parts[-1], None)
