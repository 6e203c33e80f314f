"""Envelope encryption of records: AES-256-GCM data keys, HPKE-wrapped per recipient.

Each record version gets a fresh 256-bit data key (never passed in: :func:`encrypt_record`
always draws one) and a random 96-bit nonce. The record id, version and patient are the
AES-GCM associated data, so a ciphertext moved to another record does not decrypt.

Canonical encodings (all integers big-endian):

* associated data = ``b"careledger/record/v1" || record_id (32) || version (8) || patient (20)``
* envelope blob   = ``b"CLEV" || 0x01 (format) || 0x01 (AES-256-GCM) || nonce (12) ||
  ciphertext || tag (16)``; this blob goes to the blob store and
  ``commitment = keccak256(blob)`` goes on chain.
* HPKE ``info``   = ``b"careledger/wrap/v1" || record_id (32) || version (8) || patient (20) ||
  recipient X25519 public key (32)``
* wrapped key     = ``b"CLWK" || 0x01 (format) || 0x01 (suite) || recipient public key (32) ||
  enc (32) || HPKE ciphertext (48)``

HPKE is RFC 9180 base mode, single-shot, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
AES-256-GCM, from ``cryptography.hazmat.primitives.hpke``.

Crypto-shredding: a record is erased by destroying every wrapped copy of its data key
(:func:`shred`); the ciphertext and anchor stay, and nobody can decrypt any more.

# NOTE: Python cannot reliably wipe ``bytes`` from memory. Data keys live in ``DataKey``
# objects whose repr hides them; drop references as soon as a record is decrypted.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils.crypto import keccak

from careledger.crypto.keyfile import EncryptionKeyPair, public_key_from_hex
from careledger.errors import (
    CommitmentMismatch,
    DecryptionError,
    InvalidInput,
    KeyUnwrapFailed,
    MalformedEnvelope,
    ShredIncomplete,
)
from careledger.validate import hex_bytes

__all__ = [
    "AD_DOMAIN",
    "ENVELOPE_MAGIC",
    "HPKE_SUITE",
    "WRAPPED_KEY_MAGIC",
    "WRAP_INFO_DOMAIN",
    "DataKey",
    "EncryptedRecord",
    "RecordBinding",
    "SupportsShred",
    "WrappedKey",
    "check_commitment",
    "commitment",
    "decrypt_record",
    "encrypt_record",
    "shred",
    "unwrap_data_key",
    "wrap_data_key",
]

AD_DOMAIN = b"careledger/record/v1"
WRAP_INFO_DOMAIN = b"careledger/wrap/v1"
ENVELOPE_MAGIC = b"CLEV"
WRAPPED_KEY_MAGIC = b"CLWK"
_FORMAT_V1 = 1
_SUITE_AES256GCM = 1
_SUITE_HPKE_X25519_SHA256_AES256GCM = 1
_NONCE_LEN = 12
_TAG_LEN = 16
_KEY_LEN = 32
_ENVELOPE_HEADER_LEN = len(ENVELOPE_MAGIC) + 2
_ENC_LEN = 32
_WRAPPED_CT_LEN = _KEY_LEN + _TAG_LEN
_MAX_VERSION = 2**64 - 1

#: RFC 9180 suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _address_bytes(patient: str | bytes) -> bytes:
    return hex_bytes(patient, 20, "patient address")


def _bytes32(value: str | bytes, what: str) -> bytes:
    return hex_bytes(value, 32, what)


@dataclass(frozen=True)
class RecordBinding:
    """What a ciphertext and its wrapped keys are bound to: record id, version, patient.

    Attributes:
        record_id: the on-chain record id (``bytes32``; 0x-hex accepted).
        version: the record version (0 .. 2^64-1).
        patient: the patient's address (20 bytes; 0x-hex or checksummed accepted).
    """

    record_id: bytes
    version: int
    patient: bytes

    def __init__(self, record_id: bytes | str, version: int, patient: bytes | str) -> None:
        """Validate and normalise the three fields to raw bytes."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInput("version must be an int")
        if not 0 <= version <= _MAX_VERSION:
            raise InvalidInput(f"version must fit in 64 bits, got {version}")
        object.__setattr__(self, "record_id", _bytes32(record_id, "record id"))
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "patient", _address_bytes(patient))

    def associated_data(self) -> bytes:
        """The AES-GCM associated data (see the module docstring for the encoding)."""
        return AD_DOMAIN + self.record_id + struct.pack(">Q", self.version) + self.patient

    def wrap_info(self, recipient_public_key: bytes) -> bytes:
        """The HPKE ``info`` binding this record to one recipient's public key."""
        return (
            WRAP_INFO_DOMAIN
            + self.record_id
            + struct.pack(">Q", self.version)
            + self.patient
            + public_key_from_hex(recipient_public_key)
        )


