"""Avalanche's identifiers as the APIs show them: CB58 ids (transactions, blocks, chains, assets), UTXO ids,
node ids and bech32 addresses. Standard library only.

A UTXO's id is SHA-256 of its output index (uint64, big-endian) followed by the id of the transaction that
created it (avalanchego ids.ID.Prefix): the same id on the chain that exports it and the chain that imports it.
"""

from __future__ import annotations

import hashlib

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
# the address prefix (bech32 human-readable part) of each network id; others get "custom"
HRP = {1: "avax", 5: "fuji", 12345: "local"}
# AVAX's asset id on each network id (the fee and the flows are counted in it)
AVAX_ASSET = {1: "FvwEAhmxKfeiG8SnEvq42hc6whRyY3EFYAvebMqDNDGCgxN5Z",
              5: "U8iRqJoiJm8xZHAacmvYyZVwqQx6uDNtQeP3CQ6fcgQk3JqnK"}
P_CHAIN = "11111111111111111111111111111111LpoYY"  # the P-Chain's blockchain id, on every network
# the C-Chain's and X-Chain's blockchain ids on each network id (mainnet, Fuji: the Data API spec's examples)
C_CHAINS = {1: "2q9e4r6Mu3U68nU1fYjgbR6JvwrRx36CohpAX5UQxse55x1Q5",
            5: "yH8D7ThNJkxmtkuv2jgBa4P1Rn3Qpr4pPr7QYNfcdoS6k6HWp"}
X_CHAINS = {1: "2oYMBNV4eNHyqk2fjjV5nVQLDbtmNJzq5s3qs3Lo6ftnC6FByM",
            5: "2JVSBoinj9C2J33VntvzYtVJNZdN2NKiwwKjcumHUWEb5DbBrm"}
C_CHAIN, X_CHAIN = C_CHAINS[1], X_CHAINS[1]  # mainnet's


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = B58[rest] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def unbase58(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in B58:
            raise ValueError(f"{text!r} is not base58")
        number = number * 58 + B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def cb58(data: bytes) -> str:
    """Base58 with a 4-byte SHA-256 checksum."""
    return base58(data + hashlib.sha256(data).digest()[-4:])


def uncb58(text: str, size: int | None = 32) -> bytes:
    raw = unbase58(text)
    body, checksum = raw[:-4], raw[-4:]
    if len(raw) < 4 or hashlib.sha256(body).digest()[-4:] != checksum:
        raise ValueError(f"{text!r} is not CB58 (bad checksum)")
    if size is not None and len(body) != size:
        raise ValueError(f"{text!r} holds {len(body)} bytes, not {size}")
    return body


def transaction_id(signed: bytes) -> str:
    """A transaction's id: SHA-256 of its signed bytes (codec version included), in CB58."""
    return cb58(hashlib.sha256(signed).digest())


def utxo_id(transaction: bytes, output_index: int) -> str:
    """The id of the UTXO a transaction (its 32-byte id) created at `output_index`."""
    return cb58(hashlib.sha256(output_index.to_bytes(8, "big") + transaction).digest())


def utxo_id_of(transaction: str, output_index: int) -> str:
    return utxo_id(uncb58(transaction), output_index)


def node_id(short: bytes) -> str:
    return "NodeID-" + cb58(short)


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


def _five_bit(data: bytes) -> list[int]:
    bits, accumulator, out = 0, 0, []
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((accumulator >> bits) & 31)
    if bits:
        out.append((accumulator << (5 - bits)) & 31)
    return out


def bech32(hrp: str, data: bytes) -> str:
    """A 20-byte short id as a bech32 address (BIP-173), e.g. avax1…"""
    words = _five_bit(data)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    checksum = _polymod(expanded + words + [0] * 6) ^ 1
    return f"{hrp}1" + "".join(BECH32[w] for w in words + [(checksum >> 5 * (5 - i)) & 31 for i in range(6)])


def address(network_id: int, short: bytes) -> str:
    """An address as the Data API shows it (no chain prefix): avax1… on mainnet, fuji1… on Fuji."""
    return bech32(HRP.get(network_id, "custom"), short)
