"""Envelope encryption, HPKE key wrapping and shredding (careledger.crypto.envelope)."""

from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import cryptography_vectors
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careledger.crypto import (
    DataKey,
    EncryptedRecord,
    EncryptionKeyPair,
    RecordBinding,
    WrappedKey,
    commitment,
    decrypt_record,
    encrypt_record,
    shred,
    unwrap_data_key,
    wrap_data_key,
)
from careledger.crypto import (
    check_commitment as verify_commitment,
)
from careledger.crypto.envelope import AD_DOMAIN, HPKE_SUITE
from careledger.errors import (
    CareLedgerError,
    CommitmentMismatch,
    DecryptionError,
    InvalidInput,
    KeyUnwrapFailed,
    MalformedEnvelope,
    ShredIncomplete,
)
from careledger.store import WrappedKeyStore

PATIENT = "0x" + "7a" * 20
OTHER_PATIENT = "0x" + "7b" * 20
BINDING = RecordBinding(bytes(range(32)), 1, PATIENT)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- round trip ---------------------------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plaintext=st.one_of(
        st.binary(max_size=256),
        st.binary(min_size=256, max_size=64 * 1024),
        st.builds(
            lambda seed, n: random.Random(seed).randbytes(n),
            st.integers(0, 2**32), st.integers(0, 1024 * 1024),
        ),
    ),
    record_id=st.binary(min_size=32, max_size=32),
    version=st.integers(0, 2**64 - 1),
    patient=st.binary(min_size=20, max_size=20),
)
def test_decrypt_of_encrypt_is_identity(
    plaintext: bytes, record_id: bytes, version: int, patient: bytes
) -> None:
    binding = RecordBinding(record_id, version, patient)
    envelope, key = encrypt_record(plaintext, binding)
    blob = envelope.to_bytes()
    assert EncryptedRecord.from_bytes(blob) == envelope
    assert decrypt_record(blob, key, binding) == plaintext


def test_one_mebibyte_record_round_trips() -> None:
    plaintext = os.urandom(1024 * 1024)
    envelope, key = encrypt_record(plaintext, BINDING)
    assert len(envelope.to_bytes()) == 6 + 12 + len(plaintext) + 16
    assert decrypt_record(envelope.to_bytes(), key, BINDING) == plaintext


def test_associated_data_has_the_documented_canonical_encoding() -> None:
    binding = RecordBinding("0x" + "11" * 32, 258, "0x" + "22" * 20)
    assert binding.associated_data() == (
        b"careledger/record/v1" + b"\x11" * 32 + b"\x00" * 6 + b"\x01\x02" + b"\x22" * 20
    )
    assert binding.associated_data().startswith(AD_DOMAIN)


def test_envelope_blob_layout_and_commitment_is_keccak_of_the_blob() -> None:
    envelope, _ = encrypt_record(b"abc", BINDING)
    blob = envelope.to_bytes()
    assert blob[:6] == b"CLEV\x01\x01"
    assert blob[6:18] == envelope.nonce
    assert blob[18:] == envelope.ciphertext and envelope.tag == blob[-16:]
    assert commitment(blob) == bytes(keccak(blob)) == envelope.commitment()
    verify_commitment(blob, envelope.commitment())
    with pytest.raises(CommitmentMismatch):
        verify_commitment(_flip(blob, 0), envelope.commitment())


def test_data_key_repr_never_shows_the_key() -> None:
    _, key = encrypt_record(b"x", BINDING)
    assert key.secret.hex() not in repr(key) and str(key.secret) not in repr(key)


@pytest.mark.parametrize(
    ("record_id", "version", "patient"),
    [(b"\x00" * 31, 0, PATIENT), (b"\x00" * 32, -1, PATIENT), (b"\x00" * 32, 2**64, PATIENT),
     (b"\x00" * 32, 0, "0x1234"), ("0xzz", 0, PATIENT)],
)
def test_malformed_binding_is_rejected(record_id: bytes | str, version: int, patient: str) -> None:
    with pytest.raises(InvalidInput):
        RecordBinding(record_id, version, patient)


# --- tampering ----------------------------------------------------------------------------


