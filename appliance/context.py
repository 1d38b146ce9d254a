"""The wired-up appliance: one :class:`Context` per process, opened from a home directory.

``init_home`` creates a home (config, database, master key, audit signing key) and refuses to touch
an existing one unless forced; ``open_context`` checks the home is safe to use (key permissions),
wires the vault, audit log and policy engine together, and cleans up after processes that died
(:func:`recover_home`): every process that opens the home (``serve``, each job worker, each CLI
command on a local home) does, so a crash is tidied by whatever runs next.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from appliance import db
from appliance.audit import AuditLog
from appliance.config import CONFIG_FILE, Settings, load_settings, resolve_home, save_settings
from appliance.crypto import (
    FileKeySource,
    Keyring,
    KeySource,
    PassphraseKeySource,
    check_key_permissions,
    generate_signing_key,
    load_signing_key,
)
from appliance.crypto.vault import Vault
from appliance.errors import ApplianceError, ConfigurationError
from appliance.gate import reconcile_actions
from appliance.policy import PolicyEngine, load_engine
from appliance.scratch import scratch_kind, sweep_scratch

KEYS_DIR = "keys"
AUDIT_DIR = "audit"
SIGNING_KEY = "audit-signing.key"
TMP_DIR = "tmp"
SWEEP_ACTION = "home.tmp.swept"
MAX_SWEPT_NAMES = 64  # the most items an audit detail list holds

log = logging.getLogger("appliance")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """Everything a service function needs, opened once per process."""

    settings: Settings
    conn: sqlite3.Connection
    keyring: Keyring
    vault: Vault
    audit: AuditLog
    policy: PolicyEngine
    clock: Clock = field(default=utc_now)

    @property
    def home(self) -> Path:
        return self.settings.home

    def now(self) -> str:
        """The current UTC time as ISO 8601, for database columns."""
        return self.clock().isoformat(timespec="seconds")

    def close(self) -> None:
        self.conn.close()


def secure_umask() -> None:
    """Every file the appliance creates is private to its user (0600 files, 0700 dirs)."""
    os.umask(0o077)


def key_source_for(settings: Settings) -> KeySource:
    keys_dir = settings.path(KEYS_DIR)
    if settings.key_source == "passphrase":
        return PassphraseKeySource(keys_dir, settings)
    return FileKeySource(keys_dir)


def init_home(
    home: str | Path | None = None,
    *,
    force: bool = False,
    key_source: Literal["file", "passphrase"] = "file",
) -> Settings:
    """Create a new home. Refuses an existing one; ``force`` wipes it first (all data lost)."""
    secure_umask()
    root = resolve_home(home)
    if (root / CONFIG_FILE).exists() or (root / KEYS_DIR).exists():
        if not force:
            raise ConfigurationError(
                f"{root} already holds an appliance home; refusing to overwrite its keys "
                "(use --force to destroy it and every dataset in it)"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    for sub in (KEYS_DIR, AUDIT_DIR, "objects", "tmp"):
        (root / sub).mkdir(mode=0o700, exist_ok=True)
    settings = Settings(home=root, key_source=key_source)
    if key_source == "passphrase":
        settings = PassphraseKeySource.initial_settings(settings)
    save_settings(settings)
    conn = db.connect(root / db.DB_FILE)
    try:
        db.migrate(conn)
    finally:
        conn.close()
    Keyring(key_source_for(settings)).ensure_initial_key()
    generate_signing_key(root / KEYS_DIR / SIGNING_KEY)
    return settings


def check_home(settings: Settings) -> None:
    """Refuse to start when any key file is readable by group or others."""
    keys_dir = settings.path(KEYS_DIR)
    if not keys_dir.is_dir():
        raise ConfigurationError(f"{keys_dir} is missing; the home is damaged")
    check_key_permissions(keys_dir)
    for path in sorted(keys_dir.iterdir()):
        check_key_permissions(path)


def open_context(
    home: str | Path | None = None, *, clock: Clock = utc_now, group_commit: bool = False
) -> Context:
    """Open an initialised home for use by this process.

    ``group_commit`` batches concurrent threads' audit appends into one fsync (the API server).
    """
    secure_umask()
    settings = load_settings(home)
    check_home(settings)
    conn = db.connect(settings.path(db.DB_FILE))
    db.migrate(conn)
    keyring = Keyring(key_source_for(settings))
    vault = Vault(settings.home, conn, keyring, settings.segment_size)
    signing_key = load_signing_key(settings.path(KEYS_DIR, SIGNING_KEY))
    audit = AuditLog(settings.path(AUDIT_DIR), signing_key, group_commit=group_commit)
    policy = load_engine(settings)
    ctx = Context(settings, conn, keyring, vault, audit, policy, clock)
    recover_home(ctx)
    return ctx


def recover_home(ctx: Context) -> None:
    """Tidy what dead processes left: scratch entries in ``tmp/`` whose lock is free (the vault
    swept its own temp files when it opened), audited as one ``home.tmp.swept`` event with the
    counts and names (never contents); and allowed actions whose process is gone, audited as
    ``<action>.aborted`` (``appliance.gate.outcomes``). A live process's entries and actions are
    left alone: they are locked, and their process is alive.

    Opening the home never fails here: if the audit log cannot take the events (the reason
    ``appliance audit verify`` may be being run), the leftovers stay where they are and the
    actions in flight stay in flight, for a later start, and a warning is logged. (The vault's
    own sweep, when it opened, removed its temp files either way: they hold only ciphertext.)
    """
    vault_files = int(getattr(ctx.vault, "swept", 0))

    def audit_sweep(swept: list[str]) -> None:  # before anything is removed
        if not swept and not vault_files:
            return
        kinds = Counter(scratch_kind(name) for name in swept)
        details: dict[str, object] = {"removed": len(swept) + vault_files,
                                      **{f"removed_{kind}": n for kind, n in kinds.items()}}
        details["removed_vault"] = vault_files  # temp files of vault writes that died
        details["names"] = swept[:MAX_SWEPT_NAMES]  # names only: they hold no data
        details["names_truncated"] = len(swept) > MAX_SWEPT_NAMES
        ctx.audit.append(
            actor="appliance", role="system", action=SWEEP_ACTION,
            resource=f"home:{TMP_DIR}", purpose="recovery", decision="allow",
            reasons=["left in tmp/ by processes that are gone"],
            policy_hash=ctx.policy.policy_hash, details=details,
        )

    try:
        sweep_scratch(ctx.settings.path(TMP_DIR), audit_sweep)
        reconcile_actions(ctx)
    except (ApplianceError, OSError) as exc:
        log.warning("start-up recovery of %s was not completed: %s", ctx.home, exc)
