"""Input checks shared by the SDK and the CLI: each failure is an ``InvalidInput`` that says
what was expected."""

from __future__ import annotations

from eth_utils.address import is_address, to_checksum_address

from careledger.errors import InvalidInput


def address(value: object, what: str = "address") -> str:
    """A checksummed Ethereum address.

    A mixed-case address must carry a correct EIP-55 checksum (``eth_utils.is_address``
    accepts a wrong one, so a typed-over digit would pass); an all lower- or upper-case one
    carries no checksum and is accepted.

    Raises:
        InvalidInput: not 0x + 40 hex digits, or a wrong EIP-55 checksum.
    """
    if not isinstance(value, str) or not is_address(value):
        raise InvalidInput(f"{what} {value!r} is not an Ethereum address (0x + 40 hex digits)")
    checksummed = str(to_checksum_address(value))
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and value[2:] != checksummed[2:]:
        raise InvalidInput(f"{what} {value} fails its EIP-55 checksum (a mistyped character?): "
                           "copy it again")
    return checksummed


def bytes32(value: object, what: str = "value") -> bytes:
    """32 raw bytes from bytes or 0x-hex.

    Raises:
        InvalidInput: not exactly 32 bytes of hex.
    """
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            raw = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise InvalidInput(f"{what} must be 32 bytes of hex (0x + 64 hex digits)") from None
    else:
        raise InvalidInput(f"{what} must be bytes or a 0x-hex string")
    if len(raw) != 32:
        raise InvalidInput(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def hex_bytes(value: str | bytes, length: int, what: str) -> bytes:
    """``length`` raw bytes from bytes or hex (with or without 0x).

    Raises:
        InvalidInput: not hex, or not exactly ``length`` bytes.
    """
    if isinstance(value, bytes):
        raw = value
    else:
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise InvalidInput(
                f"{what} {value!r} is not hex: pass 0x + {2 * length} hex digits") from exc
    if len(raw) != length:
        raise InvalidInput(f"{what} is {length} bytes, got {len(raw)}")
    return raw
