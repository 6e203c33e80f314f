"""The patient page in a real browser: Debian's Chromium driven by Playwright, a test wallet
(eth-account) injected as ``window.ethereum`` and announced with EIP-6963, the page served by a
real node process over loopback, two hospitals' nodes in their own directories, a real anvil.

Screenshots of the main views go to ``$CARELEDGER_SCREENSHOTS`` when it is set
(``make screenshots`` writes the README's, in ``docs/screenshots``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from careledger.codes import SCOPE_ALL, Category, Purpose, RequestStatus
from careledger.errors import CareLedgerError
from conftest import World, build_world
from nodes import RunningNode, start_node
from page_wallet import TestWallet

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CARELEDGER_CHROMIUM", "/usr/bin/chromium")
PAGE_BUILT = ROOT / "src" / "careledger" / "node" / "page" / "app.js"
TESTING_JS = ROOT / ".build" / "page-testing.js"
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = os.environ.get("CARELEDGER_SCREENSHOTS")
KEY_PW = "alice-key-password"
LAB_TEXT = json.dumps({"resourceType": "Observation", "status": "final",
                       "code": {"text": "Haemoglobin"}, "valueQuantity": {"value": 13.9, "unit": "g/dL"}})
NOTE_TEXT = "Follow-up visit: blood pressure 128/82, continue current treatment."


def _require_browser() -> None:
    missing = [str(p) for p in (Path(CHROMIUM), PAGE_BUILT, TESTING_JS, AXE_JS) if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make test` (it installs chromium and "
                    "builds the page with `make page`)")


@dataclass
class Net:
    world: World
    root: Path
    node_a: RunningNode
    node_b: RunningNode
    a: Any
    b: Any
    lab: Any
    note_id: str
    key_file: Path


@pytest.fixture(scope="module")
def net(devnet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    from careledger.actors import Patient, Provider
    from careledger.store import Workspace

    root = tmp_path_factory.mktemp("page")
    world = build_world(devnet, root)
    node_a = start_node(world, "hospital_a", root / "hospital-a",
                        extra_args=("--name", "St Mary's Hospital"))
    node_b = start_node(world, "hospital_b", root / "hospital-b",
                        extra_args=("--name", "Riverside Clinic"))
    try:
        for name, node in (("hospital_a", node_a), ("hospital_b", node_b)):
            world.ledger.institutions.set_endpoint(node.url).transact(world.sender(name))
        a = Provider(world.ledger, world.sender("hospital_a"),
                     Workspace.local(node_a.workdir / "ws"), world.enc["hospital_a"])  # type: ignore[arg-type]
        b = Provider(world.ledger, world.sender("hospital_b"),
                     Workspace.local(node_b.workdir / "ws"), world.enc["hospital_b"])  # type: ignore[arg-type]
        alice = Patient(world.ledger, world.sender("alice"), Workspace.local(root / "alice"),
                        world.enc["alice"])  # type: ignore[arg-type]
        alice.register_key()
        Patient(world.ledger, world.sender("bob"), Workspace.local(root / "bob"),
                world.enc["bob"]).register_key()  # type: ignore[arg-type]
        key_file = root / "alice" / "alice.key"
        world.enc["alice"].save(key_file, KEY_PW, scrypt_n=2**14)  # type: ignore[attr-defined]
        lab = a.publish(world.addr("alice"), LAB_TEXT.encode(), Category.LAB)
        _, members, _ = b.publish_batch([(world.addr("alice"), NOTE_TEXT.encode()),
                                         (world.addr("bob"), b"another patient's note")],
                                        Category.NOTE)
        yield Net(world, root, node_a, node_b, a, b, lab, members[0].record_id, key_file)
    finally:
        node_a.stop()
        node_b.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def open_page(browser: Any, url: str, wallet: TestWallet, *, lang: str = "en-GB") -> Any:
    context = browser.new_context(locale=lang, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(30_000)
    wallet.install(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(url)
    page.wait_for_function("() => window.careledger && window.careledger.ready")
    return page


def connect(page: Any) -> None:
    page.click("button[data-wallet]")
    page.wait_for_selector("body.connected")


def tab(page: Any, name: str) -> None:
    page.click(f"#t-{name}")
    page.wait_for_selector(f"#tab-{name}:not([hidden])")


def done(page: Any) -> str:
    """Wait for the outcome of an action and return its text (ok or error)."""
    page.wait_for_selector("#notice.ok, #notice.error")
    text: str = page.inner_text("#notice")
    return text


def act(page: Any, selector: str) -> str:
    page.evaluate("document.getElementById('notice').hidden = true; "
                  "document.getElementById('notice').className = ''")
    page.click(selector)
    return done(page)


def refresh(page: Any) -> None:
    page.click("#refresh")
    page.wait_for_function("() => document.getElementById('busy').textContent === ''")


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def serious_axe_violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE_JS.read_text())
    found: list[dict[str, Any]] = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
    }""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def wallet_for(net: Net, name: str) -> TestWallet:
    w = net.world
    return TestWallet(w.node.rpc_url, w.keys[name], w.node.chain_id)


def test_the_patient_decides_and_sees_it_all_in_the_browser(net: Net, browser: Any) -> None:
    w = net.world
    ledger = w.ledger
    alice, hb = w.addr("alice"), w.addr("hospital_b")
    wallet = wallet_for(net, "alice")
    page = open_page(browser, net.node_a.url, wallet)
    assert "St Mary's Hospital" in page.inner_text("h1")
    connect(page)
    assert "Connected as" in page.inner_text("#wallet-status")
    assert alice not in page.inner_text("body")  # no hex unless asked

    # grant from the page: a signed Grant relayed by hospital A's node; on chain at once
    page.select_option("#grant-who", hb)
    page.select_option("#grant-what", "LAB")
    assert "recorded on the blockchain" in act(page, "#grant-form button[type=submit]")
    assert ledger.consent.is_authorized(alice, hb, Category.LAB.code, Purpose.TREAT)
    row = page.locator(f"#grants-list tr[data-grantee='{hb}']")
    assert "Riverside Clinic" in row.inner_text() and "Lab results" in row.inner_text()
    # what the page signed hashes as the SDK and the contract do: same digest, signature accepted
    from careledger.consent import SignedConsent

    typed = page.evaluate("window.careledger.lastTypedData")
    signature = page.evaluate("window.careledger.lastSignature")
    signed = SignedConsent.from_wallet(typed, signature, registry=ledger.consent)
    assert "0x" + signed.digest().hex() == page.evaluate("window.careledger.lastDigest")
    assert signed.signer == alice and wallet.signed[-1] == typed
    shot(page, "consents")

    # hospital B reads hospital A's record through A's node; the page shows it, chain verified
    assert net.b.access(net.lab.record_id, Purpose.TREAT) == LAB_TEXT.encode()
    refresh(page)
    tab(page, "history")
    check = page.locator("#chain-check")
    assert "✓" in check.inner_text() and "1 entries" in check.inner_text()
    first = page.locator("#history-list tbody tr").first.inner_text()
    assert "Riverside Clinic" in first and "Opened a record" in first and "Lab results" in first

    # revoke from the page: the next access is refused and writes nothing
    tab(page, "consents")
    assert "recorded" in act(page, f"#grants-list tr[data-grantee='{hb}'] button.revoke")
    assert not ledger.consent.is_authorized(alice, hb, Category.LAB.code, Purpose.TREAT)
    assert page.locator(f"#grants-list tr[data-grantee='{hb}']").count() == 0
    head_before = ledger.consent.audit_head(alice)
    with pytest.raises(CareLedgerError):
        net.b.access(net.lab.record_id, Purpose.TREAT)
    assert ledger.consent.audit_head(alice) == head_before

    # requests: approve one (with an expiry), reject the other
    approve_id = net.b.request_access(alice, SCOPE_ALL, Purpose.TREAT, "follow-up after surgery")
    reject_id = net.b.request_access(alice, Category.LAB.code, Purpose.HRESCH, "anaemia study")
    refresh(page)
    tab(page, "requests")
    assert page.locator("#requests-list tr[data-request] button.approve").count() == 2
    shot(page, "requests")
    assert "recorded" in act(page, f"#requests-list tr[data-request='{approve_id}'] button.approve")
    assert "recorded" in act(page, f"#requests-list tr[data-request='{reject_id}'] button.reject")
    assert ledger.consent.request_status(approve_id) is RequestStatus.APPROVED
    assert ledger.consent.request_status(reject_id) is RequestStatus.REJECTED
    assert ledger.consent.is_authorized(alice, hb, SCOPE_ALL, Purpose.TREAT)
    assert not ledger.consent.is_authorized(alice, hb, Category.LAB.code, Purpose.HRESCH)
    answered = page.inner_text("#requests-list")
    assert "approved" in answered and "rejected" in answered

    # break-glass: seen in the history (flagged), closed from the page
    from careledger.actors import Institution
    from careledger.store import Workspace

    er = Institution(ledger, w.sender("emergency"), Workspace.local(net.root / "emergency"),
                     w.enc["emergency"])  # type: ignore[arg-type]
    er.break_glass(alice, "ER-TRAUMA", 3600)
    refresh(page)
    tab(page, "history")
    emergency = w.addr("emergency")
    assert page.locator(f"#windows-list [data-window='{emergency}']").count() == 1
    assert "(emergency)" in page.locator("#history-list tbody tr").first.inner_text()
    shot(page, "history")
    assert "recorded" in act(page, f"#windows-list [data-window='{emergency}'] button.close-window")
    assert ledger.consent.break_glass_window(alice, emergency).expires_at <= w.now()
    assert "No emergency access is open" in page.inner_text("#windows-list")
    check = page.inner_text("#chain-check")
    assert "✓" in check and "3 entries" in check  # access, opening, closing

    # guardians: a mistyped address is refused in the page; appoint, then remove
    guardian = w.addr("guardian")
    tab(page, "guardians")
    page.fill("#guardian-address", guardian[:-1] + ("a" if guardian[-1] != "a" else "b"))
    assert "not a valid account address" in act(page, "#guardian-form button[type=submit]")
    page.fill("#guardian-address", guardian)
    assert "recorded" in act(page, "#guardian-form button[type=submit]")
    assert ledger.consent.is_guardian(alice, guardian)
    assert "recorded" in act(page, f"#guardians-list tr[data-guardian='{guardian}'] button.remove-guardian")
    assert not ledger.consent.is_guardian(alice, guardian)

    # my records: both hospitals' nodes list them (hospital B's from another origin); the key
    # file opens in the page; each record is checked against the chain and decrypted here
    tab(page, "records")
    page.set_input_files("#key-file", str(net.key_file))
    page.fill("#key-password", "wrong password")
    assert "does not open" in act(page, "#key-form button[type=submit]")
    page.fill("#key-password", KEY_PW)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body.key-open")
    assert "2 record(s) from 2 hospital(s)" in act(page, "#load-records")
    for record_id, text in ((net.lab.record_id, LAB_TEXT), (net.note_id, NOTE_TEXT)):
        page.click(f"#records-list tr[data-record='{record_id}'] button.read")
        page.wait_for_selector("#record-text")
        shown = page.inner_text("#record-text")
        if text.startswith("{"):
            assert json.loads(shown) == json.loads(text)
        else:
            assert shown == text
        assert "Checked: this is exactly the record" in page.inner_text("#record-view")
        if record_id == net.lab.record_id:
            shot(page, "records")
        page.click("#record-view button")
        page.wait_for_selector("#record-text", state="detached")
    # the records were read by the patient herself: no access entry, no disclosure
    assert ledger.consent.audit_head(alice)[1] == 3

    # accessibility: every view, no serious or critical axe-core violation
    for name in ("consents", "requests", "history", "records", "guardians", "limits"):
        tab(page, name)
        assert serious_axe_violations(page) == [], name
    # 简体中文
    page.select_option("#lang", "zh")
    tab(page, "consents")
    assert page.inner_text("#t-records") == "我的记录"
    assert page.evaluate("document.documentElement.lang") == "zh-Hans"
    page.wait_for_function("() => document.getElementById('busy').textContent === ''")
    shot(page, "consents-zh")
    assert serious_axe_violations(page) == []
    # keyboard: the tabs move with the arrow keys
    page.focus("#t-consents")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "t-requests"
    assert page.errors == []


def test_wrong_chain_refused_signature_a_lying_rpc_and_a_node_that_is_down(net: Net,
                                                                         browser: Any) -> None:
    w = net.world
    alice = w.addr("bob")  # this test's patient
    # the wallet is on another network: a clear message and a switch button
    wallet = wallet_for(net, "bob")
    wallet.report_chain = 1
    page = open_page(browser, net.node_a.url, wallet)
    page.click("button[data-wallet]")
    page.wait_for_selector("#switch-chain")
    assert "on network 1" in page.inner_text("#wallet-status")
    assert "network 1" in page.inner_text("#notice")
    assert not page.evaluate("document.body.classList.contains('connected')")
    page.click("#switch-chain")
    page.wait_for_selector("body.connected")

    # an emergency access to this patient; the history verifies against auditHead, and does not
    # when the wallet's RPC hides the entry's log (the page says so, plainly)
    from careledger.actors import Institution
    from careledger.store import Workspace

    er = Institution(w.ledger, w.sender("emergency"), Workspace.local(net.root / "er-2"),
                     w.enc["emergency"])  # type: ignore[arg-type]
    er.break_glass(alice, "ER-CARDIAC", 600)
    refresh(page)
    tab(page, "history")
    assert "✓" in page.inner_text("#chain-check")
    from eth_utils.crypto import keccak

    topic = "0x" + keccak(text="BreakGlassOpened(address,address,bytes32,uint64,uint64,bytes32)").hex()
    liar = wallet_for(net, "bob")
    liar.hide_topics = {topic.lower()}
    lied_to = open_page(browser, net.node_a.url, liar)
    connect(lied_to)
    tab(lied_to, "history")
    assert "✗ Warning: this list does not match" in lied_to.inner_text("#chain-check")
    lied_to.context.close()

    # cancel every signature not yet used: a transaction from the wallet, the nonce moves on
    tab(page, "consents")
    before = w.ledger.consent.nonce(alice)
    assert "recorded" in act(page, "#cancel-signatures")
    assert w.ledger.consent.nonce(alice) == before + 1
    assert len(wallet.sent) == 1

    # the wallet refuses to sign: nothing changes
    nonce = w.ledger.consent.nonce(alice)
    wallet.refuse = True
    page.select_option("#grant-who", w.addr("hospital_a"))
    assert "You declined in your wallet. Nothing was changed." in act(page, "#grant-form button[type=submit]")
    assert w.ledger.consent.nonce(alice) == nonce
    assert not w.ledger.consent.is_authorized(alice, w.addr("hospital_a"), SCOPE_ALL, Purpose.TREAT)
    wallet.refuse = False

    # the page's own node goes down after loading: the relay fails, said plainly; nothing changes
    spare = start_node(w, "hospital_a", net.root / "hospital-a-spare",
                       extra_args=("--name", "St Mary's Hospital"))
    try:
        page2 = open_page(browser, spare.url, wallet)
        connect(page2)
    finally:
        spare.stop()
    page2.select_option("#grant-who", w.addr("hospital_a"))
    text = act(page2, "#grant-form button[type=submit]")
    assert re.search(r"The server of St Mary's Hospital did not answer\. Nothing was changed", text)
    assert w.ledger.consent.nonce(alice) == nonce
    assert not w.ledger.consent.is_authorized(alice, w.addr("hospital_a"), SCOPE_ALL, Purpose.TREAT)
    assert page.errors == [] and page2.errors == []


def test_typed_data_signed_in_the_page_is_the_sdks(net: Net, browser: Any) -> None:
    """Every signed type, built and signed in the browser with viem, gives the SDK's digest and
    eth-account's signature for the same key (and PatientRequest as the node checks it)."""
    from careledger.node.messages import PatientRequest, node_domain

    context = browser.new_context()
    page = context.new_page()
    page.goto(net.node_a.url)
    page.evaluate(TESTING_JS.read_text())
    key = net.world.keys["alice"]
    examples = sorted((ROOT / "frontend-notes" / "examples").glob("*.json"))
    typed_examples = [json.loads(p.read_text()) for p in examples if p.name != "relay-payload.json"]
    assert len(typed_examples) == 7
    ident = net.world.ledger.chain.chain_id
    request = PatientRequest(patient=net.world.addr("alice"), action=2,
                             record_id=bytes.fromhex(net.lab.record_id[2:]), nonce=b"\x07" * 32,
                             deadline=2**40)
    typed_examples.append(request.typed_data(node_domain(ident, net.world.addr("hospital_a"))))
    for typed in typed_examples:
        rebuilt = page.evaluate("([td]) => careledgerTesting.typedData(td.primaryType, td.domain, td.message)",
                                [typed])
        assert rebuilt == typed, typed["primaryType"]
        signable = encode_typed_data(full_message=typed)
        sdk_sig = "0x" + bytes(Account.sign_message(signable, key).signature).hex()
        page_sig = page.evaluate("([k, td]) => careledgerTesting.signTypedDataWithKey(k, td)", [key, typed])
        assert page_sig == sdk_sig, typed["primaryType"]
    relay = json.loads((ROOT / "frontend-notes" / "examples" / "relay-payload.json").read_text())
    anvil_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
    assert page.evaluate("([k, td]) => careledgerTesting.signTypedDataWithKey(k, td)",
                         [anvil_1, relay["typedData"]]) == relay["signature"]
    context.close()


