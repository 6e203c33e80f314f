"""Codes that carry meaning, kept in one place (the FHIR export is a thin layer on top).

- ``Purpose``: HL7 v3 PurposeOfUse (system ``http://terminology.hl7.org/CodeSystem/v3-ActReason``).
- ``Role``: consortium roles, a bitmask; ``InstitutionStatus``, ``RequestStatus`` and
  ``ProposalKind``: the contracts' enums.
- ``Category``: record categories as FHIR/LOINC document classes; on chain as
  ``keccak256(abi.encode("careledger.category", code))`` — a hash of a *public* code, which
  reveals nothing about a patient.
- ``SCOPE_ALL``: the scope that covers every record of a patient.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from careledger.errors import InvalidInput


class Purpose(enum.IntEnum):
    """HL7 PurposeOfUse codes; on chain a ``uint8`` code, sets are ``uint32`` bitmasks."""

    TREAT = 0  # treatment
    ETREAT = 1  # emergency treatment (the only purpose break-glass authorises)
    HPAYMT = 2  # healthcare payment
    HOPERAT = 3  # healthcare operations
    HRESCH = 4  # healthcare research
    PUBHLTH = 5  # public health

    @property
    def bit(self) -> int:
        """This purpose as a one-bit mask."""
        return 1 << int(self)

    @classmethod
    def parse(cls, value: str | int | Purpose) -> Purpose:
        """Accept ``"TREAT"``, ``"treat"``, ``0`` or ``Purpose.TREAT``.

        Raises:
            InvalidInput: not a known code.
        """
        if isinstance(value, Purpose):
            return value
        try:
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                return cls(int(value))
            return cls[value.strip().upper()]
        except (KeyError, ValueError):
            known = ", ".join(p.name for p in cls)
            raise InvalidInput(f"unknown purpose {value!r}; use one of {known}") from None


def purpose_mask(purposes: Iterable[Purpose | str | int]) -> int:
    """Bitmask of a set of purposes.

    Raises:
        InvalidInput: the set is empty or holds an unknown code.
    """
    mask = 0
    for p in purposes:
        mask |= Purpose.parse(p).bit
    if mask == 0:
        raise InvalidInput("grant at least one purpose (e.g. TREAT)")
    return mask


def purposes_of(mask: int) -> list[Purpose]:
    """The purposes set in ``mask``."""
    return [p for p in Purpose if mask & p.bit]


class Role(enum.IntFlag):
    """Consortium roles (``uint8`` bitmask on chain)."""

    PROVIDER = 1
    RESEARCHER = 2
    EMERGENCY = 4

    @classmethod
    def parse(cls, names: str | Iterable[str]) -> Role:
        """``"PROVIDER,EMERGENCY"`` or ``["provider"]`` → a ``Role`` mask."""
        items = names.split(",") if isinstance(names, str) else list(names)
        mask = cls(0)
        for n in items:
            try:
                mask |= cls[n.strip().upper()]
            except KeyError:
                raise InvalidInput(
                    f"unknown role {n!r}; use PROVIDER, RESEARCHER or EMERGENCY"
                ) from None
        if not mask:
            raise InvalidInput("give at least one role")
        return mask


class InstitutionStatus(enum.IntEnum):
    """Membership status in the consortium registry."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REMOVED = 3


class RequestStatus(enum.IntEnum):
    """Status of an access request (``IConsentRegistry.AccessRequest.status``)."""

    PENDING = 0
    APPROVED = 1
    REJECTED = 2


class ProposalKind(enum.IntEnum):
    """What a consortium proposal does when it reaches the threshold."""

    ADMIT = 0
    SUSPEND = 1
    REINSTATE = 2
    REMOVE = 3
    CHANGE_ROLES = 4
    CHANGE_THRESHOLD = 5

    @classmethod
    def parse(cls, value: str | int | ProposalKind) -> ProposalKind:
        """Accept ``"admit"``, ``"change-roles"``, ``4`` or ``ProposalKind.ADMIT``.

        Raises:
            InvalidInput: not a known kind.
        """
        if isinstance(value, ProposalKind):
            return value
        try:
            if isinstance(value, int):
                return cls(value)
            return cls[value.strip().upper().replace("-", "_")]
        except (KeyError, ValueError):
            known = ", ".join(k.name.lower().replace("_", "-") for k in cls)
            raise InvalidInput(f"unknown proposal kind {value!r}; use one of {known}") from None


SCOPE_ALL: bytes = keccak(text="careledger.scope.ALL")


def reason_hash(code: str, salt: bytes) -> bytes:
    """The on-chain form of a reason (break-glass reason code, request reason):
    ``keccak256(abi.encode("careledger.reason", code, salt))``. With a random 16-byte salt kept
    by the institution, a dictionary of codes does not reverse it; the institution can still
    prove the reason later by showing code and salt.

    Raises:
        InvalidInput: the salt is shorter than 16 bytes.
    """
    if len(salt) < 16:
        raise InvalidInput("a reason salt is at least 16 random bytes (secrets.token_bytes(16))")
    return keccak(encode(["string", "string", "bytes"], ["careledger.reason", code, salt]))


def category_code(code: str) -> bytes:
    """On-chain ``bytes32`` for a public category code (a LOINC document class, e.g. ``"11502-2"``)."""
    if not code or len(code) > 64:
        raise InvalidInput("a category code is a short public code such as a LOINC class")
    return keccak(encode(["string", "string"], ["careledger.category", code]))


class Category(str, enum.Enum):
    """Common record categories: LOINC document classes (FHIR ``DocumentReference.type``)."""

    LAB = "11502-2"  # Laboratory report
    IMAGING = "18748-4"  # Diagnostic imaging study
    DISCHARGE = "18842-5"  # Discharge summary
    MEDICATION = "10160-0"  # History of medication use
    VITALS = "8716-3"  # Vital signs (wearable readings)
    NOTE = "11506-3"  # Progress note
    ALLERGY = "48765-2"  # Allergies and adverse reactions

    @property
    def code(self) -> bytes:
        """The category's on-chain ``bytes32``."""
        return category_code(self.value)

    @property
    def document_type(self) -> tuple[str, str]:
        """The LOINC document type (code, display) for FHIR ``DocumentReference.type`` and a
        consent's document types.

        The on-chain code stays ``value``: anchors and grants already bind it, so changing it
        would orphan them. For five categories it is a document type already; MEDICATION
        (10160-0) and VITALS (8716-3) are LOINC *section* codes, exported as the document types
        "Medication summary Document" and "Note"."""
        return _DOCUMENT_TYPES[self.name]

    @classmethod
    def parse(cls, value: str) -> Category:
        """Accept the name (``"LAB"``) or the LOINC code (``"11502-2"``)."""
        for c in cls:
            if value.upper() == c.name or value == c.value:
                return c
        known = ", ".join(f"{c.name} ({c.value})" for c in cls)
        raise InvalidInput(f"unknown category {value!r}; use one of {known}")


_DOCUMENT_TYPES = {
    "LAB": ("11502-2", "Laboratory report"),
    "IMAGING": ("18748-4", "Diagnostic imaging study"),
    "DISCHARGE": ("18842-5", "Discharge summary"),
    "MEDICATION": ("56445-0", "Medication summary Document"),
    "VITALS": ("34109-9", "Note"),
    "NOTE": ("11506-3", "Progress note"),
    "ALLERGY": ("48765-2", "Allergies and adverse reactions Document"),
}

#: Category bytes32 → Category, for reading events back.
CATEGORY_BY_CODE: dict[bytes, Category] = {c.code: c for c in Category}
