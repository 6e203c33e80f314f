"""A property-based fuzz run of a real node's HTTP API, generated from its OpenAPI schema.

The node is a real ``careledger node serve`` process over its own directory (one published,
anchored record in it), on a fresh deployment on anvil. The schema is the node's own
``GET /openapi.json``; schemathesis turns every operation in it into Hypothesis strategies,
schema-valid (positive) and schema-violating (negative) cases. Strategies of our own add what a
schema cannot say: near-miss record ids and CIDs (mutations of real ones, other bases, other
codecs, ``..``, NUL, percent-encoded slashes, 4 KB ids), signed requests with mutated fields
(huge, negative, fractional, boolean, string integers; missing and extra fields) and odd
signatures (every length, r = 0, r >= n, high s, v off, a valid signature by the wrong key, a
valid one by the right key), ``Range`` headers, and raw bodies: not JSON, not UTF-8, deeply
nested, 5,000-digit numbers, ``1e999999``, other content types, just under and over the 64 KiB
limit, streamed without a length.

Every response: no 5xx, and on 4xx a JSON body ``{"error": str, "detail": str}``; schemathesis
cases are also checked against the schema (documented status, content type, response body).
The node process never dies; at the end it is healthy, released no key (no access entry was
logged, so none may leave) and logged no unexpected error.

1,000 cases with CARELEDGER_SLOW=1 (20-45 s), 150 by default (5-15 s); ``/health`` and
``/identity`` take no input, so Hypothesis stops them after their one distinct case.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from eth_account import Account
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from careledger.actors import Patient, Provider
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.consent import ConsentSigner
from careledger.node import KeyRequest, PatientRequest, node_domain
from careledger.node.messages import sign_request
from careledger.store import Workspace
from conftest import SLOW, World
from node_tools import NodeLog, follow, releases
from nodes import RunningNode, start_node

CASES = 1000 if SLOW else 150
DAY = 86400
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HEX = "0123456789abcdefABCDEF"
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)  # (no lone surrogates)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                      max_size=40).map(str.strip)  # (h11 sends no edge whitespace)


@dataclass
class Target:
    """The node under fuzz and the real values its hostile inputs are mutated from."""

    world: World
    node: RunningNode
    log: NodeLog
    record_id: str  # a record of this node, anchored
    cid: str  # its ciphertext
    other_id: str  # a well-formed id of another issuer
    access_tx: str  # a real transaction that is not an access entry (a grant)

    @property
    def url(self) -> str:
        return self.node.url


@pytest.fixture
def target(world: World, tmp_path: Path) -> Iterator[Target]:
    # a high rate limit: the fuzzer signs far more requests a minute than a client may
    node = start_node(world, "hospital_a", tmp_path / "hospital-a", extra_args=("--rate", "100000"))
    log = follow(node)
    try:
        a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(node.workdir / "ws"),
                     world.enc["hospital_a"])  # type: ignore[arg-type]
        alice = Patient(world.ledger, world.sender("alice"), Workspace.local(tmp_path / "alice"),
                        world.enc["alice"])  # type: ignore[arg-type]
        alice.register_key()
        pub = a.publish(alice.patient, b'{"resourceType":"Observation","valueQuantity":5.4}',
                        Category.LAB)
        grant = alice.grant(world.addr("hospital_b"), SCOPE_ALL, [Purpose.TREAT], world.now() + DAY)
        ptr = a.ws.index.get(pub.record_id)
        other = "0x" + world.addr("hospital_b")[2:].lower() + secrets.token_hex(12)
        yield Target(world, node, log, pub.record_id, ptr.cid, other,
                     "0x" + bytes(grant["transactionHash"]).hex())
    finally:
        node.stop()


# -- hostile values --------------------------------------------------------------------------


def _mutations(real: str) -> st.SearchStrategy[str]:
    """One edit of ``real``: a character replaced, inserted or deleted; truncated; doubled."""

    @st.composite
    def edit(draw: st.DrawFn) -> str:
        i = draw(st.integers(0, len(real)))
        c = draw(st.sampled_from(list(HEX + "xXg/.%-_ \x00é")))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "double"]))
        if kind == "replace":
            return real[:i] + c + real[i + 1:]
        if kind == "insert":
            return real[:i] + c + real[i:]
        if kind == "delete":
            return real[:i] + real[i + 1:]
        if kind == "truncate":
            return real[:i]
        return real + real

    return edit()


def record_ids(t: Target) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([t.record_id, t.record_id.upper(), "0X" + t.record_id[2:], t.record_id[2:],
                         t.other_id, "0x" + "00" * 32, "0x" + "ff" * 32, "..", ".", "0x", " ",
                         "%2e%2e", "0x" + "ab" * 31, "0x" + "ab" * 33]),
        _mutations(t.record_id),
        st.text(alphabet=HEX, max_size=70).map(lambda s: "0x" + s),
        st.integers(0, 2**300).map(str),
        st.integers(65, 4000).map(lambda n: "0x" + "a" * n),
        TEXT,
    )


def cids(t: Target) -> st.SearchStrategy[str]:
    digest = "00" * 32
    return weighted(
        (30, st.just(t.cid)),  # the real one, with hostile Range headers
        (15, st.sampled_from([t.cid.upper(), t.cid[1:], "f01551220" + digest,
                              "f01701220" + digest,
                              "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
                              "zQmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "b", "f", "m",
                              "u", "z", "..", "blobs", t.record_id])),
        (25, _mutations(t.cid)),
        (15, st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", max_size=70).map(
            lambda s: "b" + s)),
        (15, TEXT),
    )


def ranges() -> st.SearchStrategy[str | None]:
    n = st.integers(-5, 2**70).map(str)
    return st.one_of(
        st.none(),
        st.sampled_from(["bytes=0-0", "bytes=0-", "bytes=-1", "bytes=5-1", "bytes=999999-",
                         "bytes=0-1,2-3,1-2", "bytes=", "bytes=-", "items=0-1", "bytes=a-b",
                         "bytes=" + ",".join(["0-1"] * 150), "bytes=1-0", "=0-1", "0-1"]),
        st.tuples(n, n).map(lambda ab: f"bytes={ab[0]}-{ab[1]}"),
        HEADER_TEXT,
    )


def json_junk() -> st.SearchStrategy[Any]:
    """JSON values of every type and size, integers well past 2**256."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**300), 2**300),
        st.floats(allow_nan=False, allow_infinity=False), TEXT,
        st.sampled_from(["0x", "0x0", "-1", "1e3", "0x" + "f" * 64, "0x" + "f" * 65, "1" * 90,
                         " 7 ", "0b1", "NaN"]),
    )
    return st.recursive(leaves, lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(TEXT, kids, max_size=4)), max_leaves=12)


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """``one_of`` with weights (percent): where the interesting cases are rare, draw them more."""
    total = sum(w for w, _ in options)

    @st.composite
    def pick(draw: st.DrawFn) -> Any:
        n = draw(st.integers(0, total - 1))
        for w, strategy in options:
            if n < w:
                return draw(strategy)
            n -= w
        raise AssertionError("unreachable")

    return pick()