# -- a hostile issuer node, an account switch, a wallet that changes network silently --------


class HostileNode:
    """Another institution's node turned hostile: a real HTTP server in front of hospital B's
    real node that passes everything through (CORS included) but lies where told to: its name,
    an oversized /identity, extra record pointers (another hospital's record claimed as its
    own, junk), and a ciphertext that never ends."""

    def __init__(self, upstream: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import httpx

        self.upstream = upstream
        self.name: str | None = None
        self.identity_padding = 0
        self.extra_records: list[Any] = []
        self.endless_blob = False
        self.blob_sent = 0
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:
                self.forward()

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def forward(self) -> None:
                if self.command == "GET" and self.path.startswith("/blobs/") and hostile.endless_blob:
                    self.send_response(200)
                    self.send_header("content-type", "application/octet-stream")
                    self.send_header("access-control-allow-origin", "*")
                    self.end_headers()
                    chunk = b"\0" * 65536
                    try:
                        while hostile.blob_sent < 512 * 2**20:
                            self.wfile.write(chunk)
                            hostile.blob_sent += len(chunk)
                    except OSError:  # the page hung up
                        pass
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                answer = httpx.request(self.command, hostile.upstream + self.path, headers=headers,
                                       content=body, timeout=60)
                content = answer.content
                if self.command == "GET" and self.path == "/identity":
                    data = answer.json()
                    if hostile.name is not None:
                        data["name"] = hostile.name
                    if hostile.identity_padding:
                        data["padding"] = " " * hostile.identity_padding
                    content = json.dumps(data).encode()
                elif self.command == "POST" and self.path == "/patients/requests" and answer.is_success:
                    data = answer.json()
                    if "records" in data:
                        data["records"] += hostile.extra_records
                    content = json.dumps(data).encode()
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding", "date", "server"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_b(net: Net) -> Iterator[HostileNode]:
    """Hospital B's on-chain endpoint points at the hostile server for one test."""
    w = net.world
    hostile = HostileNode(net.node_b.url)
    w.ledger.institutions.set_endpoint(hostile.url).transact(w.sender("hospital_b"))
    try:
        yield hostile
    finally:
        w.ledger.institutions.set_endpoint(net.node_b.url).transact(w.sender("hospital_b"))
        hostile.stop()


def option_text(page: Any, account: str) -> str:
    text: str = page.locator(f"#grant-who option[value='{account}']").inner_text()
    return text


def test_a_hostile_node_cannot_inject_impersonate_misattribute_or_exhaust(
        net: Net, browser: Any, hostile_b: HostileNode) -> None:
    import httpx

    w = net.world
    ha, hb = w.addr("hospital_a"), w.addr("hospital_b")
    # markup and a right-to-left override in a name: shown as text, nothing runs
    hostile_b.name = '<img src=x onerror="window.__pwned=1">\u202eevil'
    page = open_page(browser, net.node_a.url, wallet_for(net, "alice"))
    connect(page)
    assert option_text(page, hb) == '<img src=x onerror="window.__pwned=1">evil'
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None

    # a look-alike of another member's name: both are told apart by their accounts
    hostile_b.name = "St Mary's Hospital\u200b"
    refresh(page)
    a_text, b_text = option_text(page, ha), option_text(page, hb)
    assert a_text != b_text
    assert a_text.startswith("St Mary's Hospital (") and ha[-4:] in a_text
    assert b_text.startswith("St Mary's Hospital (") and hb[-4:] in b_text

    # an /identity too large to be read: the member is shown by its account
    hostile_b.name, hostile_b.identity_padding = None, 200_000
    refresh(page)
    assert option_text(page, hb).startswith("Organisation ")
    hostile_b.identity_padding = 0
    refresh(page)
    assert option_text(page, hb) == "Riverside Clinic"

    # B's node lists hospital A's record as its own, a duplicate and junk: the page lists each
    # record once, under the hospital whose record it is
    lab = httpx.get(f"{net.node_a.url}/records/{net.lab.record_id}", timeout=10).json()
    hostile_b.extra_records = [{**lab, "issuer": hb}, {"recordId": 5}, "junk"]
    tab(page, "records")
    page.set_input_files("#key-file", str(net.key_file))
    page.fill("#key-password", KEY_PW)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body.key-open")
    assert "2 record(s) from 2 hospital(s)" in act(page, "#load-records")
    rows = page.locator("#records-list tr[data-record]")
    assert rows.count() == 2
    lab_row = page.locator(f"#records-list tr[data-record='{net.lab.record_id}']")
    assert "St Mary's Hospital" in lab_row.inner_text() and "Riverside" not in lab_row.inner_text()

    # a ciphertext that never ends: refused past the size cap, before hashing or decrypting
    hostile_b.endless_blob = True
    text = act(page, f"#records-list tr[data-record='{net.note_id}'] button.read")
    assert "This record is large" in text
    assert hostile_b.blob_sent < 128 * 2**20
    assert page.locator("#record-text").count() == 0
    assert page.errors == []
    page.context.close()


def test_another_account_in_the_wallet_sees_nothing_of_the_previous_one(net: Net,
                                                                      browser: Any) -> None:
    w = net.world
    wallet = wallet_for(net, "alice")
    page = open_page(browser, net.node_a.url, wallet)
    connect(page)
    tab(page, "records")
    page.set_input_files("#key-file", str(net.key_file))
    page.fill("#key-password", KEY_PW)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body.key-open")
    assert "2 record(s)" in act(page, "#load-records")
    page.click(f"#records-list tr[data-record='{net.lab.record_id}'] button.read")
    page.wait_for_selector("#record-text")

    # the person picks Bob's account in the wallet: Alice's key, records and text are gone
    wallet.switch_account(page, w.keys["bob"])
    page.wait_for_function("(a) => document.getElementById('wallet-status').textContent.includes(a)",
                           arg=w.addr("bob")[-4:])
    page.wait_for_function("() => document.getElementById('busy').textContent === ''")
    assert not page.evaluate("document.body.classList.contains('key-open')")
    assert page.locator("#record-text").count() == 0
    assert page.locator("#records-list tr[data-record]").count() == 0
    assert page.input_value("#key-password") == ""
    assert page.evaluate("document.getElementById('key-file').files.length") == 0
    body = page.inner_text("body")
    assert "Haemoglobin" not in body and net.lab.record_id not in body
    # Bob's key file is another: Alice's would not open for him
    page.set_input_files("#key-file", str(net.key_file))
    page.fill("#key-password", KEY_PW)
    assert "not the one registered for your account" in act(page, "#key-form button[type=submit]")
    assert page.errors == []
    page.context.close()


def test_a_wallet_that_moved_to_another_network_signs_and_sends_nothing(net: Net,
                                                                        browser: Any) -> None:
    w = net.world
    wallet = wallet_for(net, "bob")
    page = open_page(browser, net.node_a.url, wallet)
    connect(page)
    nonce = w.ledger.consent.nonce(w.addr("bob"))
    wallet.report_chain = 1  # no chainChanged: the page must ask before acting
    assert "on network 1" in act(page, "#cancel-signatures")
    assert wallet.sent == [] and w.ledger.consent.nonce(w.addr("bob")) == nonce
    wallet.report_chain = None
    page.click("#switch-chain")
    page.wait_for_selector("body.connected")
    wallet.report_chain = 1
    page.select_option("#grant-who", w.addr("hospital_a"))
    assert "on network 1" in act(page, "#grant-form button[type=submit]")
    assert wallet.signed == [] and w.ledger.consent.nonce(w.addr("bob")) == nonce
    assert page.errors == []
    page.context.close()


def test_the_page_cannot_be_framed_nor_write_html(net: Net, browser: Any) -> None:
    """The page's Content-Security-Policy, in the browser: no other site frames it
    (clickjacking a signature), and an HTML sink throws (Trusted Types) should any code ever
    try to write markup."""
    page = open_page(browser, net.node_a.url, wallet_for(net, "alice"))
    assert page.evaluate("""() => { try { document.body.insertAdjacentHTML('beforeend', '<b>x</b>');
                                          return 'written'; } catch (e) { return e.name; } }""") == "TypeError"
    assert page.evaluate("""() => { try { document.getElementById('notice').innerHTML = '<b>x</b>';
                                          return 'written'; } catch (e) { return e.name; } }""") == "TypeError"
    # another site (here: another origin on this machine) frames the page: blocked
    other = HostileNode(net.node_b.url)
    try:
        framer = page.context.new_page()
        framer.goto(f"{other.url}/health")
        framer.evaluate("""(url) => new Promise((done) => { const f = document.createElement('iframe');
            f.onload = () => done(); f.src = url; document.body.append(f); })""", net.node_a.url)
        frame = framer.frames[1]
        assert frame.evaluate("() => window.careledger === undefined")
        assert "wallet-status" not in frame.content()
    finally:
        other.stop()
    assert page.errors == []
    page.context.close()


def test_research_studies_and_points_in_the_page(net: Net, browser: Any) -> None:
    """A patient takes part in a study from the page (a signed, study-bound HRESCH grant),
    sees the points a published dataset credited, and withdraws."""
    from careledger.actors import Institution
    from careledger.codes import Purpose
    from careledger.contracts import study_scope
    from careledger.store import Workspace

    w = net.world
    ledger = w.ledger
    me = w.addr("stranger")  # this test's patient
    lab = Institution(ledger, w.sender("researcher"), Workspace.local(net.root / "lab"),
                      w.enc["researcher"])  # type: ignore[arg-type]
    study_id = ledger.consent.study_id_from(lab.transact(ledger.consent.register_study(b"\x42" * 32)))
    scope = study_scope(study_id)
    page = open_page(browser, net.node_a.url, wallet_for(net, "stranger"))
    connect(page)
    tab(page, "research")
    row = f"#studies-list tr[data-study='{study_id}']"
    assert "Not taking part" in page.inner_text(row)
    assert "recorded" in act(page, f"{row} button.join-study")
    assert ledger.consent.is_authorized(me, lab.address, scope, Purpose.HRESCH)
    assert "Taking part until" in page.inner_text(row)
    tab(page, "consents")
    assert f"Research study {study_id}" in page.inner_text(f"#grants-list tr[data-grantee='{lab.address}']")

    # a dataset that includes this patient's records is anchored: one point, shown in the page
    lab.transact(ledger.research.anchor_dataset(study_id, b"\x01" * 32, b"\x02" * 32, [me]))
    refresh(page)
    tab(page, "research")
    assert "You have earned 1 point(s), from 1 dataset(s)." in page.inner_text("#points")
    shot(page, "research")
    assert serious_axe_violations(page) == []

    assert "recorded" in act(page, f"{row} button.withdraw-study")
    assert not ledger.consent.is_authorized(me, lab.address, scope, Purpose.HRESCH)
    assert "Not taking part" in page.inner_text(row)
    assert page.errors == []
