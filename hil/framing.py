"""Serial-line framings for GBCS frames, with decoders that resynchronise after noise.

A serial line carries bytes, not messages. A *framing* turns one GBCS frame into bytes
(:meth:`Framing.encode`) and hands out *decoders* (:meth:`Framing.decoder`) that find the
frames again in whatever the line delivers: any chunking, noise between frames, bytes
lost or corrupted. Three framings (:data:`FRAMINGS`, :func:`get_framing`):

``gfi`` — the text lines of DCC's GFI test tool::

    GBCS:DATA#<n>:<byte count>:<HEX>\\r\\n        e.g.  GBCS:DATA#0:3:DF0900\\r\\n

``n`` is a decimal line number that carries no meaning for the receiver. The only public
implementation of this framing (a public-domain ``gfi.c`` converter that cites DCC's
"GFI segmented processing" document) reads it with ``%*d``, i.e. skips it, and always
writes ``0``; no public source gives it another meaning. So the decoder accepts any ``n``
of 1 to 10 decimal digits and ignores it, and the encoder writes ``#0`` on every line by
default (``numbering="zero"``, what that implementation writes) or, with
``numbering="sequence"``, a running number from ``first_number`` (default 0, modulo
2**32), which only helps a person reading a capture tell lines apart. The byte count is
decimal and the hex upper-case. The decoder also accepts lower-case hex and a bare
``\\n``. A line starts at the marker ``GBCS:`` and ends at the next ``\\n``. Everything
outside such lines is garbage.
A line is skipped when it does not parse (garbage), when its byte count disagrees with
its hex (``truncated``: characters were lost), when the count exceeds ``max_frame`` or
the line grows past the longest legal line without a ``\\n`` (``oversize``), or when a
new ``GBCS:`` marker shows up before the ``\\n`` (``truncated``: the end of the line was
lost; decoding resumes at that marker). The format has **no checksum**: a hex digit
corrupted into another hex digit yields a frame of the right length with a wrong byte.
Use ``binary`` where the line is noisy. A *control* line (see "Control frames" below) is
the same with ``CTRL`` for ``DATA``: ``GBCS:CTRL#<n>:<byte count>:<HEX>\\r\\n``, the hex
being the UTF-8 bytes of the control JSON; its byte count may go up to ``max_control``.

``binary`` — a length-prefixed frame with a CRC, designed for this project (all
integers big-endian)::

    offset  size  field
    0       1     sync      0x7E
    1       1     version   0x01 (a GBCS frame) or 0x02 (a control frame)
    2       2     length    n = payload bytes, 1 .. max_frame (default 4096, at most 65535);
                            for 0x02, 1 .. max_control (default and at most 65535)
    4       n     payload   the GBCS frame, or the control JSON (UTF-8, starts with ``{``)
    4+n     4     crc       CRC-32 of bytes 1 .. 3+n (version, length, payload)

The CRC is the IEEE 802.3 CRC-32 (``zlib.crc32``: reflected polynomial 0xEDB88320,
initial value and final XOR 0xFFFFFFFF; check value ``crc32(b"123456789") ==
0xCBF43926``). CRC-32 rather than CRC-16 because the decoder trusts nothing but the CRC:
it tests a candidate at every ``7E 01`` it meets and, on a noisy line, most damaged
frames carry several damaged bytes. Beyond the errors both codes always detect (bursts up
to 16 bits, three bit errors in frames up to about 4 KB), CRC-16 lets one damaged frame in 65,536
through, CRC-32 one in 4.3 billion, for 2 more bytes per frame; ``zlib.crc32`` is as
fast as ``binascii.crc_hqx``. There is no byte stuffing: the length delimits the frame
and the CRC proves the delimitation right. The decoder hunts for ``7E``, then checks the
version and the length bounds (and, for ``02``, that the payload starts with ``{``) and
waits for ``8 + n`` bytes. On a CRC error (or a bad version, length or control start) it
resumes hunting at the byte after the rejected ``7E``, not after the claimed length, so a
corrupted length never swallows the good frames behind it (it only delays them until it
is refuted).

``raw`` — bare GBCS bytes, no framing. Rules, in order:

1. Between frames the decoder hunts for a ``DD`` or ``DF`` byte; bytes before it are
   garbage.
2. From that byte it follows the envelope's own length fields as they arrive:
   General-Ciphering ``DD 00 00 00 00 00 00 <BER L> 11 00000000 DF …`` is ``7 +
   len(BER) + L`` bytes; a GBT routing block ``DD 09 …`` is ``34 + len(BER) + L``
   bytes; General-Signing ``DF 09 <CRA> …`` runs through its content length, then the
   signature field: ``00`` (1 byte), ``40`` + 64 bytes, or absent when the next byte is
   anything else. As soon as the message is complete it is emitted, without waiting for
   the line to go quiet, and decoding goes on with the bytes after it.
3. A frame also ends after ``idle_timeout`` (default 50 ms) without bytes. At that point
   a ``DF`` message whose content ends exactly where the line went quiet is complete
   with an absent signature field: this is the only way such a message that nothing
   follows ends (its end cannot be told from its bytes). If the pending bytes from
   their first ``DD``/``DF`` are a complete message that way, they are emitted; else,
   if a later ``DD``/``DF`` among them starts a complete message (by its lengths, or
   by the idle rule at the end of the burst), the bytes before it are garbage and
   decoding goes on from there; else the pending bytes are emitted as one frame, as the
   line carried them, so a malformed or cut-short message reaches the receiving device
   to be judged there. Raw never drops a frame as ``truncated``.
4. Bytes that contradict the envelope (``DD`` followed by anything but ``00 00 …`` or
   ``09 …``, a CRA flag outside 1–3, a non-minimal BER length, …) or whose lengths
   exceed ``max_frame`` (counted ``oversize``) are not followed further. If a complete
   envelope starts at a later ``DD``/``DF`` of the same burst, the bytes before it are
   garbage; otherwise the burst waits for the idle timeout (rule 3), or is discarded
   as ``oversize`` once it exceeds ``max_frame``. So a stray ``DD`` or ``DF`` byte
   before a message (noise, or the first byte of a frame cut short) costs only itself,
   also before a ``DF`` message without a signature that ends the burst.

Known limits of ``raw``: a ``DF`` message with an absent signature that is followed by
noise starting ``00`` or ``40`` takes that noise as its signature field; noise that
happens to start a plausible envelope delays the frames behind it until it is refuted or
the line goes idle. ``raw`` cannot carry control frames: nothing delimits anything but a
GBCS envelope on it (:meth:`RawFraming.encode_control` raises ``ValueError``, and
``hil serve --control`` refuses it).

Control frames (``gfi`` and ``binary``: :data:`CONTROL_FRAMINGS`) carry the control API
(``docs/control.md``) on the same line as the GBCS frames: ``GBCS:CTRL`` lines and
version ``0x02`` frames above, written by :meth:`Framing.encode_control`. Decoders hand
them out among the GBCS frames, in line order, as :class:`ControlFrame` (a ``bytes``
subclass; GBCS frames stay plain ``bytes``); their noise and resynchronisation rules are
those of the framing's GBCS frames. What a control frame holds is :mod:`hil.link`'s
business: one UTF-8 JSON object ``{"site": <site id>, "eui": <16 hex digits>, "body":
<the control request or reply object>}`` (plus ``"seq"`` on a ``--reliable`` link). A
request goes head-end -> device and its reply device -> head-end, both addressed to the
device the request is for (the topic ``gbcs/<site>/<eui>/control`` and ``.../reply``).

Every decoder: :meth:`FrameDecoder.feed` takes bytes as they arrive and returns the
complete frames found; :meth:`FrameDecoder.flush` does what time alone decides (raw's
idle timeout; for ``gfi`` and ``binary`` a frame stuck half-received with no byte for
``frame_timeout``, default 0.5 s, is dropped as ``truncated`` and the bytes after its
start are searched again); :meth:`FrameDecoder.next_deadline` says when that is due.
``feed`` first does what ``flush(now)`` would, so a late timer never glues two frames
together. Decoders never raise on any input, never block, and hold at most about one
maximum-size frame (GBCS or control, whichever is larger) between calls.

Statistics (:class:`DecoderStats`): ``frames`` delivered (GBCS and control frames);
``control_frames``, how many of them were control frames; ``garbage_bytes`` discarded,
so every byte received is in a delivered frame, discarded, or still pending;
``resyncs``: runs of discarded bytes between two delivered frames (times sync was lost);
``crc_errors``, ``truncated`` and ``oversize``: candidate frames rejected for those
reasons (their bytes are in ``garbage_bytes``).
"""

