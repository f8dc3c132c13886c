"""The ``decode --batch`` shortcuts answer exactly as the general paths do: hex lines read
by ``bytes.fromhex`` parse (or fail) as the general cleaning does, the DLMS byte scan
never hides an encrypted part, the expiry notes follow a changed key store, "no key"
verdicts keep their details, the slot-set messages equal constructed ones, and the
envelope's inline length reads agree with the general BER reader."""

from __future__ import annotations

import string
from dataclasses import FrozenInstanceError, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.cli.inputs import parse_hex
from gbcs.codec import GbcsMessage, build, decode
from gbcs.dlms import AccessResponse, GetResult
from gbcs.envelope import (
    Cra,
    Envelope,
    GroupingHeader,
    OtherInformation,
    SignatureForm,
    _ber,
    _decode_other_information,
    decode_envelope,
)
from gbcs.errors import GbcsDecodeError
from gbcs.inspect import Inspection, NoKeys, inspect_message
from gbcs.security import Verdict
from keys.pki import create_authorities, issue_organisation_keys
from keys.roles import RemotePartyRole
from keys.store import KeyStore
from tests.strategies import nested_protected

A = bytes.fromhex("00DB1234567890A0")
B = bytes.fromhex("90B3D51F30FE0002")
ACB = bytes.fromhex("90B3D51F30000002")


def _reference_parse_hex(text: str, where: str = "input") -> bytes:
    """The general cleaning, as ``parse_hex`` had it before its ``bytes.fromhex`` path."""
    cleaned = "".join(text.split())
    if ":" in cleaned:
        cleaned = cleaned.replace(":", "")
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    if not cleaned:
        raise click.ClickException(f"{where}: no hex data")
    bad = next((i for i, c in enumerate(cleaned) if c not in string.hexdigits), None)
    if bad is not None:
        c = cleaned[bad]
        found = repr(c) if c.isascii() and c.isprintable() else "a non-ASCII or binary byte"
        raise click.ClickException(
            f"{where}: not hex (found {found} at digit {bad + 1}; allowed: 0-9 a-f A-F, "
            "spaces, colons, a leading 0x)"
        )
    if len(cleaned) % 2:
        raise click.ClickException(f"{where}: odd number of hex digits ({len(cleaned)})")
    return bytes.fromhex(cleaned)


def _outcome(fn: Any, text: str) -> tuple[str, object]:
    try:
        return "ok", fn(text, "line 3")
    except click.ClickException as e:
        return "error", e.message


TRICKY = [
    "",
    "   ",
    "0x",
    "0xAB",
    "0XAB",
    " 0xAB",
    "AB CD",
    "A BCD",
    "AB C D",
    "AB:CD",
    "ab\tcd\r\n",
    "\x0bAB\x0c",
    "ABC",
    "GG",
    "AB\u00a0CD",
    "ABé",
    "DD00 0000",
    "0xAB CD",
    "AB#CD",
]


@pytest.mark.parametrize("text", TRICKY)
def test_hex_lines_parse_and_fail_as_the_general_cleaning_does(text: str) -> None:
    assert _outcome(parse_hex, text) == _outcome(_reference_parse_hex, text)


@settings(max_examples=400)
@given(st.text(alphabet="0123456789abcdefABCDEF \t:xX\u00a0g", max_size=24))
def test_any_hex_like_line_parses_as_the_general_cleaning_does(text: str) -> None:
    assert _outcome(parse_hex, text) == _outcome(_reference_parse_hex, text)


def _response(data: tuple[Any, ...]) -> bytes:
    apdu = AccessResponse(7, data, tuple(GetResult(0) for _ in data))
    header = GroupingHeader(Cra.RESPONSE, 5, A, B, OtherInformation(0x0001))
    msg = build(header, apdu, envelope=Envelope.GENERAL_SIGNING, signature_form=SignatureForm.NULL)
    return msg.encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(nested_protected, min_size=1, max_size=3))
