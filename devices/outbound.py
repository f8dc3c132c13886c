"""What a device emits: frames plus where they go."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Outbound", "OutboundKind", "PeerKind"]


class PeerKind(StrEnum):
    """Where an outbound frame travels."""

    REMOTE_PARTY = "remote-party"  # over the WAN to a DCC user / DCC role (by EUI)
    HAN = "han"  # to a HAN peer (GSME <-> CHF tunnel, GPF mirror)


class OutboundKind(StrEnum):
    """Why a frame was produced."""

    RESPONSE = "response"
    ALERT = "alert"
    TUNNEL = "tunnel"  # a HAN tunnel message (GET / GET-RESPONSE / PUT)
    POWER_OUTAGE = "power-outage"  # the CHF's AD1 record (a CSP alert, not a GBCS frame)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One frame a device sends.

    ``to`` is the EUI-64 of the recipient: a remote party for WAN traffic, or the HAN
    peer (CHF, GSME) for tunnel traffic. ``code`` is the GBCS message code (responses,
    alerts) or the tunnel command; ``alert_code`` the GBCS alert code carried, if any.
    ``origin`` is the frame's originator when its builder knows it (None: read it from
    the frame), so that routing need not decode the envelope again.
    """

    frame: bytes
    to: bytes
    peer: PeerKind
    kind: OutboundKind
    code: int
    alert_code: int | None = None
    origin: bytes | None = None

    def describe(self) -> str:
        """One line for logs and CLIs."""
        what = f"{self.kind.value} 0x{self.code:04X}"
        if self.alert_code is not None:
            what += f" alert 0x{self.alert_code:04X}"
        return f"{what} -> {self.to.hex().upper()} ({self.peer.value}, {len(self.frame)} bytes)"
