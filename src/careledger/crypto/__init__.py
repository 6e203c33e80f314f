"""Cryptography: envelope encryption of records (AES-256-GCM data keys, HPKE-wrapped per
recipient), crypto-shredding, and password-protected X25519 key files."""

from typing import TYPE_CHECKING

from careledger._lazy import lazy_exports

if TYPE_CHECKING:
    from careledger.crypto.envelope import (
        DataKey,
        EncryptedRecord,
        RecordBinding,
        SupportsShred,
        WrappedKey,
        check_commitment,
        commitment,
        decrypt_record,
        encrypt_record,
        shred,
        unwrap_data_key,
        wrap_data_key,
    )
    from careledger.crypto.keyfile import EncryptionKeyPair, public_key_from_hex, public_key_to_hex

__getattr__, __dir__ = lazy_exports(__name__, {
    "careledger.crypto.envelope": ("DataKey", "EncryptedRecord", "RecordBinding", "SupportsShred", "WrappedKey", "check_commitment", "commitment", "decrypt_record", "encrypt_record", "shred", "unwrap_data_key", "wrap_data_key",),
    "careledger.crypto.keyfile": ("EncryptionKeyPair", "public_key_from_hex", "public_key_to_hex",),
})

__all__ = [
    "DataKey",
    "EncryptedRecord",
    "EncryptionKeyPair",
    "RecordBinding",
    "SupportsShred",
    "WrappedKey",
    "check_commitment",
    "commitment",
    "decrypt_record",
    "encrypt_record",
    "public_key_from_hex",
    "public_key_to_hex",
    "shred",
    "unwrap_data_key",
    "wrap_data_key",
]
