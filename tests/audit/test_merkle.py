"""RFC 6962 Merkle Tree Hash: the compact range against the RFC's definition and CT's vectors."""

from __future__ import annotations

import hashlib

import pytest

from appliance.audit.merkle import EMPTY_ROOT, CompactRange, root_from_entries
from appliance.errors import IntegrityError

# The leaves and roots used by Certificate Transparency's own tests (certificate-transparency-go
# merkletree testdata, also in Trillian): MTH of the first n leaves, n = 1..8.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_is_hash_of_nothing() -> None:
    assert CompactRange().root_hash() == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_certificate_transparency_vectors() -> None:
    tree = CompactRange()
    for leaf, expected in zip(CT_LEAVES, CT_ROOTS, strict=True):
        tree.append(bytes.fromhex(leaf))
        assert tree.root_hash().hex() == expected
    entries = [bytes.fromhex(leaf) for leaf in CT_LEAVES]
    assert [root_from_entries(entries[:n]).hex() for n in range(1, 9)] == CT_ROOTS


def test_compact_range_matches_the_recursive_definition() -> None:
    entries = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]
    tree = CompactRange()
    for n in range(1, len(entries) + 1):
        tree.append(entries[n - 1])
        assert tree.root_hash() == root_from_entries(entries[:n]), n
        assert len(tree.peaks_hex()) == n.bit_count()


def test_round_trips_through_hex_and_resumes() -> None:
    entries = [bytes([i]) * 32 for i in range(13)]
    tree = CompactRange()
    for entry in entries[:9]:
        tree.append(entry)
    resumed = CompactRange.from_hex(9, tree.peaks_hex())
    for entry in entries[9:]:
        resumed.append(entry)
    assert resumed.root_hash() == root_from_entries(entries)


@pytest.mark.parametrize("size, peaks", [(3, ["00" * 32]), (1, ["00" * 31]), (1, ["zz" * 32])])
def test_refuses_a_compact_range_that_cannot_be_right(size: int, peaks: list[str]) -> None:
    with pytest.raises(IntegrityError):
        CompactRange.from_hex(size, peaks)
