"""The campaign tables (schema v5 and v6, appliance/db.py): rows in, dataclasses out.

Only metadata lives here: names, states, which model wrote which candidate, the order shown to
each reviewer and the judgements as candidate indices. Prompts and candidate texts are sealed in
the vault, one object per item (see :mod:`appliance.feedback.service`). No function here asks
the policy: the service does, before it calls them.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from appliance.errors import NotFound

#: A campaign's states: GENERATING (its worker writes the candidates) -> OPEN (judged) ->
#: CLOSED; or GENERATING -> FAILED (``error`` says why; nothing of its items is kept).
GENERATING, OPEN, FAILED, CLOSED = "GENERATING", "OPEN", "FAILED", "CLOSED"


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign's metadata: never a prompt or a candidate's text."""

    campaign_id: str
    name: str
    state: str
    dataset_id: str
    models: list[str]
    candidates: int
    overlap: float
    random_state: int
    settings: dict[str, Any]
    created_by: str
    created_at: str
    closed_at: str | None
    result_dataset_id: str | None
    lineage: dict[str, Any] | None
    created_role: str = "operator"
    #: The generation worker's process while GENERATING, else None.
    pid: int | None = None
    #: While GENERATING: ``{"done", "total"}`` candidates, and ``prompts``.
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    opened_at: str | None = None
    items: int = 0
    #: Reviewers: name, pseudonym and role (shown to those who may see the campaign).
    reviewers: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"progress_text": self.progress_text()}

    def progress_text(self) -> str:
        """What the campaign is doing, e.g. "generating 12/40 candidates"."""
        if self.state != GENERATING:
            return {OPEN: "open", CLOSED: "closed", FAILED: f"failed: {self.error}"}.get(
                self.state, self.state.lower())
        done, total = self.progress.get("done", 0), self.progress.get("total")
        return f"generating {done}/{total} candidates" if total else "generating"

    def resource(self) -> dict[str, Any]:
        """The attributes the policy decides on."""
        return {"type": "campaign", "id": self.campaign_id, "state": self.state,
                "created_by": self.created_by}


@dataclass(frozen=True)
class Assignment:
    """One item shown to one reviewer: the order shown and, once judged, the verdict."""

    assignment_id: str
    campaign_id: str
    item_id: str
    reviewer: str
    position: int
    object_id: str
    shown_order: list[int]
    candidate_models: list[str]
    verdict: str | None
    ranking: list[int] | None
    judged_at: str | None

    def resource(self, campaign_state: str) -> dict[str, Any]:
        """The item as the policy sees it: assigned to (owned by) its reviewer."""
        return {"type": "campaign_item", "id": self.assignment_id, "state": campaign_state,
                "owner": self.reviewer}


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6 if prefix == "cmp_" else 8)


def get_campaign(conn: sqlite3.Connection, campaign_id: str) -> CampaignInfo:
    row = conn.execute("SELECT * FROM campaigns WHERE campaign_id=?", (campaign_id,)).fetchone()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    data = dict(row)
    for key in ("models", "settings", "lineage", "progress"):
        data[key] = json.loads(data[key]) if data[key] else None
    data["settings"] = data["settings"] or {}
    data["progress"] = data["progress"] or {}
    data["items"] = conn.execute("SELECT count(*) FROM campaign_items WHERE campaign_id=?",
                                 (campaign_id,)).fetchone()[0]
    data["reviewers"] = reviewers(conn, campaign_id)
    return CampaignInfo(**data)


