"""One audit event: what happened, who decided it, and the hashes that chain it into the log.

An event is stored as one line of JSON::

    {"action":...,"actor":...,...,"time":"2025-01-02T03:04:05.123456Z","hash":"<64 hex>"}

Everything before ``,"hash"`` is the RFC 8785 canonical JSON of the event without its ``hash``
(members sorted by key), and ``hash`` is the SHA-256 of exactly those bytes. Putting the hash last
instead of in sorted position lets a verifier find the hashed bytes by slicing the line, and lets
anyone re-derive it with ordinary tools: ``json.loads``, drop ``hash``, RFC 8785, SHA-256.

What an event may hold (checked when it is constructed; a violation is :class:`InvalidInput`):

- ``actor`` 1-128, ``resource`` up to 256, ``purpose`` up to 128 printable characters; ``role`` and
  ``action`` are lower-case identifiers (``dataset.read_sample``); ``decision`` is ``allow`` or
  ``deny``; ``reasons`` up to 32 printable strings of up to 512 characters; ``policy_hash`` up to
  128 characters of ``[A-Za-z0-9:_.+/=-]``.
- ``details`` holds ids and hashes only, never record text, PII or secrets: at most 32 keys, each
  a snake_case name of up to 64 characters; values are ``None``, booleans, integers within
  +-(2**53 - 1), strings of up to 128 characters from ``[A-Za-z0-9._:/@+=*#-]`` (no spaces, so no
  sentences: store free text in the database and its SHA-256 here), or lists of up to 64 of those.
  A key naming a secret is refused: any part (between underscores) that is ``password``,
  ``passwd``, ``passphrase``, ``secret``, ``pin``, ``otp``, ``cookie``, ``mnemonic``, ``seed`` or
  ``private``; or ``token``, ``key``, ``apikey``, ``credential(s)`` unless the key ends in ``_id``,
  ``_ids``, ``_version``, ``_fingerprint``, ``_hash`` or ``_sha256`` (``key_id`` and ``token_hash``
  are fine, ``api_token`` is not).
- ``seq`` counts from 1, ``time`` is UTC in RFC 3339 with microseconds and a ``Z``, ``prev_hash``
  is the previous event's ``hash`` (64 zeros for the first event) and ``hash`` must be the hash of
  the rest: an event without a correct hash cannot be constructed (:class:`IntegrityError`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast

from appliance.audit.canonical import (
    MAX_SAFE_INTEGER,
    canonical_json,
    encode_trusted,
    parse_strict,
)
from appliance.errors import IntegrityError, InvalidInput

Decision: TypeAlias = Literal["allow", "deny"]
DetailScalar: TypeAlias = str | int | bool | None
DetailValue: TypeAlias = DetailScalar | tuple[DetailScalar, ...]

GENESIS_HASH = "0" * 64
DECISIONS: frozenset[str] = frozenset({"allow", "deny"})
EVENT_FIELDS = (
    "seq", "time", "actor", "role", "action", "resource", "purpose", "decision", "reasons",
    "policy_hash", "details", "prev_hash", "hash",
)
RECORD_FIELDS = EVENT_FIELDS[2:11]
RECORD_KEYS = frozenset(RECORD_FIELDS)
EVENT_KEYS = frozenset(EVENT_FIELDS)
#: ``,"hash":"`` + 64 hex + ``"}``: what follows the hashed bytes (minus their ``}``) on a line.
HASH_SUFFIX_LEN = 75
_HASH_PREFIX = b',"hash":"'

MAX_REASONS = 32
MAX_DETAILS = 32
MAX_DETAIL_ITEMS = 64
_TEXT_LIMITS = {"actor": 128, "resource": 256, "purpose": 128}

_IDENT = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
_POLICY_HASH = re.compile(r"[A-Za-z0-9:_.+/=-]{0,128}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DETAIL_STR = re.compile(r"[A-Za-z0-9._:/@+=*#-]{0,128}")
_DETAIL_STR_MATCH = _DETAIL_STR.fullmatch

ALWAYS_SECRET = frozenset(
    {"password", "passwd", "passphrase", "secret", "pin", "otp", "cookie", "mnemonic", "seed",
     "private"}
)
SECRET_UNLESS_REFERENCE = frozenset({"token", "key", "apikey", "credential", "credentials"})
REFERENCE_SUFFIXES = frozenset({"id", "ids", "version", "fingerprint", "hash", "sha256"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise InvalidInput("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """The caller's part of an event, validated; the log adds seq, time and the hashes."""

    actor: str
    role: str
    action: str
    resource: str
    decision: Decision
    purpose: str = ""
    reasons: tuple[str, ...] = ()
    policy_hash: str = ""
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reasons", _check_reasons(self.reasons))
        object.__setattr__(self, "details", _check_details(self.details))
        _check_text("actor", self.actor, minimum=1)
        _check_text("resource", self.resource)
        _check_text("purpose", self.purpose)
        _check_known("role", self.role, _IDENT, _GOOD_ROLES)
        _check_known("action", self.action, _ACTION, _GOOD_ACTIONS, limit=128)
        _check_known("policy_hash", self.policy_hash, _POLICY_HASH, _GOOD_POLICY_HASHES)
        if self.decision not in DECISIONS:
            raise InvalidInput(f"audit decision must be 'allow' or 'deny', got {self.decision!r}")

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> AuditRecord:
        unknown = sorted(fields.keys() - RECORD_KEYS)
        if unknown:
            raise InvalidInput(f"unknown audit event field(s): {', '.join(unknown)}")
        try:
            return cls(**fields)
        except TypeError as exc:  # a required field is missing
            raise InvalidInput(f"incomplete audit event: {exc}") from None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A sealed event. Construction checks every field and that ``hash`` is the event's hash."""

    seq: int
    time: str
    actor: str
    role: str
    action: str
    resource: str
    purpose: str
    decision: Decision
    reasons: tuple[str, ...]
    policy_hash: str
    details: Mapping[str, DetailValue]
    prev_hash: str
    hash: str

    def __post_init__(self) -> None:
        record = AuditRecord(**{name: getattr(self, name) for name in RECORD_FIELDS})
        object.__setattr__(self, "reasons", record.reasons)
        object.__setattr__(self, "details", record.details)
        if type(self.seq) is not int or self.seq < 1:
            raise InvalidInput(f"audit seq must be an integer >= 1, got {self.seq!r}")
        _check_pattern("time", self.time, _TIME)
        try:
            datetime.fromisoformat(self.time[:-1])
        except ValueError:
            raise InvalidInput(f"audit time {self.time!r} is not a valid time") from None
        _check_pattern("prev_hash", self.prev_hash, _HEX64)
        _check_pattern("hash", self.hash, _HEX64)
        expected = hash_body(canonical_json(self.body()))
        if self.hash != expected:
            raise IntegrityError(f"event {self.seq}: hash expected {expected}, got {self.hash}")

    @classmethod
    def seal(cls, record: AuditRecord, *, seq: int, time: str, prev_hash: str) -> AuditEvent:
        """The event that puts ``record`` at ``seq`` after ``prev_hash``."""
        return seal_line(record, seq=seq, time=time, prev_hash=prev_hash)[0]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEvent:
        if set(data) != EVENT_KEYS:
            missing = sorted(EVENT_KEYS - set(data))
            extra = sorted(set(data) - EVENT_KEYS)
            raise InvalidInput(f"audit event fields: missing {missing}, unexpected {extra}")
        return cls(**data)

    @classmethod
    def from_line(cls, line: bytes) -> AuditEvent:
        """Parse one stored line (without its newline); it must be exactly the canonical form."""
        try:
            data = parse_strict(line.decode("utf-8"))
            if not isinstance(data, dict):
                raise InvalidInput("not a JSON object")
            event = cls.from_dict(data)
        except (ValueError, InvalidInput) as exc:
            raise IntegrityError(f"not a valid audit event: {exc}") from None
        if event.to_line() != line:
            raise IntegrityError(f"event {event.seq}: line is not in canonical form")
        return event

    def __hash__(self) -> int:
        return hash(self.hash)

    def body(self) -> dict[str, Any]:
        """The hashed part: every field but ``hash``."""
        return {
            "seq": self.seq, "time": self.time, "actor": self.actor, "role": self.role,
            "action": self.action, "resource": self.resource, "purpose": self.purpose,
            "decision": self.decision, "reasons": list(self.reasons),
            "policy_hash": self.policy_hash, "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }

    def as_dict(self) -> dict[str, Any]:
        data = self.body()
        data["details"] = {k: list(v) if isinstance(v, tuple) else v
                           for k, v in self.details.items()}
        data["hash"] = self.hash
        return data

    def to_line(self) -> bytes:
        """The stored form, without the trailing newline."""
        return join_line(canonical_json(self.body()), self.hash)


def hash_body(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def join_line(body: bytes, event_hash: str) -> bytes:
    return body[:-1] + _HASH_PREFIX + event_hash.encode("ascii") + b'"}'


def split_line(line: bytes) -> tuple[bytes, bytes] | None:
    """(hashed bytes, stored hash) of a line in the stored layout, or None if it is not."""
    if len(line) <= HASH_SUFFIX_LEN or line[-HASH_SUFFIX_LEN:-66] != _HASH_PREFIX:
        return None
    if line[-2:] != b'"}':
        return None
    return line[:-HASH_SUFFIX_LEN] + b"}", line[-66:-2]


def seal_line(
    record: AuditRecord, *, seq: int, time: str, prev_hash: str
) -> tuple[AuditEvent, bytes]:
    """Seal ``record`` and return the event with its stored line (newline included).

    ``record`` is already validated, so this builds the event without validating it twice; the
    hash is computed here from the same bytes that are written.
    """
    if type(seq) is not int or seq < 1 or not _TIME_MATCH(time):
        raise InvalidInput(f"cannot seal event {seq!r} at {time!r}")
    if type(prev_hash) is not str or not _HEX64_MATCH(prev_hash):
        raise InvalidInput(f"prev_hash must be 64 hex digits, got {prev_hash!r}")
    reasons, details = record.reasons, record.details
    # Every field was checked by AuditRecord: ASCII keys, printable strings (so no lone
    # surrogates), integers within +-(2**53 - 1), no floats. The C encoder is exact for these
    # (see appliance.audit.canonical), so the type walk of canonical_json is skipped here.
    body = encode_trusted({
        "seq": seq, "time": time, "actor": record.actor, "role": record.role,
        "action": record.action, "resource": record.resource, "purpose": record.purpose,
        "decision": record.decision, "reasons": list(reasons),
        "policy_hash": record.policy_hash, "details": dict(details), "prev_hash": prev_hash,
    }).encode("utf-8")
    digest = _sha256(body).hexdigest()
    event = _new_event(AuditEvent)
    for set_slot, value in zip(_EVENT_SLOTS, (
        seq, time, record.actor, record.role, record.action, record.resource, record.purpose,
        record.decision, reasons, record.policy_hash, details, prev_hash, digest,
    ), strict=True):
        set_slot(event, value)
    return event, body[:-1] + _HASH_PREFIX + digest.encode("ascii") + b'"}\n'


_new_event = object.__new__
_sha256 = hashlib.sha256
_TIME_MATCH = _TIME.fullmatch
_HEX64_MATCH = _HEX64.fullmatch
#: The slots' own setters, in ``EVENT_FIELDS`` order: what ``object.__setattr__`` ends up
#: calling on a frozen dataclass, without looking the attribute up by name each time.
_EVENT_SLOTS = tuple(getattr(AuditEvent, name).__set__ for name in EVENT_FIELDS)


def _check_text(name: str, value: object, *, minimum: int = 0) -> None:
    limit = _TEXT_LIMITS[name]
    if type(value) is not str or not minimum <= len(value) <= limit or not value.isprintable():
        raise InvalidInput(
            f"audit {name} must be {minimum}-{limit} printable characters, got {value!r:.80}"
        )


def _check_pattern(name: str, value: object, pattern: re.Pattern[str], limit: int = 128) -> None:
    if type(value) is not str or len(value) > limit or not pattern.fullmatch(value):
        raise InvalidInput(f"audit {name} {value!r:.80} is not of the form {pattern.pattern}")


# Values already found valid, so that the few roles, actions, policy hashes and detail keys a
# deployment uses are checked by one set lookup instead of a regular expression on every event.
# Validity is a pure function of the string, so a hit proves what the check would; each cache
# stops growing at _KNOWN_LIMIT entries and then the checks simply run every time.
_KNOWN_LIMIT = 1024
_GOOD_ROLES: set[str] = set()
_GOOD_ACTIONS: set[str] = set()
_GOOD_POLICY_HASHES: set[str] = set()
_GOOD_DETAIL_KEYS: set[str] = set()


def _check_known(
    name: str, value: object, pattern: re.Pattern[str], known: set[str], limit: int = 128
) -> None:
    if type(value) is str and value in known:
        return
    _check_pattern(name, value, pattern, limit)
    if len(known) < _KNOWN_LIMIT:
        known.add(value)  # type: ignore[arg-type]  # _check_pattern proved it is a str


def _check_reasons(reasons: object) -> tuple[str, ...]:
    kind = type(reasons)  # a list or tuple first: the ABC check below is slow
    if kind is not tuple and kind is not list and (
            isinstance(reasons, str) or not isinstance(reasons, Sequence)):
        raise InvalidInput("audit reasons must be a list of strings")
    items = cast("Sequence[object]", reasons)
    if len(items) > MAX_REASONS:
        raise InvalidInput(f"at most {MAX_REASONS} audit reasons, got {len(items)}")
    for reason in items:
        if type(reason) is not str or len(reason) > 512 or not reason.isprintable():
            raise InvalidInput(
                f"audit reason {reason!r:.80} must be up to 512 printable characters")
    return tuple(items)  # type: ignore[arg-type]  # every item was checked to be a str


def _check_details(details: object) -> Mapping[str, DetailValue]:
    if type(details) is not dict and not isinstance(details, Mapping):
        raise InvalidInput("audit details must be a mapping of ids and hashes")
    if len(details) > MAX_DETAILS:
        raise InvalidInput(f"at most {MAX_DETAILS} audit details, got {len(details)}")
    checked: dict[str, DetailValue] = {}
    known = _GOOD_DETAIL_KEYS
    for key, value in details.items():
        if type(key) is not str or key not in known:
            _check_detail_key(key)
            if len(known) < _KNOWN_LIMIT:
                known.add(key)
        kind = type(value)
        if kind is str:  # the common case, inlined: an id or a hash
            if not _DETAIL_STR_MATCH(value):
                _check_detail_scalar(key, value)  # raises
            checked[key] = value
        elif kind is list or kind is tuple or isinstance(value, list | tuple):
            if len(value) > MAX_DETAIL_ITEMS:
                raise InvalidInput(f"audit detail {key!r}: at most {MAX_DETAIL_ITEMS} items")
            checked[key] = tuple([_check_detail_scalar(key, item) for item in value])
        else:
            checked[key] = _check_detail_scalar(key, value)
    return MappingProxyType(checked)


def _check_detail_key(key: object) -> None:
    if type(key) is not str or not _DETAIL_KEY.fullmatch(key):
        raise InvalidInput(f"audit detail key {key!r:.80} must be snake_case, up to 64 characters")
    parts = key.split("_")
    always = ALWAYS_SECRET.intersection(parts)
    unless = SECRET_UNLESS_REFERENCE.intersection(parts)
    if always or (unless and parts[-1] not in REFERENCE_SUFFIXES):
        word = sorted(always or unless)[0]
        raise InvalidInput(
            f"audit detail key {key!r} names a secret ({word}); audit events hold ids and hashes "
            "only (record an id or a hash instead)"
        )


def _check_detail_scalar(key: str, value: object) -> DetailScalar:
    kind = type(value)
    if value is None or kind is bool:
        return value  # type: ignore[return-value]
    if isinstance(value, int) and kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    if isinstance(value, str) and kind is str and _DETAIL_STR.fullmatch(value):
        return value
    raise InvalidInput(
        f"audit detail {key!r}: {value!r:.40} is not an id, hash, number or short code "
        "(strings: up to 128 of A-Z a-z 0-9 . _ : / @ + = * # -)"
    )
