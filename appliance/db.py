"""The SQLite metadata database: WAL mode, foreign keys, and a versioned schema.

Each entry of ``MIGRATIONS`` moves the schema up one version inside one transaction, so a later
release migrates an older home forward by running the entries it has not seen. Entries are never
edited once released; new ones are appended.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.errors import ConfigurationError

DB_FILE = "appliance.db"

MIGRATIONS: list[str] = [
    # 1: the foundation: the vault's objects and datasets; users, jobs, models, exports.
    """
    CREATE TABLE objects (
        object_id    TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        key_version  INTEGER NOT NULL,
        wrapped_key  BLOB,              -- NULL once shredded: the ciphertext is then unreadable
        size         INTEGER NOT NULL,  -- ciphertext bytes
        created_at   TEXT NOT NULL,
        shredded_at  TEXT
    );
    CREATE TABLE datasets (
        dataset_id     TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        state          TEXT NOT NULL,
        task           TEXT NOT NULL DEFAULT 'raw',
        spec           TEXT NOT NULL DEFAULT '{}',
        classification TEXT NOT NULL DEFAULT 'internal',
        source_format  TEXT NOT NULL,
        row_count      INTEGER NOT NULL,
        content_hash   TEXT NOT NULL,
        object_id      TEXT REFERENCES objects(object_id),
        report_object_id TEXT REFERENCES objects(object_id),
        uploaded_by    TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE INDEX datasets_state ON datasets(state);
    CREATE TABLE dataset_reviews (
        review_id   INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset_id  TEXT NOT NULL REFERENCES datasets(dataset_id),
        reviewer    TEXT NOT NULL,
        decision    TEXT NOT NULL,
        reason      TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL
    );
    CREATE TABLE users (
        name        TEXT PRIMARY KEY,
        role        TEXT NOT NULL,
        token_hash  TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    CREATE TABLE base_models (
        name        TEXT PRIMARY KEY,
        path        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        registered_at TEXT NOT NULL
    );
    CREATE TABLE jobs (
        job_id      TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        task        TEXT NOT NULL,
        state       TEXT NOT NULL,
        config      TEXT NOT NULL,
        dataset_ids TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT,
        pid         INTEGER,
        progress    TEXT NOT NULL DEFAULT '{}',
        metrics     TEXT NOT NULL DEFAULT '{}',
        error       TEXT,
        checkpoint_object_id TEXT REFERENCES objects(object_id),
        model_id    TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE job_logs (
        job_id  TEXT NOT NULL REFERENCES jobs(job_id),
        seq     INTEGER NOT NULL,
        at      TEXT NOT NULL,
        line    TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    );
    CREATE TABLE models (
        model_id    TEXT PRIMARY KEY,
        job_id      TEXT,
        task        TEXT NOT NULL,
        method      TEXT NOT NULL,
        base_model  TEXT NOT NULL,
        object_id   TEXT NOT NULL REFERENCES objects(object_id),
        card        TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE exports (
        export_id    TEXT PRIMARY KEY,
        model_id     TEXT NOT NULL REFERENCES models(model_id),
        state        TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        approved_by  TEXT,
        reason       TEXT NOT NULL DEFAULT '',
        bundle_sha256 TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    """,
    # 2: training: who ran a job in which role, its base model, split, recipe and heartbeat;
    #    an export's signed bundle, kept encrypted in the vault.
    """
    ALTER TABLE jobs ADD COLUMN created_role TEXT NOT NULL DEFAULT 'operator';
    ALTER TABLE jobs ADD COLUMN base_model TEXT;
    ALTER TABLE jobs ADD COLUMN split TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN recipe TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT;
    ALTER TABLE exports ADD COLUMN bundle_object_id TEXT REFERENCES objects(object_id);
    CREATE INDEX jobs_state ON jobs(state);
    """,
    # 3: allowed actions still in flight (appliance.gate.outcomes): a row from the allow decision
    #    until the outcome, so an action whose process died is audited as aborted at start-up.
    """
    CREATE TABLE actions_in_flight (
        action_id    TEXT PRIMARY KEY,
        action       TEXT NOT NULL,
        resource     TEXT NOT NULL,
        actor        TEXT NOT NULL,
        role         TEXT NOT NULL,
        purpose      TEXT NOT NULL,
        allowed_seq  INTEGER NOT NULL,  -- the allow event this row reconciles
        allowed_hash TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        pid_started  TEXT NOT NULL,     -- the process's start time: a reused pid is not it
        started_at   TEXT NOT NULL
    );
    """,
    # 4: what an export's bundle holds (weights, adapter or merged) and the memorization scan
    #    of a generative model (JSON, the model card's; counts and rates, no record text), shown
    #    to the approver.
    """
    ALTER TABLE exports ADD COLUMN contents TEXT NOT NULL DEFAULT 'weights';
    ALTER TABLE exports ADD COLUMN memorization TEXT;
    """,
    # 5: feedback campaigns (appliance.feedback): a campaign over an approved prompt dataset;
    #    its items (prompt and candidates sealed in the vault, only which model wrote which
    #    candidate here); reviewers under per-campaign pseudonyms; one assignment per item and
    #    reviewer, with the order shown and the judgement (indices, never text).
    """
    CREATE TABLE campaigns (
        campaign_id  TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        state        TEXT NOT NULL,
        dataset_id   TEXT NOT NULL REFERENCES datasets(dataset_id),
        models       TEXT NOT NULL,   -- JSON list of model references
        candidates   INTEGER NOT NULL,
        overlap      REAL NOT NULL,
        random_state INTEGER NOT NULL,
        settings     TEXT NOT NULL DEFAULT '{}',
        created_by   TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        closed_at    TEXT,
        result_dataset_id TEXT,
        lineage      TEXT
    );
    CREATE TABLE campaign_reviewers (
        campaign_id  TEXT NOT NULL REFERENCES campaigns(campaign_id),
        reviewer     TEXT NOT NULL,
        pseudonym    TEXT NOT NULL UNIQUE,
        role         TEXT NOT NULL,
        added_at     TEXT NOT NULL,
        PRIMARY KEY (campaign_id, reviewer)
    );
    CREATE TABLE campaign_items (
        item_id      TEXT PRIMARY KEY,
        campaign_id  TEXT NOT NULL REFERENCES campaigns(campaign_id),
        position     INTEGER NOT NULL,
        object_id    TEXT NOT NULL REFERENCES objects(object_id),
        candidate_models TEXT NOT NULL,  -- JSON: the model reference of each candidate
        reviews_wanted INTEGER NOT NULL,
        UNIQUE (campaign_id, position)
    );
    CREATE TABLE campaign_assignments (
        assignment_id TEXT PRIMARY KEY,
        campaign_id  TEXT NOT NULL REFERENCES campaigns(campaign_id),
        item_id      TEXT NOT NULL REFERENCES campaign_items(item_id),
        reviewer     TEXT NOT NULL,
        shown_order  TEXT NOT NULL,   -- JSON: candidate indices in the order shown
        verdict      TEXT,            -- rank, pick, both_bad or skip (NULL until judged)
        ranking      TEXT,            -- JSON: candidate indices, best first
        judged_at    TEXT,
        created_at   TEXT NOT NULL,
        UNIQUE (item_id, reviewer)
    );
    CREATE INDEX campaign_assignments_reviewer ON campaign_assignments(reviewer, campaign_id);
    """,
    # 6: a campaign's candidates are generated by a worker process (appliance.feedback.worker):
    #    states GENERATING -> OPEN | FAILED before CLOSED; the creator's role (the worker acts
    #    as the creator), the worker's pid, progress JSON (candidates generated of the total),
    #    the error of a FAILED campaign, and when it opened. Campaigns made before are OPEN or
    #    CLOSED already and keep their state.
    """
    ALTER TABLE campaigns ADD COLUMN created_role TEXT NOT NULL DEFAULT 'operator';
    ALTER TABLE campaigns ADD COLUMN pid INTEGER;
    ALTER TABLE campaigns ADD COLUMN progress TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE campaigns ADD COLUMN error TEXT;
    ALTER TABLE campaigns ADD COLUMN opened_at TEXT;
    CREATE INDEX campaigns_state ON campaigns(state);
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open the database with the settings every caller needs."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; refuse a database newer than this release."""
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise ConfigurationError(
            f"database schema v{current} is newer than this release (v{len(MIGRATIONS)})"
        )
    for version in range(current + 1, len(MIGRATIONS) + 1):
        with transaction(conn):
            for statement in _split(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
    return len(MIGRATIONS)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _split(script: str) -> list[str]:
    statements = []
    for chunk in script.split(";"):
        lines = [line.split("--", 1)[0] for line in chunk.splitlines()]
        text = "\n".join(lines).strip()
        if text:
            statements.append(text)
    return statements
