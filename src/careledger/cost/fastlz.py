"""FastLZ level 1 (byte-aligned LZ77), as OP Stack chains use it since the Fjord upgrade to
estimate a transaction's share of the L1 data it is posted in.

The Fjord fee rule counts ``len(fastlz_compress(signed_rlp_tx))``; the compressor must behave
as ``fastlz_compress`` level 1 (ariya/FastLZ) and Solady's ``LibZip.flzCompress``, which the
OP ``GasPriceOracle`` runs on chain. Format of the output, a sequence of:

- a literal run: one byte ``len-1`` (0..31), then ``len`` bytes;
- a short match (3..8 bytes): ``(len-2) << 5 | offset >> 8``, ``offset & 0xff``;
- a long match (9..264 bytes): ``0xe0 | offset >> 8``, ``len - 9``, ``offset & 0xff``;

where ``offset`` is the distance back minus one (< 8192). ``tests/test_cost.py`` checks this
module byte for byte against Solady's JavaScript (npm ``solady``) and by round trip.
"""

from __future__ import annotations

_MAX_DISTANCE = 8192
_HASH_BITS = 13
_MAX_LEN = 264  # the longest match one token encodes


def _u24(data: bytes, i: int) -> int:
    """Three bytes at ``i``, little-endian (missing bytes read as 0, as in the reference)."""
    chunk = data[i:i + 3]
    return int.from_bytes(chunk + b"\x00" * (3 - len(chunk)), "little")


def _hash(seq: int) -> int:
    return ((2654435769 * seq) & 0xFFFFFFFF) >> (32 - _HASH_BITS)


def _literals(out: bytearray, data: bytes, start: int, count: int) -> None:
    while count > 0:
        n = min(count, 32)
        out.append(n - 1)
        out += data[start:start + n]
        start += n
        count -= n


def compress(data: bytes) -> bytes:
    """``data`` compressed with FastLZ level 1."""
    out = bytearray()
    table = [0] * (1 << _HASH_BITS)
    end = len(data) - 4  # matches never reach into the last 4 bytes, nor start in the last 13
    limit = end - 9
    anchor, i = 0, 2
    while i < limit:
        # scan for a position whose 3 bytes occurred within the window (the table remembers
        # the last position of each hash); the scan steps one past the match it finds
        while True:
            seq = _u24(data, i)
            h = _hash(seq)
            ref = table[h]
            table[h] = i
            distance = i - ref
            seen = _u24(data, ref) if distance < _MAX_DISTANCE else -1
            if i >= limit:
                break
            i += 1
            if seq == seen:
                break
        if i >= limit:
            break
        i -= 1
        if i > anchor:
            _literals(out, data, anchor, i - anchor)
        # extend past the first 3 bytes; ``length`` counts the extension plus the byte that
        # ended it (the token stores it so, and the decoder copies ``length + 2`` bytes)
        room, length = end - (i + 3), 0
        while length < room:
            same = data[ref + 3 + length] == data[i + 3 + length]
            length += 1
            if not same:
                break
        i += length
        offset = distance - 1
        while length > _MAX_LEN - 2:
            out += bytes([0xE0 | offset >> 8, 253, offset & 0xFF])
            length -= _MAX_LEN - 2
        if length < 7:
            out += bytes([(length << 5) | offset >> 8, offset & 0xFF])
        else:
            out += bytes([0xE0 | offset >> 8, length - 7, offset & 0xFF])
        # remember the two positions that end the match, and go on after it
        table[_hash(_u24(data, i))] = i
        i += 1
        table[_hash(_u24(data, i))] = i
        i += 1
        anchor = i
    _literals(out, data, anchor, len(data) - anchor)
    return bytes(out)


def decompress(data: bytes) -> bytes:
    """The inverse of ``compress`` (for tests and for checking a compressed size by hand)."""
    out = bytearray()
    i = 0
    while i < len(data):
        kind = data[i] >> 5
        if kind == 0:
            n = data[i] + 1
            out += data[i + 1:i + 1 + n]
            i += 1 + n
            continue
        if kind < 7:
            length, offset = kind + 2, ((data[i] & 31) << 8) | data[i + 1]
            i += 2
        else:
            length, offset = data[i + 1] + 9, ((data[i] & 31) << 8) | data[i + 2]
            i += 3
        ref = len(out) - offset - 1
        for k in range(length):  # byte by byte: a match may overlap what it writes
            out.append(out[ref + k])
    return bytes(out)
