"""Bad input at every boundary: a typed error each, and nothing written half-way.

The table in docs/bad-input.md lists these cases and what each gets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from careledger.actors import Patient, Provider
from careledger.codes import Category, Purpose
from careledger.contracts import Deployment
from careledger.crypto import EncryptionKeyPair
from careledger.errors import (
    BlobCorrupted,
    BlobNotFound,
    BlobTooLarge,
    CareLedgerError,
    ChainIdMismatch,
    InvalidInput,
    WrongPassword,
)
from careledger.store import Workspace


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def actors(world):  # type: ignore[no-untyped-def]
    ws = Workspace.local(world.workdir / "ws", max_blob_size=4096)
    alice = Patient(world.ledger, world.sender("alice"), ws, world.enc["alice"])
    alice.register_key()
    a = Provider(world.ledger, world.sender("hospital_a"), ws, world.enc["hospital_a"])
    return world, ws, alice, a


@pytest.mark.parametrize("bad", ["0x123", "not-an-address", "0x" + "zz" * 20, "", "0x" + "11" * 21])
def test_malformed_addresses_are_invalid_input_and_nothing_is_written(actors, bad: str) -> None:  # type: ignore[no-untyped-def]
    world, _ws, alice, a = actors
    before = _files(world.workdir / "ws")
    with pytest.raises(InvalidInput, match="not an Ethereum address"):
        a.publish(bad, b"x", Category.LAB)
    with pytest.raises(InvalidInput):
        alice.grant(bad, Category.LAB.code, [Purpose.TREAT], world.now() + 100)
    assert _files(world.workdir / "ws") == before


@pytest.mark.parametrize("bad", [b"", b"\x01" * 31, b"\x01" * 33, "0x1234", "0xzz"])
def test_wrong_length_keys_and_ids_are_invalid_input(actors, bad: bytes | str) -> None:  # type: ignore[no-untyped-def]
    _world, ws, alice, a = actors
    with pytest.raises(InvalidInput):
        a.publish(alice.patient, b"x", Category.LAB, record_id=bad)
    if isinstance(bad, bytes):
        with pytest.raises(InvalidInput):
            EncryptionKeyPair.from_private_bytes(bad)
    assert ws.index.all() == []


def test_oversized_record_is_refused_before_anything_is_stored(actors) -> None:  # type: ignore[no-untyped-def]
    world, _ws, alice, a = actors
    before = _files(world.workdir / "ws")
    with pytest.raises(BlobTooLarge, match="limit of 4096"):
        a.publish(alice.patient, b"\x00" * 5000, Category.IMAGING)
    assert _files(world.workdir / "ws") == before


def test_non_utf8_record_bytes_round_trip_untouched(actors) -> None:  # type: ignore[no-untyped-def]
    _world, _ws, alice, a = actors
    raw = bytes(range(256)) + b"\xff\xfe\xc3\x28"
    pub = a.publish(alice.patient, raw, Category.IMAGING)
    assert alice.read(pub.record_id) == raw


def test_unknown_codes_are_invalid_input(actors) -> None:  # type: ignore[no-untyped-def]
    world, ws, alice, a = actors
    with pytest.raises(InvalidInput, match="unknown category"):
        a.publish(alice.patient, b"x", "NOT-A-CATEGORY")
    with pytest.raises(InvalidInput, match="unknown purpose"):
        alice.grant(world.addr("hospital_b"), Category.LAB.code, ["FUN"], world.now() + 100)
    with pytest.raises(InvalidInput, match="at least one purpose"):
        alice.grant(world.addr("hospital_b"), Category.LAB.code, [], world.now() + 100)
    assert ws.index.all() == []


def test_truncated_or_corrupted_blob_is_a_typed_error_never_wrong_plaintext(actors) -> None:  # type: ignore[no-untyped-def]
    world, _ws, alice, a = actors
    pub = a.publish(alice.patient, b"glucose 5.4 mmol/L", Category.LAB)
    blob_files = [p for p in (world.workdir / "ws" / "blobs").rglob("*") if p.is_file()
                  and pub.pointer.cid in p.name]
    assert len(blob_files) == 1
    path = blob_files[0]
    original = path.read_bytes()
    path.write_bytes(original[:-7])  # truncated
    with pytest.raises(BlobCorrupted):
        alice.read(pub.record_id)
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(BlobCorrupted):
        alice.read(pub.record_id)
    path.unlink()
    with pytest.raises(BlobNotFound):
        alice.read(pub.record_id)
    with pytest.raises(InvalidInput, match="published no node endpoint"):
        alice.read("0x" + "ab" * 32)  # not local: its issuer (0xabab...) has no node


def test_wrong_password_and_damaged_key_file(tmp_path: Path) -> None:
    kp = EncryptionKeyPair.generate()
    path = tmp_path / "k.key"
    kp.save(path, "right password")
    with pytest.raises(WrongPassword):
        EncryptionKeyPair.load(path, "wrong password")
    path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(CareLedgerError):
        EncryptionKeyPair.load(path, "right password")


def test_manifest_for_another_chain_or_damaged_manifest(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dep = world.ledger.deployment
    other = Deployment(**{**dep.__dict__, "chain_id": dep.chain_id + 1})
    path = other.save(tmp_path)
    with pytest.raises(ChainIdMismatch, match="node reports chain"):
        Deployment.load(path, world.chain)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe{")
    with pytest.raises(InvalidInput, match="not a CareLedger deployment manifest"):
        Deployment.load(bad, world.chain)
    bad.write_text(json.dumps({"chain_id": 1}))
    with pytest.raises(InvalidInput):
        Deployment.load(bad, world.chain)


def test_record_id_outside_the_issuers_namespace_is_refused_before_anything_is_written(actors) -> None:  # type: ignore[no-untyped-def]
    world, ws, alice, a = actors
    foreign = bytes.fromhex(world.addr("hospital_b")[2:]) + b"\x07" * 12
    before = _files(world.workdir / "ws")
    with pytest.raises(InvalidInput, match="must start with the issuing institution's address"):
        a.publish(alice.patient, b"x", Category.LAB, record_id=foreign)
    assert ws.index.all() == []
    assert _files(world.workdir / "ws") == before
