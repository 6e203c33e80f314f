// The patient's side of CareLedger's envelope encryption, in the browser (same formats as
// careledger.crypto: keyfile.py and envelope.py). The private key is kept in memory only.
//
//   key file:   scrypt(password, salt, n, r=8, p) -> AES-256-GCM key; associated data = the
//               canonical JSON (sorted keys, no spaces) of every field but "ciphertext"
//   wrapped key: "CLWK" 01 01 || recipient (32) || enc (32) || HPKE ciphertext (48);
//               HPKE base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM,
//               info = "careledger/wrap/v1" || recordId || version (u64 BE) || patient || recipient
//   envelope:    "CLEV" 01 01 || nonce (12) || ciphertext || tag; AES-256-GCM with
//               associated data "careledger/record/v1" || recordId || version || patient
import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { x25519 } from "@noble/curves/ed25519.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { bytesToHex, hexToBytes, keccak256 } from "viem";

export class CryptoProblem extends Error {
  constructor(code, detail) { super(detail || code); this.code = code; }
}

const utf8 = (s) => new TextEncoder().encode(s);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const u64 = (v) => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
};
const fromHex = (h, length) => {
  const bytes = hexToBytes(h.startsWith("0x") ? h : `0x${h}`);
  if (length !== undefined && bytes.length !== length) throw new CryptoProblem("malformed", `expected ${length} bytes`);
  return bytes;
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Python's json.dumps(obj, sort_keys=True, separators=(",", ":")) for the key file header. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${asciiJson(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return typeof value === "string" ? asciiJson(value) : JSON.stringify(value);
}
function asciiJson(s) {  // ensure_ascii=True
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

async function aesGcmOpen(key, nonce, ciphertext, associatedData) {
  const k = await crypto.subtle.importKey("raw", key, { name: "AES-GCM" }, false, ["decrypt"]);
  return new Uint8Array(await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: nonce, additionalData: associatedData, tagLength: 128 }, k, ciphertext));
}

/** Open a key file (its text) with its password; returns {privateKey, publicKey} (bytes). */
export async function openKeyFile(text, password, onProgress) {
  let doc;
  try { doc = JSON.parse(text); } catch { throw new CryptoProblem("notKeyFile"); }
  if (!doc || doc.format !== "careledger-x25519-key" || doc.version !== 1
      || doc.kdf !== "scrypt" || doc.cipher !== "aes-256-gcm" || !doc.kdfparams) {
    throw new CryptoProblem("notKeyFile");
  }
  const { n, r, p, salt } = doc.kdfparams;
  if (!(n >= 2 ** 14 && n <= 2 ** 22 && (n & (n - 1)) === 0 && r === 8 && p >= 1 && p <= 16)) {
    throw new CryptoProblem("notKeyFile", "implausible scrypt parameters");
  }
  if (!password) throw new CryptoProblem("wrongPassword");
  const header = { ...doc };
  delete header.ciphertext;
  let privateKey;
  try {
    const kek = await scryptAsync(utf8(password), fromHex(salt), { N: n, r, p, dkLen: 32, onProgress });
    privateKey = await aesGcmOpen(kek, fromHex(doc.nonce, 12), fromHex(doc.ciphertext), utf8(canonical(header)));
  } catch (e) {
    if (e instanceof CryptoProblem) throw e;
    throw new CryptoProblem("wrongPassword");
  }
  const publicKey = x25519.getPublicKey(privateKey);
  if (!equal(publicKey, fromHex(doc.public_key, 32))) throw new CryptoProblem("notKeyFile", "key mismatch");
  return { privateKey, publicKey, publicHex: bytesToHex(publicKey) };
}

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

function binding(recordId, version, patient) {
  return concat(fromHex(recordId, 32), u64(version), fromHex(patient, 20));
}

/** Unwrap a data key released to this patient (the node's "wrappedKey", 0x-hex). */
export async function unwrapDataKey(wrappedHex, pointer, key) {
  const w = fromHex(wrappedHex);
  if (w.length !== 6 + 32 + 32 + 48 || !equal(w.slice(0, 4), utf8("CLWK")) || w[4] !== 1 || w[5] !== 1) {
    throw new CryptoProblem("malformed", "not a CareLedger wrapped key");
  }
  const recipient = w.slice(6, 38);
  if (!equal(recipient, key.publicKey)) throw new CryptoProblem("notForMe");
  const info = concat(utf8("careledger/wrap/v1"), binding(pointer.recordId, pointer.version, pointer.patient), recipient);
  const recipientKey = await suite.kem.importKey("raw", key.privateKey.slice().buffer, false);
  const ctx = await suite.createRecipientContext({ recipientKey, enc: w.slice(38, 70).buffer, info: info.buffer });
  try {
    return new Uint8Array(await ctx.open(w.slice(70).buffer));
  } catch {
    throw new CryptoProblem("unwrapFailed");
  }
}

export const isChunkedManifest = (blob) => blob.length >= 5 && equal(blob.slice(0, 5), concat(utf8("CLSM"), new Uint8Array([1])));

/** keccak256 of a ciphertext: its on-chain commitment. */
export const commitmentOf = (blob) => keccak256(blob);

/** Decrypt and authenticate a record envelope. */
export async function decryptRecord(blob, dataKey, pointer) {
  if (blob.length < 6 + 12 + 16 || !equal(blob.slice(0, 4), utf8("CLEV")) || blob[4] !== 1 || blob[5] !== 1) {
    throw new CryptoProblem("malformed", "not a CareLedger envelope");
  }
  const ad = concat(utf8("careledger/record/v1"), binding(pointer.recordId, pointer.version, pointer.patient));
  try {
    return await aesGcmOpen(dataKey, blob.slice(6, 18), blob.slice(18), ad);
  } catch {
    throw new CryptoProblem("decryptFailed");
  }
}
