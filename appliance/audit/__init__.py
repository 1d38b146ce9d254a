"""The tamper-evident audit log: append-only, hash-chained, signed, verifiable by outsiders.

- :class:`AuditLog` appends events (durable before return, several processes at once, group
  commit), signs a checkpoint after every write batch, and answers queries.
- :func:`verify_log` checks the whole log with only its files and the audit public key.
- :func:`export_jsonl` / :func:`export_csv` hand events to auditors.

Design and guarantees: ``docs/security-audit.md``. Formats: :mod:`appliance.audit.event` (events,
RFC 8785), :mod:`appliance.audit.checkpoint` (checkpoints, Ed25519) and
:mod:`appliance.audit.merkle` (RFC 6962 Merkle Tree Hash).
"""

from appliance.audit.checkpoint import (
    Checkpoint,
    dump_checkpoint,
    export_audit_public_key,
    key_id,
    load_public_key_file,
    read_checkpoint_file,
)
from appliance.audit.event import GENESIS_HASH, AuditEvent, AuditRecord, utc_now
from appliance.audit.log import AuditLog
from appliance.audit.query import (
    MATCH_KINDS,
    TextFilter,
    TextMatch,
    export_csv,
    export_jsonl,
    iter_events,
    iter_matching,
    query_events,
)
from appliance.audit.verify import TornTail, VerifyReport, verify_log

__all__ = [
    "GENESIS_HASH",
    "MATCH_KINDS",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "Checkpoint",
    "TextFilter",
    "TextMatch",
    "TornTail",
    "VerifyReport",
    "dump_checkpoint",
    "export_audit_public_key",
    "export_csv",
    "export_jsonl",
    "iter_events",
    "iter_matching",
    "key_id",
    "load_public_key_file",
    "query_events",
    "read_checkpoint_file",
    "utc_now",
    "verify_log",
]
