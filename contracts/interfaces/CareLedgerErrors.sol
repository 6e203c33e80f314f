// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// Errors raised by more than one CareLedger contract, declared once so that one condition has
// one name and one selector everywhere. They are file-level on purpose: solc puts a file-level
// error into a contract's ABI only when that contract can raise it, so each ABI lists exactly
// the errors its contract may revert with (an error inherited from a shared interface would
// appear in every ABI, raised or not).

/// @notice Thrown when an address that must name an account (a patient, a grantee, a guardian,
/// a genesis member, a proposal's subject, the institution registry) is zero.
error ZeroAddress();

/// @notice Thrown when an X25519 encryption public key is zero: nobody could wrap a record key
/// to it, and zero is what an unregistered key reads as.
error InvalidEncryptionKey();

/// @notice Thrown when `account` must be an admitted, unsuspended institution to act and is not:
/// it was never admitted, is suspended, or was removed.
/// @param account The account that tried to act as an institution (the caller).
error NotActiveInstitution(address account);

/// @notice Thrown when `account` must be a consortium member (active or suspended) and is not:
/// it was never admitted, or it was removed.
/// @param account The account that is not a member (a proposal's subject, or a grantee).
error NotMember(address account);

/// @notice Thrown when an active institution lacks a role bit the action needs.
/// @param account The institution (the caller).
/// @param role The role bit it lacks (see {Roles}).
error MissingRole(address account, uint8 role);
