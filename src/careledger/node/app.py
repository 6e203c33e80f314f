"""The node's HTTP API (FastAPI): one router per resource, pydantic models for every body, the
SDK's exception tree mapped to status codes and a JSON body ``{"error": ..., "detail": ...}``
by one handler, and request bodies capped before they are parsed.

    GET  /health, /identity                 who this node is; 503 when its chain is unreachable
    GET  /records/{recordId}                the pointer of a record this institution issued
    GET  /blobs/{cid}                       a ciphertext by CID (HTTP Range supported)
    POST /keys/release                      a data key, after an on-chain access entry
    POST /patients/requests                 the patient's list / read / erase, signed
    POST /relay                             a signed consent, submitted with this node's gas
    GET  /fhir/{type}?patient=&target=      FHIR Consent, AuditEvent, DocumentReference,
                                            Provenance (a searchset Bundle), for a signed reader
    GET  /, /page/{file}                    the patient page (static; built by ``make page``)

Every route answers cross-origin requests (CORS, any origin, no credentials): nothing here
trusts the caller's origin or a cookie; what changes state or releases data is signed. That
lets the patient page served by one node read the records other institutions' nodes hold.
"""

from __future__ import annotations

import http
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from hexbytes import HexBytes
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careledger import __version__
from careledger.errors import (
    AccessNotConfirmed,
    AlreadyReleased,
    BlobNotFound,
    CareLedgerError,
    ChainIdMismatch,
    DomainMismatch,
    InvalidInput,
    InvalidSignature,
    MalleableSignature,
    RateLimited,
    RequestReplayed,
    RpcUnavailable,
    SignatureExpired,
    SignatureMismatch,
    SignedRequestMissing,
    TransactionTimeout,
)
from careledger.node.messages import (
    MAX_STUDY_KEYS,
    FhirRead,
    KeyRequest,
    PatientRequest,
    StudyKeysRequest,
)
from careledger.node.service import NodeService, pointer_json
from careledger.store import LocalBlobStore, parse_cid
from careledger.validate import address, bytes32

log = logging.getLogger("careledger.node")

#: Largest request body accepted (a signed request or consent is well under 8 KiB).
MAX_BODY = 64 * 1024

#: The built patient page (``make page`` writes it; not in git).
PAGE_DIR = Path(__file__).with_name("page")
PAGE_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
#: The page loads only its own script and style and talks to nodes (any origin: the issuers'
#: nodes are on chain) and to the wallet, which lives in the page. It writes text only
#: (textContent): Trusted Types make any HTML sink (innerHTML and the like) throw.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self' http: https:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
                               "require-trusted-types-for 'script'; trusted-types 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


class SignedRequestBody(BaseModel):
    """A signed node request: the EIP-712 ``message`` (the node supplies its own domain) and
    the 65-byte signature (or a contract wallet's EIP-1271 signature)."""

    message: dict[str, Any] = Field(description="the typed-data message object")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{2,2048}$", description="0x-hex signature")


class StudyKey(BaseModel):
    """One record of a ``StudyKeysRequest``."""

    recordId: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")
    version: int = Field(ge=1, le=2**64 - 1)


class StudyKeysBody(SignedRequestBody):
    """A signed ``StudyKeysRequest`` and the records it signs (``study_keys_hash``)."""

    records: list[StudyKey] = Field(min_length=1, max_length=MAX_STUDY_KEYS)


class RelayBody(BaseModel):
    """A signed consent as a wallet page posts it."""

    typedData: dict[str, Any]
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{2,2048}$")


class ErrorBody(BaseModel):
    """Every refusal: the error's class name and what to do."""

    error: str
    detail: str


