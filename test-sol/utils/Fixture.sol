// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "./Test.sol";
import {InstitutionRegistry} from "../../contracts/InstitutionRegistry.sol";
import {ConsentRegistry} from "../../contracts/ConsentRegistry.sol";
import {RecordRegistry} from "../../contracts/RecordRegistry.sol";
import {IInstitutionRegistry} from "../../contracts/interfaces/IInstitutionRegistry.sol";

/// @notice Deployment of the three contracts plus EIP-712 helpers shared by every suite.
/// Genesis consortium (threshold 1, so one active member's proposal executes at once):
/// HOSP_A provider+emergency, HOSP_B provider, LAB researcher, ER emergency.
abstract contract Fixture is Test {
    uint8 internal constant ROLE_PROVIDER = 1;
    uint8 internal constant ROLE_RESEARCHER = 2;
    uint8 internal constant ROLE_EMERGENCY = 4;
    uint8 internal constant TREAT = 0;
    uint8 internal constant ETREAT = 1;
    uint8 internal constant MAX_PURPOSE = 5;
    uint32 internal constant ALL_PURPOSES = 63;

    bytes32 internal constant SCOPE_ALL = keccak256("careledger.scope.ALL");
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,uint256 deadline)");
    bytes32 internal constant SET_GUARDIAN_TYPEHASH =
        keccak256("SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,uint256 deadline)");
    /// @dev secp256k1 group order: a valid ECDSA key is in [1, N-1].
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    uint256 internal constant T0 = 1_700_000_000;

    address internal constant HOSP_A = address(uint160(uint256(keccak256("careledger.test.HOSP_A"))));
    address internal constant HOSP_B = address(uint160(uint256(keccak256("careledger.test.HOSP_B"))));
    address internal constant LAB = address(uint160(uint256(keccak256("careledger.test.LAB"))));
    address internal constant ER = address(uint160(uint256(keccak256("careledger.test.ER"))));
    address internal constant OUTSIDER = address(uint160(uint256(keccak256("careledger.test.OUTSIDER"))));

    InstitutionRegistry internal inst;
    ConsentRegistry internal consent;
    RecordRegistry internal records;

    function _deploy() internal {
        vm.warp(T0);
        (inst, consent, records) = _deployAll();
    }

    function _deployAll() internal returns (InstitutionRegistry i, ConsentRegistry c, RecordRegistry r) {
        address[] memory genesis = new address[](4);
        uint8[] memory roles = new uint8[](4);
        bytes32[] memory keys = new bytes32[](4);
        bytes32[] memory meta = new bytes32[](4);
        (genesis[0], roles[0]) = (HOSP_A, ROLE_PROVIDER | ROLE_EMERGENCY);
        (genesis[1], roles[1]) = (HOSP_B, ROLE_PROVIDER);
        (genesis[2], roles[2]) = (LAB, ROLE_RESEARCHER);
        (genesis[3], roles[3]) = (ER, ROLE_EMERGENCY);
        for (uint256 k = 0; k < 4; ++k) {
            keys[k] = keccak256(abi.encode("x25519", k));
            meta[k] = keccak256(abi.encode("meta", k));
        }
        i = new InstitutionRegistry(genesis, roles, keys, meta, 1, 7 days);
        c = new ConsentRegistry(i);
        r = new RecordRegistry(i);
    }

    /// @dev One active member suspends / reinstates `who` (threshold 1: executes at once).
    function _suspend(address who) internal {
        vm.prank(who == HOSP_A ? HOSP_B : HOSP_A);
        inst.propose(IInstitutionRegistry.ProposalKind.Suspend, who, 0, bytes32(0), bytes32(0), 0);
    }

    function _reinstate(address who) internal {
        vm.prank(who == HOSP_A ? HOSP_B : HOSP_A);
        inst.propose(IInstitutionRegistry.ProposalKind.Reinstate, who, 0, bytes32(0), bytes32(0), 0);
    }

    // ---------------------------------------------------------------- keys

    function _pk(string memory name) internal pure returns (uint256) {
        return uint256(keccak256(bytes(name))) % (SECP256K1_N - 1) + 1;
    }

    // ---------------------------------------------------------------- EIP-712

    function _domain(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256("CareLedger ConsentRegistry"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
    }

    /// @dev The EIP-712 Grant message (all fields static: abi.encode(m) is the fields in order).
    struct GrantMsg {
        address patient;
        address grantee;
        bytes32 scope;
        uint32 purposes;
        uint64 expiresAt;
        address signer;
        uint256 nonce;
        uint256 deadline;
    }

    function _grantHash(GrantMsg memory m) internal pure returns (bytes32) {
        return keccak256(abi.encode(GRANT_TYPEHASH, m));
    }

    function _grantStruct(
        address patient,
        address grantee,
        bytes32 scope,
        uint32 purposes,
        uint64 expiresAt,
        address signer,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(GRANT_TYPEHASH, patient, grantee, scope, purposes, expiresAt, signer, nonce, deadline));
    }

    function _revokeStruct(address patient, address grantee, bytes32 scope, address signer, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantee, scope, signer, nonce, deadline));
    }

    function _guardianStruct(address patient, address guardian, uint64 expiresAt, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(SET_GUARDIAN_TYPEHASH, patient, guardian, expiresAt, nonce, deadline));
    }

    function _sign(uint256 pk, bytes32 domainSeparator, bytes32 structHash) internal pure returns (bytes memory) {
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The same signature with s' = n - s and the other v: valid for ecrecover, rejected by
    /// OpenZeppelin ECDSA (malleability).
    function _highS(bytes memory sig) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    // ---------------------------------------------------------------- audit chain

    /// @dev The chain step of IConsentRegistry.AccessRecorded, recomputed independently.
    function _auditStep(
        bytes32 prevHead,
        address patient,
        address accessor,
        bytes32 recordId,
        bytes32 category,
        uint8 purpose,
        uint64 timestamp,
        uint64 seq,
        bool viaBreakGlass
    ) internal pure returns (bytes32) {
        bytes32 entryHash = keccak256(abi.encode(accessor, recordId, category, purpose, timestamp, seq, viaBreakGlass));
        return bytes32(bytes24(keccak256(abi.encode(prevHead, patient, entryHash))));
    }

    /// @dev A record id in `issuer`'s namespace: its 20 address bytes then 12 chosen bytes.
    function _recordId(address issuer, uint96 suffix) internal pure returns (bytes32) {
        return bytes32((uint256(uint160(issuer)) << 96) | uint256(suffix));
    }
}
