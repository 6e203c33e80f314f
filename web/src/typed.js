// EIP-712 typed data exactly as the contract and the SDK hash it (frontend-notes/README.md):
// the seven signed consent actions (domain: the ConsentRegistry's eip712Domain()) and the
// patient's requests to a node (domain: the node's requestDomain from /identity).
import { getAddress, hashTypedData, recoverTypedDataAddress } from "viem";

const DOMAIN_TYPE = [
  { name: "name", type: "string" }, { name: "version", type: "string" },
  { name: "chainId", type: "uint256" }, { name: "verifyingContract", type: "address" },
];

const f = (spec) => spec.split(",").map((item) => {
  const [type, name] = item.trim().split(" ");
  return { name, type };
});

export const TYPES = {
  Grant: f("address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline"),
  Revoke: f("address patient,address grantee,bytes32 scope,address signer,uint256 nonce,uint256 deadline"),
  SetGuardian: f("address patient,address guardian,uint64 expiresAt,uint256 nonce,uint256 deadline"),
  RemoveGuardian: f("address patient,address guardian,uint256 nonce,uint256 deadline"),
  RegisterKey: f("address patient,bytes32 encryptionKey,uint256 nonce,uint256 deadline"),
  AnswerRequest: f("uint256 requestId,address requester,address patient,bytes32 scope,uint8 purpose,bool approve,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline"),
  CloseBreakGlass: f("address patient,address institution,address signer,uint256 nonce,uint256 deadline"),
  PatientRequest: f("address patient,uint8 action,bytes32 recordId,bytes32 nonce,uint256 deadline"),
};

/** A JSON integer as wallets and the SDK expect: a number up to 2^53 - 1, else a decimal string. */
export function jsonInt(value) {
  const v = BigInt(value);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** The eth_signTypedData_v4 JSON of one message (addresses checksummed, integers as JSON ints). */
export function typedData(primaryType, domain, message) {
  const fields = TYPES[primaryType];
  if (!fields) throw new Error(`unknown typed-data type ${primaryType}`);
  const out = {};
  for (const { name, type } of fields) {
    if (!(name in message)) throw new Error(`${primaryType}.${name} is missing`);
    const v = message[name];
    out[name] = type === "address" ? getAddress(v) : type.startsWith("uint") ? jsonInt(v) : v;
  }
  return {
    types: { EIP712Domain: DOMAIN_TYPE, [primaryType]: fields },
    primaryType,
    domain: { name: domain.name, version: domain.version, chainId: jsonInt(domain.chainId),
              verifyingContract: getAddress(domain.verifyingContract) },
    message: out,
  };
}

/** The same typed data with bigints, as viem's hashing and signing functions take it. */
export function forViem(td) {
  const fields = td.types[td.primaryType];
  const message = {};
  for (const { name, type } of fields) {
    message[name] = type.startsWith("uint") ? BigInt(td.message[name]) : td.message[name];
  }
  return { domain: { ...td.domain, chainId: BigInt(td.domain.chainId) },
           types: { [td.primaryType]: fields }, primaryType: td.primaryType, message };
}

/** The EIP-712 digest the contract (or node) checks the signature against. */
export function digest(td) {
  return hashTypedData(forViem(td));
}

/** Who signed `td` (plain accounts; a contract wallet's signature does not recover). */
export function recoverSigner(td, signature) {
  return recoverTypedDataAddress({ ...forViem(td), signature });
}