def test_every_bit_flip_of_nonce_ciphertext_and_tag_is_rejected() -> None:
    envelope, key = encrypt_record(b"glucose 5.4 mmol/L", BINDING)
    blob = envelope.to_bytes()
    # header (6 bytes) + nonce + ciphertext + tag: every bit of the whole blob.
    for bit in range(len(blob) * 8):
        with pytest.raises(DecryptionError):
            decrypt_record(_flip(blob, bit), key, BINDING)


def test_every_bit_flip_of_each_associated_data_field_is_rejected() -> None:
    envelope, key = encrypt_record(b"allergy: penicillin", BINDING)
    for bit in range(256):
        with pytest.raises(DecryptionError):
            decrypt_record(envelope, key, RecordBinding(_flip(BINDING.record_id, bit), 1, PATIENT))
    for bit in range(64):
        version = BINDING.version ^ (1 << bit)
        with pytest.raises(DecryptionError):
            decrypt_record(envelope, key, RecordBinding(BINDING.record_id, version, PATIENT))
    for bit in range(160):
        patient = _flip(BINDING.patient, bit)
        with pytest.raises(DecryptionError):
            decrypt_record(envelope, key, RecordBinding(BINDING.record_id, 1, patient))


def test_every_bit_flip_of_the_data_key_is_rejected() -> None:
    envelope, key = encrypt_record(b"x-ray report", BINDING)
    for bit in range(256):
        with pytest.raises(DecryptionError):
            decrypt_record(envelope, DataKey(_flip(key.secret, bit)), BINDING)


def test_ciphertext_swapped_between_two_records_is_rejected() -> None:
    other = RecordBinding(b"\x99" * 32, 1, OTHER_PATIENT)
    env_a, key_a = encrypt_record(b"record A", BINDING)
    env_b, key_b = encrypt_record(b"record B", other)
    with pytest.raises(DecryptionError):
        decrypt_record(env_b, key_b, BINDING)  # B's blob and key presented as record A
    with pytest.raises(DecryptionError):
        decrypt_record(env_b, key_a, BINDING)
    with pytest.raises(DecryptionError):
        decrypt_record(env_a, key_a, RecordBinding(BINDING.record_id, 2, PATIENT))  # version
    # Same key, nonce and ciphertext re-labelled as another version of the same record.
    assert decrypt_record(env_a, key_a, BINDING) == b"record A"


def test_truncated_or_foreign_blobs_are_typed_errors() -> None:
    envelope, key = encrypt_record(b"x", BINDING)
    blob = envelope.to_bytes()
    for bad in (b"", blob[:20], b"XXXX" + blob[4:], blob[:4] + b"\x02" + blob[5:]):
        with pytest.raises(MalformedEnvelope):
            decrypt_record(bad, key, BINDING)
    assert issubclass(DecryptionError, ValueError) and issubclass(DecryptionError, CareLedgerError)


# --- nonces and keys ----------------------------------------------------------------------


def test_one_million_nonce_draws_never_repeat() -> None:
    # SECURITY.md: 10^6 encryptions, no repeated (key, nonce). The nonce source is the same
    # os.urandom(12) call encrypt_record makes; the full path is checked below at 10^4.
    seen = {os.urandom(12) for _ in range(1_000_000)}
    assert len(seen) == 1_000_000


def test_ten_thousand_encryptions_use_distinct_keys_and_nonces() -> None:
    keys: set[bytes] = set()
    nonces: set[bytes] = set()
    for _ in range(10_000):
        envelope, key = encrypt_record(b"same plaintext", BINDING)
        keys.add(key.secret)
        nonces.add(envelope.nonce)
    assert len(keys) == len(nonces) == 10_000


# --- AES-GCM known-answer vectors (NIST CAVS, via cryptography-vectors) -------------------


def _rsp(name: str) -> Iterator[dict[str, str]]:
    path = Path(cryptography_vectors.__file__).parent / "ciphers" / "AES" / "GCM" / name
    header: dict[str, str] = {}
    case: dict[str, str] = {}
    for line in path.read_text().splitlines() + [""]:
        line = line.strip()
        if line.startswith("["):
            key, _, value = line.strip("[]").partition("=")
            header[key.strip()] = value.strip()
        elif line == "FAIL":
            case["FAIL"] = "1"
        elif " = " in line or line.endswith(" ="):
            key, _, value = line.partition("=")
            case[key.strip()] = value.strip()
        elif not line and case:
            yield {**header, **case}
            case = {}


