"""De-identification of FHIR R4 resources for research datasets: HIPAA Safe Harbor
(45 CFR 164.514(b)(2)) applied by rules to the structure, per-study pseudonyms for references,
and a k-anonymity report with suppression over quasi-identifiers.

How it works: every element of a resource is walked together with its FHIR type, read from the
``fhir.resources`` R4B models, so a date is found as a date wherever it sits (a backbone
element, an extension's ``valueDateTime``, a contained resource, a Bundle entry). Rules apply
by type (HumanName, Address, ContactPoint, Identifier, Attachment, Annotation, Narrative,
Signature, Reference, Age, date/dateTime/instant, string/markdown, uri/url, id/oid/uuid) and
on a few paths. The default is to drop: free text survives only in coded positions
(``Coding.display``, ``Quantity.unit``, a ``CodeableConcept.text`` that repeats one of its
codings' displays). An element the model does not know is dropped. A required element that a
rule removes becomes the ``data-absent-reason`` extension with the code ``masked``, so the output
is still valid FHIR R4.

See ``docs/deidentification.md`` for the rules table, the tests that prove each rule, and the
limits (rule based, no NLP; k-anonymity is not differential privacy; the institute keeps the
pseudonym key).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import secrets
import types
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from careledger.errors import InvalidInput

#: Standard FHIR extension marking an element whose value is withheld (code ``masked``).
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
#: Extension on a de-identified Patient aged 90 or over: ``valueAge`` ">= 90 years", in place
#: of the birth date (Safe Harbor aggregates all ages over 89 into one category).
AGE_EXTENSION = "https://careledger.org/fhir/StructureDefinition/deid-age"
#: Security label added to every output resource: ``PSEUDED`` (pseudonymised).
SECURITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"

#: The 3-digit ZIP prefixes whose areas hold 20,000 people or fewer (2000 Census, as published
#: by HHS in its de-identification guidance): these become "000".
RESTRICTED_ZIP3: frozenset[str] = frozenset({
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893"})

#: Quasi-identifiers of ``quasi_identifiers()`` rows, and the default of ``k_anonymity``.
DEFAULT_QUASI_IDENTIFIERS: tuple[str, ...] = ("birth_year", "gender", "zip3", "state")

_DOMAIN = b"careledger/research/deid/v1\x00"
_MASKED: dict[str, Any] = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]}
_AGE_90: dict[str, Any] = {"value": 90, "comparator": ">=", "unit": "years",
                           "system": "http://unitsofmeasure.org", "code": "a"}
_PSEUDED = {"system": SECURITY_SYSTEM, "code": "PSEUDED", "display": "pseudonymized"}


class _Drop:
    """Marker: the element is removed."""


_DROP = _Drop()

# --- rules --------------------------------------------------------------------------------

#: Datatypes removed wherever they occur: names, telecom (phone, fax, email, URL), every
#: identifier (SSN, MRN, licence, account, plan, device...), notes, narrative, signatures.
DROPPED_TYPES = frozenset({"HumanName", "ContactPoint", "Identifier", "Annotation", "Narrative",
                           "Signature"})
#: Primitive types kept as they are (coded or numeric values).
KEPT_PRIMITIVES = frozenset({"code", "boolean", "integer", "integer64", "unsignedInt",
                             "positiveInt", "decimal", "time", "canonical"})
#: Free-text or URL positions kept as they are: terminology, units, extension URLs.
KEPT_PATHS = frozenset({
    ("Coding", "system"), ("Coding", "version"), ("Coding", "display"), ("Extension", "url"),
    *((q, k) for q in ("Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity",
                       "MoneyQuantity") for k in ("unit", "system")),
})
#: Elements removed whatever their type: photos, geolocation, device carriers, attachment
#: size and hash (a fingerprint of the document), bundle links (server URLs).
DROPPED_PATHS = frozenset({
    ("Patient", "photo"), ("Practitioner", "photo"), ("RelatedPerson", "photo"),
    ("Person", "photo"), ("Location", "position"), ("Device", "udiCarrier"),
    ("Attachment", "size"), ("Attachment", "hash"), ("Bundle", "link"), ("BundleEntry", "link"),
})
_RESOURCE_URL = re.compile(
    r"(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")
_TYPE_ONLY = re.compile(r"[A-Z][A-Za-z]+")
_YEAR = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_US_ZIP = re.compile(r"\s*(\d{3})\d{2}(?:-?\d{4})?\s*")
_AGE_UNITS = {"a": 1.0, "mo": 12.0, "wk": 52.1775, "d": 365.25}


@dataclass(frozen=True)
class Rules:
    """What ``deidentify`` does where Safe Harbor leaves a choice.

    Attributes:
        reference_date: the date ages are computed at (a living patient's age today; a
            deceased patient's age is taken at death). Dates in a year 90 or more years before
            it are removed (they indicate an age over 89). Fix it for reproducible datasets.
        restricted_zip3: 3-digit ZIP prefixes that become "000".
        keep_coded_text: keep ``CodeableConcept.text`` when it repeats one of its codings'
            displays (not free-typed); any other ``text`` is dropped.
        label: add the ``PSEUDED`` security label to ``meta.security`` of each resource.
    """

    reference_date: date = field(default_factory=date.today)
    restricted_zip3: frozenset[str] = RESTRICTED_ZIP3
    keep_coded_text: bool = True
    label: bool = True


class Pseudonymizer:
    """Per-study pseudonyms for resource ids and references: HMAC-SHA256 keyed by the study key.

    ``Patient/123``, ``urn:uuid:123`` and the resource id ``123`` all map to the same random-
    looking UUID, so references inside a dataset still resolve; the same id maps to the same
    pseudonym in every export of the study (incremental builds link up without a mapping table)
    and to unrelated pseudonyms in another study (another key). Without the key a pseudonym
    cannot be reversed or linked to its source (HMAC-SHA256 is a pseudo-random function).

    # NOTE: HMAC rather than a random mapping table: the key (32 bytes) is the only secret to
    # keep, back up and finally destroy, where a table grows with every patient and is itself
    # data linked to patients. The key stays at the institute and never enters the output
    # (``repr`` hides it); destroying it after the study makes the pseudonyms unlinkable.

    Raises:
        InvalidInput: the key is not bytes of at least 32 bytes.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) < 32:
            raise InvalidInput("a study key is at least 32 random bytes: create one with "
                               "Pseudonymizer.generate() and keep .key at the institute")
        self._key = bytes(key)

    @classmethod
    def generate(cls) -> Pseudonymizer:
        """A pseudonymizer with a fresh random 32-byte study key."""
        return cls(secrets.token_bytes(32))

    @property
    def key(self) -> bytes:
        """The study key: store it at the institute only (never with the dataset)."""
        return self._key

    def __repr__(self) -> str:
        return "Pseudonymizer(<study key withheld>)"

    def _uuid(self, value: str) -> uuid.UUID:
        digest = hmac.new(self._key, _DOMAIN + value.encode(), hashlib.sha256).digest()
        return uuid.UUID(bytes=digest[:16], version=4)

    def id(self, original: str) -> str:
        """The pseudonym of a resource id (a UUID string, a valid FHIR ``id``)."""
        return str(self._uuid(original))

    def oid(self, original: str) -> str:
        """The pseudonym of an OID or DICOM UID, as ``urn:oid:2.25.<integer>``."""
        return f"urn:oid:2.25.{self._uuid(original).int}"

    def reference(self, ref: str) -> str:
        """The pseudonymised form of a reference or full URL.

        ``Type/id`` (relative, absolute or versioned) becomes ``Type/<pseudonym>`` (base URL and
        version dropped), ``urn:uuid:id`` becomes ``urn:uuid:<pseudonym>``, ``#id`` (contained)
        becomes ``#<pseudonym>``; a conditional reference (``Type?identifier=...``) becomes
        ``Type/<pseudonym of the whole query>``; anything else ``urn:uuid:<pseudonym>``.
        """
        if ref.startswith("#"):
            return "#" + self.id(ref[1:]) if len(ref) > 1 else ref
        if ref.startswith("urn:uuid:"):
            return "urn:uuid:" + self.id(ref[9:])
        if ref.startswith("urn:oid:"):
            return self.oid(ref[8:])
        match = _RESOURCE_URL.fullmatch(ref)
        if match:
            return f"{match[1]}/{self.id(match[2])}"
        conditional = re.match(r"([A-Z][A-Za-z]+)\?", ref)
        if conditional:
            return f"{conditional[1]}/{self.id(ref)}"
        return "urn:uuid:" + self.id(ref)


