"""Streaming AEAD (Tink's AES-GCM-HKDF streaming format): byte-for-byte interoperability with
Tink (test-only dependency), every tampering detected before plaintext is released, and
segment boundaries under Hypothesis."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careledger.crypto.streaming import (
    HEADER_SIZE,
    TAG_SIZE,
    StreamLayout,
    decrypt_file,
    decrypt_segments,
    encrypt_file,
)
from careledger.errors import SegmentAuthFailed, StreamTruncated

SEG = 4096  # Tink's AES256_GCM_HKDF_4KB segment size: many segments from small inputs
LAYOUT = StreamLayout(SEG)


def _tink(key: bytes, segment_size: int):  # type: ignore[no-untyped-def]
    """A Tink StreamingAead primitive over exactly ``key`` (a RAW AesGcmHkdfStreaming key)."""
    import tink
    import tink.secret_key_access
    from tink import streaming_aead
    from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2

    streaming_aead.register()
    params = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
        ciphertext_segment_size=segment_size, derived_key_size=32, hkdf_hash_type=common_pb2.SHA256)
    proto_key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(version=0, params=params,
                                                                   key_value=key)
    keyset = tink_pb2.Keyset(primary_key_id=7, key=[tink_pb2.Keyset.Key(
        key_data=tink_pb2.KeyData(
            type_url="type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
            value=proto_key.SerializeToString(), key_material_type=tink_pb2.KeyData.SYMMETRIC),
        status=tink_pb2.ENABLED, key_id=7, output_prefix_type=tink_pb2.RAW)])
    handle = tink.proto_keyset_format.parse(keyset.SerializeToString(), tink.secret_key_access.TOKEN)
    return handle.primitive(streaming_aead.StreamingAead)


def _encrypt(data: bytes, key: bytes, ad: bytes, layout: StreamLayout = LAYOUT) -> bytes:
    out = io.BytesIO()
    encrypt_file(io.BytesIO(data), out, key, ad, layout)
    return out.getvalue()


def _decrypt(ct: bytes, key: bytes, ad: bytes, layout: StreamLayout = LAYOUT) -> bytes:
    return b"".join(bytes(p) for p in decrypt_segments(io.BytesIO(ct), len(ct), key, ad, layout))


class _Keep(io.BytesIO):
    def close(self) -> None:  # Tink closes the destination; keep the bytes readable
        pass


def _tink_encrypt(prim, data: bytes, ad: bytes) -> bytes:  # type: ignore[no-untyped-def]
    dst = _Keep()
    with prim.new_encrypting_stream(dst, ad) as enc:
        enc.write(data)
    return dst.getvalue()


def _tink_decrypt(prim, ct: bytes, ad: bytes) -> bytes:  # type: ignore[no-untyped-def]
    with prim.new_decrypting_stream(io.BytesIO(ct), ad) as dec:
        return dec.read()


@pytest.mark.parametrize("size", [0, 1, SEG - HEADER_SIZE - TAG_SIZE, SEG - HEADER_SIZE - TAG_SIZE + 1,
                                  SEG, 3 * (SEG - TAG_SIZE) + SEG - HEADER_SIZE - TAG_SIZE, 100_000])
def test_tink_reads_ours_and_we_read_tinks(size: int) -> None:
    key, ad = secrets.token_bytes(32), b"careledger/record/v1" + secrets.token_bytes(60)
    prim = _tink(key, SEG)
    data = secrets.token_bytes(size)
    ours = _encrypt(data, key, ad)
    assert _tink_decrypt(prim, ours, ad) == data
    theirs = _tink_encrypt(prim, data, ad)
    assert len(theirs) == len(ours) == LAYOUT.ciphertext_size(size)  # same layout, byte counts
    assert _decrypt(theirs, key, ad) == data


def test_tink_interop_at_one_mebibyte_segments() -> None:
    key, ad = secrets.token_bytes(32), b"binding"
    prim = _tink(key, 1 << 20)
    data = secrets.token_bytes(3 * (1 << 20) + 12345)
    assert _tink_decrypt(prim, _encrypt(data, key, ad, StreamLayout()), ad) == data
    assert _decrypt(_tink_encrypt(prim, data, ad), key, ad, StreamLayout()) == data


def _segments(ct: bytes) -> list[bytes]:
    body = [ct[: SEG]]
    rest = ct[SEG:]
    while rest:
        body.append(rest[:SEG])
        rest = rest[SEG:]
    return body


def test_every_tampering_is_detected_before_its_plaintext() -> None:
    key, ad = secrets.token_bytes(32), b"record A"
    data = secrets.token_bytes(5 * SEG)
    ct = _encrypt(data, key, ad)
    segs = _segments(ct)
    assert len(segs) == 6
    # truncation: the last segment dropped (a segment boundary), or cut inside a segment
    with pytest.raises(StreamTruncated):
        _decrypt(b"".join(segs[:-1]), key, ad)
    with pytest.raises(StreamTruncated):
        _decrypt(ct[:-7], key, ad)
    with pytest.raises(StreamTruncated):
        _decrypt(ct[:HEADER_SIZE + 3], key, ad)
    # reordering two middle segments
    with pytest.raises(SegmentAuthFailed):
        _decrypt(b"".join([segs[0], segs[2], segs[1], *segs[3:]]), key, ad)
    # a segment swapped in from another record's stream (same key, another binding)
    other = _segments(_encrypt(data, key, b"record B"))
    with pytest.raises(SegmentAuthFailed):
        _decrypt(b"".join([segs[0], other[1], *segs[2:]]), key, ad)
    # the same stream under another record's binding, and a flipped bit anywhere
    with pytest.raises(SegmentAuthFailed):
        _decrypt(ct, key, b"record B")
    rng = secrets.SystemRandom()
    for position in [0, 1, 20, HEADER_SIZE, SEG - 1, SEG, 3 * SEG + 5, len(ct) - 1,
                     *(rng.randrange(len(ct)) for _ in range(20))]:
        bad = bytearray(ct)
        bad[position] ^= 1 << rng.randrange(8)
        released: list[bytes] = []
        with pytest.raises((SegmentAuthFailed, StreamTruncated)):
            released.extend(bytes(p) for p in decrypt_segments(io.BytesIO(bytes(bad)), len(bad),
                                                                key, ad, LAYOUT))
        # only segments before the damaged one came out, each exactly as encrypted
        damaged = 0 if position < SEG else 1 + (position - SEG) // SEG
        assert b"".join(released) == data[: len(b"".join(released))]
        assert len(released) <= damaged


def test_decrypt_file_leaves_no_partial_plaintext(tmp_path: Path) -> None:
    key, ad = secrets.token_bytes(32), b"r"
    data = secrets.token_bytes(10 * SEG)
    ct = _encrypt(data, key, ad)
    out = tmp_path / "out.bin"
    assert decrypt_file(io.BytesIO(ct), len(ct), out, key, ad, LAYOUT) == len(data)
    assert out.read_bytes() == data and out.stat().st_mode & 0o777 == 0o600
    out.unlink()
    with pytest.raises(StreamTruncated):
        decrypt_file(io.BytesIO(ct[:-SEG]), len(ct) - SEG, out, key, ad, LAYOUT)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temp file


@settings(max_examples=150, deadline=None)
@given(k=st.integers(0, 6), delta=st.integers(-2, 2), seg=st.sampled_from([HEADER_SIZE + TAG_SIZE + 1, 97, 4096]))
def test_sizes_around_segment_boundaries_round_trip(k: int, delta: int, seg: int) -> None:
    layout = StreamLayout(seg)
    size = max(0, layout.first_plaintext + k * layout.plaintext + delta)
    key, ad = secrets.token_bytes(32), b"boundary"
    data = secrets.token_bytes(size)
    ct = _encrypt(data, key, ad, layout)
    assert len(ct) == layout.ciphertext_size(size) and layout.plaintext_size(len(ct)) == size
    assert _decrypt(ct, key, ad, layout) == data
    if size:  # dropping the final segment is always detected
        with pytest.raises((StreamTruncated, SegmentAuthFailed)):
            _decrypt(ct[: len(ct) - min(len(ct) - HEADER_SIZE, (len(ct) - HEADER_SIZE) % seg or seg)],
                     key, ad, layout)