def test_the_dlms_scan_never_hides_a_part(data: list[Any]) -> None:
    raw = _response(tuple(data))
    msg = decode(raw)
    assert msg.layout is not None
    walked = msg.payload.encrypted_parts()  # the payload's own walk, no scan first
    got = msg.encrypted_parts()
    assert [(p.index, p.path, p.blob) for p in got] == [(p.index, p.path, p.blob) for p in walked]
    assert [p.offset for p in got] == [p.offset + msg.layout.content_start for p in walked]
    for p in got:
        assert raw[p.offset : p.offset + len(p.blob)] == p.blob


def test_a_long_part_is_found_behind_a_long_length_form() -> None:
    from gbcs.dlms import ProtectionParameters, protected_get_result

    for size in (17, 127, 128, 255, 256, 70000):
        blob = bytes.fromhex("3100000000") + bytes(size - 5)
        part = protected_get_result(ProtectionParameters.gbcs(9, A, B), blob)
        (found,) = decode(_response((part,))).encrypted_parts()
        assert found.blob == blob


def _org_store(now: datetime) -> KeyStore:
    ca = create_authorities(now=now)
    store = KeyStore()
    for k in issue_organisation_keys(ca, RemotePartyRole.SUPPLIER, B, now=now):
        store.add_entry(k.entry())
    return store


