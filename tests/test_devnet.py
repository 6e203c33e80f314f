"""The devnet starts native anvil on a free port, answers JSON-RPC, and leaves nothing behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from careledger.chain import Devnet, find_anvil, pid_alive
from careledger.contracts.artifacts import load_artifact
from careledger.errors import AnvilNotFound, DevnetError, PortInUse


def _deploy_and_call(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    acct = Account.from_key(node.accounts[0].private_key)
    art = load_artifact("InstitutionRegistry")
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    tx = factory.constructor([acct.address], [1], [b"\x01" * 32], [b"\x00" * 32], 1, 3600).build_transaction(
        {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address)}
    )
    signed = acct.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1
    registry = w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])
    assert registry.functions.isActive(acct.address).call() is True
    assert registry.functions.threshold().call() == 1


def test_devnet_starts_deploys_answers_and_stops_without_leftover_process() -> None:
    node = Devnet().start()
    pid = node.pid
    assert pid is not None and pid_alive(pid)
    assert Path(f"/proc/{pid}/exe").resolve() == find_anvil().resolve()
    _deploy_and_call(node)
    node.stop()
    assert not pid_alive(pid)


def test_anvil_keeps_its_spilled_states_in_the_devnets_folder_removed_at_stop() -> None:
    """Historical states anvil writes to disk go under the devnet's own temporary folder (not
    ~/.foundry/anvil/tmp, where killed anvils left tens of GB), which stop() removes."""
    node = Devnet().start()
    args = Path(f"/proc/{node.pid}/cmdline").read_bytes().split(b"\0")
    cache = Path(args[args.index(b"--cache-path") + 1].decode())
    assert node._tmp is not None and cache.parent == Path(node._tmp.name)
    node.stop()
    assert not cache.parent.exists()


def test_two_devnets_run_at_once_on_different_ports_and_chain_ids() -> None:
    with Devnet(chain_id=31337) as a, Devnet(chain_id=31338) as b:
        assert a.port != b.port
        assert Web3(Web3.HTTPProvider(a.rpc_url)).eth.chain_id == 31337
        assert Web3(Web3.HTTPProvider(b.rpc_url)).eth.chain_id == 31338
        pids = (a.pid, b.pid)
    assert not any(pid_alive(p) for p in pids if p is not None)


def test_taken_port_is_a_clear_error_not_a_hang() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port}"):
            Devnet(port=port).start()


def test_missing_anvil_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARELEDGER_ANVIL", str(tmp_path / "no-such-anvil"))
    with pytest.raises(AnvilNotFound, match="not a native anvil"):
        Devnet().start()


def test_node_wrapper_is_refused_as_anvil(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wrapper = tmp_path / "anvil"
    wrapper.write_text("#!/usr/bin/env node\nrequire('child_process')\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("CARELEDGER_ANVIL", str(wrapper))
    with pytest.raises(AnvilNotFound):
        find_anvil()


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    node = Devnet(state_file=state).start()
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    acct = Account.from_key(node.accounts[1].private_key)
    tx = {"to": node.accounts[2].address, "value": 12345, "gas": 21000, "nonce": 0,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "chainId": node.chain_id}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))
    node.stop()
    assert state.exists()
    node.restart()
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert w3.eth.get_transaction_count(acct.address) == 1
    finally:
        node.stop()


def test_a_dump_cut_by_a_crash_resumes_from_the_last_complete_one(tmp_path: Path) -> None:
    # anvil rewrites --state in place: SIGKILL mid-dump leaves truncated JSON that anvil refuses
    state = tmp_path / "state.json"
    node = Devnet(state_file=state).start()
    acct = Account.from_key(node.accounts[1].private_key)
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    tx = {"to": node.accounts[2].address, "value": 1, "gas": 21000, "nonce": 0,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "chainId": node.chain_id}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))
    node.stop()
    whole = state.read_bytes()
    state.write_bytes(whole[: len(whole) // 2])  # what a kill during the dump leaves
    node.restart()
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert w3.eth.get_transaction_count(acct.address) == 1
    finally:
        node.stop()
    state.write_bytes(b'{"block": ')
    (tmp_path / "state.json.last-good").unlink()
    with pytest.raises(DevnetError, match="damaged"):
        Devnet(state_file=state).start()


def test_the_anvil_ape_starts_spills_into_a_folder_removed_when_ape_stops_it() -> None:
    """``tools/ape-anvil/anvil`` (first on ``ape test``'s PATH): the real anvil's spilled states
    go in a folder of the wrapper's, and SIGINT, which ape sends to stop anvil, stops it even
    when the wrapper started with SIGINT ignored (a make recipe in a background job); the folder
    is removed and no anvil is left."""
    import os
    import signal
    import subprocess
    import tempfile
    import time

    import httpx

    from careledger.chain.devnet import free_port

    wrapper = Path(__file__).resolve().parents[1] / "tools" / "ape-anvil" / "anvil"
    port = free_port("127.0.0.1")
    proc = subprocess.Popen(
        [str(wrapper), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env={**os.environ, "CARELEDGER_ANVIL": str(find_anvil())},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # noqa: PLW1509
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                      "params": []}, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine",
                              "params": ["0x7d0"]}, timeout=60)
        states = Path(tempfile.gettempdir()) / "careledger-ape-anvil" / f"{proc.pid}-states"
        assert states.is_dir() and any(states.iterdir())  # 2,000 blocks spilled here
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert not states.exists()
        assert children and not any(pid_alive(int(c)) for c in children)
    finally:
        if proc.poll() is None:
            proc.kill()
