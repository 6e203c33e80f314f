// The patient page: connect a wallet (EIP-6963, else window.ethereum), then see and decide who
// may use your records, answer requests, read the access history with its on-chain proof, end
// emergency access, manage guardians, and open your records (decrypted here, with your key
// file, which never leaves the page). Decisions are EIP-712 signatures posted to the node's
// relayer: the patient pays no gas. Untrusted text (names, record contents) only ever goes into
// textContent.
import { encodeFunctionData, getAddress, isAddress } from "viem";
import { CATEGORIES, CATEGORY_BY_CODE, Chain, consentAbi, PURPOSES, SCOPE_ALL, ZERO32, categoryCode, categoryName } from "./chain.js";
import { CryptoProblem, commitmentOf, decryptRecord, isChunkedManifest, openKeyFile, unwrapDataKey } from "./crypto.js";
import { formatDate, pickLanguage, setLanguage, t } from "./i18n.js";
import { digest, recoverSigner, typedData } from "./typed.js";

const $ = (id) => document.getElementById(id);

/** Build an element: h("button", {onclick, class: "x"}, "text", child...). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const tech = (text) => h("span", { class: "tech" }, ` ${text}`);
const short = (a) => `${a.slice(0, 6)}…${a.slice(-4)}`;

class Problem extends Error {
  constructor(key, vars = {}) { super(key); this.key = key; this.vars = vars; }
}

const state = {
  origin: window.location.origin,
  identity: null, wallets: [], provider: null, account: null, chain: null, chainOk: false,
  members: new Map(), key: null, records: [], recordNotes: [], studyScopes: new Map(),
};

// -- naming -------------------------------------------------------------------------------------

function nameOf(address) {
  const m = state.members.get(getAddress(address));
  if (m?.name) return m.name;
  return t("unnamed", { short: short(address) });
}
function scopeText(scope) {
  if (scope.toLowerCase() === SCOPE_ALL.toLowerCase()) return t("allRecords");
  const cat = CATEGORY_BY_CODE[scope.toLowerCase()];
  if (cat) return t(`cat_${cat}`);
  const study = state.studyScopes.get(scope.toLowerCase());
  if (study !== undefined) return t("studyScope", { id: study });
  const rec = state.records.find((r) => r.recordId.toLowerCase() === scope.toLowerCase());
  return rec ? t("oneRecord", { category: t(`cat_${categoryName(rec.category)}`) }) : t("otherKind");
}
const purposeText = (p) => t(`purpose_${PURPOSES[p]}`);

// -- messages --------------------------------------------------------------------------------------

function say(key, vars, kind = "info") {
  const box = $("notice");
  box.textContent = t(key, vars);
  box.className = `notice ${kind}`;
  box.hidden = false;
}
function clearNotice() { $("notice").hidden = true; }
function setBusy(on) {
  $("busy").textContent = on ? t("busy") : "";
  for (const b of document.querySelectorAll("main button")) b.disabled = on && !b.dataset.always;
}

/** Run an action: one at a time, errors shown in plain words. */
async function act(fn) {
  clearNotice();
  setBusy(true);
  try {
    await fn();
  } catch (e) {
    showError(e);
  } finally {
    setBusy(false);
  }
}
function showError(e) {
  if (e instanceof Problem) return say(e.key, e.vars, "error");
  if (e instanceof CryptoProblem) {
    const key = { wrongPassword: "keyWrongPassword", notKeyFile: "keyNotFile", notForMe: "keyNotYours",
                  unwrapFailed: "keyNotYours" }[e.code];
    return say(key || "recordMismatch", { name: "?" }, "error");
  }
  const code = e?.code ?? e?.cause?.code;
  if (code === 4001 || /user rejected|denied/i.test(e?.message || "")) return say("declined", {}, "error");
  console.error(e);
  return say("walletFailed", { detail: (e?.shortMessage || e?.message || String(e)).split("\n")[0] }, "error");
}

// -- nodes ------------------------------------------------------------------------------------------

/** Caps on what a node may make the page hold in memory: another institution's node is not
 *  trusted, and nothing in a pointer says how large its ciphertext is. */
const MAX_IDENTITY = 64 * 1024;
const MAX_JSON = 4 * 1024 * 1024;  // a node's JSON answer (a long list of records included)
/** A single envelope: the CLI streams anything over 16 MiB into a chunked manifest. */
const MAX_BLOB = 16 * 1024 * 1024 + 1024;

class TooLarge extends Error {}

