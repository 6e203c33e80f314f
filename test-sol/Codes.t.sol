// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {InstitutionStatus, RequestStatus, Roles} from "../contracts/interfaces/CareLedgerTypes.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";
import {IInstitutionRegistry} from "../contracts/interfaces/IInstitutionRegistry.sol";

/// @notice The contracts store and return statuses and roles as uint8 (an enum costs a range check
/// on every storage read and ABI crossing); these tests hold every value they store, return or
/// carry in a revert equal to the shared enums and role bits of
/// contracts/interfaces/CareLedgerTypes.sol, and to the numbers of docs/contract-api.md.
contract CodesTest is Fixture {
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    address internal constant PATIENT = address(0x9a71e47);

    function setUp() public {
        _deploy();
    }

    function test_statusCodesAreTheSharedEnums() public {
        // the numbers are the API (docs/contract-api.md): the enums must never be reordered
        assertEq(uint8(InstitutionStatus.None), 0, "None");
        assertEq(uint8(InstitutionStatus.Active), 1, "Active");
        assertEq(uint8(InstitutionStatus.Suspended), 2, "Suspended");
        assertEq(uint8(InstitutionStatus.Removed), 3, "Removed");
        assertEq(uint8(RequestStatus.Pending), 0, "Pending");
        assertEq(uint8(RequestStatus.Approved), 1, "Approved");
        assertEq(uint8(RequestStatus.Rejected), 2, "Rejected");

        // every institution status the registry stores, through each transition
        assertEq(inst.statusOf(OUTSIDER), uint8(InstitutionStatus.None), "never admitted");
        assertEq(inst.institution(OUTSIDER).status, uint8(InstitutionStatus.None), "never admitted (record)");
        assertEq(inst.statusOf(LAB), uint8(InstitutionStatus.Active), "genesis member");
        _suspend(LAB);
        assertEq(inst.statusOf(LAB), uint8(InstitutionStatus.Suspended), "suspended");
        vm.prank(HOSP_A);
        vm.expectRevert(
            abi.encodeWithSelector(IInstitutionRegistry.InvalidStatus.selector, LAB, uint8(InstitutionStatus.Suspended))
        );
        inst.propose(IInstitutionRegistry.ProposalKind.Suspend, LAB, 0, bytes32(0), bytes32(0), 0);
        _reinstate(LAB);
        assertEq(inst.institution(LAB).status, uint8(InstitutionStatus.Active), "reinstated (record)");
        vm.prank(HOSP_A);
        inst.propose(IInstitutionRegistry.ProposalKind.Remove, LAB, 0, bytes32(0), bytes32(0), 0);
        assertEq(inst.statusOf(LAB), uint8(InstitutionStatus.Removed), "removed");

        // every request status the consent registry stores (ids start at 1)
        vm.prank(HOSP_B);
        uint256 approved = consent.requestAccess(PATIENT, CAT, TREAT, bytes32(0));
        vm.prank(HOSP_B);
        uint256 rejected = consent.requestAccess(PATIENT, CAT, TREAT, bytes32(0));
        assertEq(approved, 1, "first request id");
        assertEq(rejected, 2, "second request id");
        IConsentRegistry.RequestDetails memory a = IConsentRegistry.RequestDetails(approved, HOSP_B, PATIENT, CAT, TREAT);
        IConsentRegistry.RequestDetails memory r = IConsentRegistry.RequestDetails(rejected, HOSP_B, PATIENT, CAT, TREAT);
        assertEq(consent.requestStatus(approved), uint8(RequestStatus.Pending), "pending");
        vm.prank(PATIENT);
        consent.approveRequest(a, uint64(block.timestamp + 1 days));
        assertEq(consent.requestStatus(approved), uint8(RequestStatus.Approved), "approved");
        vm.prank(PATIENT);
        consent.rejectRequest(r);
        assertEq(consent.requestStatus(rejected), uint8(RequestStatus.Rejected), "rejected");
        vm.prank(PATIENT);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.RequestNotPending.selector, rejected, uint8(RequestStatus.Rejected))
        );
        consent.approveRequest(r, uint64(block.timestamp + 1 days));
        vm.prank(PATIENT);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.RequestNotPending.selector, approved, uint8(RequestStatus.Approved))
        );
        consent.rejectRequest(a);
    }

    /// membership(account) returns the stored status (the shared enum), roles and admission
    /// epoch through every transition: suspension and reinstatement keep the epoch, a
    /// re-admission increments it.
    function test_membershipCodesAndEpochs() public {
        _checkMembership(OUTSIDER, InstitutionStatus.None, 0, 0);
        _checkMembership(LAB, InstitutionStatus.Active, ROLE_RESEARCHER, 1);
        _suspend(LAB);
        _checkMembership(LAB, InstitutionStatus.Suspended, ROLE_RESEARCHER, 1);
        _reinstate(LAB);
        _checkMembership(LAB, InstitutionStatus.Active, ROLE_RESEARCHER, 1);
        _remove(LAB);
        _checkMembership(LAB, InstitutionStatus.Removed, ROLE_RESEARCHER, 1);
        _readmit(LAB, ROLE_PROVIDER);
        _checkMembership(LAB, InstitutionStatus.Active, ROLE_PROVIDER, 2);
        assertEq(inst.institution(LAB).epoch, 2, "Institution.epoch");
    }

    function _checkMembership(address who, InstitutionStatus status, uint8 roles, uint32 epoch) internal view {
        (uint8 s, uint8 r, uint32 e) = inst.membership(who);
        assertEq(s, uint8(status), "membership status");
        assertEq(s, inst.statusOf(who), "membership status = statusOf");
        assertEq(r, roles, "membership roles");
        assertEq(e, epoch, "membership epoch");
    }

    function test_roleBitsAreTheSharedOnes() public view {
        assertEq(inst.ROLE_PROVIDER(), Roles.PROVIDER, "provider");
        assertEq(inst.ROLE_RESEARCHER(), Roles.RESEARCHER, "researcher");
        assertEq(inst.ROLE_EMERGENCY(), Roles.EMERGENCY, "emergency");
        assertEq(records.ROLE_PROVIDER(), Roles.PROVIDER, "provider (records)");
        assertEq(Roles.ALL, ROLE_PROVIDER | ROLE_RESEARCHER | ROLE_EMERGENCY, "all roles");
        assertEq(Roles.PROVIDER, ROLE_PROVIDER, "provider = docs");
        assertEq(Roles.RESEARCHER, ROLE_RESEARCHER, "researcher = docs");
        assertEq(Roles.EMERGENCY, ROLE_EMERGENCY, "emergency = docs");
    }
}