def campaign_ids(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT campaign_id FROM campaigns ORDER BY created_at, campaign_id")
    return [r["campaign_id"] for r in rows.fetchall()]


def reviewers(conn: sqlite3.Connection, campaign_id: str) -> list[dict[str, str]]:
    rows = conn.execute("SELECT reviewer, pseudonym, role FROM campaign_reviewers WHERE"
                        " campaign_id=? ORDER BY added_at, reviewer", (campaign_id,)).fetchall()
    return [{"name": r["reviewer"], "pseudonym": r["pseudonym"], "role": r["role"]} for r in rows]


def add_reviewer(conn: sqlite3.Connection, campaign_id: str, name: str, role: str,
                 now: str) -> bool:
    """Add a reviewer under a fresh random pseudonym; False when already a reviewer."""
    if conn.execute("SELECT 1 FROM campaign_reviewers WHERE campaign_id=? AND reviewer=?",
                    (campaign_id, name)).fetchone():
        return False
    # random, not derived from the name: lineage and results name reviewers by pseudonym, and a
    # hash of a user name could be reversed by trying every user
    conn.execute("INSERT INTO campaign_reviewers(campaign_id, reviewer, pseudonym, role,"
                 " added_at) VALUES (?,?,?,?,?)",
                 (campaign_id, name, "rv_" + secrets.token_hex(4), role, now))
    return True


_ASSIGNMENT = ("SELECT a.assignment_id, a.campaign_id, a.item_id, a.reviewer, i.position,"
               " i.object_id, a.shown_order, i.candidate_models, a.verdict, a.ranking,"
               " a.judged_at FROM campaign_assignments a"
               " JOIN campaign_items i ON i.item_id = a.item_id")


def _assignment(row: sqlite3.Row) -> Assignment:
    data = dict(row)
    for key in ("shown_order", "candidate_models", "ranking"):
        data[key] = json.loads(data[key]) if data[key] else None
    return Assignment(**data)


def find_assignment(conn: sqlite3.Connection, assignment_id: str) -> Assignment | None:
    row = conn.execute(_ASSIGNMENT + " WHERE a.assignment_id=?", (assignment_id,)).fetchone()
    return _assignment(row) if row is not None else None


def assignments(conn: sqlite3.Connection, campaign_id: str,
                reviewer: str | None = None) -> list[Assignment]:
    query = _ASSIGNMENT + " WHERE a.campaign_id=?"
    args: tuple[str, ...] = (campaign_id,)
    if reviewer is not None:
        query += " AND a.reviewer=?"
        args += (reviewer,)
    rows = conn.execute(query + " ORDER BY i.position, a.created_at, a.reviewer", args)
    return [_assignment(r) for r in rows.fetchall()]


def assigned_campaigns(conn: sqlite3.Connection, reviewer: str) -> set[str]:
    rows = conn.execute("SELECT campaign_id FROM campaign_reviewers WHERE reviewer=?",
                        (reviewer,)).fetchall()
    return {r["campaign_id"] for r in rows}


def insert_item(conn: sqlite3.Connection, campaign_id: str, position: int, object_id: str,
                candidate_models: list[str], reviews_wanted: int) -> str:
    item_id = new_id("ci_")
    conn.execute("INSERT INTO campaign_items(item_id, campaign_id, position, object_id,"
                 " candidate_models, reviews_wanted) VALUES (?,?,?,?,?,?)",
                 (item_id, campaign_id, position, object_id, json.dumps(candidate_models),
                  reviews_wanted))
    return item_id


def items_stored(conn: sqlite3.Connection, campaign_id: str) -> int:
    """How many items a generation worker has sealed so far (positions 0 to n-1)."""
    return int(conn.execute("SELECT count(*) FROM campaign_items WHERE campaign_id=?",
                            (campaign_id,)).fetchone()[0])


def set_progress(conn: sqlite3.Connection, campaign_id: str, progress: dict[str, Any]) -> None:
    conn.execute("UPDATE campaigns SET progress=? WHERE campaign_id=?",
                 (json.dumps(progress, sort_keys=True), campaign_id))


def item_objects(conn: sqlite3.Connection, campaign_id: str) -> dict[str, str]:
    rows = conn.execute("SELECT item_id, object_id FROM campaign_items WHERE campaign_id=?",
                        (campaign_id,)).fetchall()
    return {r["item_id"]: r["object_id"] for r in rows}


def fill_assignments(conn: sqlite3.Connection, campaign_id: str, random_state: int,
                     now: str) -> int:
    """Give every item as many reviewers as it wants (one, or two where it overlaps), each
    reviewer's load kept even; ties broken by a hash of the campaign's random state, so the
    same campaign is always assigned the same way. Returns the assignments added."""
    names = [r["name"] for r in reviewers(conn, campaign_id)]
    if not names:
        return 0
    load = dict.fromkeys(names, 0)
    have: dict[str, set[str]] = {}
    for row in conn.execute("SELECT item_id, reviewer FROM campaign_assignments WHERE"
                            " campaign_id=?", (campaign_id,)).fetchall():
        have.setdefault(row["item_id"], set()).add(row["reviewer"])
        if row["reviewer"] in load:
            load[row["reviewer"]] += 1
    items = conn.execute("SELECT item_id, position, candidate_models, reviews_wanted FROM"
                         " campaign_items WHERE campaign_id=? ORDER BY position",
                         (campaign_id,)).fetchall()
    added = 0
    for item in items:
        taken = have.get(item["item_id"], set())
        free = sorted((n for n in names if n not in taken),
                      key=lambda n: (load[n], _digest(random_state, item["position"], n)))
        for name in free[:max(0, item["reviews_wanted"] - len(taken))]:
            order = shown_order(random_state, item["position"], name,
                                len(json.loads(item["candidate_models"])))
            conn.execute("INSERT INTO campaign_assignments(assignment_id, campaign_id, item_id,"
                         " reviewer, shown_order, created_at) VALUES (?,?,?,?,?,?)",
                         (new_id("ca_"), campaign_id, item["item_id"], name, json.dumps(order),
                          now))
            load[name] += 1
            added += 1
    return added


def shown_order(random_state: int, position: int, reviewer: str, count: int) -> list[int]:
    """The candidates' order for one item and reviewer: a shuffle seeded by the campaign's
    random state, the item and the reviewer, so two reviewers of one item see different orders
    and no screen position belongs to one model."""
    order = list(range(count))
    rng = random.Random(_digest(random_state, position, reviewer))  # noqa: S311  (an order, not a secret)
    rng.shuffle(order)
    return order


def _digest(random_state: int, position: int, reviewer: str) -> int:
    text = f"{random_state}:{position}:{reviewer}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def record_judgement(conn: sqlite3.Connection, assignment_id: str, verdict: str,
                     ranking: list[int], now: str) -> bool:
    """Store a verdict once; False if the item was judged meanwhile or its campaign closed."""
    cursor = conn.execute(
        "UPDATE campaign_assignments SET verdict=?, ranking=?, judged_at=? WHERE"
        " assignment_id=? AND verdict IS NULL AND campaign_id IN"
        " (SELECT campaign_id FROM campaigns WHERE state=?)",
        (verdict, json.dumps(ranking), now, assignment_id, OPEN))
    return cursor.rowcount == 1


__all__ = ["CLOSED", "FAILED", "GENERATING", "OPEN", "Assignment", "CampaignInfo"]