/** The body of `response`, refused (and its download cancelled) past `max` bytes. */
async function readCapped(response, max) {
  const declared = Number(response.headers.get("content-length"));
  if (declared > max || !response.body) {
    await response.body?.cancel().catch(() => {});
    if (declared > max) throw new TooLarge();
    return new Uint8Array(0);
  }
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new TooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}
async function readJson(response, max) {
  return JSON.parse(new TextDecoder().decode(await readCapped(response, max)));
}

/** A GET (body undefined) or a JSON POST to a node. JSON answers are parsed; with
 *  `binary` the answer is bytes (at most MAX_BLOB; TooLarge past that). */
async function nodeCall(url, path, body, name, { binary = false } = {}) {
  let response;
  try {
    response = await fetch(new URL(path, url), body === undefined ? { signal: AbortSignal.timeout(10000) } : {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(60000),
    });
  } catch {
    throw new Problem("nodeDown", { name });
  }
  const isJson = (response.headers.get("content-type") || "").includes("json");
  if (!response.ok) {
    const err = isJson ? await readJson(response, MAX_IDENTITY).catch(() => ({})) : {};
    throw new Problem("nodeRefused", { name, detail: friendlyRefusal(err) });
  }
  try {
    if (binary) return await readCapped(response, MAX_BLOB);
    if (!isJson) throw new Error("not JSON");
    return await readJson(response, MAX_JSON);
  } catch (e) {
    if (binary && e instanceof TooLarge) throw e;
    if (e?.name === "TimeoutError" || e?.name === "AbortError") throw new Problem("nodeDown", { name });
    throw new Problem("nodeRefused", { name, detail: t(e instanceof TooLarge ? "answerTooLarge" : "answerMalformed") });
  }
}
/** Text another server chose, shown to the patient: one line, no control or direction
 *  characters, bounded. */
function plainText(value, max) {
  if (typeof value !== "string") return "";
  return value.replace(/\p{Cf}/gu, "").replace(/[\p{Cc}\p{Zl}\p{Zp}\s]+/gu, " ").trim().slice(0, max);
}
function friendlyRefusal(err) {
  const known = {
    SignatureExpired: "the signature expired; please try again",
    InvalidSignature: "your signature is no longer valid (it was cancelled or already used); please try again",
    NotMember: "this organisation is not a member of the network any more",
    RateLimited: "too many requests; wait a minute",
  };
  return known[err?.error] || plainText(err?.detail, 200) || plainText(err?.error, 80) || "unknown reason";
}

// -- wallet -----------------------------------------------------------------------------------------