# --- the FHIR structure, from the fhir.resources R4B models ---------------------------------


@dataclass(frozen=True)
class _Field:
    kind: str  # primitive type ("date", "string"...) or model name ("Address", "PatientContact")
    model: type[Any] | None  # the pydantic model of a complex element
    many: bool
    required: bool


@cache
def _resource_model(name: str) -> type[Any] | None:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model: type[Any] = get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError):  # fhir.resources raises ValueError
        return None
    base = get_fhir_model_class("Resource")
    return model if issubclass(model, base) else None


_FIELDS: dict[type[Any], dict[str, _Field]] = {}


def _fields(model: type[Any]) -> dict[str, _Field]:
    known = _FIELDS.get(model)
    if known is not None:
        return known
    out = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get("element_property"):
            continue
        kind, sub, many = _resolve(info.annotation)
        out[info.alias or name] = _Field(kind, sub, many,
                                         info.is_required() or bool(extra.get("element_required")))
    _FIELDS[model] = out
    return out


def _resolve(annotation: Any) -> tuple[str, type[Any] | None, bool]:
    many = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            many = True
            annotation = typing.get_args(annotation)[0]
        else:
            break
    if typing.get_origin(annotation) is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        if base is uuid.UUID:
            return "uuid", None, many
        name = type(meta[-1]).__name__
        return name[0].lower() + name[1:], None, many
    target = getattr(annotation, "_model_klass", None)
    if isinstance(target, str):
        module, _, cls = target.rpartition(".")
        return cls, getattr(importlib.import_module(module), cls), many
    if annotation is bool:
        return "boolean", None, many
    return "unknown", None, many


