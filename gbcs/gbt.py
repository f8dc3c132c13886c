"""GBT segmentation: DLMS General Block Transfer of long GBCS messages (``gbcs-wire.md`` §6).

A long message is cut into blocks; each block is a *message routing header* (a
general-ciphering header whose fields are populated, carrying no MAC) followed by a
general-block-transfer APDU::

    DD                          general-ciphering
    09 CRA <counter 8>          transaction-id: CRA flag and originator counter of the message
    08 <originator EUI>         business originator
    08 <recipient EUI>          business recipient
    00                          date-time: empty
    02 <message code 2>         other-information: the message code only
    00                          key-info: absent
    <BER len> 11 00000000       ciphered-content length (5 + GBT APDU) and security header
    E0                          general-block-transfer
    BC                          block control: 0x80 last block, 0x40 streaming, 0x3F window
    BBBB                        block number (u16, first block 1)
    AAAA                        block-number-ack (u16)
    <BER len> <data>            block data; an ACK-only block carries none

The data of blocks 1..n, concatenated, is the original ``DD 00 …`` or ``DF …`` message.
tshark 4.0 reassembles exactly this layout.

Defaults :func:`split` applies (not fixed by any public source; chosen to be the
conservative DLMS choice): ``window = 1`` (the sender accepts one block at a time),
``streaming`` off (each block may be acknowledged), ``block_number_ack = 0`` (no block of
the peer received yet). All are parameters.

:class:`Reassembler` is sans-IO: feed it block bytes, it returns each message when its
last missing block arrives. Blocks may come in any order and messages may interleave
(they are keyed by originator and originator counter). Time enters only as the ``now``
value the caller passes, used to expire idle partial messages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import construct as cs

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field, leaf
from gbcs.wire import Reader, ber_length_size, encode_ber_length, parse_fixed

DEFAULT_BLOCK_SIZE = 200
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024
DEFAULT_MAX_BLOCKS = 1024
MAX_BLOCK_NUMBER = 0xFFFF

LAST_BLOCK = 0x80
STREAMING = 0x40
WINDOW_MASK = 0x3F

_CRA_FLAGS = (1, 2, 3)

# Fixed part of the routing header, up to and including key-info (34 bytes).
_ROUTING = cs.Struct(
    "general_ciphering" / cs.Int8ub,
    "transaction_id_length" / cs.Int8ub,
    "cra_flag" / cs.Int8ub,
    "originator_counter" / cs.Int64ub,
    "originator_length" / cs.Int8ub,
    "originator" / cs.Bytes(8),
    "recipient_length" / cs.Int8ub,
    "recipient" / cs.Bytes(8),
    "date_time" / cs.Int8ub,
    "other_information_length" / cs.Int8ub,
    "message_code" / cs.Int16ub,
    "key_info" / cs.Int8ub,
).compile()
_ROUTING_SIZE = 34

# Security header and GBT header between the two lengths (11 bytes).
_GBT_HEADER = cs.Struct(
    "security_control" / cs.Int8ub,
    "invocation_counter" / cs.Int32ub,
    "tag" / cs.Int8ub,
    "block_control" / cs.Int8ub,
    "block_number" / cs.Int16ub,
    "block_number_ack" / cs.Int16ub,
).compile()
_GBT_HEADER_SIZE = 11

# (error path, offset in the block, construct field, required value)
_ROUTING_CONSTANTS = (
    ("routing_header.general_ciphering", 0, "general_ciphering", 0xDD),
    ("routing_header.transaction_id.length", 1, "transaction_id_length", 0x09),
    ("routing_header.originator_system_title.length", 11, "originator_length", 0x08),
    ("routing_header.recipient_system_title.length", 20, "recipient_length", 0x08),
    ("routing_header.date_time", 29, "date_time", 0x00),
    ("routing_header.other_information.length", 30, "other_information_length", 0x02),
    ("routing_header.key_info", 33, "key_info", 0x00),
)
_OFF_CRA = 2
_OFF_RECIPIENT = 21
_OFF_MESSAGE_CODE = 31


def _eui(b: bytes) -> str:
    return b.hex().upper()


def _ranges(numbers: Iterable[int]) -> str:
    """``1, 3-5, 9`` for ``[1, 3, 4, 5, 9]``."""
    out: list[str] = []
    nums = sorted(numbers)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)


@dataclass(frozen=True, slots=True)
class RoutingHeader:
    """The identity of the carried message, repeated in every block."""

    cra_flag: int
    originator_counter: int
    originator: bytes
    recipient: bytes
    message_code: int

    def __post_init__(self) -> None:
        if self.cra_flag not in _CRA_FLAGS:
            raise GbcsEncodeError(f"CRA flag {self.cra_flag} is not 1, 2 or 3")
        if not 0 <= self.originator_counter < 1 << 64:
            raise GbcsEncodeError(f"originator counter {self.originator_counter} out of range")
        if len(self.originator) != 8 or len(self.recipient) != 8:
            raise GbcsEncodeError("system titles are 8 bytes")
        if not 0 <= self.message_code <= 0xFFFF:
            raise GbcsEncodeError(f"message code {self.message_code} out of range")

    @classmethod
    def from_message(cls, message: bytes, path: str = "message") -> RoutingHeader:
        """Read CRA flag, counter, titles and message code from a ``DD 00…``/``DF…`` message.

        Only the header is parsed (content and signature are not looked at).
        """
        return _read_message_header(message, path)[0]

    @property
    def key(self) -> tuple[bytes, int]:
        """Reassembly key: (originator system title, originator counter)."""
        return (self.originator, self.originator_counter)

    def describe(self) -> str:
        """``message 0x0019 from 90B3D51F30010000 counter 1006`` (for error texts)."""
        return (
            f"message 0x{self.message_code:04X} from {_eui(self.originator)} "
            f"counter {self.originator_counter}"
        )


def _read_message_header(message: bytes, path: str) -> tuple[RoutingHeader, dict[str, int]]:
    """The identity of a GBCS message and the absolute offset of each of its fields."""
    r = Reader(message, 0, len(message), path)
    if r.peek("general_ciphering") == 0xDD:
        r.expect(b"\xdd\x00\x00\x00\x00\x00\x00", "general_ciphering")
        at = r.pos
        n = r.ber_length("ciphered_service_length")
        if n != r.remaining:
            r.fail("ciphered_service_length", f"length {n} but {r.remaining} byte(s) follow", at)
        r.expect(b"\x11\x00\x00\x00\x00", "security_header")
    r.expect(b"\xdf", "general_signing")
    r.expect(b"\x09", "transaction_id.length")
    offsets = {"cra_flag": r.pos}
    cra = r.u8("cra_flag")
    if cra not in _CRA_FLAGS:
        r.fail("cra_flag", f"invalid CRA flag 0x{cra:02X}", r.pos - 1)
    offsets["originator_counter"] = r.pos
    counter = r.u64("originator_counter")
    r.expect(b"\x08", "originator_system_title.length")
    offsets["originator"] = r.pos
    originator = r.take(8, "originator_system_title")
    r.expect(b"\x08", "recipient_system_title.length")
    offsets["recipient"] = r.pos
    recipient = r.take(8, "recipient_system_title")
    at = r.pos
    dt = r.u8("date_time.length")
    if dt not in (0, 12):
        r.fail("date_time.length", f"date-time length {dt} is neither 0 nor 12", at)
    r.take(dt, "date_time")
    at = r.pos
    if r.ber_length("other_information.length") < 2:
        r.fail("other_information.length", "other-information shorter than a message code", at)
    offsets["message_code"] = r.pos
    code = r.u16("other_information.message_code")
    return RoutingHeader(cra, counter, originator, recipient, code), offsets


@dataclass(frozen=True, slots=True)
class GbtBlock:
    """One GBT block (or an ACK-only block when ``data`` is empty)."""

    routing: RoutingHeader
    block_number: int
    data: bytes
    last: bool = False
    streaming: bool = False
    window: int = 1
    block_number_ack: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.block_number <= MAX_BLOCK_NUMBER:
            raise GbcsEncodeError(f"block number {self.block_number} out of range")
        if self.data and self.block_number == 0:
            raise GbcsEncodeError("data blocks are numbered from 1")
        if not 0 <= self.block_number_ack <= MAX_BLOCK_NUMBER:
            raise GbcsEncodeError(f"block-number-ack {self.block_number_ack} out of range")
        if not 0 <= self.window <= WINDOW_MASK:
            raise GbcsEncodeError(f"window {self.window} out of range 0..63")

    @property
    def key(self) -> tuple[bytes, int]:
        """Reassembly key: (originator system title, originator counter)."""
        return self.routing.key

    @property
    def is_ack(self) -> bool:
        """True for an ACK-only block (no data)."""
        return not self.data

    @property
    def block_control(self) -> int:
        """The block-control byte."""
        return (LAST_BLOCK if self.last else 0) | (STREAMING if self.streaming else 0) | self.window

    def _layout(self) -> tuple[int, int]:
        """(ciphered-content length, offset of the GBT header's block number)."""
        ciphered = _GBT_HEADER_SIZE + ber_length_size(len(self.data)) + len(self.data)
        return ciphered, _ROUTING_SIZE + ber_length_size(ciphered) + 7

    def encode(self) -> bytes:
        """The block bytes (shortest length forms)."""
        ro = self.routing
        if len(self.data) > 0xFFFFFF - 16:
            raise GbcsEncodeError(f"block data of {len(self.data)} bytes is too long")
        ciphered, _ = self._layout()
        head = _ROUTING.build(
            {
                "general_ciphering": 0xDD,
                "transaction_id_length": 9,
                "cra_flag": ro.cra_flag,
                "originator_counter": ro.originator_counter,
                "originator_length": 8,
                "originator": ro.originator,
                "recipient_length": 8,
                "recipient": ro.recipient,
                "date_time": 0,
                "other_information_length": 2,
                "message_code": ro.message_code,
                "key_info": 0,
            }
        )
        gbt = _GBT_HEADER.build(
            {
                "security_control": 0x11,
                "invocation_counter": 0,
                "tag": 0xE0,
                "block_control": self.block_control,
                "block_number": self.block_number,
                "block_number_ack": self.block_number_ack,
            }
        )
        return b"".join(
            (head, encode_ber_length(ciphered), gbt, encode_ber_length(len(self.data)), self.data)
        )

    @classmethod
    def decode(cls, buf: bytes, path: str = "gbt") -> GbtBlock:
        """Same as :func:`decode_block`."""
        return decode_block(buf, path)

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        """Display tree of the encoded block laid out from ``base``."""
        b = self.encode()
        ro = self.routing
        ciphered, bn = self._layout()
        lc = ber_length_size(ciphered)
        sec = _ROUTING_SIZE + lc
        ld = ber_length_size(len(self.data))
        data_at = sec + _GBT_HEADER_SIZE + ld

        def lf(name: str, s: int, e: int, value: object = None) -> Field:
            return _shift(leaf(name, b, s, e, value), base)

        routing = Field(
            "Routing Header",
            base,
            b[: sec + 5],
            None,
            (
                lf("General Ciphering", 0, 1),
                lf("Transaction Id Length", 1, 2, 9),
                lf("CRA Flag", 2, 3, {1: "Command", 2: "Response", 3: "Alert"}[ro.cra_flag]),
                lf("Originator Counter", 3, 11, ro.originator_counter),
                lf("Originator System Title", 11, 20, _eui(ro.originator)),
                lf("Recipient System Title", 20, 29, _eui(ro.recipient)),
                lf("Date Time", 29, 30),
                lf("Other Information Length", 30, 31, 2),
                lf("Message Code", 31, 33, f"0x{ro.message_code:04X}"),
                lf("Key Info", 33, 34),
                lf("Ciphered Content Length", 34, sec, ciphered),
                lf("Security Header", sec, sec + 5),
            ),
        )
        gbt = Field(
            "GBT Header",
            base + sec + 5,
            b[sec + 5 : data_at],
            None,
            (
                lf("General Block Transfer", sec + 5, sec + 6),
                lf(
                    "Block Control",
                    sec + 6,
                    sec + 7,
                    f"last={int(self.last)} streaming={int(self.streaming)} window={self.window}",
                ),
                lf("Block Number", bn, bn + 2, self.block_number),
                lf("Block Number Ack", bn + 2, bn + 4, self.block_number_ack),
                lf("Block Data Length", bn + 4, data_at, len(self.data)),
            ),
        )
        return (routing, gbt, lf("Block Data", data_at, len(b)))


def _shift(f: Field, base: int) -> Field:
    return Field(f.name, f.offset + base, f.raw, f.value, f.children)


def _minimal_length(r: Reader, field: str) -> int:
    at = r.pos
    n = r.ber_length(field)
    if r.pos - at != ber_length_size(n):
        r.fail(field, "non-minimal length", at)
    return n


def decode_block(buf: bytes, path: str = "gbt") -> GbtBlock:
    """Decode one GBT block; anything malformed raises :class:`GbcsDecodeError`."""
    r = Reader(buf, 0, len(buf), path)
    head = parse_fixed(_ROUTING, r, _ROUTING_SIZE, "routing_header")
    for name, off, attr, want in _ROUTING_CONSTANTS:
        got = head[attr]
        if got != want:
            r.fail(name, f"expected {want:02X}, found {got:02X}", off)
    if head.cra_flag not in _CRA_FLAGS:
        r.fail("routing_header.cra_flag", f"invalid CRA flag 0x{head.cra_flag:02X}", _OFF_CRA)
    at = r.pos
    ciphered = _minimal_length(r, "routing_header.ciphered_content_length")
    if ciphered != r.remaining:
        r.fail(
            "routing_header.ciphered_content_length",
            f"length {ciphered} but {r.remaining} byte(s) follow",
            at,
        )
    start = r.pos
    gbt = parse_fixed(_GBT_HEADER, r, _GBT_HEADER_SIZE, "gbt_header")
    if gbt.security_control != 0x11:
        r.fail(
            "routing_header.security_control",
            f"expected 11, found {gbt.security_control:02X}",
            start,
        )
    if gbt.invocation_counter != 0:
        r.fail(
            "routing_header.invocation_counter",
            f"expected 00000000, found {gbt.invocation_counter:08X}",
            start + 1,
        )
    if gbt.tag != 0xE0:
        r.fail("gbt_header.tag", f"expected E0, found {gbt.tag:02X}", start + 5)
    n = _minimal_length(r, "gbt_header.block_data_length")
    if n != r.remaining:
        r.fail(
            "gbt_header.block_data_length",
            f"length {n} but {r.remaining} byte(s) follow",
            start + 11,
        )
    data = r.take(n, "block_data")
    if n and gbt.block_number == 0:
        r.fail("gbt_header.block_number", "block numbers start at 1", start + 7)
    bc = gbt.block_control
    return GbtBlock(
        RoutingHeader(
            head.cra_flag,
            head.originator_counter,
            head.originator,
            head.recipient,
            head.message_code,
        ),
        gbt.block_number,
        data,
        last=bool(bc & LAST_BLOCK),
        streaming=bool(bc & STREAMING),
        window=bc & WINDOW_MASK,
        block_number_ack=gbt.block_number_ack,
    )


def segment(
    message: bytes,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    window: int = 1,
    streaming: bool = False,
    block_number_ack: int = 0,
) -> tuple[GbtBlock, ...]:
    """Cut a GBCS message into GBT blocks of ``block_size`` data bytes (the last may be
    shorter). ``streaming`` sets the streaming bit on every block but the last."""
    if not 1 <= block_size <= 0xFFFF:
        raise GbcsEncodeError(f"block size {block_size} out of range 1..65535")
    if not message:
        raise GbcsEncodeError("nothing to segment")
    count = -(-len(message) // block_size)
    if count > MAX_BLOCK_NUMBER:
        raise GbcsEncodeError(
            f"{len(message)} bytes need {count} blocks, more than {MAX_BLOCK_NUMBER}"
        )
    routing = RoutingHeader.from_message(message)
    return tuple(
        GbtBlock(
            routing,
            i + 1,
            message[i * block_size : (i + 1) * block_size],
            last=i == count - 1,
            streaming=streaming and i < count - 1,
            window=window,
            block_number_ack=block_number_ack,
        )
        for i in range(count)
    )


def split(
    message: bytes,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    window: int = 1,
    streaming: bool = False,
    block_number_ack: int = 0,
) -> list[bytes]:
    """The encoded GBT blocks of ``message`` (see :func:`segment`)."""
    blocks = segment(
        message,
        block_size=block_size,
        window=window,
        streaming=streaming,
        block_number_ack=block_number_ack,
    )
    return [b.encode() for b in blocks]


# --------------------------------------------------------------------------- reassembly


@dataclass(frozen=True, slots=True)
class IncompleteMessage:
    """A snapshot of a message still being reassembled."""

    routing: RoutingHeader
    received: tuple[int, ...]
    last_block: int | None
    missing: tuple[int, ...]
    size: int
    first_seen: float
    last_seen: float

    @property
    def key(self) -> tuple[bytes, int]:
        return self.routing.key

    def describe(self) -> str:
        """Why the message is incomplete, naming the missing blocks."""
        what = self.routing.describe()
        if self.last_block is None:
            have = _ranges(self.received)
            if self.missing:
                gaps = _ranges(self.missing)
                return (
                    f"{what} incomplete: missing block(s) {gaps}, "
                    f"last block not received (have {have})"
                )
            return f"{what} incomplete: last block not received (have {have})"
        return f"{what} incomplete: missing block(s) {_ranges(self.missing)} of {self.last_block}"


@dataclass(slots=True)
class _Partial:
    routing: RoutingHeader
    first_seen: float
    last_seen: float
    blocks: dict[int, tuple[bytes, bool]] = field(default_factory=dict)
    last_block: int | None = None
    size: int = 0

    def snapshot(self) -> IncompleteMessage:
        top = self.last_block if self.last_block is not None else max(self.blocks, default=0)
        missing = tuple(i for i in range(1, top + 1) if i not in self.blocks)
        return IncompleteMessage(
            self.routing,
            tuple(sorted(self.blocks)),
            self.last_block,
            missing,
            self.size,
            self.first_seen,
            self.last_seen,
        )


_ROUTING_FIELDS = (
    ("cra_flag", "routing_header.cra_flag", _OFF_CRA),
    ("recipient", "routing_header.recipient_system_title", _OFF_RECIPIENT),
    ("message_code", "routing_header.other_information.message_code", _OFF_MESSAGE_CODE),
)


class Reassembler:
    """Sans-IO reassembly of GBT blocks into GBCS messages.

    ``feed`` returns the whole message when its last missing block arrives, else None.
    It raises :class:`GbcsDecodeError` for a malformed block; a block conflicting with an
    earlier one of the same message (different data for a block number, disagreeing
    routing-header fields, a second last block, a block beyond the last one); a message
    over ``max_message_size`` bytes or a block number over ``max_blocks``; a block of a
    message already reassembled (the last ``completed_memory`` messages are
    remembered); a new message while ``max_pending`` are in progress; and, with
    ``in_order``, any block that is not the next one expected. A rejected message's
    partial state is dropped (a retransmission starts it afresh); other messages are
    unaffected. Identical duplicates and ACK-only blocks are ignored.

    Blocks may arrive in any order, so a missing block is only known for certain when
    the caller gives up waiting: :meth:`incomplete` lists partial messages with their
    missing blocks, :meth:`drop` and :meth:`expire` abandon them and return the error
    naming what was missing.
    """

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_blocks: int = DEFAULT_MAX_BLOCKS,
        max_pending: int = 64,
        completed_memory: int = 256,
        in_order: bool = False,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_blocks = max_blocks
        self.max_pending = max_pending
        self.completed_memory = completed_memory
        self.in_order = in_order
        self._partial: dict[tuple[bytes, int], _Partial] = {}
        self._completed: OrderedDict[tuple[bytes, int], None] = OrderedDict()

    def feed(self, block: bytes | GbtBlock, now: float = 0.0) -> bytes | None:
        """Take one block; the reassembled message once complete, else None."""
        blk = block if isinstance(block, GbtBlock) else decode_block(bytes(block))
        if not blk.data:
            return None  # ACK-only: carries nothing to reassemble
        key = blk.key
        _, bn_at = blk._layout()
        if key in self._completed:
            raise GbcsDecodeError(
                "gbt.gbt_header.block_number",
                bn_at,
                f"block {blk.block_number} of {blk.routing.describe()} after it was reassembled",
            )
        part = self._partial.get(key)
        if part is None:
            if len(self._partial) >= self.max_pending:
                raise GbcsDecodeError(
                    "gbt", 0, f"{self.max_pending} message(s) already being reassembled"
                )
            part = _Partial(blk.routing, now, now)
        try:
            done = self._add(part, blk, bn_at)
        except GbcsDecodeError:
            self._partial.pop(key, None)
            raise
        part.last_seen = now
        if done is None:
            self._partial[key] = part
            return None
        self._partial.pop(key, None)
        self._completed[key] = None
        while len(self._completed) > self.completed_memory:
            self._completed.popitem(last=False)
        return done

    def _add(self, part: _Partial, blk: GbtBlock, bn_at: int) -> bytes | None:
        """Store ``blk``; the message when it is complete. Raises on any conflict."""
        n = blk.block_number

        def reject(path: str, offset: int, why: str) -> GbcsDecodeError:
            # error texts name the message; built only when rejecting
            return GbcsDecodeError(path, offset, why.format(what=part.routing.describe()))

        ro = blk.routing
        for attr, path, off in _ROUTING_FIELDS:
            if getattr(ro, attr) != getattr(part.routing, attr):
                raise reject(
                    f"gbt.{path}",
                    off,
                    f"{attr} of block {n} disagrees with earlier blocks of {{what}}",
                )
        data_at = bn_at + 4 + ber_length_size(len(blk.data))
        if n > self.max_blocks:
            raise reject(
                "gbt.gbt_header.block_number",
                bn_at,
                f"block number {n} over the limit of {self.max_blocks}",
            )
        seen = part.blocks.get(n)
        if seen is not None:
            if seen == (blk.data, blk.last):
                return None
            raise reject(
                "gbt.block_data",
                data_at,
                f"block {n} of {{what}} differs from the copy already received",
            )
        last = part.last_block
        if blk.last:
            if last is not None:
                raise reject(
                    "gbt.gbt_header.block_control",
                    bn_at - 1,
                    f"block {n} of {{what}} marked last, but block {last} already was",
                )
            beyond = [i for i in part.blocks if i > n]
            if beyond:
                raise reject(
                    "gbt.gbt_header.block_control",
                    bn_at - 1,
                    f"block {n} of {{what}} marked last, but block(s) {_ranges(beyond)} follow it",
                )
        elif last is not None and n > last:
            raise reject(
                "gbt.gbt_header.block_number",
                bn_at,
                f"block {n} of {{what}} follows the last block {last}",
            )
        expected = len(part.blocks) + 1
        if self.in_order and n != expected:  # n > expected: lower numbers are all held
            gaps = _ranges(range(expected, n))
            raise reject(
                "gbt.gbt_header.block_number",
                bn_at,
                f"block {n} of {{what}} out of order: missing block(s) {gaps}",
            )
        if part.size + len(blk.data) > self.max_message_size:
            raise reject(
                "gbt.block_data", data_at, f"{{what}} exceeds {self.max_message_size} bytes"
            )
        part.blocks[n] = (blk.data, blk.last)
        part.size += len(blk.data)
        if blk.last:
            part.last_block = n
        if part.last_block is None or len(part.blocks) != part.last_block:
            return None
        message = b"".join(part.blocks[i][0] for i in range(1, part.last_block + 1))
        _check_reassembled(message, part.routing)
        return message

    def incomplete(self) -> tuple[IncompleteMessage, ...]:
        """Messages in progress, with the blocks received and those known missing."""
        return tuple(p.snapshot() for p in self._partial.values())

    def drop(self, key: tuple[bytes, int]) -> GbcsDecodeError | None:
        """Abandon one partial message; the error naming its missing blocks (None if unknown)."""
        part = self._partial.pop(key, None)
        if part is None:
            return None
        return GbcsDecodeError("gbt", 0, part.snapshot().describe())

    def expire(self, before: float) -> tuple[GbcsDecodeError, ...]:
        """Abandon partial messages last fed before ``before``; one error for each."""
        stale = [k for k, p in self._partial.items() if p.last_seen < before]
        return tuple(e for k in stale if (e := self.drop(k)) is not None)


def _check_reassembled(message: bytes, routing: RoutingHeader) -> None:
    """The reassembled message must carry the identity its routing header announced."""
    got, offsets = _read_message_header(message, "gbt.reassembled")
    for attr, name in (
        ("cra_flag", "cra_flag"),
        ("originator_counter", "originator_counter"),
        ("originator", "originator_system_title"),
        ("recipient", "recipient_system_title"),
        ("message_code", "other_information.message_code"),
    ):
        a, b = getattr(got, attr), getattr(routing, attr)
        if a != b:
            if isinstance(a, bytes):
                shown = (_eui(a), _eui(b))
            elif attr == "message_code":
                shown = (f"0x{a:04X}", f"0x{b:04X}")
            else:
                shown = (str(a), str(b))
            raise GbcsDecodeError(
                f"gbt.reassembled.{name}",
                offsets[attr],
                f"reassembled message has {attr} {shown[0]}, its routing header {shown[1]}",
            )
