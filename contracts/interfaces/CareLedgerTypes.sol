// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// Codes shared by the three CareLedger contracts, defined once. The contracts store, return and
// revert with statuses as `uint8` holding these enums' values rather than as the enum types, because
// solc range-checks every enum read from storage and every enum crossing the ABI (gas on each call
// that asks about an institution). The numbers are therefore part of the contract API: never
// reorder the members (test-sol/Codes.t.sol holds the contracts to them).

/// @notice Where an account stands in the consortium (`IInstitutionRegistry.statusOf`):
/// 0 None (never admitted), 1 Active, 2 Suspended, 3 Removed. Only Active members act anywhere;
/// Active and Suspended members are "members" (they may receive grants).
enum InstitutionStatus {
    None,
    Active,
    Suspended,
    Removed
}

/// @notice The life of an access request (`IConsentRegistry.getRequest`): 0 Pending until the
/// patient or a guardian answers it once, then 1 Approved or 2 Rejected for good.
enum RequestStatus {
    Pending,
    Approved,
    Rejected
}

/// @title Roles — the institution role bits
/// @notice Roles are a `uint8` bitmask, not an enum, because one institution may hold several
/// (a hospital that is both PROVIDER and EMERGENCY) and `hasRole` asks for every bit of a mask.
library Roles {
    /// @notice May anchor records (`IRecordRegistry.anchor`, `anchorBatch`).
    uint8 internal constant PROVIDER = 1;
    /// @notice A research institute. No contract gates an action on this bit: requests are open
    /// to every active member and the patient decides; it tells patients who is asking.
    uint8 internal constant RESEARCHER = 2;
    /// @notice May open break-glass access (`IConsentRegistry.breakGlass`).
    uint8 internal constant EMERGENCY = 4;
    /// @notice Every defined bit (PROVIDER | RESEARCHER | EMERGENCY = 7); a role mask with any
    /// other bit is refused, so a later role cannot be pre-assigned by accident.
    uint8 internal constant ALL = PROVIDER | RESEARCHER | EMERGENCY;
}