# --- de-identification ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    p: Pseudonymizer
    rules: Rules
    cutoff: int  # a date in this year or before is removed


def deidentify(resource: Mapping[str, Any], pseudonymizer: Pseudonymizer,
               rules: Rules | None = None) -> dict[str, Any]:
    """A Safe Harbor de-identified copy of one FHIR R4 resource (the input is not changed).

    Names, telecom, identifiers, notes, narrative, photos and free text are removed; addresses
    keep their state, country and 3-digit ZIP; dates keep their year (instants, which cannot
    hold a year alone, are removed); a patient aged 90 or over loses the birth date for an
    age ">= 90" extension; ids and references become per-study pseudonyms. The output
    validates against the ``fhir.resources`` R4B model of its type.

    Args:
        resource: a FHIR R4 resource as JSON (any type, a Bundle included).
        pseudonymizer: the study's pseudonymizer (its key never enters the output).
        rules: choices left open by Safe Harbor; ``Rules()`` by default.

    Returns:
        The de-identified resource as a new JSON dict.

    Raises:
        InvalidInput: ``resource`` is not a JSON object with a known FHIR R4 ``resourceType``.
    """
    rules = rules or Rules()
    ctx = _Ctx(pseudonymizer, rules, rules.reference_date.year - 90)
    out = _resource(resource, ctx)
    if isinstance(out, _Drop):
        raise InvalidInput(f"not a FHIR R4 resource: resourceType "
                           f"{resource.get('resourceType') if isinstance(resource, Mapping) else resource!r}"
                           " is unknown; pass one resource (or a Bundle) as parsed JSON")
    return out


