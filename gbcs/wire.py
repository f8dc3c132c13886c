"""Low-level wire helpers shared by every GBCS decoder.

Two tools live here:

* :class:`Reader`, a bounds-checked cursor over the *whole* received buffer. Positions
  are absolute, so every :class:`~gbcs.errors.GbcsDecodeError` names the byte offset in
  the message the user handed in, whatever nesting level raised it.
* BER definite lengths (GBCS uses the 1-byte, ``0x81``, ``0x82`` and ``0x83`` forms),
  both as plain functions and as a ``construct`` field (:data:`BerLength`) that also
  compiles (built on first access: importing this module does not load ``construct``).

Fixed-layout structures are declared with ``construct`` (compiled) and parsed through
:func:`parse_fixed`, which turns any construct failure into a ``GbcsDecodeError`` with the
field path and absolute offset.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

from gbcs.errors import GbcsDecodeError, GbcsEncodeError

if TYPE_CHECKING:
    import construct as cs

MAX_BER_LENGTH = 0xFFFFFF


def encode_ber_length(n: int) -> bytes:
    """Shortest BER definite-length encoding of ``n`` (0 .. 2**24-1)."""
    if n < 0 or n > MAX_BER_LENGTH:
        raise GbcsEncodeError(f"BER length {n} out of range 0..{MAX_BER_LENGTH}")
    if n < 0x80:
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return bytes((0x82, n >> 8, n & 0xFF))
    return bytes((0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF))


def ber_length_size(n: int) -> int:
    """Number of bytes :func:`encode_ber_length` emits for ``n``."""
    return 1 if n < 0x80 else 2 if n <= 0xFF else 3 if n <= 0xFFFF else 4


class Reader:
    """Bounds-checked cursor; ``pos`` and ``end`` are absolute offsets into ``buf``."""

    __slots__ = ("buf", "end", "path", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None, path: str = "") -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.path = path

    def _p(self, field: str) -> str:
        return f"{self.path}.{field}" if self.path and field else (field or self.path)

    def fail(self, field: str, reason: str, offset: int | None = None) -> NoReturn:
        """Raise a decode error for ``field`` at ``offset`` (default: current position)."""
        raise GbcsDecodeError(self._p(field), self.pos if offset is None else offset, reason)

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def need(self, n: int, field: str) -> None:
        if n > self.end - self.pos:
            self.fail(field, f"needs {n} byte(s), {self.end - self.pos} left")

    def peek(self, field: str = "") -> int:
        if self.pos >= self.end:
            self.fail(field, "needs 1 byte(s), 0 left")
        return self.buf[self.pos]

    def u8(self, field: str) -> int:
        if self.pos >= self.end:
            self.fail(field, "needs 1 byte(s), 0 left")
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def uint(self, n: int, field: str) -> int:
        """Big-endian unsigned integer of ``n`` bytes."""
        self.need(n, field)
        v = int.from_bytes(self.buf[self.pos : self.pos + n], "big")
        self.pos += n
        return v

    def u16(self, field: str) -> int:
        return self.uint(2, field)

    def u32(self, field: str) -> int:
        return self.uint(4, field)

    def u64(self, field: str) -> int:
        return self.uint(8, field)

    def take(self, n: int, field: str) -> bytes:
        self.need(n, field)
        v = self.buf[self.pos : self.pos + n]
        self.pos += n
        return v

    def expect(self, value: bytes, field: str) -> None:
        """Consume ``value`` exactly or fail naming what was found."""
        got = self.take(len(value), field)
        if got != value:
            self.pos -= len(value)
            self.fail(field, f"expected {value.hex().upper()}, found {got.hex().upper()}")

    def ber_length(self, field: str) -> int:
        """A BER definite length (1-byte, 0x81, 0x82 or 0x83 form)."""
        start = self.pos
        first = self.u8(field)
        if first < 0x80:
            return first
        n = first & 0x7F
        if n == 0 or n > 3:
            self.fail(field, f"unsupported BER length form 0x{first:02X}", start)
        return self.uint(n, field)

    def sub(self, n: int, field: str) -> Reader:
        """A reader over the next ``n`` bytes (consumed from this one)."""
        self.need(n, field)
        r = Reader(self.buf, self.pos, self.pos + n, self._p(field))
        self.pos += n
        return r

    def rest(self) -> bytes:
        v = self.buf[self.pos : self.end]
        self.pos = self.end
        return v

    def done(self, field: str = "") -> None:
        """Fail if bytes are left over."""
        if self.pos != self.end:
            self.fail(field, f"{self.end - self.pos} unexpected trailing byte(s)")


@cache
def _ber_length_field() -> Any:
    """The :data:`BerLength` construct field, built on first use (importing construct
    costs more than the rest of the envelope decoder, which does not need it)."""
    import construct as cs

    class _BerLength(cs.Construct):  # type: ignore[misc]
        """``construct`` field for a BER definite length (shortest form on build)."""

        def _parse(self, stream: Any, context: Any, path: str) -> int:
            first = cs.stream_read(stream, 1, path)[0]
            if first < 0x80:
                return first
            n = first & 0x7F
            if n == 0 or n > 3:
                raise cs.ExplicitError(f"unsupported BER length form 0x{first:02X}", path=path)
            return int.from_bytes(cs.stream_read(stream, n, path), "big")

        def _build(self, obj: int, stream: Any, context: Any, path: str) -> int:
            try:
                cs.stream_write(stream, encode_ber_length(obj), None, path)
            except GbcsEncodeError as e:
                raise cs.ExplicitError(str(e), path=path) from None
            return obj

        def _sizeof(self, context: Any, path: str) -> int:
            raise cs.SizeofError("BER length is variable-size", path=path)

        def _emitparse(self, code: Any) -> str:
            code.append(
                """
                def parse_ber_length(io, this):
                    first = io.read(1)
                    if len(first) != 1:
                        raise StreamError('stream read less than specified amount')
                    first = first[0]
                    if first < 0x80:
                        return first
                    n = first & 0x7F
                    if n == 0 or n > 3:
                        raise ExplicitError('unsupported BER length form')
                    data = io.read(n)
                    if len(data) != n:
                        raise StreamError('stream read less than specified amount')
                    return int.from_bytes(data, 'big')
                """
            )
            return "parse_ber_length(io, this)"

        def _emitbuild(self, code: Any) -> str:
            code.append("from gbcs.wire import encode_ber_length")
            return "(io.write(encode_ber_length(obj)), obj)[1]"

    return _BerLength()


def __getattr__(name: str) -> Any:
    if name == "BerLength":
        return _ber_length_field()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_fixed(struct: cs.Construct, r: Reader, size: int, field: str) -> Any:
    """Parse ``size`` bytes at ``r`` with a fixed-layout construct.

    Construct failures (a ``Const`` mismatch, an enum value out of range) become
    :class:`GbcsDecodeError` naming ``field`` plus construct's own sub-path.
    """
    import construct as cs  # already loaded: ``struct`` is a construct

    start = r.pos
    data = r.take(size, field)
    try:
        return struct.parse(data)
    except cs.ConstructError as e:
        sub = getattr(e, "path", None) or ""
        sub = sub.replace("(parsing)", "").replace(" -> ", ".").strip(". ")
        name = f"{field}.{sub}" if sub else field
        r.fail(name, str(e).split("\n")[-1].strip() or type(e).__name__, start)
