"""The exception tree: one static class per contract custom error, generated from the ABIs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from eth_abi.abi import encode
from eth_utils.crypto import keccak

import careledger
from careledger import errors
from careledger.contracts.artifacts import DEPLOYABLE, load_artifact

ROOT = Path(__file__).resolve().parent.parent


def _abi_errors() -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for name in DEPLOYABLE:
        for item in load_artifact(name)["abi"]:
            if item["type"] == "error":
                found[item["name"]] = item["inputs"]
    return found


def test_generated_block_of_errors_py_matches_the_packaged_abis() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_errors.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_every_contract_error_has_a_static_class_that_decodes_its_revert_data() -> None:
    for name, inputs in _abi_errors().items():
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ContractRevert) and cls.__module__ == "careledger.errors"
        assert cls.hint and cls.__doc__
        types = [i["type"] for i in inputs]
        samples: dict[str, object] = {"address": "0x" + "11" * 20, "bool": True, "string": "x"}
        values = [samples.get(t, b"\x22" * int(t[5:]) if t.startswith("bytes") else 7)
                  for t in types]
        data = keccak(text=f"{name}({','.join(types)})")[:4] + encode(types, values)
        exc = errors.revert_from_data(data)
        assert type(exc) is cls
        assert list(exc.error_args) == [i["name"] for i in inputs]
        assert cls.hint in str(exc)


def test_unknown_revert_data_is_a_transaction_failed_not_a_crash() -> None:
    exc = errors.revert_from_data(b"\xde\xad\xbe\xef" + b"\x00" * 32)
    assert isinstance(exc, errors.TransactionFailed)


def test_every_exception_class_is_declared_in_errors_py_and_exported() -> None:
    declared = {n for n, v in vars(errors).items()
                if isinstance(v, type) and issubclass(v, errors.CareLedgerError)}
    assert declared <= set(careledger.__all__), sorted(declared - set(careledger.__all__))
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("careledger.") or module_name == "careledger.errors":
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, errors.CareLedgerError):
                assert value.__module__ == "careledger.errors", f"{value} declared in {module_name}"


def test_each_error_also_is_the_builtin_that_matches_its_meaning() -> None:
    assert issubclass(errors.AccessNotAuthorized, PermissionError)
    assert issubclass(errors.GrantNotFound, LookupError)
    assert issubclass(errors.AlreadyAnchored, FileExistsError)
    assert issubclass(errors.BlobNotFound, FileNotFoundError)
    assert issubclass(errors.RpcUnavailable, ConnectionError)
