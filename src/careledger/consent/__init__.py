"""Signed (EIP-712) consents: a patient (or a live guardian) signs off chain; anyone submits
the signature and pays the gas.

- ``messages``: the domain and the three signed types, as a wallet signs them.
- ``signing``: signatures, ``SignedConsent`` (the relayer payload) and ``ConsentSigner``.
- ``relayer``: ``Relayer``, which validates before spending gas and treats a consent someone
  else already applied as success.
"""

from careledger.consent.domain import DOMAIN_NAME, DOMAIN_VERSION, Eip712Domain
from careledger.consent.messages import (
    ConsentMessage,
    GrantConsent,
    RevokeConsent,
    SetGuardianConsent,
    parse_typed_data,
)
from careledger.consent.relayer import Relayer, RelayResult
from careledger.consent.signing import (
    ConsentSigner,
    SignedConsent,
    load_keystore_account,
    normalize_signature,
    recover_signer,
    sign_consent,
)

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "ConsentMessage",
    "ConsentSigner",
    "Eip712Domain",
    "GrantConsent",
    "RelayResult",
    "Relayer",
    "RevokeConsent",
    "SetGuardianConsent",
    "SignedConsent",
    "load_keystore_account",
    "normalize_signature",
    "parse_typed_data",
    "recover_signer",
    "sign_consent",
]
