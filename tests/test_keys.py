"""Encryption keypairs and password-protected key files (careledger.crypto.keyfile)."""

from __future__ import annotations

import inspect
import json
import os
import stat
from pathlib import Path

import pytest

import careledger.crypto.envelope
import careledger.crypto.keyfile
from careledger.crypto import EncryptionKeyPair, public_key_from_hex, public_key_to_hex
from careledger.errors import (
    CareLedgerError,
    InsecureKeyFile,
    InvalidInput,
    KeyFileError,
    KeyFileNotFound,
    KeyReuseRefused,
    WrongPassword,
)

FAST_N = 2**14  # the minimum scrypt cost, to keep the suite fast; the default is 2^17


def test_saved_key_reloads_with_the_right_password(tmp_path: Path) -> None:
    keypair = EncryptionKeyPair.generate()
    path = keypair.save(tmp_path / "patient.key", "correct horse", scrypt_n=FAST_N)
    loaded = EncryptionKeyPair.load(path, "correct horse")
    assert loaded == keypair
    assert loaded.private_bytes() == keypair.private_bytes()


def test_default_scrypt_cost_round_trips(tmp_path: Path) -> None:
    keypair = EncryptionKeyPair.generate()
    path = keypair.save(tmp_path / "k.key", b"pw")
    assert json.loads(path.read_text())["kdfparams"]["n"] == 2**17
    assert EncryptionKeyPair.load(path, b"pw") == keypair


def test_wrong_password_is_a_typed_permission_error(tmp_path: Path) -> None:
    path = EncryptionKeyPair.generate().save(tmp_path / "k.key", "right", scrypt_n=FAST_N)
    with pytest.raises(WrongPassword, match="does not open"):
        EncryptionKeyPair.load(path, "wrong")
    assert issubclass(WrongPassword, PermissionError) and issubclass(WrongPassword, CareLedgerError)


def test_key_file_is_mode_0600_and_left_no_temp_file(tmp_path: Path) -> None:
    path = EncryptionKeyPair.generate().save(tmp_path / "k.key", "pw", scrypt_n=FAST_N)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k.key"]
    text = path.read_text()
    assert "private" not in text


def test_a_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = EncryptionKeyPair.generate().save(tmp_path / "k.key", "pw", scrypt_n=FAST_N)
    os.chmod(path, 0o644)
    with pytest.raises(InsecureKeyFile, match="chmod 600"):
        EncryptionKeyPair.load(path, "pw")


def test_existing_file_is_not_overwritten_unless_asked(tmp_path: Path) -> None:
    first = EncryptionKeyPair.generate()
    path = first.save(tmp_path / "k.key", "pw", scrypt_n=FAST_N)
    second = EncryptionKeyPair.generate()
    with pytest.raises(InvalidInput, match="exists"):
        second.save(path, "pw", scrypt_n=FAST_N)
    assert EncryptionKeyPair.load(path, "pw") == first
    second.save(path, "pw", overwrite=True, scrypt_n=FAST_N)
    assert EncryptionKeyPair.load(path, "pw") == second


def test_missing_file_and_tampered_fields_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileNotFound):
        EncryptionKeyPair.load(tmp_path / "nope.key", "pw")
    path = EncryptionKeyPair.generate().save(tmp_path / "k.key", "pw", scrypt_n=FAST_N)
    original = json.loads(path.read_text())
    # Swapping in another public key is detected (it is authenticated data).
    doc = dict(original, public_key=EncryptionKeyPair.generate().public_hex)
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassword):
        EncryptionKeyPair.load(path, "pw")
    path.write_text("{not json")
    with pytest.raises(KeyFileError):
        EncryptionKeyPair.load(path, "pw")
    path.write_text(json.dumps(dict(original, format="something-else")))
    with pytest.raises(KeyFileError):
        EncryptionKeyPair.load(path, "pw")


def test_empty_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        EncryptionKeyPair.generate().save(tmp_path / "k.key", "", scrypt_n=FAST_N)


def test_public_key_is_32_bytes_and_0x_hex_bytes32() -> None:
    keypair = EncryptionKeyPair.generate()
    assert len(keypair.public_bytes) == 32
    assert keypair.public_hex == "0x" + keypair.public_bytes.hex() and len(keypair.public_hex) == 66
    assert public_key_from_hex(keypair.public_hex) == keypair.public_bytes
    assert public_key_to_hex(keypair.public_bytes) == keypair.public_hex
    assert keypair.private_bytes().hex() not in repr(keypair)
    for bad in ("0x" + "00" * 32, "0x1234", "0xzz" + "00" * 31):
        with pytest.raises(InvalidInput):
            public_key_from_hex(bad)


def test_generated_keypairs_are_independent() -> None:
    keys = [EncryptionKeyPair.generate() for _ in range(100)]
    assert len({k.private_bytes() for k in keys}) == 100
    assert len({k.public_bytes for k in keys}) == 100


def test_a_wallet_key_is_refused_as_an_encryption_key() -> None:
    wallet_key = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    with pytest.raises(KeyReuseRefused, match="generate a separate one"):
        EncryptionKeyPair.from_private_bytes(wallet_key, wallet_keys=[wallet_key])
    own = EncryptionKeyPair.generate()
    rebuilt = EncryptionKeyPair.from_private_bytes(own.private_bytes(), wallet_keys=[wallet_key])
    assert rebuilt == own


def test_the_sdk_offers_no_derivation_of_an_encryption_key_from_a_wallet_key() -> None:
    # NIST SP 800-57: one key, one purpose. No public function of keys or crypto takes a
    # wallet/account/mnemonic/signature to produce an encryption key.
    forbidden = ("wallet", "account", "mnemonic", "signature", "seed", "eth", "derive")
    for module in (careledger.crypto.keyfile, careledger.crypto.envelope):
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            members = [(name, obj)]
            if inspect.isclass(obj):
                members += [(f"{name}.{n}", m) for n, m in vars(obj).items() if not n.startswith("_")]
            for qualname, member in members:
                lowered = qualname.lower()
                assert not any(word in lowered for word in forbidden), qualname
                if callable(member) and not inspect.isclass(member):
                    func = member.__func__ if isinstance(member, classmethod) else member
                    params = inspect.signature(func).parameters
                    for param in params:
                        if param == "wallet_keys":  # the refusal list, not a source
                            continue
                        assert not any(word in param.lower() for word in forbidden), (
                            qualname, param)