def deidentify_bundle(bundle: Mapping[str, Any], pseudonymizer: Pseudonymizer,
                      rules: Rules | None = None) -> dict[str, Any]:
    """A de-identified copy of a Bundle: every entry's resource, ``fullUrl`` and request URL.

    Entries keep their order; ``fullUrl`` and references are pseudonymised with the same
    function, so the references inside the bundle still resolve.

    Raises:
        InvalidInput: ``bundle`` is not a FHIR Bundle, or an entry holds an unknown resource.
    """
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise InvalidInput("deidentify_bundle takes a FHIR Bundle (resourceType 'Bundle'); use "
                           "deidentify() for a single resource")
    for i, entry in enumerate(bundle.get("entry") or []):
        inner = entry.get("resource") if isinstance(entry, Mapping) else None
        if inner is not None and (not isinstance(inner, Mapping)
                                  or _resource_model(str(inner.get("resourceType"))) is None):
            raise InvalidInput(f"bundle entry {i} is not a FHIR R4 resource: fix or remove it")
    return deidentify(bundle, pseudonymizer, rules)


def _resource(resource: Any, ctx: _Ctx) -> dict[str, Any] | _Drop:
    if not isinstance(resource, Mapping):
        return _DROP
    kind = resource.get("resourceType")
    model = _resource_model(kind) if isinstance(kind, str) else None
    if model is None:
        return _DROP
    body = _object(resource, model, kind, ctx)  # type: ignore[arg-type]
    if kind == "Patient":
        _patient_age(resource, body, ctx)
    if ctx.rules.label:
        meta = body.setdefault("meta", {})
        security = meta.setdefault("security", [])
        if not any(s.get("system") == SECURITY_SYSTEM and s.get("code") == "PSEUDED"
                   for s in security if isinstance(s, dict)):
            security.append(dict(_PSEUDED))
    return {"resourceType": kind, **body}


def _object(obj: Mapping[str, Any], model: type[Any], name: str, ctx: _Ctx) -> dict[str, Any]:
    fields = _fields(model)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "resourceType" or key.startswith("_"):
            continue
        spec = fields.get(key)
        if spec is None:
            continue  # not an element of this type: dropped
        new = _value(value, spec, name, key, ctx)
        if isinstance(new, _Drop):
            if spec.required:
                _mask(out, key, spec)
            continue
        out[key] = new
        ext = obj.get("_" + key)
        if ext is not None and spec.model is None and (
                not spec.many or len(new) == len(value)):
            walked = _primitive_extension(ext, ctx)
            if walked:
                out["_" + key] = walked
    return out


def _mask(out: dict[str, Any], key: str, spec: _Field) -> None:
    masked = {"extension": [dict(e) for e in _MASKED["extension"]]}
    if spec.model is None:
        out["_" + key] = [masked] if spec.many else masked
    else:
        out[key] = [masked] if spec.many else masked


def _primitive_extension(ext: Any, ctx: _Ctx) -> Any:
    element = _datatype("Element")
    if isinstance(ext, list):
        items = [_object(e, element, "Element", ctx) if isinstance(e, Mapping) else None
                 for e in ext]
        return items if any(items) else None
    return _object(ext, element, "Element", ctx) if isinstance(ext, Mapping) else None


@cache
def _datatype(name: str) -> type[Any]:
    from fhir.resources.R4B import get_fhir_model_class

    model: type[Any] = get_fhir_model_class(name)
    return model


def _value(value: Any, spec: _Field, parent: str, key: str, ctx: _Ctx) -> Any:
    where = (parent, key)
    if where in DROPPED_PATHS:
        return _DROP
    if where in KEPT_PATHS:
        return value
    if where == ("BundleEntry", "fullUrl"):
        return ctx.p.reference(value) if isinstance(value, str) else _DROP
    if where == ("BundleEntryRequest", "url"):
        if not isinstance(value, str):
            return _DROP
        return value if _TYPE_ONLY.fullmatch(value) else ctx.p.reference(value)
    if spec.many:
        if not isinstance(value, list):
            return _DROP
        items = [_one(v, spec, ctx) for v in value]
        kept = [i for i in items if not isinstance(i, _Drop)]
        return kept or _DROP
    return _one(value, spec, ctx)