@st.composite
def crafted_signature(draw: st.DrawFn) -> str:
    """65 bytes r || s || v at and around the edges: r = 0, r >= n (nothing recovers), high s
    (malleable), v outside {0, 1, 27, 28}; most draws otherwise well-formed."""
    r: int = draw(weighted((50, st.sampled_from([0, 1, 5, SECP256K1_N - 1, SECP256K1_N,
                                                   SECP256K1_N + 1, 2**256 - 1])),
                             (50, st.integers(0, 2**256 - 1))))
    s: int = draw(weighted((70, st.integers(1, SECP256K1_N // 2)),
                           (30, st.sampled_from([0, SECP256K1_N // 2 + 1, SECP256K1_N - 1,
                                                 2**256 - 1]))))
    v: int = draw(weighted((80, st.sampled_from([0, 1, 27, 28])),
                           (20, st.sampled_from([2, 29, 255]))))
    return "0x" + r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex() + f"{v:02x}"


def signatures(good: str | None) -> st.SearchStrategy[Any]:
    """Signatures of every shape; ``good`` (a valid one) and near misses of it now and then."""
    options: list[tuple[int, st.SearchStrategy[Any]]] = [
        (35, crafted_signature()),
        (10, st.binary(max_size=200).map(lambda b: "0x" + b.hex())),
        (10, st.text(alphabet=HEX, min_size=1, max_size=300).map(lambda s: "0x" + s)),
        (5, st.sampled_from(["", "0x", "0X1234", "1234", "0xg1", "0x" + "0" * 2050])),
        (5, json_junk()),
    ]
    if good is not None:
        options += [(25, st.just(good)),
                    (10, st.sampled_from([good.upper().replace("0X", "0x"), good[:-2] + "00",
                                          good[:-2], good + "00"]))]
    return weighted(*options)


@st.composite
def message_edits(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with a few fields removed, added or replaced by hostile values."""
    msg = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        name = draw(st.sampled_from(sorted(msg) or ["x"]))
        if kind == "drop":
            msg.pop(name, None)
        elif kind == "add":
            msg[draw(TEXT)] = draw(json_junk())
        else:
            msg[name] = draw(json_junk() | st.sampled_from(
                [0, -1, 2**64, 2**256, 2**256 - 1, int(time.time()) - 1, int(time.time()) + 10**6,
                 str(int(time.time()) + 60), "0x" + "00" * 20, "0x" + "AB" * 20, True, 1.5]))
    return msg


@dataclass(frozen=True)
class Raw:
    """A request built by hand (what a schema cannot describe)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    stream: bool = False  # sent in chunks, without a Content-Length
    declared_length: str | None = None  # a Content-Length header that is not the body's
    #: malformed HTTP framing: uvicorn refuses it (400, plain text) before the app sees it
    framing_error: bool = False

    def __repr__(self) -> str:
        body = "None" if self.body is None else f"{len(self.body)} bytes {self.body[:120]!r}"
        return (f"Raw({self.method} {self.path[:200]!r}, headers={self.headers!r}, body={body}, "
                f"stream={self.stream}, declared_length={self.declared_length!r})")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # how Hypothesis prints a case
        p.text(repr(self))

    def send(self, http: httpx.Client) -> tuple[int, str, bytes]:
        if self.declared_length is not None:  # httpx refuses to send a lying length
            url = httpx.URL(str(http.base_url))
            conn = HTTPConnection(url.host, url.port, timeout=30)
            try:
                conn.putrequest(self.method, self.path)
                conn.putheader("Content-Length", self.declared_length)
                conn.endheaders()
                if self.body:
                    conn.send(self.body)
                r = conn.getresponse()
                return r.status, r.getheader("content-type", ""), r.read()
            finally:
                conn.close()
        content: Any = self.body
        if self.stream and self.body is not None:
            body = self.body
            content = (body[i:i + 8192] for i in range(0, len(body), 8192))
        response = http.request(self.method, self.path, headers=dict(self.headers),
                                content=content)
        return response.status_code, response.headers.get("content-type", ""), response.content


def signed_requests(t: Target) -> st.SearchStrategy[Raw]:
    """Key requests and patient requests, signed or not, with mutated fields."""
    w = t.world
    domain = node_domain(w.chain.chain_id, w.addr("hospital_a"))
    rid = bytes.fromhex(t.record_id[2:])

    @st.composite
    def build(draw: st.DrawFn) -> Raw:
        kind = draw(st.sampled_from(["key", "patient"]))
        deadline = int(time.time()) + draw(weighted((80, st.integers(30, 590)),
                                                    (20, st.sampled_from([-5, 700, 10**6]))))
        request: KeyRequest | PatientRequest
        if kind == "key":
            tx = draw(st.sampled_from([t.access_tx, "0x" + secrets.token_hex(32)]))
            request = KeyRequest(record_id=draw(st.sampled_from([rid, bytes(32)])),
                                 version=draw(st.sampled_from([1, 2, 0])),
                                 purpose=draw(st.sampled_from([int(Purpose.TREAT), 0, 200])),
                                 access_tx=bytes.fromhex(tx[2:]), requester=w.addr("hospital_b"),
                                 nonce=secrets.token_bytes(32), deadline=max(deadline, 0))
            signer, path = "hospital_b", "/keys/release"
        else:
            request = PatientRequest(patient=w.addr("alice"),
                                     action=draw(st.sampled_from([1, 2, 0, 4, 255])),
                                     record_id=draw(st.sampled_from([rid, bytes(32)])),
                                     nonce=secrets.token_bytes(32), deadline=max(deadline, 0))
            signer, path = "alice", "/patients/requests"
        who = draw(st.sampled_from([signer, signer, "attacker"]))
        good = "0x" + sign_request(request, domain, Account.from_key(w.keys[who])).hex()
        exact = request.message_json()
        message: Any = draw(weighted((65, st.just(exact)), (25, message_edits(exact)),
                                     (10, json_junk())))
        body: dict[str, Any] = {"message": message, "signature": draw(signatures(good))}
        if draw(st.integers(0, 9)) == 0:
            body = draw(message_edits(body))
        return Raw("POST", path, (("content-type", "application/json"),),
                   json.dumps(body).encode())

    return build()


def relayed_consents(t: Target) -> st.SearchStrategy[Raw]:
    """Signed consents (real ones by alice, then mutated) to ``/relay``."""
    w = t.world
    signer = ConsentSigner(w.ledger.consent)
    alice = Account.from_key(w.keys["alice"])
    payloads = [signer.grant(alice, w.addr("hospital_b"), secrets.token_bytes(32),
                             [Purpose.HRESCH], w.now() + DAY).to_json() for _ in range(3)]

    @st.composite
    def build(draw: st.DrawFn) -> Raw:
        payload = json.loads(json.dumps(draw(st.sampled_from(payloads))))
        typed = payload["typedData"]
        part = draw(st.sampled_from(["message", "domain", "types", "primaryType", "none", "all"]))
        if part in ("message", "domain"):
            typed[part] = draw(message_edits(typed[part]))
        elif part in ("types", "primaryType"):
            typed[part] = draw(json_junk() | st.sampled_from(["Grant", "Revoke", "KeyRequest"]))
        elif part == "all":
            payload["typedData"] = draw(json_junk())
        payload["signature"] = draw(signatures(payload["signature"]))
        return Raw("POST", "/relay", (("content-type", "application/json"),),
                   json.dumps(payload).encode())

    return build()


def raw_bodies() -> st.SearchStrategy[Raw]:
    """Bodies that are not the JSON a schema describes."""
    digits = b"1" * 5000
    blobs = st.one_of(
        st.binary(max_size=2000),
        st.sampled_from([b"", b"{", b"}", b"[]", b"null", b"\xff\xfe\x00", b'{"message": {}}',
                         b'{"message": 1e999999, "signature": "0x00"}',
                         b'{"message": {"deadline": ' + digits + b'}, "signature": "0x0000"}',
                         b'{"typedData": ' + digits + b', "signature": "0x0000"}',
                         b'{"message": {}, "signature": "0x00", "message": []}',
                         b'{"message": {"a": NaN}, "signature": "0x00"}',
                         b'{"message": {"a": Infinity}, "signature": "0x00"}',
                         b"[" * 3000 + b"]" * 3000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
                         b"x" * (64 * 1024), b"{" + b" " * (64 * 1024 - 2) + b"}",
                         b"x" * (64 * 1024 + 1), b"x" * (200 * 1024)]),
    )
    content_types = st.sampled_from(["application/json", "text/plain", "",
                                     "application/json; charset=latin-1",
                                     "multipart/form-data; boundary=x",
                                     "application/x-www-form-urlencoded", "application/json\x7f"])
    return st.builds(
        lambda path, body, ctype, stream: Raw(
            "POST", path, (("content-type", ctype),) if ctype else (), body, stream),
        st.sampled_from(["/keys/release", "/keys/study", "/patients/requests", "/relay"]), blobs,
        content_types, st.booleans())


def hostile(t: Target) -> dict[str, tuple[int, st.SearchStrategy[Raw]]]:
    """Families of hand-made requests, with their share (percent) of the hand-made half."""
    paths = weighted(
        (40, record_ids(t).map(lambda r: Raw("GET", "/records/" + quote(r, safe="")))),
        (45, st.builds(lambda c, r: Raw("GET", "/blobs/" + quote(c, safe=""),
                                        (("range", r),) if r is not None else ()),
                       cids(t), ranges())),
        (15, st.sampled_from([Raw("GET", "/"), Raw("GET", "/nope"), Raw("POST", "/health"),
                         Raw("DELETE", "/records/" + t.record_id), Raw("PUT", "/keys/release"),
                         Raw("GET", "/keys/release"), Raw("GET", "/blobs/"),
                         Raw("GET", "/records/a/b"), Raw("OPTIONS", "/relay"),
                         Raw("POST", "/relay", declared_length="999999999"),
                         Raw("POST", "/relay", declared_length="-1", framing_error=True),
                         Raw("POST", "/keys/release", body=b"{}", declared_length="1x",
                             framing_error=True),
                         Raw("POST", "/keys/release", body=b"{" * 10, declared_length="2")])),
    )
    return {"ids, CIDs, ranges, methods": (25, paths), "signed requests": (35, signed_requests(t)),
            "relayed consents": (20, relayed_consents(t)), "raw bodies": (20, raw_bodies())}


# -- the run ---------------------------------------------------------------------------------


def _check_refusal(status: int, content_type: str, body: bytes, what: str) -> None:
    assert status < 500, f"{what}: {status} {body[:300]!r}"
    if 400 <= status < 500:
        assert content_type.startswith("application/json"), f"{what}: {status} {content_type}"
        data = json.loads(body)
        assert isinstance(data, dict) and set(data) == {"error", "detail"}, f"{what}: {data}"
        assert isinstance(data["error"], str) and data["error"], f"{what}: {data}"
        assert isinstance(data["detail"], str) and data["detail"], f"{what}: {data}"


def test_every_operation_of_the_openapi_schema_survives_hostile_input(target: Target) -> None:
    t = target
    schema = schemathesis.openapi.from_url(t.url + "/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the node's schema is a valid OpenAPI document
        operations.append(result.ok())
    labels = {op.label for op in operations}
    assert labels == {"GET /health", "GET /identity", "GET /records/{record_id}",
                      "GET /blobs/{cid}", "POST /keys/release", "POST /keys/study",
                      "POST /patients/requests",
                      "POST /relay", "GET /fhir/{resource_type}"}, labels
    # the schema's half: every operation, positive and negative (health and identity take
    # no input: a couple of cases each); then the hand-made half by family
    families: list[tuple[str, int, st.SearchStrategy[Any]]] = []
    with_input = [op for op in operations if op.path_parameters or op.body]
    families += [(f"{op.label} (positive)", 2, op.as_strategy(generation_mode=GenerationMode.POSITIVE))
                 for op in operations if op not in with_input]
    # (a path parameter of type string has no negative value: paths are strings; the
    # hand-made ids and CIDs below are its hostile cases)
    schema_made = [(op, GenerationMode.POSITIVE) for op in with_input]
    schema_made += [(op, GenerationMode.NEGATIVE) for op in with_input if op.body]
    share = (CASES // 2 - 2 * (len(operations) - len(with_input))) // len(schema_made)
    families += [(f"{op.label} ({mode.value})", share, op.as_strategy(generation_mode=mode))
                 for op, mode in schema_made]
    planned = sum(n for _, n, _ in families)
    for name, (percent, strategy) in hostile(t).items():
        families.append((name, (CASES - planned) * percent // 100, strategy))
    families[-1] = (families[-1][0], families[-1][1] + CASES - sum(n for _, n, _ in families),
                    families[-1][2])
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    seen: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    http = httpx.Client(base_url=t.url, timeout=30)

    def one(case: Any) -> None:
        assert t.node.process.poll() is None, "the node died"
        if isinstance(case, Raw):
            status, content_type, body = case.send(http)
            seen[f"{case.method} /{case.path.split('/')[1]}"] += 1
            statuses[status] += 1
            if case.framing_error and status == 400 and content_type.startswith("text/plain"):
                return
            _check_refusal(status, content_type, body, repr(case))
            return
        response = case.call(base_url=t.url, timeout=30)
        seen[case.operation.label] += 1
        statuses[response.status_code] += 1
        _check_refusal(response.status_code, response.headers.get("content-type", [""])[0],
                       response.content, f"{case.operation.label} {case.path_parameters}")
        case.validate_response(response, checks=checks)

    def run() -> None:
        for _name, n, strategy in families:
            settings(max_examples=n, deadline=None, database=None,
                     phases=[Phase.generate, Phase.shrink],
                     suppress_health_check=list(HealthCheck))(given(case=strategy)(one))()

    try:
        run()
    finally:
        http.close()
    print(f"{sum(seen.values())} requests: {dict(seen)}; statuses {dict(sorted(statuses.items()))}")
    assert sum(seen.values()) >= CASES - 5  # (a family whose cases run out may stop early)
    assert all(seen[label] > 0 for label in labels), seen  # every operation was exercised
    assert t.node.process.poll() is None
    assert httpx.get(t.url + "/health", timeout=10).status_code == 200
    assert releases(t.node.workdir) == []  # no access entry, so no key left the node
    t.node.stop()
    assert not t.log.unexpected(), t.log.unexpected()[:5]
