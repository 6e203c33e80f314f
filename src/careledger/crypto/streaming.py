"""Streaming AEAD for large records (imaging studies, genomes): Tink's AES-GCM-HKDF streaming
format (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár), written with
``cryptography`` alone and interoperable with Tink byte for byte (``tests/test_streaming.py``).

Ciphertext = header || segment_0 || segment_1 || ... || segment_n, where

* header = ``header_length (1 byte = 40)`` || ``salt (32)`` || ``nonce_prefix (7)``;
* the segment key = HKDF-SHA256(ikm = the stream key, salt = salt, info = associated data,
  32 bytes): the associated data (the record binding: record id, version, patient) binds every
  segment to its record;
* segment ``i`` = AES-256-GCM(segment key, nonce = nonce_prefix || i (4 bytes, big-endian) ||
  last (1 byte: 1 for the final segment, else 0), plaintext_i), with no GCM associated data;
* every ciphertext segment is ``segment_size`` bytes (tag included) except the last; the
  first holds ``segment_size - 40 - 16`` plaintext bytes (the header takes its place), the
  others ``segment_size - 16``.

What this detects, each with a typed error before the segment's plaintext is released:
a flipped bit anywhere (header or segment: ``SegmentAuthFailed``), segments reordered or
swapped between records (the counter is in the nonce; another record has another salt and
associated data), and truncation, even at a segment boundary (the final segment must carry
the last flag: ``StreamTruncated``). Segment ``i``'s plaintext is returned only after its tag
verified; a caller writing to a file must still discard what it wrote when a later segment
fails (``decrypt_file`` writes to a temp file and renames it only at the end).

The stream key is a 32-byte ``DataKey``, HPKE-wrapped per reader exactly like a record's data
key (``careledger.crypto.envelope``).
"""

from __future__ import annotations

import os
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from careledger.errors import InvalidInput, SegmentAuthFailed, StreamTruncated

KEY_SIZE = 32
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
HEADER_SIZE = 1 + SALT_SIZE + NONCE_PREFIX_SIZE
TAG_SIZE = 16
#: Ciphertext bytes per segment (tag included): 1 MiB, as Tink's ``AES256_GCM_HKDF_1MB``.
DEFAULT_SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = HEADER_SIZE + TAG_SIZE + 1
_MAX_SEGMENTS = 1 << 32  # the counter is 4 bytes

ProgressFn = Callable[[int], None]