def _one(value: Any, spec: _Field, ctx: _Ctx) -> Any:
    if spec.model is None:
        return _primitive(value, spec.kind, ctx)
    if spec.kind in DROPPED_TYPES or not isinstance(value, Mapping):
        return _DROP
    if spec.kind == "Resource":
        return _resource(value, ctx)
    rule = _TYPE_RULES.get(spec.kind)
    out = rule(value, spec.model, ctx) if rule else _object(value, spec.model, spec.kind, ctx)
    return out or _DROP


def _primitive(value: Any, kind: str, ctx: _Ctx) -> Any:
    if value is None:
        return _DROP
    if kind in ("date", "dateTime"):
        return _year(value, ctx)
    if kind in KEPT_PRIMITIVES:
        return value
    if not isinstance(value, str):
        return _DROP
    if kind == "id":
        return ctx.p.id(value)
    if kind == "oid":
        return ctx.p.oid(value.removeprefix("urn:oid:"))
    if kind == "uuid":
        return "urn:uuid:" + ctx.p.id(value.removeprefix("urn:uuid:"))
    return _DROP  # instant, string, markdown, xhtml, base64Binary, uri, url


def _year(value: Any, ctx: _Ctx) -> str | _Drop:
    match = _YEAR.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) <= ctx.cutoff:
        return _DROP
    return match[1]


def _address(value: Mapping[str, Any], model: type[Any], ctx: _Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {k: value[k] for k in ("use", "type", "state", "country")
                           if isinstance(value.get(k), str)}
    if isinstance(value.get("period"), Mapping):
        period = _object(value["period"], _datatype("Period"), "Period", ctx)
        if period:
            out["period"] = period
    zip3 = _zip3(value.get("postalCode"), value.get("country"), ctx.rules.restricted_zip3)
    if zip3:
        out["postalCode"] = zip3
    return out


def _zip3(postal: Any, country: Any, restricted: frozenset[str]) -> str | None:
    """The first three digits of a US ZIP code ("000" for a restricted prefix); None otherwise."""
    us = country is None or str(country).strip().upper() in (
        "US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA")
    match = _US_ZIP.fullmatch(postal) if isinstance(postal, str) and us else None
    if match is None:
        return None
    return "000" if match[1] in restricted else match[1]


def _reference(value: Mapping[str, Any], model: type[Any], ctx: _Ctx) -> dict[str, Any]:
    out = _object({k: v for k, v in value.items() if k in ("id", "type", "extension")}, model,
                  "Reference", ctx)
    ref = value.get("reference")
    if isinstance(ref, str) and ref:
        out["reference"] = ctx.p.reference(ref)
    return out


def _codeable(value: Mapping[str, Any], model: type[Any], ctx: _Ctx) -> dict[str, Any]:
    out = _object({k: v for k, v in value.items() if k != "text"}, model, "CodeableConcept", ctx)
    text = value.get("text")
    if ctx.rules.keep_coded_text and isinstance(text, str):
        displays = {str(c.get("display", "")).strip().casefold() for c in out.get("coding", [])
                    if isinstance(c, dict)}
        if text.strip().casefold() in displays - {""}:
            out["text"] = text
    return out


def _extension(value: Mapping[str, Any], model: type[Any], ctx: _Ctx) -> dict[str, Any]:
    out = _object(value, model, "Extension", ctx)
    has_content = "extension" in out or any(k.startswith("value") for k in out)
    return out if has_content and "url" in out else {}


def _age(value: Mapping[str, Any], model: type[Any], ctx: _Ctx) -> dict[str, Any]:
    out = _object(value, model, "Age", ctx)
    per_year = _AGE_UNITS.get(str(out.get("code")))
    number = out.get("value")
    if per_year and isinstance(number, (int, float)) and number / per_year > 89:
        return dict(_AGE_90)
    return out


_TYPE_RULES: dict[str, Callable[[Mapping[str, Any], type[Any], _Ctx], dict[str, Any]]] = {
    "Address": _address, "Reference": _reference, "CodeableConcept": _codeable,
    "Extension": _extension, "Age": _age,
}


def _date(value: Any) -> date | None:
    """A (possibly partial) FHIR date; a missing month or day counts as January or the 1st."""
    match = _YEAR.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2] or 1), int(match[3] or 1))
    except ValueError:
        return None


