"""Every CLI command: one success and one bad-input case, through click's runner.

Bad input must end with one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from careledger.cli import main
from careledger.codes import Category
from careledger.node.process import start_node_process
from nodes import TEST_SCRYPT_N

PW = "correct horse battery staple"


def _run(args: list[str], world, key: str | None = None, enc: Path | None = None,  # type: ignore[no-untyped-def]
         expect_ok: bool = True) -> Result:
    # one directory per party (the wallet's name), as on separate machines
    env = {"CARELEDGER_RPC_URL": world.node.rpc_url, "CARELEDGER_CHAIN_ID": str(world.node.chain_id),
           "CARELEDGER_ENC_PASSWORD": PW, "CARELEDGER_CONFIG": str(world.workdir / "config.json"),
           "CARELEDGER_WORKSPACE": str(world.workdir / f"ws-{key or 'reader'}")}
    if key:
        env["CARELEDGER_PRIVATE_KEY"] = world.keys[key]
    pre = ["--deployments", str(world.workdir / "deployments")]
    if enc:
        pre += ["--enc-key", str(enc)]
    result = CliRunner().invoke(main, pre + args, env=env, catch_exceptions=True)
    if expect_ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        errors = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
        assert len(errors) == 1 and result.output.rstrip().endswith(errors[0]), result.output
    return result


@pytest.fixture
def cli_world(world):  # type: ignore[no-untyped-def]
    world.ledger.deployment.save(world.workdir / "deployments")
    for name in ("alice", "hospital_a", "hospital_b"):
        world.enc[name].save(world.workdir / f"{name}.key", PW, scrypt_n=TEST_SCRYPT_N)
    return world


def test_keys_new_then_refuses_to_overwrite(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "k.key"
    r = _run(["keys", "new", str(out)], cli_world)
    assert "public key 0x" in r.output and out.exists()
    r = _run(["keys", "new", str(out)], cli_world, expect_ok=False)
    assert "refusing to overwrite" in r.output


def test_patient_and_record_commands_happy_path(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    alice_key, a_key = (w.workdir / f"{n}.key" for n in ("alice", "hospital_a"))
    _run(["patient", "register-key"], w, key="alice", enc=alice_key)
    doc = tmp_path / "lab.json"
    doc.write_text('{"resourceType": "Observation"}')
    r = _run(["record", "publish", str(doc), "--patient", w.addr("alice"), "--category", "LAB"],
             w, key="hospital_a", enc=a_key)
    rid = r.output.split()[1]
    _run(["record", "verify", rid], w, key="hospital_a")  # the issuer's own record index
    versions = json.loads(_run(["record", "versions", rid, "--json"], w).output)
    assert [v["version"] for v in versions] == [1] and versions[0]["recordId"] == rid
    _run(["patient", "grant", w.addr("hospital_b"), "--scope", "LAB", "--purpose", "TREAT",
          "--expires", "2d"], w, key="alice")
    node = start_node_process(  # hospital A's node, over the directory its CLI published into
        rpc_url=w.node.rpc_url, chain_id=w.node.chain_id, deployments=w.workdir / "deployments",
        workspace=w.workdir / "ws-hospital_a", enc_key=a_key, enc_password=PW,
        private_key=w.keys["hospital_a"])
    try:
        _cli_story_through_the_node(w, node.url, rid, doc, tmp_path)
    finally:
        node.stop()


def _cli_story_through_the_node(w, url: str, rid: str, doc: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice_key, b_key = w.workdir / "alice.key", w.workdir / "hospital_b.key"
    _run(["institution", "endpoint", url], w, key="hospital_a")
    entries = lambda: w.ledger.consent.audit_head(w.addr("alice"))[1]
    # what cannot be delivered is refused before anything is logged on chain
    r = _run(["record", "get", rid, "--out", str(tmp_path / "missing" / "x.json")], w,
             key="hospital_b", enc=b_key, expect_ok=False)
    assert "does not exist" in r.output and entries() == 0
    blob_path = next(p for p in (w.workdir / "ws-hospital_a" / "blobs").rglob("*") if p.is_file())
    good = blob_path.read_bytes()
    blob_path.chmod(0o600)
    blob_path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # the issuer's disk rots one bit
    r = _run(["record", "get", rid], w, key="hospital_b", enc=b_key, expect_ok=False)
    assert ("BlobCorrupted" in r.output or "CommitmentMismatch" in r.output) and entries() == 0
    blob_path.write_bytes(good)
    out = tmp_path / "got.json"
    _run(["record", "get", rid, "--out", str(out)], w, key="hospital_b", enc=b_key)
    assert entries() == 1
    assert out.read_text() == doc.read_text()
    assert out.stat().st_mode & 0o777 == 0o600  # decrypted health data: readable by its owner only
    mine = tmp_path / "mine.json"
    _run(["patient", "read", rid, "--out", str(mine)], w, key="alice", enc=alice_key)
    assert mine.read_text() == doc.read_text()
    signed = tmp_path / "consent.json"  # signed by Alice, relayed by the node (no wallet needed)
    _run(["consent", "sign", "grant", w.addr("researcher"), "--purpose", "HRESCH", "--out",
          str(signed)], w, key="alice")
    relayed = _run(["consent", "submit", str(signed), "--relay", url], w).output
    assert relayed.startswith("applied (signed by ") and "gas paid by the node" in relayed
    hist = _run(["audit", "show", w.addr("alice")], w).output
    assert "verified" in hist
    _run(["audit", "verify", w.addr("alice")], w)
    csv_out = _run(["audit", "export", w.addr("alice"), "--format", "csv"], w).output
    assert csv_out.startswith("date,kind,recipient")
    # a large file is streamed into pieces, and fetched piece by piece into a file
    from careledger.synthetic import write_synthetic

    big = write_synthetic(tmp_path / "study.dcm", 17 * 2**20 + 5, "imaging")
    r = _run(["record", "publish", str(big), "--patient", w.addr("alice"), "--category", "LAB",
              "-q"], w, key="hospital_a", enc=w.workdir / "hospital_a.key")
    big_id = r.output.strip().splitlines()[-1]
    before = entries()
    r = _run(["record", "get", big_id, "--out", str(tmp_path / "x.dcm"), "--max-size", "1M"], w,
             key="hospital_b", enc=b_key, expect_ok=False)
    assert "BlobTooLarge" in r.output and entries() == before
    r = _run(["record", "get", big_id, "--out", str(tmp_path / "got.dcm")], w, key="hospital_b",
             enc=b_key)
    assert (tmp_path / "got.dcm").read_bytes() == big.read_bytes() and entries() == before + 1
    r = _run(["record", "publish", str(big), "--patient", w.addr("alice"), "--category", "LAB",
              "--max-size", "10M"], w, key="hospital_a", enc=w.workdir / "hospital_a.key",
             expect_ok=False)
    assert "--max-size 10M" in r.output
    _run(["patient", "revoke", w.addr("hospital_b"), "--scope", "LAB"], w, key="alice")
    r = _run(["record", "get", rid], w, key="hospital_b", enc=b_key, expect_ok=False)
    assert "AccessNotAuthorized" in r.output
    assert "erased" in _run(["patient", "erase", rid], w, key="alice").output
    _run(["patient", "grant", w.addr("hospital_b"), "--scope", "LAB"], w, key="alice")
    before = entries()
    r = _run(["record", "get", rid], w, key="hospital_b", enc=b_key, expect_ok=False)
    assert "erased" in r.output and entries() == before  # an erased record: nothing logged


def test_signed_consent_file_round_trip_and_expired_signature(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    f = tmp_path / "consent.json"
    _run(["consent", "sign", "grant", w.addr("hospital_b"), "--scope", "ALL", "--out", str(f)], w, key="alice")
    assert json.loads(f.read_text())
    assert "applied" in _run(["consent", "submit", str(f)], w, key="relayer").output
    assert w.ledger.consent.is_authorized(w.addr("alice"), w.addr("hospital_b"),
                                          __import__("careledger.codes").codes.SCOPE_ALL, 0)
    g = tmp_path / "expired.json"
    _run(["consent", "sign", "revoke", w.addr("hospital_b"), "--deadline", "1", "--out", str(g)], w, key="alice")
    w.chain.w3.provider.make_request("evm_increaseTime", [100])
    w.chain.w3.provider.make_request("evm_mine", [])
    r = _run(["consent", "submit", str(g)], w, key="relayer", expect_ok=False)
    assert "xpired" in r.output


def test_institution_propose_approve_list(cli_world) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    r = _run(["institution", "propose", "admit", w.addr("stranger"), "--roles", "RESEARCHER",
              "--enc-pubkey", "0x" + "ab" * 32], w, key="hospital_a")
    assert "proposal #" in r.output
    listing = _run(["institution", "list"], w).output
    assert w.addr("stranger") in listing and "active" in listing
    r = _run(["institution", "approve", "999"], w, key="hospital_a", expect_ok=False)
    assert "ProposalNotFound" in r.output


def test_patient_guardian_requests_approve_reject(cli_world) -> None:  # type: ignore[no-untyped-def]
    from careledger.actors import Researcher
    from careledger.codes import Purpose
    from careledger.store import Workspace

    w = cli_world
    _run(["patient", "guardian", "set", w.addr("guardian"), "--expires", "30d"], w, key="alice")
    _run(["patient", "--for", w.addr("alice"), "grant", w.addr("hospital_a")], w, key="guardian")
    r = Researcher(w.ledger, w.sender("researcher"), Workspace.local(w.workdir / "ws"), w.enc["researcher"])
    r1 = r.request_access(w.addr("alice"), Category.VITALS.code, Purpose.HRESCH, "study")
    r2 = r.request_access(w.addr("alice"), Category.VITALS.code, Purpose.HRESCH, "study")
    pending = json.loads(_run(["patient", "requests", "--json"], w, key="alice").output)
    assert [p["id"] for p in pending] == [r1, r2] and pending[0]["purpose"] == "HRESCH"
    _run(["patient", "reject", str(r1)], w, key="alice")
    _run(["patient", "approve", str(r2), "--expires", "1h"], w, key="alice")
    r = _run(["patient", "approve", str(r2)], w, key="alice", expect_ok=False)
    assert "RequestNotPending" in r.output
    _run(["patient", "guardian", "remove", w.addr("guardian")], w, key="alice")
    r = _run(["patient", "--for", w.addr("alice"), "grant", w.addr("hospital_a")], w, key="guardian",
             expect_ok=False)
    assert "NotPatientOrGuardian" in r.output


@pytest.mark.parametrize("args,needle", [
    (["patient", "grant", "0xnotanaddress"], "not an Ethereum address"),
    (["patient", "grant", "0x" + "11" * 20, "--expires", "soon"], "expiry"),
    (["patient", "grant", "0x" + "11" * 20, "--purpose", "FUN"], "unknown purpose"),
    (["patient", "grant", "0x" + "11" * 20, "--scope", "PIZZA"], "unknown category"),
    (["record", "verify", "0x1234"], "32 bytes"),
    (["record", "verify", "0x" + "ab" * 32], "no workspace at"),  # alice published nothing
])
def test_bad_input_is_one_line_and_nonzero(cli_world, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    r = _run(args, cli_world, key="alice", expect_ok=False)
    assert needle in r.output


def test_no_wallet_wrong_password_wrong_chain_missing_manifest(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    r = _run(["patient", "grant", w.addr("hospital_b")], w, expect_ok=False)
    assert "no wallet" in r.output
    env = {"CARELEDGER_RPC_URL": w.node.rpc_url, "CARELEDGER_ENC_PASSWORD": "wrong",
           "CARELEDGER_PRIVATE_KEY": w.keys["alice"]}
    r = CliRunner().invoke(main, ["--deployments", str(w.workdir / "deployments"), "--enc-key",
                                  str(w.workdir / "alice.key"), "patient", "register-key"], env=env)
    assert r.exit_code != 0 and "WrongPassword" in r.output
    env = {"CARELEDGER_RPC_URL": w.node.rpc_url, "CARELEDGER_CHAIN_ID": "1"}
    r = CliRunner().invoke(main, ["audit", "show", w.addr("alice")], env=env)
    assert r.exit_code != 0 and "ChainIdMismatch" in r.output
    env = {"CARELEDGER_RPC_URL": w.node.rpc_url}
    r = CliRunner().invoke(main, ["--deployments", str(tmp_path / "none"), "audit", "show", w.addr("alice")], env=env)
    assert r.exit_code != 0 and "careledger deploy" in r.output
    # keystore with a wrong password
    from eth_account import Account

    ks = tmp_path / "ks.json"
    ks.write_text(json.dumps(Account.encrypt(w.keys["alice"], "right")))
    env = {"CARELEDGER_RPC_URL": w.node.rpc_url, "CARELEDGER_KEYSTORE_PASSWORD": "wrong"}
    r = CliRunner().invoke(main, ["--deployments", str(w.workdir / "deployments"), "--keystore", str(ks),
                                  "patient", "grant", w.addr("hospital_b")], env=env)
    assert r.exit_code != 0 and "WrongPassword" in r.output


def test_deploy_to_second_devnet_with_other_chain_id_and_mismatched_manifest_refused(tmp_path: Path) -> None:
    from careledger.chain import Devnet

    with Devnet(chain_id=4242) as node:
        key = node.accounts[0].private_key
        env = {"CARELEDGER_RPC_URL": node.rpc_url, "CARELEDGER_CHAIN_ID": "4242",
               "CARELEDGER_PRIVATE_KEY": key}
        member = f"{node.accounts[1].address}:PROVIDER+EMERGENCY:0x{'cd' * 32}"
        r = CliRunner().invoke(main, ["--deployments", str(tmp_path), "deploy", "--member", member,
                                      "--threshold", "1"], env=env)
        assert r.exit_code == 0, r.output
        manifest = json.loads((tmp_path / "4242.json").read_text())
        assert manifest["chain_id"] == 4242 and manifest["deployer"] == node.accounts[0].address
        assert set(manifest["abi_hashes"]) == {"InstitutionRegistry", "ConsentRegistry", "RecordRegistry",
                                               "ResearchRegistry"}
        assert manifest["research_registry"].startswith("0x")
        r = CliRunner().invoke(main, ["--deployments", str(tmp_path), "deploy", "--member", member,
                                      "--threshold", "1"], env=env)
        assert r.exit_code != 0 and "--force" in r.output
        # a manifest for chain 4242 copied under another chain's name is refused
        (tmp_path / "31337.json").write_text((tmp_path / "4242.json").read_text())
        with Devnet(chain_id=31337) as other:
            r = CliRunner().invoke(main, ["--deployments", str(tmp_path), "audit", "show",
                                          node.accounts[2].address],
                                   env={"CARELEDGER_RPC_URL": other.rpc_url})
            assert r.exit_code != 0 and "ChainIdMismatch" in r.output
        r = CliRunner().invoke(main, ["--deployments", str(tmp_path), "deploy", "--member", "0xbad",
                                      "--threshold", "1", "--force"], env=env)
        assert r.exit_code != 0 and "ADDRESS:ROLES:ENCKEY" in r.output


# -- one bad-input case for every remaining command ------------------------------------------

_NOBODY = "0x" + "11" * 20
_NO_RECORD = "0x" + "ab" * 32


@pytest.mark.parametrize("args,key,needle", [
    (["institution", "propose", "admit", "0xbad"], "hospital_a", "not an Ethereum address"),
    (["institution", "propose", "admit", _NOBODY, "--roles", "WIZARD"], "hospital_a", "unknown role"),
    (["institution", "approve", "999"], "hospital_a", "ProposalNotFound"),
    (["institution", "propose", "suspend", _NOBODY], "stranger", "NotActiveInstitution"),
    (["patient", "revoke", _NOBODY, "--scope", "LAB"], "alice", "GrantNotFound"),
    (["patient", "guardian", "remove", _NOBODY], "alice", "GuardianNotFound"),
    (["patient", "approve", "999"], "alice", "RequestNotFound"),
    (["patient", "reject", "999"], "alice", "RequestNotFound"),
    (["patient", "--for", "0xbad", "history"], "alice", "not an Ethereum address"),
    (["patient", "erase", _NO_RECORD], "alice", "published no node endpoint"),
    (["patient", "read", _NO_RECORD], "alice", "published no node endpoint"),
    (["consent", "sign", "grant", "0xbad", "--out", "x.json"], "alice", "not an Ethereum address"),
    (["record", "get", _NO_RECORD], "hospital_b", "published no node endpoint"),
    (["record", "versions", _NO_RECORD], "hospital_a", "not anchored"),
    (["audit", "show", "0xbad"], None, "not an Ethereum address"),
    (["audit", "verify", "not-an-address"], None, "neither an address"),
    (["audit", "export", "0x12"], None, "not an Ethereum address"),
])
def test_every_command_refuses_bad_input_in_one_line(cli_world, args: list[str], key: str | None,  # type: ignore[no-untyped-def]
                                                     needle: str) -> None:
    enc = cli_world.workdir / "alice.key"
    r = _run(args, cli_world, key=key, enc=enc, expect_ok=False)
    assert needle.lower() in r.output.lower(), r.output


def test_patient_register_key_without_an_encryption_key_file(cli_world) -> None:  # type: ignore[no-untyped-def]
    r = _run(["patient", "register-key"], cli_world, key="alice", expect_ok=False)
    assert "--enc-key" in r.output


def test_record_publish_batch_and_patient_history(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    _run(["patient", "register-key"], w, key="alice", enc=w.workdir / "alice.key")
    files = []
    for i in range(3):
        f = tmp_path / f"hr-{i}.json"
        f.write_text(json.dumps({"resourceType": "Observation", "valueQuantity": 60 + i}))
        files.append(str(f))
    r = _run(["record", "publish-batch", *files, "--patient", w.addr("alice"), "--category", "VITALS"],
             w, key="hospital_a", enc=w.workdir / "hospital_a.key")
    assert "anchored with 3 records" in r.output
    ids = [line.split(": ")[1] for line in r.output.splitlines() if line.startswith("  ")]
    assert len(ids) == 3
    r = _run(["record", "verify", ids[0]], w, key="hospital_a")
    assert "batch" in r.output.lower() or "verif" in r.output.lower()
    r = _run(["record", "publish-batch", *files, "--patient", w.addr("alice"), "--category", "PIZZA"],
             w, key="hospital_a", enc=w.workdir / "hospital_a.key", expect_ok=False)
    assert "unknown category" in r.output
    # the history is empty, then holds the read
    _run(["patient", "grant", w.addr("hospital_a"), "--scope", "VITALS"], w, key="alice")
    _run(["record", "get", ids[1]], w, key="hospital_a", enc=w.workdir / "hospital_a.key")
    r = _run(["patient", "history"], w, key="alice")
    assert "VITALS" in r.output and "TREAT" in r.output


@contextmanager
def _devnet(chain_id: int) -> Iterator[tuple[subprocess.Popen[str], str, str, int]]:
    """``careledger devnet`` in the foreground: the process, its banner, its RPC URL and the pid
    of the one anvil it started; killed at the end if still running."""
    proc = subprocess.Popen([sys.executable, "-c", "from careledger.cli import main; main()",
                             "devnet", "--chain-id", str(chain_id)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        url = next(line.split()[-1] for line in lines if line.startswith("RPC URL"))
        anvil_pids = subprocess.run(["pgrep", "-f", f"anvil.*--port {url.rsplit(':', 1)[1]}"],
                                    capture_output=True, text=True, check=False).stdout.split()
        assert len(anvil_pids) == 1
        yield proc, "".join(lines), url, int(anvil_pids[0])
    finally:
        if proc.poll() is None:
            proc.kill()


def test_devnet_command_runs_in_the_foreground_and_leaves_nothing_behind() -> None:
    import urllib.request

    from careledger.chain import pid_alive

    with _devnet(31999) as (proc, text, url, anvil_pid):
        assert "chain id  31999" in text and "(9)" in text
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert int(json.loads(resp.read())["result"], 16) == 31999
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "devnet stopped" in out
        assert not pid_alive(anvil_pid)


def test_devnet_anvil_dies_with_the_command_even_on_sigkill() -> None:
    from careledger.chain import pid_alive

    with _devnet(31998) as (proc, _text, _url, anvil_pid):
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for _ in range(100):
            if not pid_alive(anvil_pid):
                break
            time.sleep(0.05)
        assert not pid_alive(anvil_pid), "anvil outlived the killed devnet command"


def test_endpoint_and_closing_a_break_glass_window_from_the_cli(cli_world) -> None:  # type: ignore[no-untyped-def]
    from careledger.actors import Institution
    from careledger.store import Workspace

    w = cli_world
    _run(["institution", "endpoint", "https://node.hospital-a.example"], w, key="hospital_a")
    assert w.ledger.institutions.endpoint_of(w.addr("hospital_a")) == "https://node.hospital-a.example"
    r = _run(["institution", "endpoint", "ftp://nope"], w, key="hospital_a", expect_ok=False)
    assert "InvalidEndpoint" in r.output
    er = Institution(w.ledger, w.sender("emergency"), Workspace.local(w.workdir / "er"),
                     w.enc["emergency"])
    er.break_glass(w.addr("alice"), "unconscious", 3600)
    _run(["patient", "close-glass", w.addr("emergency")], w, key="alice")
    assert not w.ledger.consent.break_glass_window(w.addr("alice"), w.addr("emergency")).open_at(w.now())
    r = _run(["patient", "close-glass", w.addr("emergency")], w, key="alice", expect_ok=False)
    assert "BreakGlassNotOpen" in r.output
    dan_for_alice = ["patient", "--for", w.addr("alice"), "register-key"]
    w.ledger.consent.set_guardian(w.addr("guardian"), w.now() + 3600).transact(w.sender("alice"))
    r = _run(dan_for_alice, w, key="guardian", enc=w.workdir / "alice.key", expect_ok=False)
    assert "NotThePatient" in r.output


# -- identities, names, every actor's reads, and the inputs that used to end in a traceback ----


def test_wallets_profiles_address_book_and_whoami(cli_world, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    monkeypatch.setenv("CARELEDGER_KEYSTORE_PASSWORD", PW)
    ks_a, ks_alice = tmp_path / "a.json", tmp_path / "alice.json"
    r = CliRunner().invoke(main, ["wallet", "import", str(ks_a)], input=w.keys["hospital_a"] + "\n")
    assert r.exit_code == 0 and w.addr("hospital_a") in r.output, r.output
    assert ks_a.stat().st_mode & 0o777 == 0o600
    CliRunner().invoke(main, ["wallet", "import", str(ks_alice)], input=w.keys["alice"] + "\n")
    new = tmp_path / "fresh.json"
    r = CliRunner().invoke(main, ["wallet", "new", str(new)])
    fresh = r.output.split()[1]
    assert r.exit_code == 0 and _run(["wallet", "address", str(new)], w).output.strip() == fresh
    r = _run(["wallet", "new", str(new)], w, expect_ok=False)  # never overwrites a wallet
    assert "refusing to overwrite" in r.output
    _run(["profile", "add", "hospital-a", "--keystore", str(ks_a), "--enc-key",
          str(w.workdir / "hospital_a.key"), "--workspace", str(tmp_path / "ws-a")], w)
    _run(["profile", "add", "alice", "--keystore", str(ks_alice), "--enc-key",
          str(w.workdir / "alice.key")], w)
    _run(["book", "add", "hospital-b", w.addr("hospital_b")], w)
    r = _run(["book", "add", "Hospital-B", w.addr("researcher")], w, expect_ok=False)
    assert "already used by 'hospital-b'" in r.output  # names differing in case are refused
    r = _run(["--as", "alice", "--keystore", str(ks_a), "whoami"], w, expect_ok=False)
    assert "name two identities" in r.output
    profiles = json.loads(_run(["profile", "list", "--json"], w).output)
    assert {p["name"]: p["address"] for p in profiles} == {"hospital-a": w.addr("hospital_a"),
                                                           "alice": w.addr("alice")}
    assert "hospital-b" in _run(["book", "list"], w).output
    # acting as a profile: its wallet; names wherever an address goes; the actor is named
    r = _run(["--as", "alice", "patient", "grant", "hospital-b", "--scope", "LAB"], w)
    assert "hospital-b may use LAB" in r.output and f"by alice ({w.addr('alice')[:6]}" in r.output
    grants = json.loads(_run(["--as", "alice", "patient", "grants", "--json"], w).output)
    assert [(g["name"], g["scope"], list(g["purposes"])) for g in grants] == [("hospital-b", "LAB", ["TREAT"])]
    # the profile remembers its deployments folder: no --deployments needed from elsewhere
    r = CliRunner().invoke(main, ["--as", "hospital-a", "whoami", "--json"],
                           env={"CARELEDGER_RPC_URL": w.node.rpc_url,
                                "CARELEDGER_CONFIG": str(w.workdir / "config.json")})
    assert r.exit_code == 0 and json.loads(r.output)["institution"] == "active", r.output
    me = json.loads(_run(["--as", "hospital-a", "whoami", "--json"], w).output)
    assert me["address"] == w.addr("hospital_a") and me["institution"] == "active"
    assert me["name"] == "hospital-a" and me["keyFileMatches"] is True
    assert json.loads(_run(["--as", "alice", "whoami", "--json"], w).output)["institution"] == "not a member"
    r = _run(["--as", "nobody", "whoami"], w, expect_ok=False)
    assert "no profile 'nobody'" in r.output
    r = _run(["profile", "add", "alice", "--keystore", str(ks_alice)], w, expect_ok=False)
    assert "--force" in r.output
    r = _run(["profile", "add", "0xbad", "--keystore", str(ks_alice)], w, expect_ok=False)
    assert "name '0xbad'" in r.output
    pub = _run(["keys", "public", str(w.workdir / "alice.key")], w).output.strip()
    assert pub == "0x" + w.enc["alice"].public_bytes.hex()


def test_institution_requests_break_glass_and_proposals_with_json(cli_world) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    r = _run(["institution", "request-access", w.addr("alice"), "--scope", "LAB", "--purpose",
              "HRESCH", "--reason", "study 7"], w, key="researcher")
    assert "request #1 sent" in r.output and "salt 0x" in r.output
    pending = json.loads(_run(["patient", "requests", "--json"], w, key="alice").output)
    assert [(p["id"], p["scope"], p["purpose"]) for p in pending] == [(1, "LAB", "HRESCH")]
    r = _run(["institution", "break-glass", w.addr("alice"), "--reason", "ER", "--duration", "2h"],
             w, key="emergency")
    assert "break-glass on" in r.output
    assert w.ledger.consent.break_glass_window(w.addr("alice"), w.addr("emergency")).open_at(w.now())
    r = _run(["institution", "break-glass", w.addr("alice"), "--reason", "ER", "--duration", "100h"],
             w, key="emergency", expect_ok=False)
    assert "BreakGlass" in r.output
    _run(["institution", "propose", "suspend", w.addr("hospital_b")], w, key="hospital_a")
    listed = json.loads(_run(["institution", "proposals", "--all", "--json"], w).output)
    assert [(p["kind"], p["subject"]) for p in listed][-1] == ("suspend", w.addr("hospital_b"))
    shown = json.loads(_run(["institution", "proposal", str(listed[0]["id"]), "--json"], w).output)
    assert shown["approvedBy"] == [w.addr("hospital_a")[:6] + "…" + w.addr("hospital_a")[-4:]]
    assert json.loads(_run(["institution", "list", "--json"], w).output)[0]["status"] == "active"
    r = _run(["institution", "proposal", "99"], w, expect_ok=False)
    assert "ProposalNotFound" in r.output


def test_cancelling_outstanding_signatures_voids_a_signed_consent(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    f = tmp_path / "grant.json"
    _run(["consent", "sign", "grant", w.addr("hospital_b"), "--out", str(f)], w, key="alice")
    _run(["patient", "cancel-signatures"], w, key="alice")
    r = _run(["consent", "submit", str(f)], w, key="relayer", expect_ok=False)
    assert "nonce" in r.output.lower()


def test_record_list_and_versions_as_json(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    doc = tmp_path / "a.json"
    doc.write_text("{}")
    _run(["patient", "register-key"], w, key="alice", enc=w.workdir / "alice.key")
    rid = _run(["record", "publish", str(doc), "--patient", w.addr("alice"), "--category", "NOTE",
                "-q"], w, key="hospital_a", enc=w.workdir / "hospital_a.key").output.strip()
    listed = json.loads(_run(["record", "list", "--json"], w, key="hospital_a").output)
    assert [(r["recordId"], r["category"], r["patient"]) for r in listed] == [(rid, "NOTE", w.addr("alice"))]
    r = _run(["record", "list"], w, key="hospital_b", expect_ok=False)  # nothing published there
    assert "no workspace at" in r.output


_TYPO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".replace("7970C", "7971C")


@pytest.mark.parametrize("args,needle", [
    (["patient", "grant"], "Missing argument 'GRANTEE'"),                       # a usage error
    (["patient", "guardian", "set", _TYPO], "EIP-55 checksum"),                 # a typo in a checksummed address
    (["patient", "grant", "0x" + "11" * 20, "--expires", "99999999999d"], "100 years"),  # uint64 overflow
    (["patient", "grant", "0x" + "11" * 20, "--expires", "@18446744073709551616"], "100 years"),
    (["patient", "grant", "0x" + "11" * 20, "--expires", "@1"], "not in the future"),
    (["patient", "approve", "1", "--expires", "0d"], "not in the future"),
    (["record", "list", "--patient", "nobody"], "neither an address"),
    (["institution", "propose", "change-threshold"], "--threshold"),
])
def test_inputs_that_used_to_end_in_a_traceback_are_one_line(cli_world, args: list[str],  # type: ignore[no-untyped-def]
                                                             needle: str) -> None:
    r = _run(args, cli_world, key="alice", expect_ok=False)
    assert needle in r.output


def test_a_keystore_that_is_not_one_and_an_unreachable_chain(cli_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = cli_world
    for content, needle in (("{}", "not an eth-account keystore"), ("hello", "not JSON"),
                            ('{"version": 3, "crypto": {}}', "missing 'kdf'")):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        r = CliRunner().invoke(main, ["--deployments", str(w.workdir / "deployments"), "--keystore",
                                      str(bad), "patient", "grant", w.addr("hospital_b")],
                               env={"CARELEDGER_RPC_URL": w.node.rpc_url,
                                    "CARELEDGER_KEYSTORE_PASSWORD": "x"})
        assert r.exit_code == 1 and needle in r.output and r.output.count("\n") == 1, r.output
    ks = tmp_path / "ks.json"
    ks.write_text(json.dumps(__import__("eth_account").Account.encrypt(w.keys["alice"], "pw")))
    r = CliRunner().invoke(main, ["--deployments", str(w.workdir / "deployments"), "--keystore",
                                  str(ks), "patient", "grants"],
                           env={"CARELEDGER_RPC_URL": w.node.rpc_url})  # no terminal, no variable
    assert r.exit_code == 1 and "set $CARELEDGER_KEYSTORE_PASSWORD" in r.output, r.output
    r = CliRunner().invoke(main, ["--rpc-retries", "1", "audit", "show", w.addr("alice")],
                           env={"CARELEDGER_RPC_URL": "http://127.0.0.1:9"})  # nothing listens
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "RpcUnavailable" in r.output, r.output


def test_a_stale_manifest_after_a_chain_reset_is_one_line(tmp_path: Path) -> None:
    from careledger.chain import Devnet

    with Devnet() as node:  # a fresh chain: the manifest below names contracts it never had
        manifest = {"chain_id": node.chain_id, "institution_registry": "0x" + "12" * 20,
                    "consent_registry": "0x" + "34" * 20, "record_registry": "0x" + "56" * 20,
                    "block": 0, "deployer": node.accounts[0].address, "abi_hashes": {}}
        (tmp_path / f"{node.chain_id}.json").write_text(json.dumps(manifest))
        r = CliRunner().invoke(main, ["--deployments", str(tmp_path), "audit", "show",
                                      node.accounts[1].address], env={"CARELEDGER_RPC_URL": node.rpc_url})
        assert r.exit_code == 1 and "stale" in r.output and r.output.count("\n") == 1, r.output


def test_a_devnet_binary_that_is_not_anvil_is_one_line(tmp_path: Path) -> None:
    for binary, needle in (("/bin/true", "without starting a devnet"),
                           ("/bin/ls", "unrecognized option"),
                           (str(tmp_path / "none"), "not a native anvil")):
        r = CliRunner().invoke(main, ["devnet"], env={"CARELEDGER_ANVIL": binary})
        assert r.exit_code == 1 and needle in r.output and r.output.count("\n") == 1, r.output
