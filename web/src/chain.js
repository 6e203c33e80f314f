// What the page reads from the chain, through the wallet's own connection (EIP-1193): grants,
// requests, the access history and its hash chain, break-glass windows, guardians, members.
// Every read is an eth_call or eth_getLogs on the contracts named by the node's /identity.
import { createPublicClient, custom, encodeAbiParameters, getAddress, keccak256 } from "viem";
import consentAbi from "../../src/careledger/abi/ConsentRegistry.json";
import institutionAbi from "../../src/careledger/abi/InstitutionRegistry.json";
import recordAbi from "../../src/careledger/abi/RecordRegistry.json";
import researchAbi from "../../src/careledger/abi/ResearchRegistry.json";

export { consentAbi, institutionAbi, recordAbi, researchAbi };

const HRESCH = 4;

/** keccak256(abi.encode("careledger.study", studyId)): the consent scope of a study. */
export function studyScope(id) {
  return keccak256(encodeAbiParameters([{ type: "string" }, { type: "uint256" }], ["careledger.study", BigInt(id)]));
}

export const PURPOSES = ["TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH"];
export const CATEGORIES = { LAB: "11502-2", IMAGING: "18748-4", DISCHARGE: "18842-5",
  MEDICATION: "10160-0", VITALS: "8716-3", NOTE: "11506-3", ALLERGY: "48765-2" };
export const SCOPE_ALL = keccak256(new TextEncoder().encode("careledger.scope.ALL"));
export const ZERO32 = `0x${"00".repeat(32)}`;

/** keccak256(abi.encode("careledger.category", code)): a category's on-chain bytes32. */
export function categoryCode(loinc) {
  return keccak256(encodeAbiParameters([{ type: "string" }, { type: "string" }], ["careledger.category", loinc]));
}
export const CATEGORY_BY_CODE = Object.fromEntries(
  Object.entries(CATEGORIES).map(([name, loinc]) => [categoryCode(loinc), name]));
/** A pointer's category (a name or a LOINC code) as a name. */
export function categoryName(value) {
  if (CATEGORIES[String(value).toUpperCase()]) return String(value).toUpperCase();
  return Object.entries(CATEGORIES).find(([, loinc]) => loinc === value)?.[0] ?? null;
}

export class Chain {
  constructor(provider, identity) {
    this.client = createPublicClient({ transport: custom(provider) });
    this.dep = identity.deployment;
    this.from = BigInt(identity.deployment.block || 0);
    this.consent = getAddress(this.dep.consentRegistry);
    this.institutions = getAddress(this.dep.institutionRegistry);
    this.records = getAddress(this.dep.recordRegistry);
    this.research = this.dep.researchRegistry ? getAddress(this.dep.researchRegistry) : null;
    this.blockTimes = new Map();
  }

  read(address, abi, functionName, args = []) {
    return this.client.readContract({ address, abi, functionName, args });
  }
  consentRead(fn, args) { return this.read(this.consent, consentAbi, fn, args); }

  events(address, abi, eventName, args) {
    return this.client.getContractEvents({ address, abi, eventName, args, fromBlock: this.from, toBlock: "latest" });
  }

  async now() {
    const block = await this.client.getBlock({ blockTag: "latest" });
    return Number(block.timestamp);
  }

  async blockTime(blockNumber) {
    const key = BigInt(blockNumber);
    if (!this.blockTimes.has(key)) {
      this.blockTimes.set(key, Number((await this.client.getBlock({ blockNumber: key })).timestamp));
    }
    return this.blockTimes.get(key);
  }

  /** Every institution ever admitted, with its status (1 active, 2 suspended), roles and node URL. */
  async members() {
    const admitted = await this.events(this.institutions, institutionAbi, "InstitutionAdmitted");
    const accounts = [...new Set(admitted.map((e) => getAddress(e.args.account)))];
    return Promise.all(accounts.map(async (account) => {
      const [status, roles] = await this.read(this.institutions, institutionAbi, "membership", [account]);
      const endpoint = await this.read(this.institutions, institutionAbi, "endpointOf", [account]);
      return { account, status: Number(status), roles: Number(roles), endpoint };
    }));
  }

