"""A test wallet for the patient page in a real Chromium: an EIP-1193 provider (announced with
EIP-6963 and set as ``window.ethereum``) whose requests go to Python, which signs with
eth-account and forwards every read to the real anvil. Knobs: report another chain, refuse to
sign (EIP-1193 error 4001, as a person pressing "Reject" does), switch to another account
(``switch_account``: the key changes and the page hears ``accountsChanged``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_typed_data

INIT_SCRIPT = """
(() => {
  const listeners = {};
  const provider = {
    isCareLedgerTestWallet: true,
    async request({ method, params }) {
      const answer = JSON.parse(await window.__testWallet(method, JSON.stringify(params ?? [])));
      if (answer.error) {
        const e = new Error(answer.error.message);
        e.code = answer.error.code;
        throw e;
      }
      return answer.result;
    },
    on(event, fn) { (listeners[event] ||= []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
  };
  window.ethereum = provider;
  // the wallet's own events (EIP-1193 accountsChanged, chainChanged), fired by the test
  window.__testWalletEmit = (event, data) => { for (const fn of listeners[event] || []) fn(data); };
  const info = Object.freeze({ uuid: "5f2a5c1e-0000-4000-8000-000000000001", name: "Test Wallet",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E", rdns: "org.careledger.testwallet" });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


@dataclass
class TestWallet:
    """One account's wallet: signs with ``key``, reads through ``rpc_url``."""

    rpc_url: str
    key: str
    chain_id: int
    refuse: bool = False
    report_chain: int | None = None  # answer eth_chainId with another chain
    hide_topics: set[str] = field(default_factory=set)  # a lying RPC: drop these events' logs
    signed: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    __test__ = False  # not a pytest class

    @property
    def address(self) -> str:
        return str(Account.from_key(self.key).address)

    def install(self, context: Any) -> None:
        """Expose the wallet to every page of a Playwright browser context."""
        context.expose_function("__testWallet", self.handle)
        context.add_init_script(INIT_SCRIPT)

    def switch_account(self, page: Any, key: str) -> None:
        """The person picks another account in the wallet: it signs with ``key`` from now on,
        and tells the page as a wallet does."""
        self.key = key
        page.evaluate("([a]) => window.__testWalletEmit('accountsChanged', [a])", [self.address])

    def handle(self, method: str, params_json: str) -> str:
        try:
            return json.dumps({"result": self._answer(method, json.loads(params_json))})
        except WalletError as exc:
            return json.dumps({"error": {"code": exc.code, "message": str(exc)}})

    def _answer(self, method: str, params: list[Any]) -> Any:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.address]
        if method == "eth_chainId":
            return hex(self.report_chain or self.chain_id)
        if method == "wallet_switchEthereumChain":
            self.report_chain = None if int(params[0]["chainId"], 16) == self.chain_id else self.report_chain
            return None
        if method == "eth_signTypedData_v4":
            if self.refuse:
                raise WalletError(4001, "User rejected the request.")
            if params[0].lower() != self.address.lower():
                raise WalletError(4100, "not this wallet's account")
            typed = json.loads(params[1])
            self.signed.append(typed)
            signable = encode_typed_data(full_message=typed)
            return "0x" + bytes(Account.sign_message(signable, self.key).signature).hex()
        if method == "eth_sendTransaction":
            if self.refuse:
                raise WalletError(4001, "User rejected the request.")
            return self._send(params[0])
        result = self._rpc(method, params)
        if method == "eth_getLogs" and self.hide_topics:
            result = [lg for lg in result if lg["topics"][0].lower() not in self.hide_topics]
        return result

    def _rpc(self, method: str, params: list[Any]) -> Any:
        answer = httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                "params": params}, timeout=30).json()
        if "error" in answer:
            raise WalletError(int(answer["error"].get("code", -32000)),
                              str(answer["error"].get("message")))
        return answer["result"]

    def _send(self, tx: dict[str, Any]) -> str:
        nonce = int(self._rpc("eth_getTransactionCount", [self.address, "pending"]), 16)
        call = {"from": self.address, "to": tx["to"], "data": tx.get("data", "0x")}
        gas = int(self._rpc("eth_estimateGas", [call]), 16)
        base = int(self._rpc("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
        signed = Account.sign_transaction({
            "to": tx["to"], "data": tx.get("data", "0x"), "value": 0, "nonce": nonce,
            "gas": gas * 2, "maxFeePerGas": base * 2 + 10**9, "maxPriorityFeePerGas": 10**9,
            "chainId": self.chain_id, "type": 2}, self.key)
        tx_hash: str = self._rpc("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
        self.sent.append(tx_hash)
        return tx_hash


class WalletError(Exception):
    """An EIP-1193 error (4001: the user rejected)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
