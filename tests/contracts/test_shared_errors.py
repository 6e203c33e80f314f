"""The errors all three contracts share (contracts/interfaces/CareLedgerErrors.sol): one name and
one selector per condition, listed in exactly the ABIs of the contracts that can raise them."""

from __future__ import annotations

from typing import Any

import pytest

# error -> the contracts that raise it (docs/contract-api.md)
SHARED = {
    "ZeroAddress()": {"InstitutionRegistry", "ConsentRegistry", "RecordRegistry"},
    "InvalidEncryptionKey()": {"InstitutionRegistry", "ConsentRegistry"},
    "NotActiveInstitution(address)": {"InstitutionRegistry", "ConsentRegistry", "RecordRegistry"},
    "NotMember(address)": {"InstitutionRegistry", "ConsentRegistry"},
    "MissingRole(address,uint8)": {"ConsentRegistry", "RecordRegistry"},
}
CONTRACTS = ["InstitutionRegistry", "ConsentRegistry", "RecordRegistry"]
# names that meant one of the shared conditions before they were merged: never again
RETIRED = {"NotActiveMember", "UnknownInstitution"}


def _errors(project: Any, name: str) -> dict[str, list[str]]:
    """Signature -> argument names of every error in the contract's ABI."""
    return {
        f"{e.name}({','.join(i.canonical_type for i in e.inputs)})": [i.name for i in e.inputs]
        for e in getattr(project, name).contract_type.errors
    }


@pytest.mark.parametrize("contract", CONTRACTS)
def test_each_abi_lists_exactly_the_shared_errors_its_contract_raises(project, contract):
    errors = _errors(project, contract)
    listed = {sig for sig in SHARED if sig in errors}
    assert listed == {sig for sig, raisers in SHARED.items() if contract in raisers}
    assert not {sig.split("(")[0] for sig in errors} & RETIRED


def test_a_shared_error_has_the_same_arguments_everywhere(project):
    for sig, raisers in SHARED.items():
        assert len({tuple(_errors(project, c)[sig]) for c in raisers}) == 1, sig