  /** The grants that authorise at least one purpose now, confirmed by isAuthorized. */
  async liveGrants(patient, now) {
    const granted = await this.events(this.consent, consentAbi, "ConsentGranted", { patient });
    const pairs = new Map();
    for (const e of granted) pairs.set(`${getAddress(e.args.grantee)}|${e.args.scope}`, [getAddress(e.args.grantee), e.args.scope]);
    const out = [];
    for (const [grantee, scope] of pairs.values()) {
      const grant = await this.consentRead("getGrant", [patient, grantee, scope]);
      const purposes = [];
      for (let p = 0; p < PURPOSES.length; p++) {
        const expiry = Number(grant.expiresAt[p]);
        if (expiry > now && await this.consentRead("isAuthorized", [patient, grantee, scope, p])) {
          purposes.push({ purpose: p, expiresAt: expiry });
        }
      }
      if (purposes.length) out.push({ grantee, scope, purposes });
    }
    return out;
  }

  /** Access requests to this patient, with their status (0 pending, 1 approved, 2 rejected). */
  async requests(patient) {
    const asked = (await this.events(this.consent, consentAbi, "AccessRequested", { patient }))
      // an answer repeats these fields: never another patient's request, whatever the RPC says
      .filter((e) => getAddress(e.args.patient) === getAddress(patient) && Number(e.args.purpose) < PURPOSES.length);
    return Promise.all(asked.map(async (e) => ({
      requestId: e.args.requestId, requester: getAddress(e.args.requester), patient: getAddress(e.args.patient),
      scope: e.args.scope, purpose: Number(e.args.purpose), reasonHash: e.args.reasonHash,
      status: Number(await this.consentRead("requestStatus", [e.args.requestId])),
      askedAt: await this.blockTime(e.blockNumber),
    })));
  }