def _gcm_vectors(name: str) -> list[dict[str, str]]:
    return [v for v in _rsp(name) if v["Keylen"] == "256" and v["IVlen"] == "96"]


def test_nist_gcm_encrypt_vectors_256_bit_key_96_bit_iv() -> None:
    vectors = _gcm_vectors("gcmEncryptExtIV256.rsp")
    assert len(vectors) == 2625  # every [IVlen = 96] section of the file
    for v in vectors:
        key, iv = bytes.fromhex(v["Key"]), bytes.fromhex(v["IV"])
        pt, aad = bytes.fromhex(v["PT"]), bytes.fromhex(v["AAD"])
        out = AESGCM(key).encrypt(iv, pt, aad)
        assert out[: len(pt)] == bytes.fromhex(v["CT"]), v["Count"]
        tag = bytes.fromhex(v["Tag"])
        assert out[len(pt) :][: len(tag)] == tag  # short-tag vectors are prefixes


def _gcm_decrypt(key: bytes, iv: bytes, ct: bytes, tag: bytes, aad: bytes) -> bytes:
    if len(tag) == 16:  # the tag size CareLedger uses: through the AEAD API
        return AESGCM(key).decrypt(iv, ct + tag, aad)
    # Truncated-tag vectors: through the low-level GCM mode, which accepts short tags.
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=4)).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(ct) + dec.finalize()


def test_nist_gcm_decrypt_vectors_256_bit_key_96_bit_iv_including_fail_cases() -> None:
    vectors = _gcm_vectors("gcmDecrypt256.rsp")
    assert len(vectors) == 2625  # every [IVlen = 96] section of the file
    fails = 0
    for v in vectors:
        key, iv = bytes.fromhex(v["Key"]), bytes.fromhex(v["IV"])
        ct, aad, tag = bytes.fromhex(v["CT"]), bytes.fromhex(v["AAD"]), bytes.fromhex(v["Tag"])
        if "FAIL" in v:
            fails += 1
            with pytest.raises(InvalidTag):
                _gcm_decrypt(key, iv, ct, tag, aad)
        else:
            assert _gcm_decrypt(key, iv, ct, tag, aad) == bytes.fromhex(v["PT"])
    assert fails > 0


# --- HPKE ---------------------------------------------------------------------------------


def test_rfc9180_vectors_for_our_suite_decrypt() -> None:
    """RFC 9180 test vectors, base mode, DHKEM(X25519, HKDF-SHA256)/HKDF-SHA256/AES-256-GCM."""
    path = Path(cryptography_vectors.__file__).parent / "HPKE" / "test-vectors.json"
    vectors = [
        v for v in json.loads(path.read_text())
        if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (0, 0x20, 1, 2)
    ]
    assert vectors
    for v in vectors:
        sk = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skRm"]))
        assert sk.public_key().public_bytes_raw().hex() == v["pkRm"]
        first = v["encryptions"][0]  # sequence 0 is what single-shot HPKE produces
        pt = rust_openssl.hpke._decrypt_with_aad(
            HPKE_SUITE,
            bytes.fromhex(v["enc"] + first["ct"]),
            sk,
            info=bytes.fromhex(v["info"]),
            aad=bytes.fromhex(first["aad"]),
        )
        assert pt.hex() == first["pt"]


def test_wrap_and_unwrap_round_trip_and_serialisation() -> None:
    patient = EncryptionKeyPair.generate()
    _, key = encrypt_record(b"x", BINDING)
    wrapped = wrap_data_key(key, BINDING, patient.public_bytes)
    assert wrapped.recipient == patient.public_bytes
    blob = wrapped.to_bytes()
    assert blob[:6] == b"CLWK\x01\x01" and len(blob) == 6 + 32 + 32 + 48
    assert WrappedKey.from_bytes(blob) == wrapped
    assert unwrap_data_key(blob, BINDING, patient) == key
    assert unwrap_data_key(wrapped, BINDING, patient.private_key) == key
    # Each wrap uses a fresh ephemeral key.
    assert wrap_data_key(key, BINDING, patient.public_hex).enc != wrapped.enc


