"""A small typed client of a node's HTTP API (``httpx``, timeouts and retries set explicitly).

A node's refusal arrives as the same exception class the node raised (``AccessNotAuthorized``,
``RequestReplayed``...), by name from its JSON body; an unreachable node is ``NodeUnavailable``.
Nothing a node says is trusted alone: pointers are checked against the chain, blobs against
their CID and commitment, by the caller (``careledger.actors``).
"""

from __future__ import annotations

import time
from typing import Any, Self

import httpx

from careledger import errors
from careledger.consent import SignedConsent
from careledger.consent.messages import SignedType
from careledger.crypto import WrappedKey
from careledger.errors import BlobCorrupted, CareLedgerError, NodeRefusal, NodeUnavailable
from careledger.node.service import pointer_from_json
from careledger.store import RecordPointer, compute_cid


class NodeClient:
    """The API of one node.

    Args:
        url: the node's base URL (``InstitutionRegistry.endpointOf`` its institution).
        timeout: seconds per request.
        retries: extra attempts when the node cannot be reached (connection refused, timeout).
    """

    def __init__(self, url: str, *, timeout: float = 10.0, retries: int = 2) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"NodeClient({self.url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                # A request that never reached the node (no connection) is retried; one that may
                # have reached it (the connection broke while it was sent or answered) is retried
                # only if it is a read: a signed POST the node may have acted on would come back
                # as a replay (409), hiding that the node went away.
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if attempt == self.retries or not (never_sent or method == "GET"):
                    raise NodeUnavailable(
                        f"node {self.url} did not answer ({type(exc).__name__}): check that it "
                        "runs, or retry later" + ("" if never_sent else
                                                  "; a signed request may have been acted on: "
                                                  "sign a new one")) from exc
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code < 400:
                return response
            raise _refusal(self.url, response)
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    # -- API ------------------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """The node's institution, chain, deployment, encryption key and request domain."""
        data: dict[str, Any] = self._json("GET", "/identity")
        return data

    def health(self) -> dict[str, Any]:
        """The node's chain connection (``NodeUnavailable`` when it is down)."""
        data: dict[str, Any] = self._json("GET", "/health")
        return data

    def pointer(self, record_id: bytes) -> RecordPointer:
        """The pointer of a record the node's institution issued (unverified: check it)."""
        return pointer_from_json(self._json("GET", f"/records/0x{record_id.hex()}"))

    def blob(self, cid: str) -> bytes:
        """The ciphertext under ``cid``, checked against the CID.

        Raises:
            BlobCorrupted: the node returned bytes that do not hash to ``cid``.
        """
        data = self._send("GET", f"/blobs/{cid}").content
        if compute_cid(data) != cid:
            raise BlobCorrupted(f"node {self.url} returned bytes that are not blob {cid}")
        return data

    def release_key(self, request: SignedType, signature: bytes) -> tuple[RecordPointer, WrappedKey]:
        """Ask for a data key after the access entry named in ``request``."""
        data = self._json("POST", "/keys/release", json=_signed_body(request, signature))
        return pointer_from_json(data["record"]), WrappedKey.from_bytes(
            bytes.fromhex(data["wrappedKey"][2:]))

    def release_study_keys(self, request: SignedType, signature: bytes,
                           records: list[tuple[bytes, int]]) -> list[tuple[RecordPointer, WrappedKey]]:
        """Ask for the keys of many records of one study access transaction (the records the
        signed ``StudyKeysRequest`` names, in the same order)."""
        body = {**_signed_body(request, signature),
                "records": [{"recordId": "0x" + rid.hex(), "version": v} for rid, v in records]}
        data = self._json("POST", "/keys/study", json=body)
        return [(pointer_from_json(k["record"]), WrappedKey.from_bytes(
            bytes.fromhex(k["wrappedKey"][2:]))) for k in data["keys"]]

    def patient_request(self, request: SignedType, signature: bytes) -> dict[str, Any]:
        """A patient's signed list / read / erase."""
        data: dict[str, Any] = self._json("POST", "/patients/requests",
                                          json=_signed_body(request, signature))
        return data

    def fhir_search(self, resource_type: str, request: SignedType, signature: bytes, *,
                    target: str | None = None, fhir_version: str = "4.3") -> dict[str, Any]:
        """``GET /fhir/{resource_type}`` with a signed ``FhirRead``: a searchset Bundle."""
        import base64
        import json

        token = base64.urlsafe_b64encode(json.dumps(_signed_body(request, signature)).encode())
        params = {"fhirVersion": fhir_version, **({"target": target} if target else {})}
        data: dict[str, Any] = self._json(
            "GET", f"/fhir/{resource_type}", params=params,
            headers={"authorization": "CareLedger " + token.decode().rstrip("=")})
        return data

    def relay(self, signed: SignedConsent) -> dict[str, Any]:
        """Have the node submit a signed consent (it pays the gas)."""
        data: dict[str, Any] = self._json("POST", "/relay", json=signed.to_json())
        return data


def _signed_body(request: SignedType, signature: bytes) -> dict[str, Any]:
    return {"message": request.message_json(), "signature": "0x" + signature.hex()}


def _refusal(url: str, response: httpx.Response) -> CareLedgerError:
    try:
        body = response.json()
        name, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        name, detail = "", response.text[:200]
    if response.status_code == 503:
        return NodeUnavailable(f"node {url}: {detail} (its chain connection is down): retry later")
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, CareLedgerError):
        exc = cls(f"node {url}: {detail}")
        if isinstance(exc, errors.ContractRevert):
            exc.error_name = name
        return exc
    return NodeRefusal(f"node {url} answered {response.status_code} {name}: {detail}")
