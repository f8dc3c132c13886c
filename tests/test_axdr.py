"""A-XDR Data codec and COSEM date/time values (gbcs/axdr.py, gbcs/cosem_time.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gbcs.axdr import (
    MAX_DEPTH,
    NULL,
    BitString,
    CompactArray,
    Data,
    DataType,
    TypeDescription,
    data_field,
    decode_data,
    decode_data_bytes,
    encode_data,
    encoded_size,
)
from gbcs.cosem_time import (
    DEVIATION_NOT_SPECIFIED,
    MONTH_DST_BEGIN,
    DlmsDate,
    DlmsDateTime,
    DlmsTime,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.wire import Reader

RTDS_STAMP = bytes.fromhex("07DF0101FF000000008000FF")  # 2015-01-01 00:00:00, RTDS alerts


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


def err(data: bytes) -> GbcsDecodeError:
    with pytest.raises(GbcsDecodeError) as ei:
        decode_data_bytes(data)
    return ei.value


# ---------------------------------------------------------------------------------------
# COSEM date / time / date-time
# ---------------------------------------------------------------------------------------


def test_rtds_timestamp_fields_and_conversions() -> None:
    t = DlmsDateTime.from_bytes(RTDS_STAMP)
    assert (t.year, t.month, t.day, t.weekday) == (2015, 1, 1, 0xFF)
    assert (t.hour, t.minute, t.second, t.hundredths) == (0, 0, 0, 0)
    assert t.deviation == DEVIATION_NOT_SPECIFIED and not t.deviation_specified
    assert t.clock_status == 0xFF
    assert t.to_bytes() == RTDS_STAMP
    assert t.to_datetime() == dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    assert t.to_datetime(assume_tz=None) == dt.datetime(2015, 1, 1)
    assert str(t) == "2015-01-01 00:00:00.00"
    assert DlmsDateTime.from_datetime(dt.datetime(2015, 1, 1, tzinfo=dt.UTC)) == t
    assert DlmsDateTime(2015, 1, 1, hour=0, minute=0, second=0, hundredths=0) == t


def test_not_specified_date_time_preserved() -> None:
    raw = h("FFFF FF FF FF FF FF FF FF 8000 FF")
    t = DlmsDateTime.from_bytes(raw)
    assert t == DlmsDateTime.not_specified() == DlmsDateTime()
    assert t.to_bytes() == raw
    assert t.to_datetime() is None
    assert str(t) == "****-**-** **:**:**.**"
    assert t.date == DlmsDate() and t.time == DlmsTime()


def test_deviation_and_status() -> None:
    # 12:30 local on UTC+1 carries deviation -60 (UTC = local + deviation)
    local = dt.datetime(2024, 6, 1, 12, 30, 15, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    t = DlmsDateTime.from_datetime(local, deviation=-60, status=0x80, with_weekday=True)
    assert t.to_bytes() == h("07E8 06 01 06 0C 1E 0F 19 FFC4 80")
    assert t.to_datetime() == local
    assert t.to_datetime().utcoffset() == dt.timedelta(hours=1)  # type: ignore[union-attr]
    assert str(t) == "2024-06-01 Sat 12:30:15.25 deviation=-60min status=0x80"
    # deviation not specified: an aware datetime is written in UTC
    t2 = DlmsDateTime.from_datetime(local)
    assert (t2.hour, t2.minute, t2.deviation, t2.weekday) == (11, 30, -0x8000, 0xFF)
    assert t2.to_bytes()[-3:] == h("8000 FF")


def test_wildcards_and_specials_round_trip() -> None:
    raw = h("FFFF FE FE 07 FF 00 FF FF 8000 FF")  # DST begin, last day, Sunday, hh:00
    t = DlmsDateTime.from_bytes(raw)
    assert t.month == MONTH_DST_BEGIN and t.to_datetime() is None
    assert t.to_bytes() == raw
    assert str(t) == "****-DST-begin-last Sun **:00:**.**"
    assert DlmsDateTime.from_bytes(h("07E8 02 1E FF 00 00 00 00 8000 FF")).to_datetime() is None


def test_cosem_date_and_time() -> None:
    begin, end = DlmsDate.from_bytes(h("000001FFFF")), DlmsDate.from_bytes(h("FFFFFFFFFF"))
    assert (begin.year, begin.month, begin.day, begin.weekday) == (0, 1, 0xFF, 0xFF)
    assert str(begin) == "0000-01-**" and str(end) == "****-**-**"
    assert begin.to_date() is None and not begin.is_fully_specified
    assert DlmsDate.from_date(dt.date(2015, 1, 1)).to_bytes() == h("07DF010104")
    assert DlmsDate.from_date(dt.date(2015, 1, 1)).to_date() == dt.date(2015, 1, 1)
    t = DlmsTime.from_bytes(h("11000000"))
    assert t.to_time() == dt.time(17) and str(t) == "17:00:00.00"
    assert DlmsTime.from_time(dt.time(22, 0)).to_bytes() == h("16000000")
    assert DlmsTime(0xFF, 5, 0, 0xFF).to_time() is None
    assert DlmsTime(1, 2, 3, 0xFF).to_time() == dt.time(1, 2, 3)
    dtm = DlmsDateTime.from_parts(begin, t)
    assert dtm.to_bytes() == h("000001FFFF 11000000 8000 FF")


def test_cosem_time_errors() -> None:
    with pytest.raises(GbcsDecodeError) as ei:
        DlmsDateTime.from_bytes(b"\x00" * 11, "grouping_header.date_time", 30)
    assert (ei.value.path, ei.value.offset) == ("grouping_header.date_time", 30)
    with pytest.raises(GbcsDecodeError):
        DlmsDate.from_bytes(b"\x00" * 4)
    with pytest.raises(GbcsDecodeError):
        DlmsTime.from_bytes(b"\x00" * 5)
    with pytest.raises(GbcsEncodeError):
        DlmsDateTime(month=256)
    with pytest.raises(GbcsEncodeError):
        DlmsDateTime(deviation=0x8000)
    with pytest.raises(GbcsEncodeError):
        DlmsDate(year=-1)


@given(st.binary(min_size=12, max_size=12))
def test_date_time_bytes_round_trip(raw: bytes) -> None:
    t = DlmsDateTime.from_bytes(raw)
    assert t.to_bytes() == raw
    assert DlmsDateTime.from_parts(t.date, t.time, t.deviation, t.clock_status) == t
    back = t.to_datetime()
    if back is not None:
        assert DlmsDateTime.from_datetime(back, deviation=t.deviation).to_datetime() == back
    str(t)


# ---------------------------------------------------------------------------------------
# Data: exact encodings
# ---------------------------------------------------------------------------------------


ECS37_ENTRY = h(
    "020A 120000 03FF 090600000A8064FF 120001 090411000000 12FFFF 0407FE 0400"
    " 0905000001FFFF 0905FFFFFFFFFF"
)


def test_ecs37_schedule_entry_decodes_to_typed_values() -> None:
    d = decode_data_bytes(ECS37_ENTRY)
    assert d.tag is DataType.STRUCTURE and len(d) == 10
    assert [x.tag for x in d.items] == [
        DataType.LONG_UNSIGNED,
        DataType.BOOLEAN,
        DataType.OCTET_STRING,
        DataType.LONG_UNSIGNED,
        DataType.OCTET_STRING,
        DataType.LONG_UNSIGNED,
        DataType.BIT_STRING,
        DataType.BIT_STRING,
        DataType.OCTET_STRING,
        DataType.OCTET_STRING,
    ]
    assert d[1].value == 0xFF and bool(d[1].value)
    assert d[2].value == h("00000A8064FF")
    assert d[5].value == 0xFFFF
    assert d[6].value == BitString(7, b"\xfe") and d[6].value.bits == "1111111"
    assert d[7].value == BitString(0, b"")
    built = Data.structure(
        Data.long_unsigned(0),
        Data.boolean(True),
        Data.octet_string(h("00000A8064FF")),
        Data.long_unsigned(1),
        Data.octet_string(DlmsTime(17, 0, 0, 0).to_bytes()),
        Data.long_unsigned(0xFFFF),
        Data.bit_string("1111111"),
        Data.bit_string(""),
        Data.octet_string(DlmsDate(0, 1).to_bytes()),
        Data.octet_string(DlmsDate().to_bytes()),
    )
    assert built == d
    assert encode_data(built) == ECS37_ENTRY
    assert encoded_size(built) == len(ECS37_ENTRY)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Data.null(), "00"),
        (Data.dont_care(), "FF"),
        (Data.boolean(False), "0300"),
        (Data.boolean(1), "0301"),
        (Data.double_long(-2), "05FFFFFFFE"),
        (Data.double_long_unsigned(473212740), "061C34A744"),
        (Data.octet_string(b""), "0900"),
        (Data.octet_string(b"\xaa" * 0x80), "098180" + "AA" * 0x80),
        (Data.octet_string(b"\xbb" * 0x100), "09820100" + "BB" * 0x100),
        (Data.visible_string("ALCS_1"), "0A06414C43535F31"),
        (Data.utf8_string("{}"), "0C027B7D"),
        (Data.bcd(0x42), "0D42"),
        (Data.integer(-1), "0FFF"),
        (Data.long(-32768), "108000"),
        (Data.unsigned(130), "1182"),
        (Data.long_unsigned(0x8F0A), "128F0A"),
        (Data.long64(-1), "14FFFFFFFFFFFFFFFF"),
        (Data.long64_unsigned(2**64 - 1), "15FFFFFFFFFFFFFFFF"),
        (Data.enum(30), "161E"),
        (Data.float32(1.5), "173FC00000"),
        (Data.float64(-2.0), "18C000000000000000"),
        (Data.date_time(DlmsDateTime.from_bytes(RTDS_STAMP)), "19" + RTDS_STAMP.hex()),
        (Data.date(DlmsDate(2015, 1, 1)), "1A07DF0101FF"),
        (Data.time(DlmsTime(17, 0, 0, 0)), "1B11000000"),
        (Data.bit_string("11100000000000000000000000000110"), "0420E0000006"),
        (Data.array(), "0100"),
        (Data.structure(Data.integer(0), Data.enum(30)), "02020F00161E"),
    ],
)
def test_exact_encodings(value: Data, wire: str) -> None:
    raw = h(wire)
    assert encode_data(value) == raw
    assert encoded_size(value) == len(raw)
    assert decode_data_bytes(raw) == value


def test_float_raw_bytes_are_exact() -> None:
    snan = h("177F800001")  # a signalling NaN would be quietened by a float round trip
    d = decode_data_bytes(snan)
    assert d.value == h("7F800001") and encode_data(d) == snan
    assert Data.float32(1.5).as_float() == 1.5


def test_utf8_and_visible_strings_are_lossless() -> None:
    bad_utf8 = h("0C03FF41C3")
    d = decode_data_bytes(bad_utf8)
    assert isinstance(d.value, str) and encode_data(d) == bad_utf8
    latin = h("0A02E9FF")
    assert decode_data_bytes(latin).value == "\xe9\xff"


def test_compact_array_from_rtds_ecs23() -> None:
    # two elements of structure{double-long-unsigned, double-long-unsigned}
    raw = h("13 0202 0606 10 1C34A780 00000051 1C34B590 0000000F")
    d = decode_data_bytes(raw)
    ca = d.value
    assert isinstance(ca, CompactArray)
    assert ca.type_description == TypeDescription.structure(
        TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
        TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
    )
    els = ca.elements()
    assert els == (
        Data.structure(Data.double_long_unsigned(473212800), Data.double_long_unsigned(0x51)),
        Data.structure(Data.double_long_unsigned(473216400), Data.double_long_unsigned(0x0F)),
    )
    assert CompactArray.from_elements(ca.type_description, els) == ca
    assert encode_data(d) == raw


def test_compact_array_with_variable_elements() -> None:
    # structure{double-long-unsigned, long-unsigned, octet-string} (RTDS ECS35a shape)
    raw = h("13 0203 061209 0F 1C35F900 8F01 00 1C3602FD 8145 01AB")
    ca = decode_data_bytes(raw).value
    assert ca.elements()[1] == Data.structure(
        Data.double_long_unsigned(0x1C3602FD),
        Data.long_unsigned(0x8145),
        Data.octet_string(b"\xab"),
    )
    td = TypeDescription.array(2, TypeDescription.simple(DataType.UNSIGNED))
    ca2 = CompactArray.from_elements(td, [Data.array(Data.unsigned(1), Data.unsigned(2))])
    assert encode_data(Data.compact_array(ca2)) == h("13 01000211 02 0102")
    with pytest.raises(GbcsEncodeError):
        CompactArray.from_elements(td, [Data.array(Data.unsigned(1))])
    with pytest.raises(GbcsEncodeError):
        CompactArray(td, b"\x01")


# ---------------------------------------------------------------------------------------
# Data: errors (exact path and absolute offset)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "path", "offset", "reason"),
    [
        ("", "data.tag", 0, "needs 1 byte(s), 0 left"),
        ("07", "data.tag", 0, "unknown A-XDR data type 7"),
        ("0203 120001", "data[1].tag", 5, "needs 1 byte(s), 0 left"),
        ("0202 1200", "data[0].value", 3, "needs 2 byte(s), 1 left"),
        ("0201 0201 0201 08", "data[0][0][0].tag", 6, "unknown A-XDR data type 8"),
        ("098105" + "00" * 5, "data.length", 1, "non-minimal length form for 5"),
        ("0984", "data.length", 1, "unsupported BER length form 0x84"),
        ("0980", "data.length", 1, "unsupported BER length form 0x80"),
        ("0905 0102", "data.value", 2, "needs 5 byte(s), 2 left"),
        ("0182FFFF 00", "data.length", 1, "65535 element(s) cannot fit in 1 byte(s)"),
        ("0409 FF", "data.value", 2, "needs 2 byte(s), 1 left"),
        ("19 07DF", "data.value", 1, "needs 12 byte(s), 2 left"),
        ("0F0100", "data", 2, "1 unexpected trailing byte(s)"),
        ("13 07", "data.type_description", 1, "type 7 not allowed in a type description"),
        ("13 13", "data.type_description", 1, "type 19 not allowed in a type description"),
        ("13 00 00", "data.type_description", 1, "element type has zero size"),
        (
            "13 0202 0606 03 000000",
            "data.contents",
            6,
            "3 byte(s) is not a multiple of element size 8",
        ),
        ("13 0202 1209 04 0001 05 00", "data.contents", 9, "needs 5 byte(s), 1 left"),
        ("13 01FFFF 01FFFF 11", "data.type_description", 1, "describes more than 4096 values"),
    ],
)
def test_decode_errors(wire: str, path: str, offset: int, reason: str) -> None:
    e = err(h(wire))
    assert (e.path, e.offset, e.reason) == (path, offset, reason)


def test_nesting_bound() -> None:
    ok = bytes.fromhex("0201" * MAX_DEPTH + "00")
    assert encode_data(decode_data_bytes(ok)) == ok
    e = err(bytes.fromhex("0201" * (MAX_DEPTH + 1) + "00"))
    assert e.path == "data" + "[0]" * MAX_DEPTH + ".tag"
    assert (e.offset, e.reason) == (2 * MAX_DEPTH, f"nesting deeper than {MAX_DEPTH} levels")
    deep = NULL
    for _ in range(MAX_DEPTH):
        deep = Data.structure(deep)
    with pytest.raises(GbcsEncodeError):
        Data.structure(deep)


def test_decode_data_uses_reader_offsets() -> None:
    buf = b"\xaa\xbb" + h("0202 1200")
    r = Reader(buf, 2, len(buf), "plaintext")
    with pytest.raises(GbcsDecodeError) as ei:
        decode_data(r)
    assert (ei.value.path, ei.value.offset) == ("plaintext[0].value", 5)
    r2 = Reader(h("120001 00"), 0, 4, "p")
    assert decode_data(r2, "data") == Data.long_unsigned(1) and r2.pos == 3


def test_value_validation() -> None:
    for bad in (
        lambda: Data.long_unsigned(70000),
        lambda: Data.integer(200),
        lambda: Data.unsigned(-1),
        lambda: Data.boolean(256),
        lambda: Data.enum(True),
        lambda: Data(DataType.STRUCTURE, [NULL]),
        lambda: Data(DataType.OCTET_STRING, "text"),
        lambda: Data.visible_string("€"),
        lambda: Data(DataType.FLOAT32, 1.0),
        lambda: Data(DataType.NULL_DATA, 0),
        lambda: Data(99, None),
        lambda: BitString(3, b""),
        lambda: BitString.from_bits("102"),
    ):
        with pytest.raises(GbcsEncodeError):
            bad()
    assert Data(2, (NULL,)).tag is DataType.STRUCTURE  # plain int tags are normalised


def test_bit_string_helpers() -> None:
    b = BitString.from_bits("101")
    assert b.data == b"\xa0" and b.length == 3 and str(b) == "101"
    assert [b[i] for i in range(3)] == [True, False, True]
    with pytest.raises(IndexError):
        b[3]
    padded = BitString(3, b"\xbf")  # non-zero padding bits are preserved
    assert encode_data(Data.bit_string(padded)) == h("0403BF")


def test_display_node_offsets() -> None:
    raw = h("0202 0F00 161E")
    d = decode_data_bytes(raw)
    f, end = data_field(d, "[0] Structure", raw, 0, 100)
    assert end == 6 and f.offset == 100 and f.raw == raw and f.value == "2 elements"
    assert [(c.name, c.offset, c.raw, c.value) for c in f.children] == [
        ("[0] Integer", 102, h("0F00"), "0"),
        ("[1] Enum", 104, h("161E"), "30"),
    ]
    assert (
        str(Data.octet_string(RTDS_STAMP)) == RTDS_STAMP.hex().upper() + " (2015-01-01 00:00:00.00)"
    )
    assert str(Data.octet_string(h("00005E2C64FF"))) == "00005E2C64FF (0-0:94.44.100.255)"


# ---------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------


def _ints(tag: DataType, lo: int, hi: int) -> st.SearchStrategy[Data]:
    return st.integers(lo, hi).map(lambda v: Data(tag, v))


_LEAVES = st.one_of(
    st.just(NULL),
    st.just(Data.dont_care()),
    _ints(DataType.BOOLEAN, 0, 255),
    _ints(DataType.BCD, 0, 255),
    _ints(DataType.INTEGER, -128, 127),
    _ints(DataType.LONG, -(2**15), 2**15 - 1),
    _ints(DataType.UNSIGNED, 0, 255),
    _ints(DataType.LONG_UNSIGNED, 0, 2**16 - 1),
    _ints(DataType.DOUBLE_LONG, -(2**31), 2**31 - 1),
    _ints(DataType.DOUBLE_LONG_UNSIGNED, 0, 2**32 - 1),
    _ints(DataType.LONG64, -(2**63), 2**63 - 1),
    _ints(DataType.LONG64_UNSIGNED, 0, 2**64 - 1),
    _ints(DataType.ENUM, 0, 255),
    st.binary(max_size=300).map(Data.octet_string),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=20).map(Data.visible_string),
    st.binary(max_size=20).map(lambda b: Data.utf8_string(b.decode("utf-8", "surrogateescape"))),
    st.integers(0, 200).flatmap(
        lambda n: st.binary(min_size=(n + 7) // 8, max_size=(n + 7) // 8).map(
            lambda b: Data.bit_string(BitString(n, b))
        )
    ),
    st.binary(min_size=4, max_size=4).map(lambda b: Data(DataType.FLOAT32, b)),
    st.binary(min_size=8, max_size=8).map(lambda b: Data(DataType.FLOAT64, b)),
    st.binary(min_size=12, max_size=12).map(lambda b: Data.date_time(DlmsDateTime.from_bytes(b))),
    st.binary(min_size=5, max_size=5).map(lambda b: Data.date(DlmsDate.from_bytes(b))),
    st.binary(min_size=4, max_size=4).map(lambda b: Data.time(DlmsTime.from_bytes(b))),
    st.lists(st.integers(0, 2**32 - 1), max_size=4).map(
        lambda vs: Data.compact_array(
            CompactArray.from_elements(
                TypeDescription.structure(
                    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
                    TypeDescription.simple(DataType.OCTET_STRING),
                ),
                [
                    Data.structure(Data.double_long_unsigned(v), Data.octet_string(b"x" * (v % 3)))
                    for v in vs
                ],
            )
        )
    ),
)

DATA = st.recursive(
    _LEAVES,
    lambda kids: st.one_of(
        st.lists(kids, max_size=6).map(lambda xs: Data.array(*xs)),
        st.lists(kids, max_size=6).map(lambda xs: Data.structure(*xs)),
    ),
    max_leaves=25,
)


@settings(max_examples=300)
@given(DATA)
def test_data_round_trip(d: Data) -> None:
    raw = encode_data(d)
    assert encoded_size(d) == len(raw)
    back = decode_data_bytes(raw)
    assert back == d
    assert encode_data(back) == raw
    f, end = data_field(back, "x", raw, 0, 0)
    assert end == len(raw) and f.raw == raw


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_any_bytes_decode_exactly_or_fail_cleanly(raw: bytes) -> None:
    try:
        d = decode_data_bytes(raw)
    except GbcsDecodeError as e:
        assert 0 <= e.offset <= len(raw)
        assert e.path.startswith("data")
        return
    assert encode_data(d) == raw
