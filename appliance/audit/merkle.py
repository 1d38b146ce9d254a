"""The Merkle Tree Hash of RFC 6962 (Certificate Transparency), section 2.1, over event hashes.

A checkpoint signs ``root_hash``, the Merkle Tree Hash of the log's first ``tree_size`` entries.
Entry ``leaf_index`` (0-based) is the raw 32-byte SHA-256 hash of the event with ``seq =
leaf_index + 1``, so the tree commits to every event through its hash, independently of the
``prev_hash`` chain:

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))   with k the largest power of two < n

:class:`CompactRange` keeps only the roots of the perfect subtrees that cover ``[0, tree_size)``
(one per set bit of ``tree_size``, largest first), so appending a leaf and recomputing the root
cost O(log n) and the state of a log of any size fits in a checkpoint line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from appliance.errors import IntegrityError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962: the hash of a leaf, domain-separated from interior nodes by 0x00."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962: the hash of an interior node, domain-separated from leaves by 0x01."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_entries(entries: Sequence[bytes]) -> bytes:
    """MTH computed by the RFC's recursive definition: the reference for tests, O(n log n)."""
    if not entries:
        return EMPTY_ROOT
    if len(entries) == 1:
        return leaf_hash(entries[0])
    split = 1 << ((len(entries) - 1).bit_length() - 1)
    return node_hash(root_from_entries(entries[:split]), root_from_entries(entries[split:]))


class CompactRange:
    """The subtree roots ("peaks") covering leaves ``[0, tree_size)``, largest subtree first."""

    __slots__ = ("tree_size", "_peaks")

    def __init__(self, tree_size: int = 0, peaks: Iterable[bytes] = ()) -> None:
        self._peaks = list(peaks)
        if tree_size < 0 or len(self._peaks) != tree_size.bit_count():
            raise IntegrityError(
                f"compact range: expected {max(tree_size, 0).bit_count()} subtree hashes "
                f"for tree_size {tree_size}, got {len(self._peaks)}"
            )
        if any(len(peak) != HASH_SIZE for peak in self._peaks):
            raise IntegrityError("compact range: every subtree hash must be 32 bytes")
        self.tree_size = tree_size

    def append(self, entry: bytes) -> None:
        """Add the next leaf; merge equal-sized subtrees as a binary counter carries."""
        self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, node: bytes) -> None:
        peaks = self._peaks
        carry = self.tree_size
        while carry & 1:
            node = node_hash(peaks.pop(), node)
            carry >>= 1
        peaks.append(node)
        self.tree_size += 1

    def root_hash(self) -> bytes:
        """MTH of the covered leaves: fold the peaks from the smallest subtree up."""
        if not self._peaks:
            return EMPTY_ROOT
        root = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            root = node_hash(peak, root)
        return root

    def peaks_hex(self) -> list[str]:
        return [peak.hex() for peak in self._peaks]

    @classmethod
    def from_hex(cls, tree_size: int, peaks: Sequence[str]) -> CompactRange:
        try:
            raw = [bytes.fromhex(peak) for peak in peaks]
        except (TypeError, ValueError):
            raise IntegrityError("compact range: subtree hashes must be hex strings") from None
        return cls(tree_size, raw)

    def copy(self) -> CompactRange:
        return CompactRange(self.tree_size, self._peaks)
