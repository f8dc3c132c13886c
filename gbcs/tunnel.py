"""The GBCS HAN tunnel (ZSE Tunneling cluster TransferData) between a GSME and its CH.

One prefix byte (gbcs-wire.md §5, HAN side note; Wireshark "GBCS Tunnel"):

* ``01`` GET: the GSME asks for its next queued message;
* ``02 nn <message>`` GET-RESPONSE: the CH returns one message (possibly none) and
  ``nn`` = how many remain queued;
* ``03 <message>`` PUT: the GSME sends a response or an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gbcs.errors import GbcsDecodeError, GbcsEncodeError

__all__ = ["TunnelCommand", "TunnelMessage", "decode_tunnel"]


class TunnelCommand(IntEnum):
    GET = 0x01
    GET_RESPONSE = 0x02
    PUT = 0x03


@dataclass(frozen=True, slots=True)
class TunnelMessage:
    """One tunnel transfer: command, remaining count (GET-RESPONSE) and GBCS message."""

    command: TunnelCommand
    message: bytes = b""
    remaining: int = 0

    def encode(self) -> bytes:
        if self.command is TunnelCommand.GET:
            if self.message:
                raise GbcsEncodeError("a tunnel GET carries no message")
            return b"\x01"
        if self.command is TunnelCommand.GET_RESPONSE:
            if not 0 <= self.remaining <= 0xFF:
                raise GbcsEncodeError("remaining-messages count must fit one byte")
            return bytes((0x02, self.remaining)) + self.message
        if not self.message:
            raise GbcsEncodeError("a tunnel PUT needs a message")
        return b"\x03" + self.message

    @classmethod
    def get(cls) -> TunnelMessage:
        return cls(TunnelCommand.GET)

    @classmethod
    def get_response(cls, message: bytes, remaining: int) -> TunnelMessage:
        return cls(TunnelCommand.GET_RESPONSE, message, min(remaining, 0xFF))

    @classmethod
    def put(cls, message: bytes) -> TunnelMessage:
        return cls(TunnelCommand.PUT, message)


def decode_tunnel(data: bytes) -> TunnelMessage:
    """Decode one tunnel transfer (raises :class:`GbcsDecodeError`)."""
    if not data:
        raise GbcsDecodeError("tunnel", 0, "empty tunnel data")
    cmd = data[0]
    if cmd == 0x01:
        if len(data) != 1:
            raise GbcsDecodeError("tunnel.get", 1, f"{len(data) - 1} unexpected byte(s)")
        return TunnelMessage(TunnelCommand.GET)
    if cmd == 0x02:
        if len(data) < 2:
            raise GbcsDecodeError("tunnel.remaining", 1, "needs 1 byte(s), 0 left")
        return TunnelMessage(TunnelCommand.GET_RESPONSE, bytes(data[2:]), data[1])
    if cmd == 0x03:
        if len(data) < 2:
            raise GbcsDecodeError("tunnel.put", 1, "a PUT carries a message")
        return TunnelMessage(TunnelCommand.PUT, bytes(data[1:]))
    raise GbcsDecodeError("tunnel.command", 0, f"unknown tunnel command 0x{cmd:02X}")
