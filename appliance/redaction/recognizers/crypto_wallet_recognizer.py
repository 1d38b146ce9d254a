"""Crypto wallet addresses: Bitcoin (Base58Check and Bech32, both checksummed) and Ethereum."""

from __future__ import annotations

import hashlib

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def base58check_valid(address: str) -> bool:
    n = 0
    for ch in address:
        if ch not in _B58:
            return False
        n = n * 58 + _B58.index(ch)
    raw = n.to_bytes(25, "big") if n.bit_length() <= 200 else b""
    if len(raw) != 25:
        return False
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


def bech32_valid(address: str) -> bool:
    address = address.lower()
    hrp, _, data = address.rpartition("1")
    if hrp not in ("bc", "tb") or len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [_BECH32.index(c) for c in data]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            chk ^= g if (top >> i) & 1 else 0
    return chk in (1, 0x2BC830A3)  # bech32 (BIP 173) or bech32m (BIP 350)


class CryptoWalletRecognizer(AppliancePatternRecognizer):
    ENTITY = "CRYPTO"
    PATTERNS = [
        # Case-sensitive: Base58 leaves out 0, O, I and l; case-folding would fail "L" as "l".
        Pattern("bitcoin (base58)", r"\b(?-i:[13][1-9A-HJ-NP-Za-km-z]{25,34})\b", 0.3),
        Pattern("bitcoin (bech32)", r"\b(?:bc|tb)1[02-9ac-hj-np-z]{8,87}\b", 0.3),
        Pattern("ethereum", r"\b0x[0-9a-f]{40}\b", 0.8),
    ]
    CONTEXT = ["wallet", "bitcoin", "btc", "eth", "ethereum", "crypto", "address", "deposit"]

    def validate_result(self, pattern_text: str) -> bool | None:
        if pattern_text.lower().startswith("0x"):
            return None  # EIP-55 needs Keccak-256, which the standard library lacks
        if pattern_text.lower().startswith(("bc1", "tb1")):
            return bech32_valid(pattern_text)
        return base58check_valid(pattern_text)
