// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "./Test.sol";
import {InstitutionRegistry} from "../../contracts/InstitutionRegistry.sol";
import {ConsentRegistry} from "../../contracts/ConsentRegistry.sol";
import {RecordRegistry} from "../../contracts/RecordRegistry.sol";
import {IInstitutionRegistry} from "../../contracts/interfaces/IInstitutionRegistry.sol";
import {IConsentRegistry} from "../../contracts/interfaces/IConsentRegistry.sol";

/// @notice Deployment of the three contracts plus EIP-712, audit-chain, record-id and anchoring
/// helpers shared by every suite. Genesis consortium (threshold 1, so one active member's
/// proposal executes at once): HOSP_A provider+emergency, HOSP_B provider, LAB researcher,
/// ER emergency. v2 deployment order: InstitutionRegistry, RecordRegistry, then
/// ConsentRegistry(institutions, records).
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
    bytes32 internal constant REMOVE_GUARDIAN_TYPEHASH =
        keccak256("RemoveGuardian(address patient,address guardian,uint256 nonce,uint256 deadline)");
    bytes32 internal constant REGISTER_KEY_TYPEHASH =
        keccak256("RegisterKey(address patient,bytes32 encryptionKey,uint256 nonce,uint256 deadline)");
    bytes32 internal constant ANSWER_REQUEST_TYPEHASH = keccak256(
        "AnswerRequest(uint256 requestId,address requester,address patient,bytes32 scope,uint8 purpose,bool approve,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant CLOSE_BREAK_GLASS_TYPEHASH =
        keccak256("CloseBreakGlass(address patient,address institution,address signer,uint256 nonce,uint256 deadline)");

    // break-glass limits (IConsentRegistry), spelt out independently of the contract
    uint64 internal constant MAX_BREAK_GLASS = 72 hours;
    uint64 internal constant BREAK_GLASS_COOLDOWN = 24 hours;
    uint64 internal constant BREAK_GLASS_PERIOD = 30 days;
    uint64 internal constant BREAK_GLASS_PERIOD_CAP = 7 days;

    // kinds of audit-chain entries (IConsentRegistry.AccessRecorded)
    uint8 internal constant ENTRY_ACCESS = 0;
    uint8 internal constant ENTRY_OPENED = 1;
    uint8 internal constant ENTRY_CLOSED = 2;

    /// @dev Bit 95 of a record id (the top bit of its 12-byte suffix): set for batch members.
    uint256 internal constant BATCH_FLAG = 1 << 95;
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
        r = new RecordRegistry(i);
        c = new ConsentRegistry(i, r);
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

    function _remove(address who) internal {
        vm.prank(who == HOSP_A ? HOSP_B : HOSP_A);
        inst.propose(IInstitutionRegistry.ProposalKind.Remove, who, 0, bytes32(0), bytes32(0), 0);
    }

    /// @dev Re-admit a removed member with `roles` (a new admission epoch).
    function _readmit(address who, uint8 roles) internal {
        vm.prank(who == HOSP_A ? HOSP_B : HOSP_A);
        inst.propose(IInstitutionRegistry.ProposalKind.Admit, who, roles, keccak256(abi.encode("k", who)), bytes32(0), 0);
    }

    function _changeRoles(address who, uint8 roles) internal {
        vm.prank(who == HOSP_A ? HOSP_B : HOSP_A);
        inst.propose(IInstitutionRegistry.ProposalKind.ChangeRoles, who, roles, bytes32(0), bytes32(0), 0);
    }

    function _epochOf(address who) internal view returns (uint32 epoch) {
        (,, epoch) = inst.membership(who);
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
                keccak256("2"),
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

    function _removeGuardianStruct(address patient, address guardian, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(REMOVE_GUARDIAN_TYPEHASH, patient, guardian, nonce, deadline));
    }

    function _registerKeyStruct(address patient, bytes32 key, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(REGISTER_KEY_TYPEHASH, patient, key, nonce, deadline));
    }

    /// @dev AnswerRequest: the request's five fields (all static, so abi.encode of the struct is
    /// the fields in order) followed by approve, expiresAt, signer, nonce, deadline.
    function _answerStruct(
        IConsentRegistry.RequestDetails memory r,
        bool approve,
        uint64 expiresAt,
        address signer,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(abi.encode(ANSWER_REQUEST_TYPEHASH, r), abi.encode(approve, expiresAt, signer, nonce, deadline))
        );
    }

    function _closeStruct(address patient, address institution, address signer, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(CLOSE_BREAK_GLASS_TYPEHASH, patient, institution, signer, nonce, deadline));
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

    // ---------------------------------------------------------------- audit chain (v2)

    /// @dev An entry of the patient's hash chain. All fields are static, so abi.encode(entry) is
    /// abi.encode(uint8 kind, address actor, bytes32 subject, bytes32 detail, uint8 purpose,
    /// uint64 timestamp, uint64 seq, bool viaBreakGlass), the v2 entry encoding.
    struct Entry {
        uint8 kind;
        address actor;
        bytes32 subject;
        bytes32 detail;
        uint8 purpose;
        uint64 timestamp;
        uint64 seq;
        bool viaBreakGlass;
    }

    /// @dev head' = bytes32(bytes24(keccak256(abi.encode(head, patient, keccak256(entry))))).
    function _step(bytes32 prevHead, address patient, Entry memory e) internal pure returns (bytes32) {
        return bytes32(bytes24(keccak256(abi.encode(prevHead, patient, keccak256(abi.encode(e))))));
    }

    /// @dev Kind 0: an access (actor = accessor, subject = record id, detail = category).
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
        Entry memory e;
        e.kind = ENTRY_ACCESS;
        e.actor = accessor;
        e.subject = recordId;
        e.detail = category;
        e.purpose = purpose;
        e.timestamp = timestamp;
        e.seq = seq;
        e.viaBreakGlass = viaBreakGlass;
        return _step(prevHead, patient, e);
    }

    /// @dev Kind 1: a break-glass opening (subject = reason hash, detail = expiresAt, ETREAT, true).
    function _openedStep(
        bytes32 prevHead,
        address patient,
        address institution,
        bytes32 reasonHash,
        uint64 expiresAt,
        uint64 timestamp,
        uint64 seq
    ) internal pure returns (bytes32) {
        Entry memory e;
        e.kind = ENTRY_OPENED;
        e.actor = institution;
        e.subject = reasonHash;
        e.detail = bytes32(uint256(expiresAt));
        e.purpose = ETREAT;
        e.timestamp = timestamp;
        e.seq = seq;
        e.viaBreakGlass = true;
        return _step(prevHead, patient, e);
    }

    /// @dev Kind 2: a break-glass closing (subject = the closer's address, detail = 0, ETREAT, true).
    function _closedStep(
        bytes32 prevHead,
        address patient,
        address institution,
        address closer,
        uint64 timestamp,
        uint64 seq
    ) internal pure returns (bytes32) {
        Entry memory e;
        e.kind = ENTRY_CLOSED;
        e.actor = institution;
        e.subject = bytes32(uint256(uint160(closer)));
        e.purpose = ETREAT;
        e.timestamp = timestamp;
        e.seq = seq;
        e.viaBreakGlass = true;
        return _step(prevHead, patient, e);
    }

    // ---------------------------------------------------------------- record ids and anchors

    /// @dev A single-record id in `issuer`'s namespace: its 20 address bytes then 12 bytes whose
    /// top bit is clear (the rest of `suffix` is kept).
    function _recordId(address issuer, uint96 suffix) internal pure returns (bytes32) {
        return bytes32((uint256(uint160(issuer)) << 96) | (uint256(suffix) & (BATCH_FLAG - 1)));
    }

    /// @dev A batch id: issuer (20 bytes), the batch flag, a 63-bit batch number.
    function _batchId(address issuer, uint64 number) internal pure returns (bytes28) {
        uint256 word = (uint256(uint160(issuer)) << 96) | BATCH_FLAG | (uint256(number & (type(uint64).max >> 1)) << 32);
        return bytes28(bytes32(word));
    }

    /// @dev A batch id with the flag cleared (what anchorBatch must refuse).
    function _unflagged(bytes28 batchId) internal pure returns (bytes28) {
        return bytes28(bytes32(uint256(bytes32(batchId)) & ~BATCH_FLAG));
    }

    /// @dev Member `index` of batch `batchId`: batchId || uint32 index.
    function _memberId(bytes28 batchId, uint32 index) internal pure returns (bytes32) {
        return bytes32(batchId) | bytes32(uint256(index));
    }

    /// @dev The binding leaf, recomputed here (OpenZeppelin's double-hashed standard leaf).
    function _leaf(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(patient, recordId, commitment, category))));
    }

    /// @dev `issuer` anchors a single record (first version) and returns its id.
    function _anchorSingle(address issuer, address patient, uint96 suffix, bytes32 commitment, bytes32 category)
        internal
        returns (bytes32 id)
    {
        id = _recordId(issuer, suffix);
        vm.prank(issuer);
        records.anchor(patient, id, commitment, category, bytes32(0));
    }

    /// @dev The empty proof of a single record.
    function _noProof() internal pure returns (bytes32[] memory) {
        return new bytes32[](0);
    }
}