#: The first matching class decides the status code (subclasses before their bases).
STATUS: list[tuple[tuple[type[BaseException], ...], int]] = [
    ((RpcUnavailable, TransactionTimeout), 503),
    ((RateLimited,), 429),
    ((AccessNotConfirmed,), 425),
    ((RequestReplayed, AlreadyReleased), 409),
    ((SignatureExpired, SignatureMismatch, InvalidSignature, MalleableSignature,
      SignedRequestMissing), 401),
    ((DomainMismatch, ChainIdMismatch, InvalidInput), 400),
    ((PermissionError,), 403),
    ((LookupError,), 404),
    ((ValueError,), 400),
]


class PageNotBuilt(LookupError):
    """The page's files are not installed (404)."""


class RangeNotServable(Exception):
    """A Range header outside the ciphertext (416)."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


def status_of(exc: CareLedgerError) -> int:
    """The HTTP status of an SDK error."""
    for classes, status in STATUS:
        if isinstance(exc, classes):
            return status
    return 400


def error_response(status: int, error: str, detail: str) -> JSONResponse:
    """A JSON refusal."""
    return JSONResponse({"error": error, "detail": detail.splitlines()[0] if detail else error},
                        status_code=status)


class BodyLimit:
    """Refuse bodies over ``MAX_BODY`` with 413, by Content-Length and while reading.

    The body is read here, before the app sees the request (it is small: ``MAX_BODY`` at most),
    and replayed to the app: a body that grows past the limit without a Content-Length (chunked)
    is refused with the same JSON 413, never half-parsed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(413, "BodyTooLarge",
                                   f"request bodies are limited to {MAX_BODY} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY):
                await too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > MAX_BODY:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _signed_header(value: str | None) -> tuple[dict[str, Any], bytes]:
    """The message and signature of an ``Authorization: CareLedger <base64url JSON>`` header."""
    import base64
    import binascii
    import json

    if not value or not value.startswith("CareLedger "):
        raise SignedRequestMissing("sign a FhirRead request and send it as `Authorization: "
                                   "CareLedger <base64url of {\"message\": ..., \"signature\": ...}>`")
    token = value.removeprefix("CareLedger ").strip()
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        message, signature = body["message"], body["signature"]
        if not isinstance(message, dict) or not isinstance(signature, str):
            raise TypeError("message must be an object and signature a string")
        return message, bytes(HexBytes(signature))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput(f"the Authorization header is not a signed request: {exc}") from None


def create_app(service: NodeService) -> FastAPI:
    """The ASGI app of one node."""
    app = FastAPI(title="CareLedger node", version=__version__,
                  description="A hospital's CareLedger node: ciphertexts, key release after an "
                              "on-chain access entry, patient requests, consent relaying.")
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 425, 429, 503)}

    @app.exception_handler(CareLedgerError)
    async def _sdk_error(_: Request, exc: CareLedgerError) -> JSONResponse:
        return error_response(status_of(exc), type(exc).__name__, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # unknown paths (404), other methods (405), bodies the framework cannot parse (400)
        try:
            name = http.HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "")
        except ValueError:
            name = "HTTPError"
        response = error_response(exc.status_code, name, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_response(422, "InvalidRequest", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(PageNotBuilt)
    async def _no_page(_: Request, exc: PageNotBuilt) -> JSONResponse:
        return error_response(404, "PageNotBuilt", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s", type(exc).__name__)  # no request data: it may be health data
        return error_response(500, "InternalError", "the node failed; it has logged the error type")

    public = APIRouter(tags=["node"])

    @public.get("/health", responses=responses)
    def health() -> dict[str, Any]:
        """200 with the latest block while the chain answers; 503 when it does not."""
        return service.health()

    @public.get("/identity", responses=responses)
    def identity() -> dict[str, Any]:
        """The institution, chain, deployment, encryption key and request domain of this node."""
        return service.identity()

    records = APIRouter(tags=["records"])

    @records.get("/records/{record_id}", responses=responses)
    def record(record_id: str) -> dict[str, Any]:
        """The pointer of a record this institution issued (check it against the chain)."""
        return pointer_json(service.pointer(bytes32(record_id, "record id")))

    blob_responses: dict[int | str, dict[str, Any]] = {
        **responses,
        200: {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                   "format": "binary"}}},
              "description": "the ciphertext"},
        206: {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                   "format": "binary"}}},
              "description": "the requested byte range of the ciphertext"},
        416: {"model": ErrorBody, "description": "a Range outside the ciphertext"},
    }

    @records.get("/blobs/{cid}", responses=blob_responses, response_class=FileResponse)
    def blob(cid: str, request: Request) -> Response:
        """The ciphertext stored under ``cid`` (content-addressed; HTTP Range supported): its
        file, or its bytes from a pack of a Merkle batch (``store.packs``)."""
        parsed = parse_cid(cid)
        store = service.ws.blobs
        if not isinstance(store, LocalBlobStore):
            raise InvalidInput("this node's blob store does not serve files")
        path = store.path_of(parsed)
        try:
            stat = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            stat = None
        http_range = request.headers.get("range")
        if stat is None or not path.is_file():
            try:
                data = store.get(cid)  # verified against the CID
            except BlobNotFound:
                raise BlobNotFound(f"no blob {cid} here") from None
            return _bytes_response(data, _ranges(http_range, len(data)))
        # Starlette answers a bad Range with plain text: check it here, refuse it in JSON
        _ranges(http_range, stat.st_size)
        return FileResponse(path, media_type="application/octet-stream", stat_result=stat)

    @app.exception_handler(RangeNotServable)
    async def _range(_: Request, exc: RangeNotServable) -> JSONResponse:
        response = error_response(416, "RangeNotSatisfiable", str(exc))
        response.headers["content-range"] = f"bytes */{exc.size}"
        return response

    keys = APIRouter(tags=["keys"])

    @keys.post("/keys/release", responses=responses)
    def release(body: SignedRequestBody) -> dict[str, Any]:
        """Release a data key after an on-chain access entry (see the service's checks)."""
        request = KeyRequest.from_message_json(body.message)
        return service.release_key(request, bytes(HexBytes(body.signature)))

    @keys.post("/keys/study", responses=responses)
    def release_study(body: StudyKeysBody) -> dict[str, Any]:
        """Release the keys of many records of one study access transaction, for one signed
        request (``StudyKeysRequest``; see the service's checks): ``{"keys": [{record,
        wrappedKey}, ...]}`` in the order asked."""
        request = StudyKeysRequest.from_message_json(body.message)
        records = [(bytes.fromhex(r.recordId[2:]), r.version) for r in body.records]
        return service.release_study_keys(request, bytes(HexBytes(body.signature)), records)

    patients = APIRouter(tags=["patients"])

    @patients.post("/patients/requests", responses=responses)
    def patient_request(body: SignedRequestBody) -> dict[str, Any]:
        """The patient lists its records here, reads one, or erases one (signed by the patient)."""
        request = PatientRequest.from_message_json(body.message)
        return service.patient_request(request, bytes(HexBytes(body.signature)))

    relay = APIRouter(tags=["relay"])

    @relay.post("/relay", responses=responses)
    def relay_consent(body: RelayBody) -> dict[str, Any]:
        """Submit a signed consent (any of the ConsentRegistry's signed types), paying its gas."""
        result = service.relay({"typedData": body.typedData, "signature": body.signature})
        return {"txHash": result.tx_hash, "gasUsed": result.gas_used,
                "appliedByUs": result.applied_by_us, "block": result.block_number}

    page = APIRouter(tags=["page"])

    def page_file(name: str, media_type: str) -> FileResponse:
        path = PAGE_DIR / name
        if not path.is_file():
            raise PageNotBuilt("the patient page is not built in this installation: run "
                               "`make page` in the source tree (npm packages, esbuild)")
        return FileResponse(path, media_type=media_type, headers=PAGE_HEADERS)

    @page.get("/", response_class=FileResponse, include_in_schema=False)
    def index() -> FileResponse:
        """The patient page."""
        return page_file("index.html", "text/html; charset=utf-8")

    @page.get("/page/{name}", response_class=FileResponse, include_in_schema=False)
    def asset(name: str) -> FileResponse:
        """The page's script and style."""
        if name not in PAGE_FILES:
            raise BlobNotFound(f"no page file {name!r}")
        return page_file(name, PAGE_FILES[name])

    fhir = APIRouter(tags=["fhir"])

    @fhir.get("/fhir/{resource_type}", responses=responses)
    def fhir_search(resource_type: str, request: Request, patient: str | None = None,
                    target: str | None = None, fhirVersion: str = "4.3") -> JSONResponse:
        """A searchset Bundle of the patient's ``Consent`` (R4B, or R5 with
        ``fhirVersion=5.0``), ``AuditEvent``, ``DocumentReference`` or ``Provenance`` (by
        ``target=DocumentReference/<id>``) resources. Signed: ``Authorization: CareLedger
        <base64url of {"message": FhirRead, "signature": "0x..."}>``."""
        message, signature = _signed_header(request.headers.get("authorization"))
        read = FhirRead.from_message_json(message)
        if patient is not None and address(patient, "patient") != read.patient:
            raise InvalidInput("the patient in the query is not the one the request was signed for")
        version = {"4.3": "R4B", "R4B": "R4B", "5.0": "R5", "R5": "R5"}.get(fhirVersion)
        if version is None:
            raise InvalidInput(f"fhirVersion {fhirVersion!r}: use 4.3 (R4B) or 5.0 (R5)")
        found = service.fhir_search(read, signature, resource_type=resource_type, target=target,
                                    version=version)
        base = str(request.base_url).rstrip("/")
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                  "entry": [{"fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}",
                             "resource": r, "search": {"mode": "match"}} for r in found]}
        return JSONResponse(bundle, media_type="application/fhir+json")

    for router in (public, records, keys, patients, relay, fhir, page):
        app.include_router(router)
    app.add_middleware(BodyLimit)
    # outermost: preflights are answered before the body limit reads anything
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=False,
                       allow_methods=["GET", "POST"],
                       allow_headers=["content-type", "range", "authorization"],
                       expose_headers=["content-range", "content-length"], max_age=600)
    return app


