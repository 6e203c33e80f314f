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

PW = "correct horse battery staple"


def _run(args: list[str], world, key: str | None = None, enc: Path | None = None,  # type: ignore[no-untyped-def]
         expect_ok: bool = True) -> Result:
    # one directory per party (the wallet's name), as on separate machines
    env = {"CARELEDGER_RPC_URL": world.node.rpc_url, "CARELEDGER_CHAIN_ID": str(world.node.chain_id),
           "CARELEDGER_ENC_PASSWORD": PW,
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
        assert result.output.strip().count("\n") <= 2, result.output
    return result


@pytest.fixture
def cli_world(world):  # type: ignore[no-untyped-def]
    world.ledger.deployment.save(world.workdir / "deployments")
    for name in ("alice", "hospital_a", "hospital_b"):
        world.enc[name].save(world.workdir / f"{name}.key", PW)
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
    assert "v1" in _run(["record", "versions", rid], w).output
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
    out = tmp_path / "got.json"
    _run(["record", "get", rid, "--out", str(out)], w, key="hospital_b", enc=b_key)
    assert out.read_text() == doc.read_text()
    assert out.stat().st_mode & 0o777 == 0o600  # decrypted health data: readable by its owner only
    mine = tmp_path / "mine.json"
    _run(["patient", "read", rid, "--out", str(mine)], w, key="alice", enc=alice_key)
    assert mine.read_text() == doc.read_text()
    signed = tmp_path / "consent.json"  # signed by Alice, relayed by the node (no wallet needed)
    _run(["consent", "sign", "grant", w.addr("researcher"), "--purpose", "HRESCH", "--out",
          str(signed)], w, key="alice")
    assert "applied by" in _run(["consent", "submit", str(signed), "--relay", url], w).output
    hist = _run(["audit", "show", w.addr("alice")], w).output
    assert "verified" in hist
    _run(["audit", "verify", w.addr("alice")], w)
    csv_out = _run(["audit", "export", w.addr("alice"), "--format", "csv"], w).output
    assert csv_out.startswith("date,kind,recipient")
    _run(["patient", "revoke", w.addr("hospital_b"), "--scope", "LAB"], w, key="alice")
    r = _run(["record", "get", rid], w, key="hospital_b", enc=b_key, expect_ok=False)
    assert "AccessNotAuthorized" in r.output
    assert "erased" in _run(["patient", "erase", rid], w, key="alice").output


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
    assert w.addr("stranger") in listing and "ACTIVE" in listing
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
    assert f"#{r1}" in _run(["patient", "requests"], w, key="alice").output
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
    (["record", "verify", "0x" + "ab" * 32], "not in the record index"),
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
        assert set(manifest["abi_hashes"]) == {"InstitutionRegistry", "ConsentRegistry", "RecordRegistry"}
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
    (["audit", "verify", "not-an-address"], None, "not an Ethereum address"),
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