class Readable(Protocol):
    """What the decrypting side reads from: a file opened in binary mode, or a piece reader."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def _segment_key(key: bytes, salt: bytes, associated_data: bytes) -> AESGCM:
    if len(key) != KEY_SIZE:
        raise InvalidInput(f"a stream key is {KEY_SIZE} bytes, got {len(key)}")
    derived = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt,
                   info=associated_data).derive(key)
    return AESGCM(derived)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= _MAX_SEGMENTS:
        raise InvalidInput("a stream holds at most 2^32 segments: use a larger segment size")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


@dataclass(frozen=True)
class StreamLayout:
    """Where plaintext and ciphertext bytes fall for one segment size."""

    segment_size: int = DEFAULT_SEGMENT_SIZE

    def __post_init__(self) -> None:
        if self.segment_size < MIN_SEGMENT_SIZE:
            raise InvalidInput(f"segment size must be at least {MIN_SEGMENT_SIZE} bytes")

    @property
    def first_plaintext(self) -> int:
        return self.segment_size - HEADER_SIZE - TAG_SIZE

    @property
    def plaintext(self) -> int:
        return self.segment_size - TAG_SIZE

    def segments(self, plaintext_size: int) -> int:
        """How many segments a plaintext of that size takes (an empty one takes one)."""
        if plaintext_size <= self.first_plaintext:
            return 1
        rest = plaintext_size - self.first_plaintext
        return 1 + -(-rest // self.plaintext)

    def ciphertext_size(self, plaintext_size: int) -> int:
        return HEADER_SIZE + plaintext_size + TAG_SIZE * self.segments(plaintext_size)

    def plaintext_size(self, ciphertext_size: int) -> int:
        """The plaintext size of a well-formed ciphertext of that size.

        Raises:
            StreamTruncated: no stream has that size (the last segment was cut).
        """
        body = ciphertext_size - HEADER_SIZE
        if body < TAG_SIZE:
            raise StreamTruncated(f"a stream of {ciphertext_size} bytes is shorter than a header "
                                  "and one tag: it was cut")
        first = self.segment_size - HEADER_SIZE
        if body <= first:
            return body - TAG_SIZE
        rest = body - first
        full, tail = divmod(rest, self.segment_size)
        if tail and tail < TAG_SIZE:
            raise StreamTruncated(f"a stream of {ciphertext_size} bytes ends inside a tag: it "
                                  "was cut")
        return (first - TAG_SIZE) + full * self.plaintext + (tail - TAG_SIZE if tail else 0)


#: 1 MiB ciphertext segments.
DEFAULT_LAYOUT = StreamLayout()


class StreamEncrypter:
    """Encrypts one stream segment by segment (segments must come in order)."""

    def __init__(self, key: bytes, associated_data: bytes, layout: StreamLayout = DEFAULT_LAYOUT,
                 *, salt: bytes | None = None, nonce_prefix: bytes | None = None) -> None:
        self.layout = layout
        self.salt = salt if salt is not None else secrets.token_bytes(SALT_SIZE)
        self.prefix = (nonce_prefix if nonce_prefix is not None
                       else secrets.token_bytes(NONCE_PREFIX_SIZE))
        if len(self.salt) != SALT_SIZE or len(self.prefix) != NONCE_PREFIX_SIZE:
            raise InvalidInput("salt is 32 bytes and nonce prefix 7")
        self._aead = _segment_key(key, self.salt, associated_data)
        self.index = 0
        self._done = False

    @property
    def header(self) -> bytes:
        return bytes([HEADER_SIZE]) + self.salt + self.prefix

    def segment(self, plaintext: bytes | memoryview, last: bool) -> bytes:
        """The ciphertext of the next segment (``last`` for the final one)."""
        if self._done:
            raise InvalidInput("the stream was already finished with a last segment")
        want = self.layout.first_plaintext if self.index == 0 else self.layout.plaintext
        if len(plaintext) > want or (not last and len(plaintext) != want):
            raise InvalidInput(f"segment {self.index} holds {want} plaintext bytes"
                               + ("" if last else " exactly (only the last may be shorter)"))
        out = self._aead.encrypt(_nonce(self.prefix, self.index, last), bytes(plaintext), None)
        self.index += 1
        self._done = last
        return out


class StreamDecrypter:
    """Decrypts one stream segment by segment, given its header."""

    def __init__(self, key: bytes, associated_data: bytes, header: bytes,
                 layout: StreamLayout = DEFAULT_LAYOUT) -> None:
        if len(header) != HEADER_SIZE or header[0] != HEADER_SIZE:
            raise SegmentAuthFailed("the stream header is not a 40-byte AES-GCM-HKDF header: "
                                    "the ciphertext is damaged or in another format")
        self.layout = layout
        self._aead = _segment_key(key, header[1:1 + SALT_SIZE], associated_data)
        self._prefix = header[1 + SALT_SIZE:]

    def segment(self, index: int, ciphertext: bytes | memoryview, last: bool) -> bytes:
        """Segment ``index``'s plaintext, only if its tag verifies.

        Raises:
            SegmentAuthFailed: altered, reordered or from another stream.
            StreamTruncated: a non-final segment presented as the last (the stream was cut).
        """
        out = memoryview(bytearray(max(0, len(ciphertext) - TAG_SIZE)))
        return bytes(out[:self.segment_into(index, ciphertext, last, out)])

    def segment_into(self, index: int, ciphertext: bytes | memoryview, last: bool,
                     out: memoryview) -> int:
        """``segment`` into the buffer ``out`` (no allocation); returns the plaintext length.
        On failure nothing in ``out`` may be used."""
        n = len(ciphertext) - TAG_SIZE
        if n < 0:
            raise StreamTruncated(f"segment {index} is shorter than its tag: the stream was cut")
        try:
            self._aead.decrypt_into(_nonce(self._prefix, index, last), ciphertext, None, out[:n])
            return n
        except InvalidTag:
            if last:
                raise StreamTruncated(
                    f"segment {index} is not a valid final segment: the stream was cut (or "
                    "altered, reordered, or belongs to another record)") from None
            raise SegmentAuthFailed(
                f"segment {index} does not authenticate: altered, reordered, or from another "
                "record or key") from None


def _fill(src: Readable, view: memoryview) -> int:
    """Read into ``view`` until it is full or ``src`` ends; return the bytes read."""
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def encrypt_segments(src: Readable, key: bytes, associated_data: bytes,
                     layout: StreamLayout = DEFAULT_LAYOUT, *, salt: bytes | None = None,
                     nonce_prefix: bytes | None = None, start: int = 0,
                     progress: ProgressFn | None = None
                     ) -> Iterator[tuple[int, memoryview, memoryview]]:
    """Yield ``(index, plaintext, ciphertext)`` for each segment of ``src`` read from its
    current position, the header prepended to segment 0's ciphertext.

    The views are reused buffers, valid until the next iteration: write or hash them at once.
    Two plaintext buffers and one ciphertext buffer of one segment each are the whole memory.
    ``start`` > 0 resumes an interrupted stream (same key, salt and prefix; ``src`` positioned
    at that segment's first plaintext byte): segments before it are not produced.
    """
    enc = StreamEncrypter(key, associated_data, layout, salt=salt, nonce_prefix=nonce_prefix)
    header = enc.header
    enc.index = start
    bufs = [memoryview(bytearray(layout.plaintext)), memoryview(bytearray(layout.plaintext))]
    out = memoryview(bytearray(HEADER_SIZE + layout.segment_size))
    want = layout.first_plaintext if start == 0 else layout.plaintext
    cur, nxt = bufs
    got = _fill(src, cur[:want])
    while True:
        more = _fill(src, nxt[:layout.plaintext]) if got == want else 0
        last = more == 0
        index = enc.index
        if index >= _MAX_SEGMENTS:
            raise InvalidInput("a stream holds at most 2^32 segments: use a larger segment size")
        nonce = _nonce(enc.prefix, index, last)
        skip = HEADER_SIZE if index == 0 else 0
        if index == 0:
            out[:HEADER_SIZE] = header
        enc._aead.encrypt_into(nonce, cur[:got], None, out[skip:skip + got + TAG_SIZE])
        enc.index += 1
        if progress is not None:
            progress(got)
        yield index, cur[:got], out[:skip + got + TAG_SIZE]
        if last:
            return
        cur, nxt = nxt, cur
        got, want = more, layout.plaintext


def encrypt_file(src: Readable, dst: BinaryIO, key: bytes, associated_data: bytes,
                 layout: StreamLayout = DEFAULT_LAYOUT, progress: ProgressFn | None = None) -> int:
    """Encrypt all of ``src`` into ``dst``; return the ciphertext size."""
    total = 0
    for _, _, out in encrypt_segments(src, key, associated_data, layout, progress=progress):
        dst.write(out)
        total += len(out)
    return total


def decrypt_segments(src: Readable, ciphertext_size: int, key: bytes,
                     associated_data: bytes, layout: StreamLayout = DEFAULT_LAYOUT,
                     progress: ProgressFn | None = None) -> Iterator[memoryview]:
    """Yield each segment's verified plaintext, read from ``src`` (a file or any object with
    ``readinto``), whose size must be ``ciphertext_size``. The views are reused buffers, valid
    until the next iteration."""
    layout.plaintext_size(ciphertext_size)  # raises on an impossible size
    header = bytearray(HEADER_SIZE)
    if _fill(src, memoryview(header)) < HEADER_SIZE:
        raise StreamTruncated("the stream ends inside its header")
    dec = StreamDecrypter(key, associated_data, bytes(header), layout)
    remaining = ciphertext_size - HEADER_SIZE
    chunk = memoryview(bytearray(layout.segment_size))
    plain = memoryview(bytearray(layout.plaintext))
    index = 0
    while True:
        size = min(remaining, layout.segment_size - (HEADER_SIZE if index == 0 else 0))
        if _fill(src, chunk[:size]) < size:
            raise StreamTruncated(f"the stream ends inside segment {index}: it was cut")
        remaining -= size
        n = dec.segment_into(index, chunk[:size], remaining == 0, plain)
        if progress is not None:
            progress(n)
        yield plain[:n]
        if remaining == 0:
            return
        index += 1


def decrypt_file(src: Readable, ciphertext_size: int, out: Path, key: bytes,
                 associated_data: bytes, layout: StreamLayout = DEFAULT_LAYOUT, *,
                 mode: int = 0o600, progress: ProgressFn | None = None) -> int:
    """Decrypt a stream into the file ``out`` (mode 0600): written to a temp file beside it and
    renamed only once every segment verified, so a failure leaves no partial plaintext."""
    temp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.partial")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for plain in decrypt_segments(src, ciphertext_size, key, associated_data,
                                          layout, progress):
                handle.write(plain)
                written += len(plain)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return written
