"""Verifying the audit log with nothing but its files and the audit public key.

:func:`verify_log` reads every segment in order and checks, for each line, that it is a JSON
event in exactly the canonical layout (RFC 8785 body, then ``hash``), that ``seq`` is the next
number, that ``prev_hash`` is the previous event's hash, and that ``hash`` is the SHA-256 of the
body. It feeds every hash into an RFC 6962 Merkle tree, and checks each signed checkpoint in
``checkpoints.jsonl`` -- signature, key id, and that its ``head_hash`` and ``root_hash`` are the
chain's at its ``tree_size``. Given a checkpoint an auditor saved earlier, it proves the log
still begins with exactly the events that checkpoint signed: the log was only appended to.

The first problem found raises :class:`IntegrityError` naming the file and line, the ``seq``, and
what was expected against what was found. A torn tail (the incomplete last line a crash leaves)
is not an integrity failure: it is reported in :attr:`VerifyReport.torn_tails`, with everything
before it verified.

Speed: the per-line work is the C JSON decoder and encoder, one SHA-256 of the event and the
amortised two of the Merkle tree; the slow pure-Python ``rfc8785`` package is never on this path
(see :mod:`appliance.audit.canonical` for why the result is the same).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.audit.canonical import (
    canonical_json,
    encode_trusted,
    long_digit_runs,
    parse_strict,
    scan_short_ints,
    scan_strict,
)
from appliance.audit.checkpoint import Checkpoint, key_id, verify_checkpoint
from appliance.audit.event import EVENT_KEYS, GENESIS_HASH
from appliance.audit.files import CHECKPOINTS_FILE, list_segments
from appliance.audit.merkle import EMPTY_ROOT, node_hash
from appliance.crypto.signing import VerifyKey
from appliance.errors import ApplianceError, IntegrityError

_sha256 = hashlib.sha256
_AUDITOR = "the given checkpoint"


@dataclass(frozen=True)
class TornTail:
    """An incomplete last line: a write that a crash (or a full disk) cut short."""

    file: str
    line: int
    offset: int
    length: int

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: torn tail: the last line is incomplete ({self.length} "
            f"bytes from offset {self.offset}, no newline); a write was cut short, and "
            "everything before it verifies"
        )


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification proved."""

    events: int
    head_hash: str
    root_hash: str
    checkpoints: int
    signed_tree_size: int
    segments: int
    torn_tails: tuple[TornTail, ...] = ()
    proven_since: int | None = None

    @property
    def unsigned_events(self) -> int:
        """Events after the last signed checkpoint: chained, but not yet signed."""
        return self.events - self.signed_tree_size

    @property
    def warnings(self) -> list[str]:
        notes = [str(torn) for torn in self.torn_tails]
        if self.unsigned_events:
            notes.append(
                f"events {self.signed_tree_size + 1}-{self.events} are not covered by a signed "
                "checkpoint yet (the writer crashed before signing, or is signing now)"
            )
        return notes

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events, "head_hash": self.head_hash, "root_hash": self.root_hash,
            "checkpoints": self.checkpoints, "signed_tree_size": self.signed_tree_size,
            "unsigned_events": self.unsigned_events, "segments": self.segments,
            "torn_tails": [str(t) for t in self.torn_tails], "proven_since": self.proven_since,
            "warnings": self.warnings,
        }


@dataclass
class _Target:
    """A checkpoint the chain must match when it reaches ``tree_size``."""

    where: str
    checkpoint: Checkpoint