function discoverWallets() {
  window.addEventListener("eip6963:announceProvider", (event) => {
    const { info, provider } = event.detail || {};
    if (!provider || state.wallets.some((w) => w.info.uuid === info?.uuid)) return;
    state.wallets.push({ info: info || { name: "wallet", uuid: String(state.wallets.length) }, provider });
    renderWallet();
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
}

const watched = new WeakSet();

async function connect(provider) {
  state.provider = provider;
  const accounts = await provider.request({ method: "eth_requestAccounts" });
  if (!accounts?.length) throw new Problem("notConnected");
  forgetAccount();
  state.account = getAddress(accounts[0]);
  if (!watched.has(provider)) {  // once per wallet, and only while it is the one connected
    watched.add(provider);
    provider.on?.("accountsChanged", (a) => {
      if (provider !== state.provider) return;
      const next = a?.length ? getAddress(a[0]) : null;
      if (next !== state.account) forgetAccount();
      state.account = next;
      act(refreshAll);
    });
    provider.on?.("chainChanged", () => {
      if (provider !== state.provider) return;
      forgetAccount();
      act(refreshAll);
    });
  }
  await refreshAll();
}

/** Forget everything of the account shown so far (another account or network follows): its
 *  key, its records, their decrypted text, and what the lists showed. */
function forgetAccount() {
  forgetKey();
  state.records = [];
  state.recordNotes = [];
  state.chain = null;
  state.chainOk = false;
  $("key-file").value = "";
  $("key-password").value = "";
  $("record-view").replaceChildren();
  $("record-view").hidden = true;
  for (const id of ["grants-list", "requests-list", "history-list", "windows-list", "guardians-list", "records-list"]) {
    $(id).replaceChildren();
  }
}
function forgetKey() {
  state.key?.privateKey.fill(0);
  state.key = null;
  $("key-status").textContent = "";
  document.body.classList.remove("key-open");
}

/** The wallet is on the network of this hospital's records (asked again before every
 *  signature and transaction: a wallet may switch without telling the page). */
async function ensureChain() {
  const have = Number(await state.provider.request({ method: "eth_chainId" }));
  const want = Number(state.identity.chainId);
  state.chainOk = have === want;
  if (!state.chainOk) {
    renderWallet(have);
    throw new Problem("wrongChain", { have, want });
  }
}

async function checkChain() {
  await ensureChain();
  state.chain = new Chain(state.provider, state.identity);
}

async function signTyped(td, signer) {
  await ensureChain();
  if (Number(td.domain.chainId) !== Number(state.identity.chainId)) throw new Problem("wrongChain",
    { have: td.domain.chainId, want: state.identity.chainId });
  const signature = await state.provider.request({ method: "eth_signTypedData_v4", params: [signer, JSON.stringify(td)] });
  window.careledger.lastTypedData = td;
  window.careledger.lastDigest = digest(td);
  window.careledger.lastSignature = signature;
  const code = await state.chain.client.getCode({ address: signer });
  if (!code || code === "0x") {  // an ordinary account: the signature must recover to it
    const who = await recoverSigner(td, signature).catch(() => null);
    if (!who || getAddress(who) !== getAddress(signer)) {
      throw new Problem("walletFailed", { detail: "the wallet signed with another account" });
    }
  }
  return signature;
}

/** Sign one of the seven consent actions and hand it to this node's relayer (no gas for you). */
async function signAndRelay(primaryType, message) {
  const [domain, nonce, now] = await Promise.all([state.chain.eip712Domain(), state.chain.nonce(state.account), state.chain.now()]);
  if (getAddress(domain.verifyingContract) !== state.chain.consent) throw new Problem("wrongChain",
    { have: domain.chainId, want: state.identity.chainId });
  const signer = "signer" in message ? message.signer : message.patient;
  const td = typedData(primaryType, domain, { ...message, nonce, deadline: now + 3600 });
  const signature = await signTyped(td, signer);
  await nodeCall(state.origin, "/relay", { typedData: td, signature }, cleanName(state.identity.name) || t("thisHospital"));
  await refreshAll(true);
  say("doneTx", {}, "ok");
}

/** A signed request to an issuer's node (list or read my records). */
async function patientRequest(member, action, recordId) {
  const identity = member.identity;
  const now = Math.floor(Date.now() / 1000);
  const nonce = `0x${[...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  const td = typedData("PatientRequest", identity.requestDomain,
    { patient: state.account, action, recordId: recordId || ZERO32, nonce, deadline: now + 300 });
  const signature = await signTyped(td, state.account);
  return nodeCall(member.endpoint, "/patients/requests", { message: td.message, signature }, nameOf(member.account));
}

// -- loading -----------------------------------------------------------------------------------------

/** A node speaks for its institution only: its address, this chain, and a request domain bound
 *  to both (so a signature the patient gives one node is worthless at another). */
function speaksFor(id, account) {
  const domain = id?.requestDomain;
  try {
    return Boolean(id?.address && getAddress(id.address) === account
      && Number(id.chainId) === Number(state.identity.chainId) && domain
      && getAddress(domain.verifyingContract) === account && Number(domain.chainId) === Number(state.identity.chainId)
      && domain.name === "CareLedger Node" && domain.version === "1");
  } catch {
    return false;
  }
}

/** An institution's name as its own node gives it: plain text, at most 80 characters. */
const cleanName = (name) => plainText(name, 80) || null;

async function loadMembers() {
  const members = await state.chain.members();
  await Promise.all(members.map(async (m) => {
    m.name = null;
    if (m.endpoint) {
      try {
        const response = await fetch(new URL("/identity", m.endpoint), { signal: AbortSignal.timeout(3000) });
        const id = await readJson(response, MAX_IDENTITY);
        if (speaksFor(id, m.account)) {
          m.identity = id;
          m.name = cleanName(id.name);
        }
      } catch { /* unreachable, or an answer too large: shown by address */ }
    }
    if (m.account === getAddress(state.identity.address) && speaksFor(state.identity, m.account)) {
      m.identity = m.identity || state.identity;
      m.name = m.name || cleanName(state.identity.name);
      m.endpoint = m.endpoint || state.origin;
    }
  }));
  // names are self-declared: two institutions that give the same (or a look-alike) name are
  // told apart by their accounts, wherever they are named (the grant form included)
  const key = (name) => name.normalize("NFKC").toLowerCase().replace(/\s+/g, "");
  const counts = new Map();
  for (const m of members) if (m.name) counts.set(key(m.name), (counts.get(key(m.name)) || 0) + 1);
  for (const m of members) if (m.name && counts.get(key(m.name)) > 1) m.name = `${m.name} (${short(m.account)})`;
  state.members = new Map(members.map((m) => [m.account, m]));
}

async function refreshAll(quiet = false) {
  renderWallet();
  if (!state.account) return;
  await checkChain();
  renderWallet();
  const now = await state.chain.now();
  await loadMembers();
  const patient = state.account;
  const [grants, requests, history, windows, guardians, anchored, studies, points] = await Promise.all([
    state.chain.liveGrants(patient, now), state.chain.requests(patient), state.chain.history(patient),
    state.chain.openWindows(patient, now), state.chain.guardians(patient, now), state.chain.anchoredRecords(patient),
    state.chain.studies(patient, now), state.chain.points(patient),
  ]);
  for (const s of studies) state.studyScopes.set(s.scope.toLowerCase(), s.id);
  for (const a of anchored) {
    if (!state.records.some((r) => r.recordId.toLowerCase() === a.recordId.toLowerCase())) {
      state.records.push({ recordId: a.recordId, issuer: a.issuer, category: CATEGORIES[CATEGORY_BY_CODE[a.category]] ?? a.category,
                           version: null, fromChainOnly: true });
    }
  }
  renderRecords();
  renderConsents(grants, now);
  renderRequests(requests, now);
  renderHistory(history, windows);
  renderGuardians(guardians, now);
  renderResearch(studies, points);
  if (!quiet) clearNotice();
}

// -- rendering --------------------------------------------------------------------------------------

function renderWallet(haveChain) {
  const box = $("wallet-choices");
  box.replaceChildren();
  const status = $("wallet-status");
  if (state.account && state.chainOk) {
    status.replaceChildren(t("connected", { who: short(state.account), network: state.identity.chainId }), tech(state.account));
    box.append(h("button", { id: "refresh", onclick: () => act(refreshAll) }, t("refresh")));
  } else if (state.account && haveChain !== undefined) {
    status.textContent = t("wrongChain", { have: haveChain, want: state.identity.chainId });
    box.append(h("button", { id: "switch-chain", onclick: () => act(async () => {
      await state.provider.request({ method: "wallet_switchEthereumChain",
                                     params: [{ chainId: `0x${Number(state.identity.chainId).toString(16)}` }] });
      await refreshAll();
    }) }, t("switchNetwork", { want: state.identity.chainId })));
  } else {
    status.textContent = t("notConnected");
    const wallets = state.wallets.length ? state.wallets
      : (window.ethereum ? [{ info: { name: "", uuid: "injected" }, provider: window.ethereum }] : []);
    if (!wallets.length) status.textContent = t("noWallet");
    for (const w of wallets) {
      box.append(h("button", { class: "primary", "data-wallet": w.info.uuid, onclick: () => act(() => connect(w.provider)) },
        w.info.name ? t("connectWith", { name: w.info.name }) : t("connect")));
    }
  }
  document.body.classList.toggle("connected", Boolean(state.account && state.chainOk));
}

function table(label, headers, rows) {
  return h("table", {},
    h("caption", { class: "sr" }, label),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows));
}

function renderRecords() {
  const list = $("records-list");
  list.replaceChildren();
  for (const note of state.recordNotes) list.append(h("p", { class: "warning" }, note));
  if (!state.records.length) { list.append(h("p", {}, t("noRecords"))); return; }
  list.append(table(t("tabRecords"), [t("colCategory"), t("colHospital"), t("colVersion"), t("colAction")],
    state.records.map((r) => {
      const cat = categoryName(r.category);
      const version = r.version === null ? "" : (r.previousVersion && r.previousVersion !== ZERO32 ? t("versionN", { n: r.version + 1 }) : t("versionFirst"));
      return h("tr", { "data-record": r.recordId },
        h("td", {}, cat ? t(`cat_${cat}`) : t("otherKind"), tech(r.recordId)),
        h("td", {}, nameOf(r.issuer)),
        h("td", {}, version),
        h("td", {}, r.fromChainOnly ? "" : h("button", { class: "read", onclick: () => act(() => readRecord(r)),
          "aria-label": `${t("read")}: ${cat ? t(`cat_${cat}`) : t("otherKind")}, ${nameOf(r.issuer)}` }, t("read"))));
    })));
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

/** A pointer as a node gives it, plausible for this patient and this issuer: the issuer is
 *  the record id's first 20 bytes (as the RecordRegistry reads it), so a node lists and
 *  answers for its own records only. The chain checks the rest before anything is shown. */
function ownPointer(ptr, issuer) {
  try {
    return Boolean(ptr && typeof ptr === "object" && HEX32.test(ptr.recordId) && HEX32.test(ptr.commitment)
      && getAddress(ptr.recordId.slice(0, 42)) === issuer && getAddress(ptr.issuer) === issuer
      && getAddress(ptr.patient) === state.account && typeof ptr.category === "string" && typeof ptr.cid === "string"
      && Number.isSafeInteger(ptr.version) && ptr.version >= 0
      && (ptr.previousVersion === undefined || ptr.previousVersion === null || HEX32.test(ptr.previousVersion))
      && (ptr.proof === undefined || ptr.proof === null || (Array.isArray(ptr.proof) && ptr.proof.every((x) => HEX32.test(x)))));
  } catch {
    return false;
  }
}

async function loadRecords() {
  const account = state.account;
  const found = [];
  const notes = [];
  const issuers = [...state.members.values()].filter((m) => m.status === 1 && (m.roles & 1) && m.endpoint);
  let answered = 0;
  for (const m of issuers) {
    if (!m.identity) { notes.push(t("hospitalUnreachable", { name: nameOf(m.account) })); continue; }
    try {
      const answer = await patientRequest(m, 1);
      answered += 1;
      for (const ptr of Array.isArray(answer?.records) ? answer.records : []) {
        if (!ownPointer(ptr, m.account) || found.some((r) => r.recordId.toLowerCase() === ptr.recordId.toLowerCase())) continue;
        found.push({ ...ptr, fromChainOnly: false });
      }
    } catch (e) {
      // one hospital's server that is down or answers nonsense does not hide the others'
      if (e instanceof Problem && e.key === "nodeDown") notes.push(t("hospitalUnreachable", { name: nameOf(m.account) }));
      else if (e instanceof Problem && e.key === "nodeRefused") notes.push(t("nodeRefused", e.vars));
      else throw e;
    }
    if (state.account !== account) return;  // the wallet moved to another account meanwhile
  }
  state.records = found;
  state.recordNotes = notes;
  await refreshAll(true);
  say("recordsFrom", { count: found.length, hospitals: answered }, notes.length ? "error" : "ok");
}

async function readRecord(r) {
  if (!state.key) throw new Problem("keyNeeded");
  const account = state.account;
  const key = state.key;
  const member = state.members.get(getAddress(r.issuer));
  const name = nameOf(r.issuer);
  if (!member?.identity) throw new Problem("hospitalUnreachable", { name });
  const answer = await patientRequest(member, 2, r.recordId);
  const ptr = answer?.record;
  if (!ownPointer(ptr, member.account) || ptr.recordId.toLowerCase() !== r.recordId.toLowerCase()
      || typeof answer.wrappedKey !== "string") {
    throw new Problem("recordMismatch", { name });
  }
  const cat = categoryName(ptr.category);
  if (!cat) throw new Problem("recordMismatch", { name });
  try {
    await state.chain.checkBinding(ptr, categoryCode(CATEGORIES[cat]));
  } catch {
    throw new Problem("recordMismatch", { name });
  }
  let blob;
  try {
    blob = await nodeCall(member.endpoint, `/blobs/${encodeURIComponent(ptr.cid)}`, undefined, name, { binary: true });
  } catch (e) {
    if (!(e instanceof TooLarge)) throw e;
    say("recordTooLarge", { size: "> 16 MiB" }, "error");
    return;
  }
  if (commitmentOf(blob).toLowerCase() !== ptr.commitment.toLowerCase()) throw new Problem("recordMismatch", { name });
  const view = $("record-view");
  if (isChunkedManifest(blob)) {
    say("recordTooLarge", { size: "> 16 MiB" }, "error");
    return;
  }
  const dataKey = await unwrapDataKey(answer.wrappedKey, ptr, key);
  const plain = await decryptRecord(blob, dataKey, ptr);
  if (state.account !== account || state.key !== key) return;  // another account, or the key forgotten, meanwhile
  let text = new TextDecoder().decode(plain);
  try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON: shown as text */ }
  view.replaceChildren(
    h("h3", { id: "record-heading", tabindex: "-1" }, t("recordHeading", { category: t(`cat_${cat}`), name })),
    h("p", { class: "ok" }, "✓ ", t("recordVerified", { name })),
    h("pre", { id: "record-text" }, text),
    h("button", { onclick: () => { view.replaceChildren(); view.hidden = true; }, "data-always": "1" }, t("close")));
  view.hidden = false;
  $("record-heading").focus();
}

function dateInput(id, label, daysAhead) {
  const d = new Date(Date.now() + daysAhead * 86400000);
  const value = d.toISOString().slice(0, 10);
  return [h("label", { for: id }, label), h("input", { id, type: "date", value, min: new Date(Date.now() + 86400000).toISOString().slice(0, 10), required: true })];
}
/** The end of the chosen day, local time, in seconds; null if not in the future. */
function endOfDay(id, now) {
  const v = $(id).value;
  if (!v) return null;
  const [y, m, d] = v.split("-").map(Number);
  const at = Math.floor(new Date(y, m - 1, d, 23, 59, 59).getTime() / 1000);
  return at > now && at < 2 ** 32 ? at : null;
}

function renderConsents(grants, now) {
  const list = $("grants-list");
  list.replaceChildren();
  if (!grants.length) list.append(h("p", {}, t("noGrants")));
  else {
    list.append(table(t("tabConsents"), [t("colWho"), t("colWhat"), t("colWhy"), t("colUntil"), t("colAction")],
      grants.map((g) => h("tr", { "data-grantee": g.grantee, "data-scope": g.scope },
        h("td", {}, nameOf(g.grantee), tech(g.grantee)),
        h("td", {}, scopeText(g.scope), tech(g.scope)),
        h("td", {}, g.purposes.map((p) => purposeText(p.purpose)).join(", ")),
        h("td", {}, g.purposes.map((p) => formatDate(p.expiresAt)).filter((x, i, a) => a.indexOf(x) === i).join(", ")),
        h("td", {}, h("button", { class: "revoke", "aria-label": `${t("stopAccess")}: ${nameOf(g.grantee)}`,
          onclick: () => act(() => signAndRelay("Revoke", { patient: state.account, grantee: g.grantee, scope: g.scope, signer: state.account })) },
          t("stopAccess")))))));
  }
  const select = $("grant-who");
  const chosen = select.value;
  select.replaceChildren(...[...state.members.values()].filter((m) => m.status === 1)
    .map((m) => h("option", { value: m.account }, nameOf(m.account))));
  if (chosen) select.value = chosen;
}

async function submitGrant() {
  const now = await state.chain.now();
  const purposes = PURPOSES.reduce((mask, _, p) => ($(`grant-p${p}`).checked ? mask | (1 << p) : mask), 0);
  if (!purposes) throw new Problem("grantNoPurpose");
  const expiresAt = endOfDay("grant-until", now);
  if (!expiresAt) throw new Problem("grantBadDate");
  const what = $("grant-what").value;
  const scope = what === "ALL" ? SCOPE_ALL : categoryCode(CATEGORIES[what]);
  await signAndRelay("Grant", { patient: state.account, grantee: $("grant-who").value, scope, purposes, expiresAt, signer: state.account });
}

function renderRequests(requests, now) {
  const pending = requests.filter((r) => r.status === 0);
  const answered = requests.filter((r) => r.status !== 0);
  const list = $("requests-list");
  list.replaceChildren();
  if (!pending.length) list.append(h("p", {}, t("noRequests")));
  else {
    list.append(table(t("tabRequests"), [t("colWho"), t("colWhat"), t("colWhy"), t("colAsked"), t("approveUntil"), t("colAction")],
      pending.map((r) => {
        const id = `req-until-${r.requestId}`;
        const [label, input] = dateInput(id, t("approveUntil"), 90);
        label.className = "sr";
        const answer = (approve) => act(async () => {
          const expiresAt = approve ? endOfDay(id, await state.chain.now()) : 0;
          if (approve && !expiresAt) throw new Problem("grantBadDate");
          await signAndRelay("AnswerRequest", { requestId: r.requestId, requester: r.requester, patient: r.patient,
            scope: r.scope, purpose: r.purpose, approve, expiresAt, signer: state.account });
        });
        return h("tr", { "data-request": String(r.requestId) },
          h("td", {}, nameOf(r.requester), tech(r.requester)),
          h("td", {}, scopeText(r.scope)),
          h("td", {}, purposeText(r.purpose)),
          h("td", {}, formatDate(r.askedAt)),
          h("td", {}, label, input),
          h("td", {},
            h("button", { class: "approve", onclick: () => answer(true), "aria-label": `${t("approve")}: ${nameOf(r.requester)}` }, t("approve")), " ",
            h("button", { class: "reject", onclick: () => answer(false), "aria-label": `${t("reject")}: ${nameOf(r.requester)}` }, t("reject"))));
      })));
  }
  if (answered.length) {
    list.append(h("h3", {}, t("answered")), table(t("answered"), [t("colWho"), t("colWhy"), t("colAsked"), t("colStatus")],
      answered.map((r) => h("tr", { "data-request": String(r.requestId) },
        h("td", {}, nameOf(r.requester)), h("td", {}, purposeText(r.purpose)), h("td", {}, formatDate(r.askedAt)),
        h("td", { class: "status" }, t(r.status === 1 ? "statusApproved" : "statusRejected"))))));
  }
}

function renderHistory(history, windows) {
  const list = $("history-list");
  list.replaceChildren(
    h("p", { id: "chain-check", class: history.verified ? "ok" : "error", role: "status" },
      history.verified ? `✓ ${t("chainVerified", { count: history.count })}` : `✗ ${t("chainBroken")}`,
      tech(`auditHead ${history.head}, count ${history.count}`)));
  if (!history.entries.length) list.append(h("p", {}, t("noHistory")));
  else {
    list.append(table(t("tabHistory"), [t("colWhen"), t("colWho"), t("colEvent"), t("colRecord"), t("colWhy")],
      [...history.entries].reverse().map((e) => h("tr", { "data-seq": String(e.seq), class: e.viaBreakGlass ? "btg" : "" },
        h("td", {}, formatDate(e.timestamp, true)),
        h("td", {}, nameOf(e.actor), tech(e.actor)),
        h("td", {}, t(["evAccess", "evOpened", "evClosed"][e.kind]), e.viaBreakGlass ? h("strong", { class: "flag" }, ` (${t("emergency")})`) : null),
        h("td", {}, e.kind === 0 ? scopeText(e.detail) : "", e.kind === 0 ? tech(e.subject) : null),
        h("td", {}, purposeText(e.purpose), tech(e.tx))))));
  }
  const w = $("windows-list");
  w.replaceChildren();
  if (!windows.length) w.append(h("p", {}, t("noWindows")));
  for (const win of windows) {
    w.append(h("p", { "data-window": win.institution }, t("windowUntil", { name: nameOf(win.institution), date: formatDate(win.expiresAt, true) }), " ",
      h("button", { class: "close-window",
        onclick: () => act(() => signAndRelay("CloseBreakGlass", { patient: state.account, institution: win.institution, signer: state.account })) },
        t("closeWindow", { name: nameOf(win.institution) }))));
  }
}

function renderGuardians(guardians) {
  const list = $("guardians-list");
  list.replaceChildren();
  if (!guardians.length) { list.append(h("p", {}, t("noGuardians"))); return; }
  list.append(table(t("tabGuardians"), [t("colGuardian"), t("colUntil"), t("colAction")],
    guardians.map((g) => h("tr", { "data-guardian": g.guardian },
      h("td", {}, short(g.guardian), tech(g.guardian)),
      h("td", {}, formatDate(g.expiresAt)),
      h("td", {}, h("button", { class: "remove-guardian", "aria-label": `${t("removeGuardian")}: ${short(g.guardian)}`,
        onclick: () => act(() => signAndRelay("RemoveGuardian", { patient: state.account, guardian: g.guardian })) }, t("removeGuardian")))))));
}

function renderResearch(studies, points) {
  const list = $("studies-list");
  list.replaceChildren();
  if (!studies.length) list.append(h("p", {}, t("noStudies")));
  else {
    list.append(table(t("tabResearch"), [t("colStudy"), t("colTaking"), t("joinUntil"), t("colAction")],
      studies.map((s) => {
        const id = `study-until-${s.id}`;
        const [label, input] = dateInput(id, t("joinUntil"), 365);
        label.className = "sr";
        const name = t("studyName", { id: s.id, name: nameOf(s.institute) });
        const join = () => act(async () => {
          const expiresAt = endOfDay(id, await state.chain.now());
          if (!expiresAt) throw new Problem("grantBadDate");
          await signAndRelay("Grant", { patient: state.account, grantee: s.institute, scope: s.scope,
            purposes: 1 << 4, expiresAt, signer: state.account });
        });
        const withdraw = () => act(() => signAndRelay("Revoke", { patient: state.account, grantee: s.institute,
          scope: s.scope, signer: state.account }));
        return h("tr", { "data-study": String(s.id) },
          h("td", {}, name, tech(`protocol ${s.protocolHash}`)),
          h("td", { class: "status" }, s.taking ? t("takingPart", { date: formatDate(s.until) }) : t("notTakingPart")),
          h("td", {}, s.taking ? "" : [label, input]),
          h("td", {}, s.taking
            ? h("button", { class: "withdraw-study", onclick: withdraw, "aria-label": `${t("withdrawStudy")}: ${name}` }, t("withdrawStudy"))
            : h("button", { class: "join-study", onclick: join, "aria-label": `${t("joinStudy")}: ${name}` }, t("joinStudy"))));
      })));
  }
  $("points").textContent = points ? t("points", { n: points.points, d: points.datasets }) : "";
}

async function submitGuardian() {
  const raw = $("guardian-address").value.trim();
  if (!isAddress(raw, { strict: true })) throw new Problem("badAddress");
  const expiresAt = endOfDay("guardian-until", await state.chain.now());
  if (!expiresAt) throw new Problem("grantBadDate");
  await signAndRelay("SetGuardian", { patient: state.account, guardian: getAddress(raw), expiresAt });
}

async function cancelSignatures() {
  await ensureChain();
  const hash = await state.provider.request({ method: "eth_sendTransaction", params: [{
    from: state.account, to: state.chain.consent,
    data: encodeFunctionData({ abi: consentAbi, functionName: "increaseNonce" }) }] });
  await state.chain.client.waitForTransactionReceipt({ hash });
  await refreshAll(true);
  say("doneTx", {}, "ok");
}

async function openKey() {
  const file = $("key-file").files?.[0];
  if (!file) throw new Problem("keyNotFile");
  $("key-status").textContent = t("keyOpening");
  try {
    const key = await openKeyFile(await file.text(), $("key-password").value);
    if (!state.chain || !state.account) throw new Problem("notConnected");
    const registered = await state.chain.consentRead("patientKeyOf", [state.account]);
    if (registered.toLowerCase() !== key.publicHex.toLowerCase()) {
      key.privateKey.fill(0);
      throw new Problem("keyNotYours");
    }
    state.key = key;
    $("key-password").value = "";
    $("key-status").textContent = t("keyOpen");
    document.body.classList.add("key-open");
  } catch (e) {
    $("key-status").textContent = "";
    throw e;
  }
}

// -- static parts ------------------------------------------------------------------------------------

function buildForms() {
  $("grant-what").replaceChildren(h("option", { value: "ALL" }, t("allRecords")),
    ...Object.keys(CATEGORIES).map((c) => h("option", { value: c }, t(`cat_${c}`))));
  $("grant-purposes").replaceChildren(h("legend", {}, t("grantWhy")), ...PURPOSES.map((p, i) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", id: `grant-p${i}`, checked: i === 0 }), ` ${t(`purpose_${p}`)}`)));
  const until = $("grant-until-slot");
  until.replaceChildren(...dateInput("grant-until", t("grantUntil"), 365));
  $("guardian-until-slot").replaceChildren(...dateInput("guardian-until", t("guardianUntil"), 365));
}

function selectTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`tab-${tab.dataset.tab}`).hidden = !on;
  }
}

function wireTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(tab);
      const next = e.key === "ArrowRight" ? tabs[(i + 1) % tabs.length] : e.key === "ArrowLeft" ? tabs[(i - 1 + tabs.length) % tabs.length] : null;
      if (next) { e.preventDefault(); selectTab(next.dataset.tab); next.focus(); }
    });
  }
  selectTab("consents");
}

async function start() {
  window.careledger = { version: 1, digest, typedData, lastTypedData: null, lastDigest: null, lastSignature: null, ready: false };
  const lang = pickLanguage();
  $("lang").value = lang;
  setLanguage(lang);
  buildForms();
  wireTabs();
  $("lang").addEventListener("change", () => { setLanguage($("lang").value); buildForms(); if (state.account) act(() => refreshAll(true)); else renderWallet(); });
  $("tech").addEventListener("change", () => document.body.classList.toggle("show-tech", $("tech").checked));
  $("grant-form").addEventListener("submit", (e) => { e.preventDefault(); act(submitGrant); });
  $("guardian-form").addEventListener("submit", (e) => { e.preventDefault(); act(submitGuardian); });
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); act(openKey); });
  $("forget-key").addEventListener("click", forgetKey);
  $("load-records").addEventListener("click", () => act(loadRecords));
  $("cancel-signatures").addEventListener("click", () => act(cancelSignatures));
  try {
    state.identity = await nodeCall(state.origin, "/identity", undefined, t("thisHospital"));
  } catch (e) {
    showError(e);
    return;
  }
  $("hospital-name").textContent = cleanName(state.identity.name) || "";
  discoverWallets();
  setTimeout(() => { renderWallet(); window.careledger.ready = true; }, 300);
}

document.addEventListener("DOMContentLoaded", () => { start(); });