def _patient_age(source: Mapping[str, Any], out: dict[str, Any], ctx: _Ctx) -> None:
    born = _date(source.get("birthDate"))
    if born is None:
        return
    end = _date(source.get("deceasedDateTime")) or ctx.rules.reference_date
    age = end.year - born.year - ((end.month, end.day) < (born.month, born.day))
    if age < 90:
        # NOTE: the exact age decides for the birth date, not the 90-year date cut-off: a
        # patient of 89 keeps the birth year even when that year is at the cut-off.
        out["birthDate"] = f"{born.year:04d}"
    else:
        out.pop("birthDate", None)
        out.pop("_birthDate", None)
        out["extension"] = [*out.get("extension", []),
                            {"url": AGE_EXTENSION, "valueAge": dict(_AGE_90)}]


# --- k-anonymity ----------------------------------------------------------------------------


def quasi_identifiers(patient: Mapping[str, Any]) -> dict[str, str]:
    """The default quasi-identifier row of a de-identified Patient.

    ``birth_year`` (the year, or "90+" for the age extension), ``gender``, ``zip3`` and
    ``state`` (of the first address, the home one if any); "" where absent.

    Raises:
        InvalidInput: ``patient`` is not a Patient resource.
    """
    if not isinstance(patient, Mapping) or patient.get("resourceType") != "Patient":
        raise InvalidInput("quasi_identifiers takes a de-identified Patient resource")
    birth = str(patient.get("birthDate") or "")[:4]
    if any(isinstance(e, Mapping) and e.get("url") == AGE_EXTENSION
           for e in patient.get("extension") or []):
        birth = "90+"
    addresses = [a for a in patient.get("address") or [] if isinstance(a, Mapping)]
    home = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses
                else {})
    return {"birth_year": birth, "gender": str(patient.get("gender") or ""),
            "zip3": str(home.get("postalCode") or ""), "state": str(home.get("state") or "")}


@dataclass(frozen=True)
class KReport:
    """What ``k_anonymity`` did.

    Attributes:
        k: the k asked for.
        k_achieved: the size of the smallest equivalence class among the kept rows (0 when
            no row is kept); at least ``k`` whenever a row is kept.
        suppressed: how many rows were dropped.
        suppressed_rows: their indices in the input.
        class_sizes: the size of every equivalence class of the kept rows, largest first.
        generalisation: per quasi-identifier, how many steps up its hierarchy it was taken
            (0: as given).
        rows: the kept rows, in input order, with their quasi-identifiers generalised (other
            columns untouched, so a pseudonym column says which records survive).
    """

    k: int
    k_achieved: int
    suppressed: int
    suppressed_rows: tuple[int, ...]
    class_sizes: tuple[int, ...]
    generalisation: dict[str, int]
    rows: tuple[dict[str, Any], ...]

    @property
    def satisfied(self) -> bool:
        """Every kept row shares its quasi-identifiers with at least k - 1 others."""
        return self.k_achieved >= self.k or not self.rows


def _band(width: int) -> Callable[[str], str]:
    def band(value: str) -> str:
        if not value.isdigit():
            return value  # "90+" and "" are already categories
        low = int(value) // width * width
        return f"{low}-{low + width - 1}"
    return band


def _same(value: str) -> str:
    return value