def test_info_binds_record_version_patient_and_recipient() -> None:
    info = BINDING.wrap_info(b"\x05" * 32)
    assert info == b"careledger/wrap/v1" + BINDING.record_id + struct.pack(">Q", 1) + (
        BINDING.patient + b"\x05" * 32
    )


def test_unwrap_with_a_wrong_private_key_is_rejected() -> None:
    patient, stranger = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    _, key = encrypt_record(b"x", BINDING)
    wrapped = wrap_data_key(key, BINDING, patient)
    with pytest.raises(KeyUnwrapFailed, match="another recipient"):
        unwrap_data_key(wrapped, BINDING, stranger)
    # Re-labelling the wrapped key with the stranger's public key does not help either.
    relabelled = WrappedKey(stranger.public_bytes, wrapped.enc, wrapped.ciphertext)
    with pytest.raises(KeyUnwrapFailed):
        unwrap_data_key(relabelled, BINDING, stranger)


def test_unwrap_with_a_wrong_info_is_rejected() -> None:
    patient = EncryptionKeyPair.generate()
    _, key = encrypt_record(b"x", BINDING)
    wrapped = wrap_data_key(key, BINDING, patient)
    others = [
        RecordBinding(b"\x42" * 32, 1, PATIENT),
        RecordBinding(BINDING.record_id, 2, PATIENT),
        RecordBinding(BINDING.record_id, 1, OTHER_PATIENT),
    ]
    for other in others:
        with pytest.raises(KeyUnwrapFailed):
            unwrap_data_key(wrapped, other, patient)


def test_every_bit_flip_of_a_wrapped_key_is_rejected() -> None:
    patient = EncryptionKeyPair.generate()
    _, key = encrypt_record(b"x", BINDING)
    blob = wrap_data_key(key, BINDING, patient).to_bytes()
    for bit in range(len(blob) * 8):
        with pytest.raises(DecryptionError):
            unwrap_data_key(_flip(blob, bit), BINDING, patient)


def test_wrapping_to_a_zero_or_short_public_key_is_refused() -> None:
    _, key = encrypt_record(b"x", BINDING)
    for bad in (bytes(32), b"\x01" * 31):
        with pytest.raises(InvalidInput):
            wrap_data_key(key, BINDING, bad)


# --- shredding ----------------------------------------------------------------------------


def test_after_shredding_no_recipient_decrypts_and_the_commitment_still_verifies(
    tmp_path: Path,
) -> None:
    store = WrappedKeyStore(tmp_path / "keys")
    patient, doctor = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    envelope, key = encrypt_record(b"HIV status", BINDING)
    anchored = envelope.commitment()
    for who in (patient, doctor):
        store.put(BINDING.record_id, BINDING.version, wrap_data_key(key, BINDING, who))
    v2 = RecordBinding(BINDING.record_id, 2, PATIENT)
    _, key2 = encrypt_record(b"amended", v2)
    store.put(v2.record_id, 2, wrap_data_key(key2, v2, patient))
    unrelated = RecordBinding(b"\x01" * 32, 1, PATIENT)
    store.put(unrelated.record_id, 1, wrap_data_key(key, unrelated, patient))

    assert shred(store, BINDING.record_id) == 3
    assert store.list(BINDING.record_id) == []
    assert store.count(unrelated.record_id) == 1
    for who in (patient, doctor):
        with pytest.raises(LookupError):
            store.get(BINDING.record_id, 1, who.public_bytes)
    verify_commitment(envelope.to_bytes(), anchored)


def test_shred_reports_surviving_copies() -> None:
    class Stubborn:
        def delete_all(self, record_id: bytes) -> int:
            return 0

        def count(self, record_id: bytes) -> int:
            return 1

    with pytest.raises(ShredIncomplete):
        shred(Stubborn(), BINDING.record_id)


def test_the_stored_blob_carries_no_record_id_patient_or_plaintext() -> None:
    # The blob may sit on a public IPFS network: it must not link itself to a patient.
    canary = b"CANARY-Jane-Doe-MRN-0042"
    binding = RecordBinding(keccak(b"record-1"), 7, "0x" + "c3" * 20)
    blob = encrypt_record(canary * 4, binding)[0].to_bytes()
    for secret in (canary, binding.record_id, binding.patient, bytes(keccak(canary))):
        assert secret not in blob