@dataclass
class _Chain:
    """The state of the walk: next seq, last hash, Merkle peaks, checkpoints still ahead."""

    targets: list[_Target]
    seq: int = 0
    head_hash: str = GENESIS_HASH
    peaks: list[bytes] = field(default_factory=list)
    next_target: int = 0
    matched_at: int = 0

    def root_hash(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        root = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            root = node_hash(peak, root)
        return root


def verify_log(
    audit_dir: str | Path,
    public_key: VerifyKey,
    checkpoint: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the whole log; raise :class:`IntegrityError` at the first problem.

    ``workers``: processes that check segments in parallel (see :func:`_checked_segments`);
    None picks one per CPU for a large log of several segments, 1 checks everything here.
    """
    audit_dir = Path(audit_dir)
    if not audit_dir.is_dir():
        raise IntegrityError(f"{audit_dir}: no audit log directory")
    try:
        segments = list_segments(audit_dir)
        listing_error = None
    except IntegrityError as exc:  # reported after the checkpoints, as a sequential walk would
        segments, listing_error = [], exc
    last = len(segments) - 1
    jobs = [(path, position == last) for position, (_, path) in enumerate(segments)]
    with _checked_segments(jobs, workers) as checked:
        expected_key = key_id(public_key)
        stored, torn_tails = _read_checkpoints(audit_dir, public_key, expected_key)
        targets = list(stored)
        auditor: Checkpoint | None = None
        if checkpoint is not None:
            auditor = verify_checkpoint(checkpoint, public_key, where=_AUDITOR,
                                        expected_key_id=expected_key)
            targets.append(_Target(_AUDITOR, auditor))
            targets.sort(key=lambda target: target.checkpoint.tree_size)
        chain = _Chain(targets)
        _match_targets(chain, "the start of the log", 0)  # a checkpoint of the empty log
        if listing_error is not None:
            raise listing_error

        for (path, is_last), summary in zip(jobs, checked, strict=False):
            if summary is not None and summary.start == (chain.seq, chain.head_hash):
                # The worker ran exactly the checks below from exactly this chain state.
                _settle(chain, path.name, summary.digests())
                torn = summary.torn
            else:  # no worker, or it found a problem: find (and name) it here, in order
                torn = _verify_segment(chain, path, last=is_last)
            if torn is not None:
                torn_tails.insert(0, torn)

    _check_truncation(chain)
    return VerifyReport(
        events=chain.seq,
        head_hash=chain.head_hash,
        root_hash=chain.root_hash().hex(),
        checkpoints=len(stored),
        signed_tree_size=stored[-1].checkpoint.tree_size if stored else 0,
        segments=len(segments),
        torn_tails=tuple(torn_tails),
        proven_since=auditor.tree_size if auditor is not None else None,
    )


def _read_checkpoints(
    audit_dir: Path, public_key: VerifyKey, expected_key: str
) -> tuple[list[_Target], list[TornTail]]:
    path = audit_dir / CHECKPOINTS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    lines = data.split(b"\n")
    tail = lines.pop()
    torn = [TornTail(path.name, len(lines) + 1, len(data) - len(tail), len(tail))] if tail else []
    targets: list[_Target] = []
    previous = 0
    for lineno, line in enumerate(lines, start=1):
        where = f"{CHECKPOINTS_FILE}:{lineno}"
        try:
            parsed = parse_strict(line.decode("utf-8"))
        except ValueError:
            raise IntegrityError(f"{where}: not a JSON checkpoint") from None
        checkpoint = verify_checkpoint(parsed, public_key, where=where,
                                       expected_key_id=expected_key)
        if checkpoint.tree_size <= previous:
            raise IntegrityError(
                f"{where}: tree_size expected more than {previous} (the checkpoint before), "
                f"got {checkpoint.tree_size}: checkpoints were reordered or replayed"
            )
        previous = checkpoint.tree_size
        targets.append(_Target(where, checkpoint))
    return targets, torn


def _verify_segment(chain: _Chain, path: Path, *, last: bool) -> TornTail | None:
    """Check one segment from the chain's state; raise at its first problem."""
    texts, strict, torn, undecodable = _read_segment(path, last=last)
    digests, error = _check_lines(path.name, texts, strict, chain.seq, chain.head_hash)
    _settle(chain, path.name, digests)  # checkpoints met before the bad line come first
    if error is not None:
        raise error
    if undecodable is not None:
        raise undecodable
    return torn


def _read_segment(
    path: Path, *, last: bool
) -> tuple[list[str], set[int], TornTail | None, IntegrityError | None]:
    """The segment's complete lines as text, the numbers of those that need the strict scanner
    (:func:`long_digit_runs`), its torn tail, and the error for an undecodable line (the lines
    before it are returned, so that errors come in line order)."""
    data = path.read_bytes()
    strict = long_digit_runs(data)
    raw_lines = data.split(b"\n")
    tail = raw_lines.pop()
    torn = None
    if tail:
        line_no = len(raw_lines) + 1
        if not last:
            raise IntegrityError(
                f"{path.name}:{line_no}: incomplete line at the end of a segment that is not "
                "the last: the segment was cut short"
            )
        torn = TornTail(path.name, line_no, len(data) - len(tail), len(tail))
    try:
        texts = data[: len(data) - len(tail)].decode("utf-8").split("\n")[:-1]
        return texts, strict, torn, None
    except UnicodeDecodeError:
        texts = []
        for lineno, line in enumerate(raw_lines, start=1):
            try:
                texts.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                error = IntegrityError(f"{path.name}:{lineno}: not valid UTF-8")
                return texts, strict, torn, error
        raise AssertionError("unreachable: some line failed to decode") from None


def _check_lines(
    name: str, texts: list[str], strict: set[int], seq: int, prev: str
) -> tuple[list[bytes], IntegrityError | None]:
    """Check each line after event ``seq`` with hash ``prev``: the SHA-256 of every good line
    up to the first bad one, and the error for that one (None if all are good). Lines numbered
    in ``strict`` are parsed by :data:`scan_strict`, the others by :data:`scan_short_ints`
    (which refuses exactly the same text when no integer literal can be out of range).

    The hot loop: keep it free of calls that are not needed for every line. Everything but the
    Merkle tree and the checkpoints is here, so that a worker process can run it on a segment
    of its own (:func:`_check_segment_alone`).
    """
    fast_scan = scan_short_ints
    encode = encode_trusted
    sha256 = _sha256
    keys = EVENT_KEYS
    digests: list[bytes] = []
    keep = digests.append
    try:
        for lineno, text in enumerate(texts, start=1):
            try:
                event, end = (scan_strict if lineno in strict else fast_scan)(text, 0)
            except (StopIteration, ValueError):
                raise _syntax_error(name, lineno, text) from None
            if end != len(text):
                raise _syntax_error(name, lineno, text)
            if type(event) is not dict or event.keys() != keys:
                raise _shape_error(name, lineno, event)
            stored = event.pop("hash")
            seq += 1
            if event["seq"] != seq or type(event["seq"]) is not int:
                raise IntegrityError(
                    f"{name}:{lineno}: seq expected {seq}, got {event['seq']!r}: events were "
                    "deleted, inserted or reordered"
                )
            if event["prev_hash"] != prev:
                raise IntegrityError(
                    f"{name}:{lineno} (seq {seq}): prev_hash expected {prev}, got "
                    f"{event['prev_hash']}: the chain is broken here (the event before it was "
                    "changed, or this one was moved)"
                )
            # ASCII text parses to ASCII keys unless it holds \u escapes, and a line with such
            # an escape outside a control character is never canonical: the comparison below
            # rejects it whatever order the keys were sorted in. So the C encoder is exact
            # where it is used.
            body = encode(event) if text.isascii() else _canonical_text(name, lineno, event)
            if text != f'{body[:-1]},"hash":"{stored}"}}':
                raise _layout_error(name, lineno, seq, body, stored)
            # The line is exactly the canonical body plus its hash, so this hashes its bytes.
            digest = sha256(body.encode("utf-8")).digest()
            if digest.hex() != stored:
                raise IntegrityError(
                    f"{name}:{lineno} (seq {seq}): hash expected {digest.hex()}, got {stored}: "
                    "the event was changed after it was written"
                )
            prev = stored
            keep(digest)
    except IntegrityError as exc:
        return digests, exc
    return digests, None


def _settle(chain: _Chain, name: str, digests: list[bytes]) -> None:
    """Add checked events (their hashes, from line 1 of ``name``) to the chain and its Merkle
    tree, matching every checkpoint on the way."""
    sha256 = _sha256
    peaks = chain.peaks
    seq = chain.seq
    next_size = _next_size(chain)
    for lineno, digest in enumerate(digests, start=1):
        node = sha256(b"\x00" + digest).digest()
        carry = seq
        while carry & 1:
            node = sha256(b"\x01" + peaks.pop() + node).digest()
            carry >>= 1
        peaks.append(node)
        seq += 1
        if seq == next_size:
            chain.seq, chain.head_hash = seq, digest.hex()
            _match_targets(chain, name, lineno)
            next_size = _next_size(chain)
    if digests:
        chain.seq, chain.head_hash = seq, digests[-1].hex()


# -- checking segments in parallel ---------------------------------------------------------------
#
# Each line's checks need only the event before it, so a worker process can check a whole
# segment on its own, starting from the seq and prev_hash that its first line claims. The parent
# then accepts the result only if that claimed start is exactly where the chain it verified so
# far ends, and feeds the hashes into the Merkle tree and the checkpoints itself, in order. Any
# problem a worker meets (or a start that does not match) makes the parent check that segment
# again itself, so the error raised is the same, word for word, as a sequential walk's.

_PARALLEL_MIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class _SegmentSummary:
    """A segment that a worker found sound from ``start`` = (seq, hash) of the event before."""

    start: tuple[int, str]
    hashes: bytes  # the events' SHA-256 digests, 32 bytes each, in order
    torn: TornTail | None

    def digests(self) -> list[bytes]:
        blob = self.hashes
        return [blob[i:i + 32] for i in range(0, len(blob), 32)]


def _check_segment_alone(job: tuple[Path, bool]) -> _SegmentSummary | None:
    """In a worker: check one segment from the start its first line claims; None on a problem."""
    path, last = job
    try:
        texts, strict, torn, undecodable = _read_segment(path, last=last)
        if undecodable is not None or not texts:
            return None
        first, _ = scan_strict(texts[0], 0)
    except (IntegrityError, OSError, StopIteration, ValueError):
        return None
    if type(first) is not dict or type(first.get("seq")) is not int or first["seq"] < 1:
        return None
    seq, prev = first["seq"] - 1, first.get("prev_hash")
    if type(prev) is not str:
        return None
    digests, error = _check_lines(path.name, texts, strict, seq, prev)
    if error is not None:
        return None
    return _SegmentSummary((seq, prev), b"".join(digests), torn)


@contextlib.contextmanager
def _checked_segments(
    jobs: list[tuple[Path, bool]], workers: int | None
) -> Iterator[Iterator[_SegmentSummary | None]]:
    """Summaries of the segments from worker processes, in order, or None for each segment
    the caller must check itself (all of them when no worker is used)."""
    count = _worker_count(jobs, workers)
    if count < 2:
        yield itertools.repeat(None)
        return
    try:
        pool = multiprocessing.get_context("fork").Pool(count)
    except (OSError, ValueError):  # no fork here, or no resources for it: check sequentially
        yield itertools.repeat(None)
        return
    try:
        yield _until_failure(pool.imap(_check_segment_alone, jobs))
    finally:
        pool.terminate()  # an early error makes the rest useless; idle workers just exit
        pool.join()


def _until_failure(
    results: Iterator[_SegmentSummary | None],
) -> Iterator[_SegmentSummary | None]:
    """The workers' results; if a worker dies or fails, None (check it here) from then on."""
    try:
        yield from results
    except Exception:  # noqa: BLE001 - any failure of the machinery only costs speed
        yield from itertools.repeat(None)


def _worker_count(jobs: list[tuple[Path, bool]], workers: int | None) -> int:
    # fork() copies only the calling thread: with other threads running (a server), a lock one
    # of them holds would stay locked in the child forever. Check sequentially there.
    if len(jobs) < 2 or threading.active_count() > 1:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if workers is None:
        try:
            size = sum(path.stat().st_size for path, _ in jobs)
        except OSError:
            return 1
        if size < _PARALLEL_MIN_BYTES:
            return 1
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    return max(1, min(workers, len(jobs)))


def _check_truncation(chain: _Chain) -> None:
    """Checkpoints beyond the log's end: name every removed event, up to the latest signed one
    (the first unmatched checkpoint may cover only the first of them)."""
    beyond = chain.targets[chain.next_target:]
    if not beyond:
        return
    latest = max(beyond, key=lambda target: target.checkpoint.tree_size)
    size, end = latest.checkpoint.tree_size, chain.seq
    removed = size - end
    raise IntegrityError(
        f"{latest.where}: tree_size expected at most {end} (the events in the log), got "
        f"{size}: events {end + 1}-{size} were removed ({removed} event"
        f"{'s' if removed != 1 else ''}; the latest checkpoint covers {size}, the log ends at "
        f"{end}): the log was truncated"
    )


def _next_size(chain: _Chain) -> int:
    if chain.next_target < len(chain.targets):
        return chain.targets[chain.next_target].checkpoint.tree_size
    return -1


def _match_targets(chain: _Chain, name: str, lineno: int) -> None:
    """Every checkpoint at this tree_size must sign exactly this head and Merkle root."""
    root = chain.root_hash().hex()
    while (chain.next_target < len(chain.targets)
           and chain.targets[chain.next_target].checkpoint.tree_size == chain.seq):
        target = chain.targets[chain.next_target]
        signed = target.checkpoint
        since = chain.matched_at + 1
        scope = (f"events {since}-{chain.seq} (up to {name}:{lineno}) differ from what was "
                 "signed")
        if target.where == _AUDITOR:
            scope = "the log was rewritten since that checkpoint was taken"
        if signed.head_hash != chain.head_hash:
            raise IntegrityError(
                f"{target.where}: head_hash at tree_size {chain.seq} expected {signed.head_hash}"
                f" (signed), got {chain.head_hash}: {scope}"
            )
        if signed.root_hash != root:
            raise IntegrityError(
                f"{target.where}: root_hash at tree_size {chain.seq} expected {signed.root_hash}"
                f" (signed), got {root}: {scope}"
            )
        chain.next_target += 1
        chain.matched_at = chain.seq


def _canonical_text(name: str, lineno: int, event: dict[str, Any]) -> str:
    """RFC 8785 of an event with non-ASCII text (non-ASCII keys go to the reference code)."""
    try:
        return canonical_json(event).decode("utf-8")
    except ApplianceError as exc:
        raise IntegrityError(f"{name}:{lineno}: {exc.message}") from None


def _layout_error(name: str, lineno: int, seq: int, body: str, stored: object) -> IntegrityError:
    expected = _sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    if expected != stored:
        return IntegrityError(
            f"{name}:{lineno} (seq {seq}): hash expected {expected}, got {stored}: the event was "
            "changed after it was written"
        )
    return IntegrityError(
        f"{name}:{lineno} (seq {seq}): line expected in canonical form (RFC 8785, hash last), "
        "got another encoding of the same event: the line was rewritten"
    )


def _syntax_error(name: str, lineno: int, text: str) -> IntegrityError:
    try:
        parse_strict(text)
        problem = "extra data after the event"
    except ValueError as exc:
        problem = str(exc)
    return IntegrityError(f"{name}:{lineno}: not a JSON event ({problem})")


def _shape_error(name: str, lineno: int, event: object) -> IntegrityError:
    if not isinstance(event, dict):
        kind = type(event).__name__
        return IntegrityError(f"{name}:{lineno}: expected a JSON object, got {kind}")
    return IntegrityError(
        f"{name}:{lineno}: event fields expected {sorted(EVENT_KEYS)}, got {sorted(event)}"
    )