  /** The access history: the three kinds of hash-chain entries, recomputed and checked
   *  against auditHead(patient). */
  async history(patient) {
    const [accesses, opened, closed, [head, count]] = await Promise.all([
      this.events(this.consent, consentAbi, "AccessRecorded", { patient }),
      this.events(this.consent, consentAbi, "BreakGlassOpened", { patient }),
      this.events(this.consent, consentAbi, "BreakGlassClosed", { patient }),
      this.consentRead("auditHead", [patient]),
    ]);
    const entries = [];
    for (const e of accesses) {
      const a = e.args;
      entries.push({ kind: 0, actor: getAddress(a.accessor), subject: a.recordId, detail: a.category,
        purpose: Number(a.purpose), timestamp: Number(a.timestamp), seq: Number(a.seq),
        viaBreakGlass: a.viaBreakGlass, head: a.head, tx: e.transactionHash });
    }
    for (const e of opened) {
      const a = e.args;
      entries.push({ kind: 1, actor: getAddress(a.institution), subject: a.reasonHash,
        detail: `0x${BigInt(a.expiresAt).toString(16).padStart(64, "0")}`, purpose: 1,
        timestamp: await this.blockTime(e.blockNumber), seq: Number(a.seq), viaBreakGlass: true,
        head: a.head, tx: e.transactionHash, expiresAt: Number(a.expiresAt) });
    }
    for (const e of closed) {
      const a = e.args;
      entries.push({ kind: 2, actor: getAddress(a.institution),
        subject: `0x${a.closedBy.slice(2).toLowerCase().padStart(64, "0")}`, detail: ZERO32, purpose: 1,
        timestamp: await this.blockTime(e.blockNumber), seq: Number(a.seq), viaBreakGlass: true,
        head: a.head, tx: e.transactionHash });
    }
    entries.sort((x, y) => x.seq - y.seq);
    let h = ZERO32;
    let verified = entries.length === Number(count);
    entries.forEach((e, i) => {
      const entry = encodeAbiParameters(
        [{ type: "uint8" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint8" },
         { type: "uint64" }, { type: "uint64" }, { type: "bool" }],
        [e.kind, e.actor, e.subject, e.detail, e.purpose, BigInt(e.timestamp), BigInt(e.seq), e.viaBreakGlass]);
      const full = keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }, { type: "bytes32" }],
        [h, patient, keccak256(entry)]));
      h = `${full.slice(0, 2 + 48)}${"0".repeat(16)}`;
      if (e.seq !== i || e.head.toLowerCase() !== h) verified = false;
    });
    if (h !== head.toLowerCase()) verified = false;
    return { entries, verified, head, count: Number(count) };
  }

  /** Break-glass windows open now on this patient. */
  async openWindows(patient, now) {
    const opened = await this.events(this.consent, consentAbi, "BreakGlassOpened", { patient });
    const institutions = [...new Set(opened.map((e) => getAddress(e.args.institution)))];
    const out = [];
    for (const institution of institutions) {
      const w = await this.consentRead("breakGlassWindow", [patient, institution]);
      if (Number(w.expiresAt) > now) out.push({ institution, openedAt: Number(w.openedAt), expiresAt: Number(w.expiresAt) });
    }
    return out;
  }

  /** Guardians whose appointment has not ended. */
  async guardians(patient, now) {
    const set = await this.events(this.consent, consentAbi, "GuardianSet", { patient });
    const out = [];
    for (const guardian of [...new Set(set.map((e) => getAddress(e.args.guardian)))]) {
      const expiry = Number(await this.consentRead("guardianExpiry", [patient, guardian]));
      if (expiry > now) out.push({ guardian, expiresAt: expiry });
    }
    return out;
  }

  /** Single records anchored for this patient (batch members are known to their issuer's node). */
  async anchoredRecords(patient) {
    const anchored = await this.events(this.records, recordAbi, "RecordAnchored", { patient });
    return anchored.map((e) => ({ recordId: e.args.recordId, issuer: getAddress(e.args.issuer),
      category: e.args.category, commitment: e.args.commitment }));
  }

  /** Open studies, each with whether this patient takes part (its study-bound HRESCH grant
   *  holds) and until when; closed studies the patient took part in are left out. */
  async studies(patient, now) {
    const registered = await this.events(this.consent, consentAbi, "StudyRegistered");
    const out = [];
    for (const e of registered) {
      const id = e.args.studyId;
      const s = await this.consentRead("study", [id]);
      if (Number(s.closedAt) !== 0) continue;
      const scope = studyScope(id);
      const institute = getAddress(s.institute);
      const taking = await this.consentRead("isAuthorized", [patient, institute, scope, HRESCH]);
      const until = taking ? Number((await this.consentRead("getGrant", [patient, institute, scope])).expiresAt[HRESCH]) : 0;
      out.push({ id: Number(id), institute, scope, protocolHash: s.protocolHash, taking, until: until > now ? until : 0 });
    }
    return out;
  }

  /** The patient's points and how many datasets credited them (null without a ResearchRegistry). */
  async points(patient) {
    if (!this.research) return null;
    const [points, credits] = await Promise.all([
      this.read(this.research, researchAbi, "pointsOf", [patient]),
      this.events(this.research, researchAbi, "PointsCredited", { patient }),
    ]);
    return { points: Number(points), datasets: credits.length };
  }

  /** The chain's own check of a pointer (reverts unless anchored for exactly these values). */
  async checkBinding(ptr, categoryBytes) {
    await this.read(this.records, recordAbi, "checkBinding",
      [ptr.patient, ptr.recordId, ptr.commitment, categoryBytes, ptr.proof || []]);
  }

  async eip712Domain() {
    const [, name, version, chainId, verifyingContract] = await this.consentRead("eip712Domain", []);
    return { name, version, chainId: Number(chainId), verifyingContract };
  }

  async nonce(signer) { return this.consentRead("nonces", [signer]); }
}