from __future__ import annotations

import binascii
import math
import re
import zlib
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

from gbcs.envelope import GENERAL_CIPHERING_TAG, GENERAL_SIGNING_TAG, SECURITY_HEADER
from gbcs.wire import ber_length_size

__all__ = [
    "BINARY_CONTROL",
    "BINARY_OVERHEAD",
    "BINARY_SYNC",
    "BINARY_VERSION",
    "CONTROL_FRAMINGS",
    "DEFAULT_FRAME_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CONTROL",
    "DEFAULT_MAX_FRAME",
    "FRAMINGS",
    "GFI_NUMBERINGS",
    "BinaryDecoder",
    "BinaryFraming",
    "ControlFrame",
    "DecoderStats",
    "FrameDecoder",
    "Framing",
    "GfiDecoder",
    "GfiFraming",
    "RawDecoder",
    "RawFraming",
    "get_framing",
]

DEFAULT_MAX_FRAME = 4096
DEFAULT_FRAME_TIMEOUT = 0.5
DEFAULT_IDLE_TIMEOUT = 0.05
DEFAULT_MAX_CONTROL = 0xFFFF
FRAMINGS: tuple[str, ...] = ("gfi", "binary", "raw")
CONTROL_FRAMINGS: tuple[str, ...] = ("gfi", "binary")  # the framings that carry control frames