@dataclass(frozen=True)
class DataKey:
    """A 256-bit AES-GCM data key for one record version. Its repr never shows the key."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        """Check the key length."""
        if len(self.secret) != _KEY_LEN:
            raise InvalidInput(f"a data key is 32 bytes, got {len(self.secret)}")

    @classmethod
    def generate(cls) -> DataKey:
        """Draw a fresh key from the operating system's CSPRNG."""
        return cls(os.urandom(_KEY_LEN))


@dataclass(frozen=True)
class EncryptedRecord:
    """An AES-256-GCM envelope: nonce and ciphertext-with-tag.

    ``to_bytes()`` is the blob that goes to the blob store; its keccak256 is the commitment.
    """

    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        """Check field lengths."""
        if len(self.nonce) != _NONCE_LEN:
            raise MalformedEnvelope(f"an envelope nonce is 12 bytes, got {len(self.nonce)}")
        if len(self.ciphertext) < _TAG_LEN:
            raise MalformedEnvelope("an envelope ciphertext is at least its 16-byte tag")

    @property
    def tag(self) -> bytes:
        """The 16-byte GCM authentication tag (last bytes of ``ciphertext``)."""
        return self.ciphertext[-_TAG_LEN:]

    def to_bytes(self) -> bytes:
        """Serialise as ``CLEV || 0x01 || 0x01 || nonce || ciphertext || tag``."""
        return (
            ENVELOPE_MAGIC
            + bytes((_FORMAT_V1, _SUITE_AES256GCM))
            + self.nonce
            + self.ciphertext
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> EncryptedRecord:
        """Parse a serialised envelope.

        Raises:
            MalformedEnvelope: wrong magic, unknown format or suite, or truncated.
        """
        blob = bytes(blob)
        if len(blob) < _ENVELOPE_HEADER_LEN + _NONCE_LEN + _TAG_LEN:
            raise MalformedEnvelope("the blob is too short to be a CareLedger envelope")
        if blob[:4] != ENVELOPE_MAGIC:
            raise MalformedEnvelope("the blob is not a CareLedger envelope (bad magic)")
        if blob[4] != _FORMAT_V1 or blob[5] != _SUITE_AES256GCM:
            raise MalformedEnvelope(
                f"envelope format {blob[4]} / suite {blob[5]} is unknown: upgrade careledger"
            )
        start = _ENVELOPE_HEADER_LEN
        return cls(blob[start : start + _NONCE_LEN], blob[start + _NONCE_LEN :])

    def commitment(self) -> bytes:
        """keccak256 of the serialised envelope: the value anchored on chain."""
        return commitment(self.to_bytes())


def commitment(blob: bytes) -> bytes:
    """Return keccak256(blob), the 32-byte on-chain commitment of a stored envelope."""
    return bytes(keccak(bytes(blob)))


def check_commitment(blob: bytes, expected: bytes | str) -> None:
    """Check a fetched blob against a commitment (the on-chain check is
    ``careledger.actors.verify_commitment``).

    Raises:
        CommitmentMismatch: keccak256(blob) differs from ``expected``.
    """
    want = _bytes32(expected, "commitment")
    got = commitment(blob)
    if got != want:
        raise CommitmentMismatch(
            f"blob hashes to 0x{got.hex()} but the anchor says 0x{want.hex()}: "
            "the blob is not the anchored record; fetch it from another replica"
        )


def encrypt_record(plaintext: bytes, binding: RecordBinding) -> tuple[EncryptedRecord, DataKey]:
    """Encrypt one record version under a fresh data key.

    Args:
        plaintext: the record contents.
        binding: record id, version and patient (authenticated, not encrypted).

    Returns:
        The envelope and its fresh data key (wrap it with :func:`wrap_data_key`).
    """
    key = DataKey.generate()
    nonce = os.urandom(_NONCE_LEN)
    ciphertext = AESGCM(key.secret).encrypt(nonce, bytes(plaintext), binding.associated_data())
    return EncryptedRecord(nonce, ciphertext), key


def decrypt_record(
    envelope: EncryptedRecord | bytes, data_key: DataKey | bytes, binding: RecordBinding
) -> bytes:
    """Decrypt and authenticate an envelope.

    Args:
        envelope: an :class:`EncryptedRecord` or its serialised blob.
        data_key: the unwrapped data key.
        binding: record id, version and patient from the on-chain anchor.

    Returns:
        The plaintext.

    Raises:
        DecryptionError: any change to ciphertext, tag, nonce or binding, or a wrong key.
        MalformedEnvelope: the blob is not a v1 envelope (a ``DecryptionError`` too).
    """
    record = envelope if isinstance(envelope, EncryptedRecord) else EncryptedRecord.from_bytes(
        envelope
    )
    key = data_key if isinstance(data_key, DataKey) else DataKey(bytes(data_key))
    try:
        return AESGCM(key.secret).decrypt(
            record.nonce, record.ciphertext, binding.associated_data()
        )
    except InvalidTag as exc:
        raise DecryptionError(
            "the record did not authenticate: wrong key, or the ciphertext, nonce, tag, record "
            "id, version or patient differ from what was encrypted; do not use this blob"
        ) from exc


@dataclass(frozen=True)
class WrappedKey:
    """A data key HPKE-sealed to one recipient's X25519 public key.

    Attributes:
        recipient: the recipient's 32-byte public key.
        enc: the HPKE encapsulated ephemeral key (32 bytes).
        ciphertext: the sealed data key with its tag (48 bytes).
    """

    recipient: bytes
    enc: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        """Check field lengths."""
        if len(self.recipient) != 32 or len(self.enc) != _ENC_LEN:
            raise MalformedEnvelope("a wrapped key has a 32-byte recipient and a 32-byte enc")
        if len(self.ciphertext) != _WRAPPED_CT_LEN:
            raise MalformedEnvelope(f"a wrapped key's ciphertext is {_WRAPPED_CT_LEN} bytes")

    def to_bytes(self) -> bytes:
        """Serialise as ``CLWK || 0x01 || 0x01 || recipient || enc || ciphertext``."""
        return (
            WRAPPED_KEY_MAGIC
            + bytes((_FORMAT_V1, _SUITE_HPKE_X25519_SHA256_AES256GCM))
            + self.recipient
            + self.enc
            + self.ciphertext
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> WrappedKey:
        """Parse a serialised wrapped key.

        Raises:
            MalformedEnvelope: wrong magic, unknown format or suite, or wrong length.
        """
        blob = bytes(blob)
        if len(blob) != 6 + 32 + _ENC_LEN + _WRAPPED_CT_LEN or blob[:4] != WRAPPED_KEY_MAGIC:
            raise MalformedEnvelope("not a CareLedger wrapped key (bad magic or length)")
        if blob[4] != _FORMAT_V1 or blob[5] != _SUITE_HPKE_X25519_SHA256_AES256GCM:
            raise MalformedEnvelope("unknown wrapped-key format or suite: upgrade careledger")
        return cls(blob[6:38], blob[38:70], blob[70:])


def _public_bytes(recipient: bytes | str | X25519PublicKey | EncryptionKeyPair) -> bytes:
    if isinstance(recipient, EncryptionKeyPair):
        return recipient.public_bytes
    if isinstance(recipient, X25519PublicKey):
        return recipient.public_bytes_raw()
    return public_key_from_hex(recipient)


def wrap_data_key(
    data_key: DataKey,
    binding: RecordBinding,
    recipient: bytes | str | X25519PublicKey | EncryptionKeyPair,
) -> WrappedKey:
    """Seal a data key to a recipient with HPKE, ``info`` binding record and recipient.

    Args:
        data_key: the record version's data key.
        binding: record id, version and patient.
        recipient: the recipient's registered public key (32 bytes, 0x-hex, or key object).

    Returns:
        The wrapped key, to be kept in a wrapped-key store.
    """
    public = _public_bytes(recipient)
    sealed = HPKE_SUITE.encrypt(
        data_key.secret, X25519PublicKey.from_public_bytes(public), info=binding.wrap_info(public)
    )
    return WrappedKey(public, sealed[:_ENC_LEN], sealed[_ENC_LEN:])


def unwrap_data_key(
    wrapped: WrappedKey | bytes,
    binding: RecordBinding,
    private_key: EncryptionKeyPair | X25519PrivateKey,
) -> DataKey:
    """Open a wrapped data key with the recipient's private key.

    Raises:
        KeyUnwrapFailed: the key is not the recipient's, or the binding differs from the one
            it was wrapped for (a ``DecryptionError``).
        MalformedEnvelope: the serialised wrapped key is malformed.
    """
    item = wrapped if isinstance(wrapped, WrappedKey) else WrappedKey.from_bytes(wrapped)
    secret = private_key.private_key if isinstance(private_key, EncryptionKeyPair) else private_key
    mine = secret.public_key().public_bytes_raw()
    try:
        # NOTE: info uses the recipient recorded in the wrapped key, so a key wrapped to someone
        # else fails to open here rather than silently "working" with a mismatched info.
        raw = HPKE_SUITE.decrypt(
            item.enc + item.ciphertext, secret, info=binding.wrap_info(item.recipient)
        )
    except InvalidTag as exc:
        hint = (
            "this wrapped key is for another recipient"
            if mine != item.recipient
            else "it was wrapped for another record id, version or patient, or was altered"
        )
        raise KeyUnwrapFailed(f"cannot unwrap the data key: {hint}") from exc
    return DataKey(raw)


class SupportsShred(Protocol):
    """A wrapped-key store that can destroy every copy of a record's data keys."""

    def delete_all(self, record_id: bytes) -> int:
        """Delete every wrapped key of ``record_id`` (all versions); return how many."""
        ...

    def count(self, record_id: bytes) -> int:
        """How many wrapped keys of ``record_id`` remain."""
        ...


def shred(store: SupportsShred, record_id: bytes | str) -> int:
    """Crypto-shred a record: destroy every wrapped copy of its data keys.

    After this no recipient can decrypt any version of the record; the ciphertext and the
    on-chain anchor remain, and the anchor still verifies the ciphertext.

    Returns:
        The number of wrapped keys destroyed.

    Raises:
        ShredIncomplete: some wrapped key survived (e.g. a concurrent share): run again.
    """
    rid = _bytes32(record_id, "record id")
    destroyed = store.delete_all(rid)
    left = store.count(rid)
    if left:
        raise ShredIncomplete(
            f"{left} wrapped key(s) of record 0x{rid.hex()} survived the shred: run it again"
        )
    return destroyed
