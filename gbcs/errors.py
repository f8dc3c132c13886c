"""Exception types raised by the GBCS codec and security layer."""

from __future__ import annotations


class GbcsError(Exception):
    """Base class of every error this package raises on purpose."""


class GbcsDecodeError(GbcsError):
    """Malformed input: the only exception decoding any byte string may raise.

    ``path`` names the field (``"general_signing.other_information.length"``) and
    ``offset`` is the absolute byte offset in the buffer handed to the decoder.
    """

    def __init__(self, path: str, offset: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path} at byte {offset}: {reason}")

    def nested(self, prefix: str, base_offset: int = 0) -> GbcsDecodeError:
        """The same error seen from an enclosing structure (path prefixed, offset shifted)."""
        path = f"{prefix}.{self.path}" if self.path else prefix
        return GbcsDecodeError(path, self.offset + base_offset, self.reason)


class GbcsEncodeError(GbcsError):
    """Typed values that cannot be encoded (out of range, inconsistent lengths)."""


class GbcsSecurityError(GbcsError):
    """A cryptographic operation could not be performed (missing or unusable key)."""