BINARY_SYNC = 0x7E
BINARY_VERSION = 0x01
BINARY_CONTROL = 0x02  # the version byte of a control frame
_JSON_OBJECT = 0x7B  # "{": a control frame's payload is a JSON object
BINARY_OVERHEAD = 8  # sync, version, length (2), CRC-32 (4)

GFI_MARKER = b"GBCS:"
GFI_CONTROL = b"GBCS:CTRL#"


class ControlFrame(bytes):
    """A control frame's payload (the control JSON), as a decoder hands it out.

    Equal to the same ``bytes``; only its type tells it from a GBCS frame.
    """

    __slots__ = ()


@dataclass
class DecoderStats:
    """Counters of one decoder (see the module docstring for their meaning)."""

    frames: int = 0
    control_frames: int = 0
    garbage_bytes: int = 0
    crc_errors: int = 0
    truncated: int = 0
    resyncs: int = 0
    oversize: int = 0
    bytes_received: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a JSON-able dict."""
        return asdict(self)


class FrameDecoder(Protocol):
    """Finds GBCS frames in a byte stream; one per direction of a line."""

    stats: DecoderStats

    def feed(self, data: bytes, now: float) -> list[bytes]:
        """Take bytes received at ``now``; return the frames they complete, in order."""
        ...

    def flush(self, now: float) -> list[bytes]:
        """Apply the time-driven rules at ``now``; return any frames they complete."""
        ...

    def next_deadline(self) -> float | None:
        """When :meth:`flush` next has something to do, or None."""
        ...


class Framing(Protocol):
    """A way of carrying GBCS frames over a byte stream."""

    name: str

    def encode(self, frame: bytes) -> bytes:
        """The bytes to write for one frame (``ValueError`` if it cannot be framed)."""
        ...

    @property
    def carries_control(self) -> bool:
        """Whether the framing has control frames (``raw`` has none)."""
        ...

    def encode_control(self, payload: bytes) -> bytes:
        """The bytes to write for one control frame (``payload``: a JSON object's UTF-8);
        ``ValueError`` if it cannot be framed, or the framing carries no control frames."""
        ...

    def decoder(self) -> FrameDecoder:
        """A fresh decoder for the other end of the line."""
        ...


# --------------------------------------------------------------------------- shared


class _Decoder:
    """Buffer, clock and statistics shared by the decoders."""

    timeout: float

    def __init__(self, timeout: float) -> None:
        self.stats = DecoderStats()
        self.timeout = timeout
        self._buf = bytearray()
        self._last_rx = 0.0
        self._in_sync = True

    def feed(self, data: bytes, now: float) -> list[bytes]:
        out: list[bytes] = []
        if self._buf and self._due(now):
            self._expire(out)
        if data:
            self.stats.bytes_received += len(data)
            self._buf += data
            self._last_rx = now
            self._scan(out)
        return out

    def flush(self, now: float) -> list[bytes]:
        out: list[bytes] = []
        if self._buf and self._due(now):
            self._expire(out)
        return out

    def next_deadline(self) -> float | None:
        return self._last_rx + self.timeout if self._buf else None

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete (bounded by about one maximum frame)."""
        return len(self._buf)

    def _due(self, now: float) -> bool:
        # NaN or a clock running backwards never expires anything.
        return now - self._last_rx >= self.timeout

    def _discard(self, n: int) -> None:
        """Count ``n`` bytes as garbage (the caller removes them)."""
        if n > 0:
            self.stats.garbage_bytes += n
            if self._in_sync:
                self._in_sync = False
                self.stats.resyncs += 1

    def _emit(self, frame: bytes, out: list[bytes]) -> None:
        out.append(frame)
        self.stats.frames += 1
        if isinstance(frame, ControlFrame):
            self.stats.control_frames += 1
        self._in_sync = True

    def _scan(self, out: list[bytes]) -> None:
        raise NotImplementedError

    def _expire(self, out: list[bytes]) -> None:
        raise NotImplementedError


def _positive(name: str, value: Any, kind: type) -> Any:
    """Validate (and coerce from CLI text) one numeric framing option."""
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a {kind.__name__}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return kind(value)


def _max_frame(value: Any, limit: int, name: str = "max_frame") -> int:
    n = _positive(name, value, int)
    if n > limit:
        raise ValueError(f"{name} must be at most {limit}, got {n}")
    return n


def _check_frame(frame: bytes, max_frame: int, framing: str) -> None:
    if not 1 <= len(frame) <= max_frame:
        raise ValueError(
            f"{framing} framing carries frames of 1..{max_frame} bytes, got {len(frame)}"
        )


def _check_control(payload: bytes, max_control: int, framing: str) -> None:
    if not 1 <= len(payload) <= max_control:
        raise ValueError(
            f"{framing} framing carries control frames of 1..{max_control} bytes "
            f"(max_control), got {len(payload)}"
        )
    if payload[0] != _JSON_OBJECT:
        raise ValueError("a control frame carries a JSON object: its first byte must be '{'")


# --------------------------------------------------------------------------- binary


class BinaryDecoder(_Decoder):
    """Decoder of the ``binary`` framing (see the module docstring)."""

    def __init__(
        self,
        max_frame: int = DEFAULT_MAX_FRAME,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        max_control: int = DEFAULT_MAX_CONTROL,
    ) -> None:
        super().__init__(frame_timeout)
        self.max_frame = max_frame
        self.max_control = max_control

    def _scan(self, out: list[bytes]) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        with memoryview(buf) as view:
            while pos < n:
                i = buf.find(BINARY_SYNC, pos)
                if i < 0:
                    self._discard(n - pos)
                    pos = n
                    break
                if i > pos:
                    self._discard(i - pos)
                    pos = i
                if n - i < 4:
                    break  # header incomplete
                version = buf[i + 1]
                if version != BINARY_VERSION and version != BINARY_CONTROL:
                    self._discard(1)
                    pos = i + 1
                    continue
                control = version == BINARY_CONTROL
                length = (buf[i + 2] << 8) | buf[i + 3]
                if length == 0 or length > (self.max_control if control else self.max_frame):
                    self.stats.oversize += 1
                    self._discard(1)
                    pos = i + 1
                    continue
                if control and n > i + 4 and buf[i + 4] != _JSON_OBJECT:
                    # Refuted at once, so noise spelling 7E 02 never holds up what follows.
                    self._discard(1)
                    pos = i + 1
                    continue
                end = i + BINARY_OVERHEAD + length
                if end > n:
                    break  # wait for the rest
                crc_at = i + 4 + length
                if zlib.crc32(view[i + 1 : crc_at]) == int.from_bytes(view[crc_at:end], "big"):
                    payload = bytes(view[i + 4 : crc_at])
                    self._emit(ControlFrame(payload) if control else payload, out)
                    pos = end
                else:
                    self.stats.crc_errors += 1
                    self._discard(1)
                    pos = i + 1
        del buf[:pos]

    def _expire(self, out: list[bytes]) -> None:
        # The pending candidate starts at buf[0] (a 7E); drop its sync byte and search the
        # rest again, which may hold whole frames or another candidate, equally stale.
        while self._buf:
            self.stats.truncated += 1
            self._discard(1)
            del self._buf[:1]
            self._scan(out)


class BinaryFraming:
    """``7E 01 <u16 length> <payload> <CRC-32>`` frames, and ``7E 02 …`` control frames
    (see the module docstring)."""

    name: str = "binary"
    carries_control: bool = True
    OPTIONS: ClassVar[tuple[str, ...]] = ("max_frame", "frame_timeout", "max_control")

    def __init__(
        self,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        max_control: int = DEFAULT_MAX_CONTROL,
    ) -> None:
        self.max_frame = _max_frame(max_frame, 0xFFFF)
        self.frame_timeout = _positive("frame_timeout", frame_timeout, float)
        self.max_control = _max_frame(max_control, 0xFFFF, "max_control")

    def encode(self, frame: bytes) -> bytes:
        _check_frame(frame, self.max_frame, self.name)
        return self._encode(BINARY_VERSION, frame)

    def encode_control(self, payload: bytes) -> bytes:
        """A ``7E 02`` frame carrying ``payload`` (see the module docstring)."""
        _check_control(payload, self.max_control, self.name)
        return self._encode(BINARY_CONTROL, payload)

    @staticmethod
    def _encode(version: int, payload: bytes) -> bytes:
        body = bytes((version, len(payload) >> 8, len(payload) & 0xFF)) + payload
        return b"\x7e" + body + zlib.crc32(body).to_bytes(4, "big")

    def decoder(self) -> BinaryDecoder:
        return BinaryDecoder(self.max_frame, self.frame_timeout, self.max_control)


# --------------------------------------------------------------------------- gfi

_GFI_LINE = re.compile(rb"GBCS:(DATA|CTRL)#([0-9]{1,10}):([0-9]{1,5}):([0-9A-Fa-f]*)\r?")


def _gfi_max_line(max_frame: int) -> int:
    """Longest legal line without its ``\\n`` (``DATA`` and ``CTRL`` have one length)."""
    return len(b"GBCS:DATA#") + 10 + 1 + len(str(max_frame)) + 1 + 2 * max_frame + 1


class GfiDecoder(_Decoder):
    """Decoder of the ``gfi`` text framing (see the module docstring)."""

    def __init__(
        self,
        max_frame: int = DEFAULT_MAX_FRAME,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        max_control: int = DEFAULT_MAX_CONTROL,
    ) -> None:
        super().__init__(frame_timeout)
        self.max_frame = max_frame
        self.max_line = _gfi_max_line(max_frame)
        self.max_control = max_control
        self.max_control_line = _gfi_max_line(max_control)

    def _line_limit(self, start: int) -> int:
        """Longest legal line starting at ``start``: a ``CTRL`` line's, or a ``DATA`` one's."""
        if self._buf.startswith(GFI_CONTROL, start):
            return self.max_control_line
        return self.max_line

    def _scan(self, out: list[bytes]) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            i = buf.find(GFI_MARKER, pos)
            if i < 0:
                keep = _marker_tail(buf, pos, n)  # the start of a marker still arriving
                self._discard(n - pos - keep)
                pos = n - keep
                break
            if i > pos:
                self._discard(i - pos)
                pos = i
            nl = buf.find(b"\n", i + 5)
            nm = buf.find(GFI_MARKER, i + 5)
            if nm >= 0 and (nl < 0 or nm < nl):
                self.stats.truncated += 1  # the line's end was lost
                self._discard(nm - i)
                pos = nm
                continue
            if nl < 0:
                if n - i > self._line_limit(i):
                    self.stats.oversize += 1
                    self._discard(n - i)
                    pos = n
                break
            frame = self._parse_line(i, nl)
            if frame is None:
                self._discard(nl + 1 - i)
            else:
                self._emit(frame, out)
            pos = nl + 1
        del buf[:pos]

    def _parse_line(self, start: int, nl: int) -> bytes | None:
        if nl - start > self._line_limit(start):
            self.stats.oversize += 1
            return None
        m = _GFI_LINE.fullmatch(self._buf, start, nl)
        if m is None:
            return None
        control = m[1] == b"CTRL"
        count = int(m[3])
        hex_digits = m[4]
        if count > (self.max_control if control else self.max_frame):
            self.stats.oversize += 1
            return None
        if count == 0:
            return None
        if len(hex_digits) != 2 * count:
            self.stats.truncated += 1
            return None
        frame = binascii.unhexlify(hex_digits)
        return ControlFrame(frame) if control else frame

    def _expire(self, out: list[bytes]) -> None:
        if self._buf.startswith(GFI_MARKER):
            self.stats.truncated += 1  # a line whose end never came
        self._discard(len(self._buf))
        self._buf.clear()


def _marker_tail(buf: bytearray, start: int, end: int) -> int:
    """Length of the longest proper prefix of ``GBCS:`` that ends ``buf[start:end]``."""
    for k in range(min(len(GFI_MARKER) - 1, end - start), 0, -1):
        if buf[end - k : end] == GFI_MARKER[:k]:
            return k
    return 0


GFI_NUMBERINGS: tuple[str, ...] = ("zero", "sequence")


class GfiFraming:
    """DCC GFI test-tool lines ``GBCS:DATA#<n>:<count>:<HEX>\\r\\n``.

    ``numbering`` chooses the ``n`` written: ``"zero"`` (default) writes ``#0`` on every
    line, as the public implementation does; ``"sequence"`` counts from ``first_number``.
    Decoders accept any ``n`` (see the module docstring).
    """

    name: str = "gfi"
    carries_control: bool = True
    OPTIONS: ClassVar[tuple[str, ...]] = (
        "max_frame",
        "frame_timeout",
        "numbering",
        "first_number",
        "max_control",
    )

    def __init__(
        self,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        frame_timeout: float = DEFAULT_FRAME_TIMEOUT,
        numbering: str = "zero",
        first_number: int = 0,
        max_control: int = DEFAULT_MAX_CONTROL,
    ) -> None:
        self.max_frame = _max_frame(max_frame, 99_999)
        self.frame_timeout = _positive("frame_timeout", frame_timeout, float)
        self.max_control = _max_frame(max_control, 99_999, "max_control")
        if numbering not in GFI_NUMBERINGS:
            raise ValueError(
                f"numbering must be one of {', '.join(GFI_NUMBERINGS)}, got {numbering!r}"
            )
        if isinstance(first_number, str) and first_number.strip().isdigit():
            first_number = int(first_number)
        if isinstance(first_number, bool) or not isinstance(first_number, int):
            raise ValueError(f"first_number must be a whole number, got {first_number!r}")
        if not 0 <= first_number < 1 << 32:
            raise ValueError(f"first_number must be 0..{(1 << 32) - 1}, got {first_number}")
        if first_number and numbering != "sequence":
            raise ValueError("first_number applies only to numbering='sequence'")
        self.numbering = numbering
        self.next_number = first_number

    def encode(self, frame: bytes) -> bytes:
        _check_frame(frame, self.max_frame, self.name)
        return self._line(b"DATA", frame)

    def encode_control(self, payload: bytes) -> bytes:
        """A ``GBCS:CTRL#<n>:<count>:<HEX>`` line (numbered as the data lines are)."""
        _check_control(payload, self.max_control, self.name)
        return self._line(b"CTRL", payload)

    def _line(self, kind: bytes, payload: bytes) -> bytes:
        n = self.next_number
        if self.numbering == "sequence":
            self.next_number = (n + 1) & 0xFFFFFFFF
        hexed = binascii.hexlify(payload).upper()
        return b"GBCS:%s#%d:%d:%s\r\n" % (kind, n, len(payload), hexed)

    def decoder(self) -> GfiDecoder:
        return GfiDecoder(self.max_frame, self.frame_timeout, self.max_control)


# --------------------------------------------------------------------------- raw

_NEED = -1  # plausible so far, more bytes needed
_BAD = -2  # not a GBCS envelope
_TOO_LONG = -3  # an envelope longer than max_frame

_DD, _DF = GENERAL_CIPHERING_TAG, GENERAL_SIGNING_TAG
_MIN_CIPHERED = len(SECURITY_HEADER) + 12 + 1  # security header, MAC, at least the DF tag
# GBT routing header: DD 09 CRA counter8 08 orig8 08 recip8 00 02 code2 00, then BER length.
_GBT_FIXED = ((11, 0x08), (20, 0x08), (29, 0x00), (30, 0x02), (33, 0x00))
_GBT_ROUTING = 34
_GBT_MIN = len(SECURITY_HEADER) + 7  # E0, block control, block number, ack, data length
_GS_FIXED = ((1, 0x09), (11, 0x08), (20, 0x08))
_OI_SHORT = (2, 10, 18, 26)  # other-information lengths <= 26 that exist


def _ber(buf: bytearray, p: int, end: int) -> tuple[int, int]:
    """A minimal BER length at ``p``: (value, next offset) or (_NEED | _BAD, p)."""
    if p >= end:
        return _NEED, p
    first = buf[p]
    if first < 0x80:
        return first, p + 1
    k = first & 0x7F
    if k == 0 or k > 3:
        return _BAD, p
    if p + 1 + k > end:
        return _NEED, p
    value = int.from_bytes(buf[p + 1 : p + 1 + k], "big")
    if ber_length_size(value) != k + 1:
        return _BAD, p
    return value, p + 1 + k


def _expect(buf: bytearray, at: int, end: int, want: bytes) -> bool:
    """The bytes of ``want`` at ``at`` that have arrived (up to ``end``) all match."""
    got = buf[at : min(end, at + len(want))]
    return got == want[: len(got)]


def _envelope_extent(buf: bytearray, s: int, end: int, max_frame: int, idle: bool = False) -> int:
    """Length of the GBCS message starting at ``buf[s]`` (``buf[s]`` is DD or DF) if the
    bytes up to ``end`` complete it; else _NEED, _BAD or _TOO_LONG. With ``idle`` the
    line has gone quiet at ``end``: a General-Signing message whose content ends there
    is complete, its signature field absent."""
    avail = end - s
    limit = s + max_frame
    if buf[s] == _DF:
        return _signing_extent(buf, s, end, limit, idle)
    if avail < 2:
        return _NEED
    if buf[s + 1] == 0x00:  # General-Ciphering: DD 00 00 00 00 00 00 <L> 11 00000000 DF 09
        if not _expect(buf, s + 2, end, b"\x00" * 5):
            return _BAD
        length, p = _ber(buf, s + 7, end)
        if length < 0:
            return length
        if length < _MIN_CIPHERED:
            return _BAD
        if not _expect(buf, p, end, SECURITY_HEADER + b"\xdf\x09"):
            return _BAD
    elif buf[s + 1] == 0x09:  # GBT routing header + GBT APDU
        if avail > 2 and not 1 <= buf[s + 2] <= 3:
            return _BAD
        for off, want in _GBT_FIXED:
            if off < avail and buf[s + off] != want:
                return _BAD
        length, p = _ber(buf, s + _GBT_ROUTING, end)
        if length < 0:
            return length
        if length < _GBT_MIN:
            return _BAD
        if not _expect(buf, p, end, SECURITY_HEADER + b"\xe0"):
            return _BAD
    else:
        return _BAD
    stop = p + length
    if stop > limit:
        return _TOO_LONG
    return stop - s if end >= stop else _NEED


def _signing_extent(buf: bytearray, s: int, end: int, limit: int, idle: bool = False) -> int:
    avail = end - s
    for off, want in _GS_FIXED:
        if off < avail and buf[s + off] != want:
            return _BAD
    if avail > 2 and not 1 <= buf[s + 2] <= 3:
        return _BAD
    if avail < 30:
        return _NEED
    date_time = buf[s + 29]
    if date_time == 0:
        p = s + 30
    elif date_time == 12:
        p = s + 42
    else:
        return _BAD
    other, p = _ber(buf, p, end)
    if other < 0:
        return other
    if other <= 26 and other not in _OI_SHORT:
        return _BAD
    p += other
    if p > limit:
        return _TOO_LONG
    content, p = _ber(buf, p, end)
    if content < 0:
        return content
    content_end = p + content
    if content_end > limit:
        return _TOO_LONG
    if end == content_end and idle:
        return content_end - s  # the line went quiet: no signature field came
    if end <= content_end:
        return _NEED  # at content end the signature field may still come
    signature = buf[content_end]
    if signature == 0x00:
        stop = content_end + 1
    elif signature == 0x40:
        stop = content_end + 65
    else:
        return content_end - s  # absent: the next byte is something else
    if stop > limit:
        return _TOO_LONG
    return stop - s if end >= stop else _NEED


def _next_start(buf: bytearray, pos: int) -> int:
    a = buf.find(_DD, pos)
    b = buf.find(_DF, pos)
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


class RawDecoder(_Decoder):
    """Decoder of the ``raw`` framing: idle gaps and envelope lengths (module docstring)."""

    def __init__(
        self, max_frame: int = DEFAULT_MAX_FRAME, idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    ) -> None:
        super().__init__(idle_timeout)
        self.max_frame = max_frame
        # buf[0] is a DD/DF start, or buf is empty. When that start is not an envelope
        # ("opaque"), positions 1 .. _scan_from-1 are known not to start one either.
        self._opaque = False
        self._scan_from = 0

    def _scan(self, out: list[bytes]) -> None:
        buf = self._buf
        while buf:
            if not self._opaque:
                i = _next_start(buf, 0)
                if i < 0:
                    self._discard(len(buf))
                    buf.clear()
                    return
                if i:
                    self._discard(i)
                    del buf[:i]
                extent = _envelope_extent(buf, 0, len(buf), self.max_frame)
                if extent > 0:
                    self._emit(bytes(buf[:extent]), out)
                    del buf[:extent]
                    continue
                if extent == _NEED:
                    return
                if extent == _TOO_LONG:
                    self.stats.oversize += 1
                self._opaque = True
                self._scan_from = 1
            # Opaque burst: look for a later start that is a complete envelope.
            j = self._scan_from
            while True:
                j = _next_start(buf, j)
                if j < 0:
                    self._scan_from = len(buf)
                    break
                extent = _envelope_extent(buf, j, len(buf), self.max_frame)
                if extent == _NEED:
                    self._scan_from = j
                    break
                if extent > 0:
                    self._discard(j)
                    del buf[:j]
                    self._opaque = False
                    break
                j += 1
            if self._opaque:
                if len(buf) <= self.max_frame:
                    return
                # Too long to be a frame: drop it up to the candidate still pending, if any.
                self.stats.oversize += 1
                cut = min(self._scan_from, len(buf))
                self._discard(cut)
                del buf[:cut]
                self._opaque = False

    def _expire(self, out: list[bytes]) -> None:
        # The line went quiet (rule 3). buf[0] is a DD/DF start; an opaque one was refuted
        # by its bytes and so were the starts before _scan_from, which may not hold the
        # only message the burst carries (a stray DD/DF before a signature-less DF).
        buf = self._buf
        while buf:
            first = self._scan_from if self._opaque else 0
            self._opaque = False
            self._scan_from = 0
            j = _next_start(buf, first)
            while j >= 0:
                extent = _envelope_extent(buf, j, len(buf), self.max_frame, idle=True)
                if extent > 0:
                    break
                j = _next_start(buf, j + 1)
            if j < 0:
                self._emit(bytes(buf), out)  # no message in it: delivered as carried
                buf.clear()
                return
            self._discard(j)
            self._emit(bytes(buf[j : j + extent]), out)
            del buf[: j + extent]
            self._scan(out)  # what followed it, if anything (complete messages only)


class RawFraming:
    """Bare GBCS bytes, delimited by envelope lengths and idle gaps."""

    name: str = "raw"
    carries_control: bool = False
    OPTIONS: ClassVar[tuple[str, ...]] = ("max_frame", "idle_timeout")

    def __init__(
        self,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.max_frame = _max_frame(max_frame, 1 << 24)
        self.idle_timeout = _positive("idle_timeout", idle_timeout, float)

    def encode(self, frame: bytes) -> bytes:
        _check_frame(frame, self.max_frame, self.name)
        return bytes(frame)

    def encode_control(self, payload: bytes) -> bytes:
        """Always ``ValueError``: bare bytes cannot delimit anything but GBCS envelopes."""
        raise ValueError(
            "the raw framing cannot carry control frames (nothing delimits them); "
            f"use one of {', '.join(CONTROL_FRAMINGS)}"
        )

    def decoder(self) -> RawDecoder:
        return RawDecoder(self.max_frame, self.idle_timeout)


# --------------------------------------------------------------------------- registry

_CLASSES: dict[str, type[GfiFraming | BinaryFraming | RawFraming]] = {
    "gfi": GfiFraming,
    "binary": BinaryFraming,
    "raw": RawFraming,
}


def get_framing(name: str, **options: Any) -> Framing:
    """The framing called ``name`` (one of :data:`FRAMINGS`) with its options.

    Options: ``gfi``: max_frame, frame_timeout, numbering (``zero`` or ``sequence``),
    first_number, max_control; ``binary``: max_frame, frame_timeout, max_control;
    ``raw``: max_frame, idle_timeout. Values may be numbers or their text.
    Raises ``ValueError`` for an unknown framing, option or bad value.
    """
    cls = _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown framing {name!r}; choose one of {', '.join(FRAMINGS)}")
    unknown = sorted(set(options) - set(cls.OPTIONS))
    if unknown:
        raise ValueError(
            f"framing {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options are {', '.join(cls.OPTIONS)}"
        )
    return cls(**options)
