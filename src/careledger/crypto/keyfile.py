"""Encryption keypairs (X25519), separate from wallet signing keys.

A patient, provider or researcher has two unrelated keys: the wallet (secp256k1) key that
signs transactions and consents, and the X25519 encryption key whose public half is
registered on chain (as ``bytes32``) and to which data keys are HPKE-wrapped.

# NOTE: NIST SP 800-57 forbids using one key for two purposes. This module deliberately offers
# no function that derives an encryption key from a wallet key (or a mnemonic, or a signature),
# and ``EncryptionKeyPair.from_private_bytes`` refuses bytes equal to a wallet key it is shown.

Key file format (JSON, mode 0600, written atomically)::

    {"format": "careledger-x25519-key", "version": 1, "public_key": "0x<32 bytes>",
     "kdf": "scrypt", "kdfparams": {"n": 131072, "r": 8, "p": 1, "salt": "<16 bytes hex>"},
     "cipher": "aes-256-gcm", "nonce": "<12 bytes hex>", "ciphertext": "<48 bytes hex>"}

The AES-256-GCM associated data is the canonical JSON of every field except ``ciphertext``,
so changing the public key, KDF parameters or nonce in the file makes it fail to open.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from careledger.errors import (
    InsecureKeyFile,
    InvalidInput,
    KeyFileError,
    KeyFileNotFound,
    KeyReuseRefused,
    WrongPassword,
)
from careledger.validate import hex_bytes

__all__ = [
    "DEFAULT_SCRYPT_N",
    "KEY_FILE_FORMAT",
    "EncryptionKeyPair",
    "public_key_from_hex",
    "public_key_to_hex",
]

KEY_FILE_FORMAT = "careledger-x25519-key"
# NOTE: scrypt N=2^17, r=8, p=1 (128 MiB, ~0.3 s) is the OWASP 2023 recommendation.
DEFAULT_SCRYPT_N = 2**17
_MIN_SCRYPT_N = 2**14
_PUBLIC_KEY_LEN = 32


def public_key_to_hex(public_key: bytes) -> str:
    """Return a 32-byte X25519 public key as the 0x-hex ``bytes32`` registered on chain."""
    if len(public_key) != _PUBLIC_KEY_LEN:
        raise InvalidInput(f"an X25519 public key is 32 bytes, got {len(public_key)}")
    return "0x" + public_key.hex()


def read_public_key(path: str | os.PathLike[str]) -> bytes:
    """The public key of a key file, from its clear header (no password needed).

    Raises:
        KeyFileError: not a CareLedger encryption key file.
    """
    try:
        return public_key_from_hex(str(json.loads(Path(path).read_text())["public_key"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a CareLedger encryption key file ({exc})") from None


def public_key_from_hex(value: str | bytes) -> bytes:
    """Parse a public key given as 0x-hex (e.g. read from chain) or as 32 raw bytes.

    Raises:
        InvalidInput: not 32 bytes, or all zero (the contract's "no key registered").
    """
    raw = hex_bytes(value, _PUBLIC_KEY_LEN, "an X25519 public key")
    if raw == bytes(32):
        raise InvalidInput("the zero public key means 'no key registered': register a key first")
    return raw


class EncryptionKeyPair:
    """An X25519 keypair used only for HPKE key wrapping, never for signing.

    Create one with :meth:`generate`, keep it with :meth:`save`, reopen it with :meth:`load`.
    """

    __slots__ = ("_private",)

    def __init__(self, private_key: X25519PrivateKey) -> None:
        """Wrap an existing ``cryptography`` X25519 private key."""
        self._private = private_key

    @classmethod
    def generate(cls) -> EncryptionKeyPair:
        """Return a fresh keypair from the operating system's CSPRNG."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(
        cls, raw: bytes, *, wallet_keys: Iterable[bytes] = ()
    ) -> EncryptionKeyPair:
        """Rebuild a keypair from its 32 raw private bytes (e.g. from an HSM export).

        Args:
            raw: the X25519 private scalar, 32 bytes.
            wallet_keys: wallet (secp256k1) private keys the caller holds; ``raw`` must differ
                from each of them. Pass them whenever both kinds of key are at hand.

        Raises:
            InvalidInput: ``raw`` is not 32 bytes.
            KeyReuseRefused: ``raw`` equals one of ``wallet_keys``.
        """
        if len(raw) != 32:
            raise InvalidInput(f"an X25519 private key is 32 bytes, got {len(raw)}")
        for wallet_key in wallet_keys:
            if secrets.compare_digest(bytes(wallet_key), raw):
                raise KeyReuseRefused(
                    "refusing to use a wallet signing key as an encryption key: "
                    "generate a separate one with EncryptionKeyPair.generate()"
                )
        return cls(X25519PrivateKey.from_private_bytes(raw))

    @property
    def private_key(self) -> X25519PrivateKey:
        """The ``cryptography`` private key object (for HPKE unwrap)."""
        return self._private

    @property
    def public_key(self) -> X25519PublicKey:
        """The ``cryptography`` public key object."""
        return self._private.public_key()

    @property
    def public_bytes(self) -> bytes:
        """The 32-byte raw public key: what gets registered on chain as ``bytes32``."""
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_hex(self) -> str:
        """The public key as 0x-hex ``bytes32``."""
        return public_key_to_hex(self.public_bytes)

    def private_bytes(self) -> bytes:
        """The 32 raw private bytes. Handle with care: prefer :meth:`save`."""
        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def __repr__(self) -> str:
        """Show the public key only."""
        return f"EncryptionKeyPair(public={self.public_hex})"

    def __eq__(self, other: object) -> bool:
        """Keypairs are equal when their public keys are."""
        if not isinstance(other, EncryptionKeyPair):
            return NotImplemented
        return secrets.compare_digest(self.public_bytes, other.public_bytes)

    def __hash__(self) -> int:
        """Hash of the public key."""
        return hash(self.public_bytes)

    # --- files -----------------------------------------------------------------------------

    def save(
        self,
        path: str | os.PathLike[str],
        password: str | bytes,
        *,
        overwrite: bool = False,
        scrypt_n: int = DEFAULT_SCRYPT_N,
    ) -> Path:
        """Write the keypair password-protected (scrypt + AES-256-GCM), mode 0600, atomically.

        Args:
            path: destination file.
            password: non-empty password.
            overwrite: replace an existing file (default: refuse).
            scrypt_n: scrypt cost (power of two, at least 2^14).

        Returns:
            The path written.

        Raises:
            InvalidInput: empty password, bad ``scrypt_n``, or the file exists and
                ``overwrite`` is false.
        """
        target = Path(path)
        pw = _password_bytes(password)
        if scrypt_n < _MIN_SCRYPT_N or scrypt_n & (scrypt_n - 1):
            raise InvalidInput(f"scrypt_n must be a power of two >= {_MIN_SCRYPT_N}")
        if target.exists() and not overwrite:
            raise InvalidInput(f"{target} exists: pass overwrite=True or choose another path")
        salt = os.urandom(16)
        nonce = os.urandom(12)
        header: dict[str, Any] = {
            "format": KEY_FILE_FORMAT,
            "version": 1,
            "public_key": self.public_hex,
            "kdf": "scrypt",
            "kdfparams": {"n": scrypt_n, "r": 8, "p": 1, "salt": salt.hex()},
            "cipher": "aes-256-gcm",
            "nonce": nonce.hex(),
        }
        kek = _scrypt(pw, salt, scrypt_n, 8, 1)
        ciphertext = AESGCM(kek).encrypt(nonce, self.private_bytes(), _canonical(header))
        document = dict(header, ciphertext=ciphertext.hex())
        # NOTE: imported here, not at the top: careledger.store imports this module (wrapped
        # keys are stored under recipients' public keys), so a top-level import would cycle.
        from careledger.store.atomic import write_atomic

        write_atomic(target, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600,
                     make_parents=True)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], password: str | bytes) -> EncryptionKeyPair:
        """Open a key file written by :meth:`save`.

        Raises:
            KeyFileNotFound: no file at ``path``.
            InsecureKeyFile: the file is readable or writable by group or others (POSIX).
            WrongPassword: the password does not open it.
            KeyFileError: the file is corrupt or of an unknown format.
        """
        target = Path(path)
        try:
            info = target.stat()
            data = target.read_bytes()
        except FileNotFoundError as exc:
            raise KeyFileNotFound(
                f"no encryption key file at {target}: create one with "
                "EncryptionKeyPair.generate().save(path, password)"
            ) from exc
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InsecureKeyFile(
                f"{target} is accessible to other users (mode {stat.S_IMODE(info.st_mode):o}): "
                f"run `chmod 600 {target}`"
            )
        try:
            document = json.loads(data)
            if document.get("format") != KEY_FILE_FORMAT or document.get("version") != 1:
                raise KeyFileError(f"{target} is not a CareLedger key file (format v1)")
            if document.get("kdf") != "scrypt" or document.get("cipher") != "aes-256-gcm":
                raise KeyFileError(f"{target} uses an unsupported KDF or cipher")
            params = document["kdfparams"]
            n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
            salt = bytes.fromhex(params["salt"])
            nonce = bytes.fromhex(document["nonce"])
            ciphertext = bytes.fromhex(document["ciphertext"])
            expected_public = public_key_from_hex(str(document["public_key"]))
        except KeyFileError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyFileError(f"{target} is corrupt ({exc}): restore it from a backup") from exc
        if not (_MIN_SCRYPT_N <= n <= 2**22 and r == 8 and 1 <= p <= 16):
            raise KeyFileError(f"{target} has implausible scrypt parameters: restore a backup")
        header = {k: v for k, v in document.items() if k != "ciphertext"}
        kek = _scrypt(_password_bytes(password), salt, n, r, p)
        try:
            raw = AESGCM(kek).decrypt(nonce, ciphertext, _canonical(header))
        except InvalidTag as exc:
            raise WrongPassword(
                f"the password does not open {target} (or the file was altered): try again"
            ) from exc
        keypair = cls.from_private_bytes(raw)
        if keypair.public_bytes != expected_public:
            raise KeyFileError(f"{target}: the private key does not match its public key")
        return keypair


def _password_bytes(password: str | bytes) -> bytes:
    pw = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    if not pw:
        raise InvalidInput("an empty password protects nothing: choose a password")
    return pw


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)


def _canonical(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
