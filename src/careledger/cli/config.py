"""The CLI's configuration file: named profiles (who you act as) and an address book (names
for the addresses in tables and arguments).

``$CARELEDGER_CONFIG``, else ``$XDG_CONFIG_HOME/careledger/config.json`` (default
``~/.config/careledger/config.json``)::

    {"profiles": {"hospital-a": {"keystore": "/abs/a-wallet.json", "enc_key": "/abs/a.key",
                                 "workspace": "/abs/hospital-a", "node": "http://127.0.0.1:8600",
                                 "address": "0x..."}},
     "addresses": {"city-lab": "0x..."}}

It holds paths and public addresses only, never a key or a password; it is written atomically
with mode 0600. This module imports no Ethereum library.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")


class ConfigError(ValueError):
    """The configuration file or an entry of it is not usable (a ``ValueError``: one line)."""


@dataclass(frozen=True)
class Profile:
    """Who you act as: a wallet keystore, an encryption key file, a workspace, a node URL."""

    name: str
    keystore: str
    address: str
    enc_key: str | None = None
    workspace: str | None = None
    node: str | None = None
    deployments: str | None = None


def config_path() -> Path:
    if os.environ.get("CARELEDGER_CONFIG"):
        return Path(os.environ["CARELEDGER_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "careledger" / "config.json"


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name) or name.lower().startswith("0x"):
        raise ConfigError(f"name {name!r}: use a letter then letters, digits, '-', '_' or '.' "
                          "(at most 40)")
    return name


@dataclass
class Config:
    path: Path
    profiles: dict[str, Profile] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        path = path or config_path()
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
            profiles = {n: Profile(name=n, **p) for n, p in data.get("profiles", {}).items()}
            addresses = {str(n): str(a) for n, a in data.get("addresses", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"the configuration file {path} is damaged ({exc}): fix or move "
                              "it away") from None
        return cls(path, profiles, addresses)

    def save(self) -> None:
        data = {"profiles": {n: {k: v for k, v in asdict(p).items() if k != "name" and v is not None}
                             for n, p in sorted(self.profiles.items())},
                "addresses": dict(sorted(self.addresses.items()))}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-")
        try:
            with os.fdopen(fd, "w") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(json.dumps(data, indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none yet"
            raise ConfigError(f"no profile {name!r} in {self.path} (known: {known}): add it with "
                              "`careledger profile add`")
        return self.profiles[name]

    def address_of(self, name: str) -> str | None:
        """The address a profile or address book entry names: the exact name, else the one
        name equal to it ignoring case (names that differ only in case are refused on entry;
        a hand-edited file with two such names gets an error, never a guess)."""
        if name in self.profiles:
            return self.profiles[name].address
        if name in self.addresses:
            return self.addresses[name]
        found = {n: p.address for n, p in self.profiles.items() if n.lower() == name.lower()}
        found |= {n: a for n, a in self.addresses.items() if n.lower() == name.lower()}
        if len(found) > 1:
            raise ConfigError(f"{name!r} matches {', '.join(sorted(found))} (case differs): "
                              f"type the name exactly, or rename one in {self.path}")
        return next(iter(found.values()), None)

    def check_new_name(self, name: str, *, replacing: str | None = None) -> None:
        """Refuse a name that a profile or an address book entry already uses, in any case
        (``replacing``: the entry being replaced with --force)."""
        for n in [*self.profiles, *self.addresses]:
            if n.lower() == name.lower() and n != replacing:
                raise ConfigError(f"{name!r} is already used by {n!r} (names are compared "
                                  "ignoring case): choose another")

    def name_of(self, address: str) -> str | None:
        """The name of ``address`` (a profile's first, then the address book's)."""
        for n, p in self.profiles.items():
            if p.address.lower() == address.lower():
                return n
        for n, a in self.addresses.items():
            if a.lower() == address.lower():
                return n
        return None