def test_expiry_notes_follow_a_changed_store() -> None:
    """The notes' key look-ups are cached per store generation: a replaced certificate
    shows at once, and the clock is read for every message."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store = _org_store(t0)
    signed = _signed_by(B)
    ds = store.entry(B, "ds")
    assert ds is not None and ds.not_after is not None
    before = ds.not_after - timedelta(days=1)
    after = ds.not_after + timedelta(days=1)
    assert inspect_message(signed, store, acb=ACB, now=before).key_notes == ()
    (note,) = inspect_message(signed, store, acb=ACB, now=after).key_notes
    assert note == f"{B.hex().upper()} DS certificate expired on {ds.not_after.date()}"
    later = _org_store(t0 + timedelta(days=400))  # the same EUI, certificates a year on
    for e in later:
        store.add_entry(e)
    new = store.entry(B, "ds")
    assert new is not None and new.not_after is not None and new.not_after > ds.not_after
    assert inspect_message(signed, store, acb=ACB, now=after).key_notes == ()
    (note,) = inspect_message(signed, store, acb=ACB, now=new.not_after + timedelta(1)).key_notes
    assert note.endswith(f"expired on {new.not_after.date()}")


def _signed_by(originator: bytes) -> bytes:
    """A General-Signing message with a (well-formed, unverifiable) signature field."""
    apdu = AccessResponse(7, (), ())
    header = GroupingHeader(Cra.RESPONSE, 5, originator, A, OtherInformation(0x0001))
    msg = build(header, apdu, envelope=Envelope.GENERAL_SIGNING)
    signed = replace(msg, signature_form=SignatureForm.PRESENT, signature=bytes([1] * 64))
    return signed.encode()


def test_no_key_verdicts_keep_their_details() -> None:
    raw = _signed_by(B)
    for keys in (None, NoKeys(), KeyStore()):
        r = inspect_message(raw, keys, acb=ACB)
        assert r.signature.verdict is Verdict.NO_KEY
        assert r.signature.detail == f"needs the DS public key of {B.hex().upper()}"
        assert r.mac.verdict is Verdict.ABSENT and r.key_notes == ()


def test_decoded_objects_equal_constructed_ones() -> None:
    """Messages, headers and inspections are built through their slots when decoding;
    they are the very values the dataclass constructors make."""
    raw = _signed_by(B)
    m = decode(raw)
    h = m.header
    again = GroupingHeader(h.cra, h.counter, h.originator, h.recipient, h.other, h.date_time)
    assert h == again and hash(h) == hash(again)
    values = {f.name: getattr(m, f.name) for f in fields(GbcsMessage)}
    assert GbcsMessage(**values) == m and repr(GbcsMessage(**values)) == repr(m)
    r = inspect_message(raw)
    built = Inspection(**{f.name: getattr(r, f.name) for f in fields(Inspection)})
    assert built == r and r.to_json() == built.to_json()
    with pytest.raises(FrozenInstanceError):
        m.mac = None  # type: ignore[misc]  # still frozen
    with pytest.raises(FrozenInstanceError):
        h.counter = 9  # type: ignore[misc]


def _outcome_of(fn: Any, *args: Any) -> tuple[str, object]:
    try:
        return "ok", fn(*args)
    except GbcsDecodeError as e:
        return "error", (e.path, e.offset, e.reason)


@pytest.mark.parametrize("value", [0x00, 0x02, 0x11, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF])
def test_inline_length_reads_agree_with_the_general_reader(value: int) -> None:
    """The envelope reads the usual BER length forms inline: for every value of the
    ciphered length, other-information length and content length bytes (and the byte
    after each), decoding agrees with :func:`gbcs.envelope._ber` and
    :func:`gbcs.envelope._decode_other_information` on the same bytes."""
    base = decode(_mac_d(_signed_by(B)))  # DD, a signature and a code-only header
    raw = base.raw
    assert raw is not None and base.layout is not None
    lay = base.layout
    gs_end = len(raw) - 12
    for at in (7, 8, lay.other_info_start, lay.other_info_start + 1, lay.content_length_start):
        for nxt in (0x00, 0x80, 0xFF):
            buf = bytearray(raw)
            buf[at] = value
            if at + 1 < len(buf):
                buf[at + 1] = nxt
            data = bytes(buf)
            got = _outcome_of(decode_envelope, data)
            if at in (7, 8):
                want = _outcome_of(_ber, data, 7, len(data), "mac_header.ciphered_length")
                if want[0] == "error":
                    assert got == want
                elif got[0] == "ok":
                    assert got[1].layout.gs_start == want[1][1] + 5  # type: ignore[union-attr]
            elif at == lay.content_length_start:
                want = _outcome_of(
                    _ber, data, at, gs_end, "general_signing.grouping_header.content_length"
                )
                if want[0] == "error":
                    assert got == want
                elif got[0] == "ok":
                    n, start = want[1]  # type: ignore[misc]
                    assert got[1].layout.content_start == start  # type: ignore[union-attr]
                    assert got[1].layout.content_end == start + n  # type: ignore[union-attr]
            else:
                oi = lay.other_info_start
                want = _outcome_of(_decode_other_information, data, oi, gs_end)
                if want[0] == "error":
                    assert got == want
                elif got[0] == "ok":
                    other, after = want[1]  # type: ignore[misc]
                    assert got[1].header.other == other  # type: ignore[union-attr]
                    assert got[1].layout.content_length_start == after  # type: ignore[union-attr]


def _mac_d(gs: bytes) -> bytes:
    """``gs`` in the General-Ciphering form with an arbitrary (unchecked) MAC."""
    from gbcs.envelope import encode_general_ciphering

    return encode_general_ciphering(gs, bytes(12))


def test_a_header_cut_short_fails_as_the_general_reader_says() -> None:
    gs = _signed_by(B)  # DF form: the message ends where the cut is
    lay = decode(gs).layout
    assert lay is not None
    oi = lay.other_info_start
    for cut in range(oi, lay.content_start + 2):
        data = gs[:cut]
        got = _outcome_of(decode_envelope, data)
        assert got[0] == "error"
        want = _outcome_of(_decode_other_information, data, oi, cut)
        if want[0] == "error":
            assert got == want
        else:  # other-information read: the content length or what follows fails
            _, after = want[1]  # type: ignore[misc]
            path = "general_signing.grouping_header.content_length"
            length = _outcome_of(_ber, data, after, cut, path)
            later = ("general_signing.content", "general_signing.signature.length")
            assert got == length or (length[0] == "ok" and got[1][0] in later)  # type: ignore[index]