def _ranges(http_range: str | None, size: int) -> list[tuple[int, int]] | None:
    """The ``[start, end)`` ranges a Range header asks of ``size`` bytes (``None``: no header).

    Raises:
        InvalidInput: a malformed header.
        RangeNotServable: no such range.
    """
    if http_range is None:
        return None
    try:
        return FileResponse._parse_range_header(http_range, size)
    except MalformedRangeHeader as exc:
        raise InvalidInput(f"bad Range header: {exc.content}") from None
    except RangeNotSatisfiable:
        raise RangeNotServable(f"the ciphertext has {size} bytes: no such range", size) from None


def _bytes_response(data: bytes, ranges: list[tuple[int, int]] | None) -> Response:
    """``data`` (a packed blob) as ``FileResponse`` would serve a file of it: whole, one range
    (206, Content-Range) or several (206, multipart/byteranges)."""
    media = "application/octet-stream"
    headers = {"accept-ranges": "bytes"}
    if not ranges:
        return Response(data, media_type=media, headers=headers)
    size = len(data)
    if len(ranges) == 1:
        start, end = ranges[0]
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        return Response(data[start:end], status_code=206, media_type=media, headers=headers)
    boundary = secrets.token_hex(13)
    parts = [f"--{boundary}\r\nContent-Type: {media}\r\nContent-Range: bytes {start}-{end - 1}"
             f"/{size}\r\n\r\n".encode() + data[start:end] + b"\r\n" for start, end in ranges]
    parts.append(f"--{boundary}--".encode())
    return Response(b"".join(parts), status_code=206, headers=headers,
                    media_type=f"multipart/byteranges; boundary={boundary}")