def _star(value: str) -> str:
    return "*"


#: Generalisation hierarchies of the default quasi-identifiers (level 0 is the value itself).
HIERARCHIES: dict[str, tuple[Callable[[str], str], ...]] = {
    "birth_year": (_same, _band(5), _band(10), _band(20), _star),
    "zip3": (_same, lambda z: z[:2] + "*" if len(z) == 3 else z, _star),
    "state": (_same, _star),
    "gender": (_same, _star),
}
#: The order in which generalisation is tried: coarser birth years and ZIPs first.
LADDER: tuple[tuple[str, int], ...] = (
    ("birth_year", 1), ("zip3", 1), ("birth_year", 2), ("zip3", 2), ("birth_year", 3),
    ("state", 1), ("birth_year", 4), ("gender", 1))


def k_anonymity(rows: Sequence[Mapping[str, Any]],
                quasi_identifiers: Sequence[str] = DEFAULT_QUASI_IDENTIFIERS, k: int = 5, *,
                max_suppression: float = 0.05, generalise: bool = True) -> KReport:
    """Make ``rows`` k-anonymous over ``quasi_identifiers`` by generalising, then suppressing.

    Generalisation is global (every row the same level), following ``LADDER`` for the
    quasi-identifiers that have a hierarchy in ``HIERARCHIES``; it stops at the first level
    where the rows in classes smaller than ``k`` are at most ``max_suppression`` of all rows
    (or at the top of the ladder). The rows still in classes smaller than ``k`` are then
    suppressed, so every kept row shares its quasi-identifier values with at least ``k - 1``
    other kept rows.

    Args:
        rows: one mapping per record (e.g. ``quasi_identifiers(patient)`` plus a pseudonym).
        quasi_identifiers: the columns an attacker may know.
        k: the least equivalence class size wanted (1 or more).
        max_suppression: the share of rows one accepts to drop rather than generalise further.
        generalise: False to only suppress.

    Returns:
        The report, with the kept rows.

    Raises:
        InvalidInput: k below 1, no quasi-identifiers, max_suppression outside [0, 1], or a
            row without one of the quasi-identifiers.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k must be an integer of 1 or more, not {k!r}")
    qis = tuple(quasi_identifiers)
    if not qis:
        raise InvalidInput("name at least one quasi-identifier")
    if not 0.0 <= max_suppression <= 1.0:
        raise InvalidInput(f"max_suppression is a share of rows in [0, 1], not {max_suppression}")
    for i, row in enumerate(rows):
        missing = [q for q in qis if q not in row]
        if missing:
            raise InvalidInput(f"row {i} has no {', '.join(missing)}: give every row every "
                               "quasi-identifier ('' for unknown)")
    levels = dict.fromkeys(qis, 0)

    def keys() -> list[tuple[str, ...]]:
        return [tuple(HIERARCHIES.get(q, (_same,))[levels[q]](str(row[q])) for q in qis)
                for row in rows]

    def too_small(current: list[tuple[str, ...]]) -> int:
        sizes = Counter(current)
        return sum(1 for key in current if sizes[key] < k)

    current = keys()
    steps = [s for s in LADDER if s[0] in qis] if generalise else []
    for qi, level in steps:
        if too_small(current) <= max_suppression * len(rows):
            break
        if level < len(HIERARCHIES[qi]):
            levels[qi] = level
            current = keys()
    sizes = Counter(current)
    dropped = tuple(i for i, key in enumerate(current) if sizes[key] < k)
    kept = [i for i, key in enumerate(current) if sizes[key] >= k]
    out_rows = tuple({**rows[i], **dict(zip(qis, current[i], strict=True))} for i in kept)
    classes = sorted((n for n in sizes.values() if n >= k), reverse=True)
    return KReport(k=k, k_achieved=min(classes) if classes else 0, suppressed=len(dropped),
                   suppressed_rows=dropped, class_sizes=tuple(classes), generalisation=levels,
                   rows=out_rows)
