"""Build protected GBCS commands as DCC and a DCC user would.

A critical command is signed by its originator (the DCC user's DS key) and MAC'd by
the Access Control Broker (ACB KA key ↔ device KA key); a non-critical one is only
MAC'd. The builder needs the originator's DS private key (critical commands), the ACB's
KA private key and the device's KA public key, all from a :class:`keys.store.KeyStore`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gbcs.codec import GbcsMessage, build
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm, as_eui
from gbcs.errors import GbcsSecurityError
from gbcs.payload import Payload
from gbcs.security import DEFAULT_ACB, apply_mac, sign
from gbcs.usecases import lookup
from keys.roles import KeyUsage
from keys.store import KeyStore

__all__ = ["CommandBuilder"]


@dataclass(slots=True)
class CommandBuilder:
    """Makes commands from typed payloads, with per-originator counters."""

    store: KeyStore
    acb: bytes = DEFAULT_ACB
    variant: SignatureVariant = SignatureVariant.CNSA
    counters: dict[bytes, int] = field(default_factory=dict)

    def next_counter(self, originator: bytes) -> int:
        """A counter above every one this builder used for ``originator``."""
        value = self.counters.get(originator, 0x1000) + 1
        self.counters[originator] = value
        return value

    def message(
        self,
        originator: bytes,
        recipient: bytes,
        message_code: int,
        payload: Payload,
        *,
        counter: int | None = None,
        critical: bool | None = None,
        other: OtherInformation | None = None,
    ) -> GbcsMessage:
        """The protected command as a message (signed if critical, then MAC'd)."""
        originator, recipient = as_eui(originator), as_eui(recipient)
        if critical is None:
            uc = lookup(message_code)
            critical = bool(uc and uc.critical)
        if counter is None:
            counter = self.next_counter(originator)
        header = GroupingHeader(
            Cra.COMMAND, counter, originator, recipient, other or OtherInformation(message_code)
        )
        msg = build(
            header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=SignatureForm.NULL
        )
        if critical:
            key = self.store.private_key(originator, KeyUsage.DS)
            if key is None:
                raise GbcsSecurityError(f"no DS private key for {originator.hex().upper()}")
            msg = sign(msg, key, self.variant)
        return apply_mac(msg, self.store, self.acb)

    def command(self, *args: object, **kwargs: object) -> bytes:
        """The protected command's bytes (see :meth:`message`)."""
        return self.message(*args, **kwargs).encode()  # type: ignore[arg-type]
