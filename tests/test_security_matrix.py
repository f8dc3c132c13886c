"""Negative security matrix: every supported command, every fault (issue 3 §4).

Commands are the RTDS SUCCESS commands a fresh emulated device answers. Each fault is
applied to a fresh device; the command must be rejected by the check the fault
targets, the documented security-log entry and alert (devices.policy) must follow, and
the device's functional state must stay byte-identical (serialised state compared,
minus the security log and the own counter an alert consumes).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any

import pytest

from devices.device import Device
from devices.factory import create_device, own_keys_from
from devices.outbound import OutboundKind
from devices.pipeline import allowed_roles
from devices.policy import Check, SecurityPolicy
from emulator.conformance.cases import ConformanceCase, load_cases
from emulator.conformance.harness import CONFORMANCE_TIME, RTDS_PARTIES, RemacKeys
from gbcs.codec import GbcsMessage, decode
from gbcs.envelope import Envelope, OtherInformation, SignatureForm
from gbcs.security import apply_mac, sign
from gbcs.usecases import lookup
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore
from tests.interop import require_interop

R = RemotePartyRole
NOW = CONFORMANCE_TIME
POLICY = SecurityPolicy()
UNKNOWN_PARTY = bytes.fromhex("90B3D51F30ABCDEF")


@functools.cache
def _store() -> KeyStore:
    return KeyStore(require_interop() / "keys")


@functools.cache
def _own(eui: bytes) -> Any:
    return own_keys_from(_store(), eui)


def _device(case: ConformanceCase, eui: bytes) -> Device:
    return create_device(
        case.device_type, eui, _store(), own=_own(eui), parties=RTDS_PARTIES, now=NOW
    )


def _protect(msg: GbcsMessage, device: Device, signer: bytes | None = None) -> bytes:
    """Re-sign (critical: with ``signer``'s DS key, default the originator) and re-MAC."""
    store = _store()
    if msg.signature_form is SignatureForm.PRESENT:
        key = store.private_key(signer or msg.originator, KeyUsage.DS)
        assert key is not None
        msg = sign(msg, key)
    if msg.envelope is Envelope.GENERAL_SIGNING:
        return msg.encode()
    keys = RemacKeys(store, device.eui, device.own.ka.public_key())
    return apply_mac(msg, keys, RTDS_PARTIES[R.ACCESS_CONTROL_BROKER]).encode()


def _functional(d: Device) -> str:
    state = d.to_dict()
    state.pop("security_log")
    state.pop("own_counter")
    if "zcl" in state:  # a ZigBee device's security log is its ZCL log 4
        state["zcl"]["state"]["event_logs"].pop("4", None)
    return json.dumps(state, sort_keys=True)


@functools.cache
def _supported() -> tuple[tuple[ConformanceCase, bytes], ...]:
    """(case, fed command) for every RTDS SUCCESS command our devices answer."""
    d = require_interop()
    out = []
    for case in load_cases(d / "vectors.json"):
        if case.error_variant:
            continue
        cmd = decode(case.command)
        dev = _device(case, cmd.recipient)
        keys = RemacKeys(_store(), dev.eui, dev.own.ka.public_key())
        fed = case.command
        if cmd.envelope is Envelope.GENERAL_CIPHERING:
            fed = apply_mac(cmd, keys, RTDS_PARTIES[R.ACCESS_CONTROL_BROKER]).encode()
        outs = dev.receive(fed, NOW)
        if any(o.kind is OutboundKind.RESPONSE for o in outs):
            out.append((case, fed))
    return tuple(out)


def _flip(frame: bytes, pos: int) -> bytes:
    b = bytearray(frame)
    b[pos] ^= 0x01
    return bytes(b)


def _wrong_role(msg: GbcsMessage, dev: Device) -> bytes:
    """An originator whose role may not send this command (or an unknown party)."""
    uc = lookup(msg.message_code)
    assert uc is not None
    allowed = allowed_roles(uc, dev.device_type)
    if allowed is not None:
        for role in (R.NETWORK_OPERATOR, R.SUPPLIER, R.WAN_PROVIDER, R.TRANSITIONAL_COS):
            eui = RTDS_PARTIES[role]
            usable = role in dev.anchors.cells and _store().private_key(eui, KeyUsage.DS)
            if usable and int(role) not in allowed and eui != msg.originator:
                return eui
    return UNKNOWN_PARTY


def _rebuild(msg: GbcsMessage, **header: Any) -> GbcsMessage:
    return dataclasses.replace(
        msg, header=dataclasses.replace(msg.header, **header), raw=None, layout=None
    )


Fault = Callable[[GbcsMessage, bytes, Device], tuple[bytes, Check] | None]


def f_header_bit(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    lay = decode(fed).layout
    assert lay is not None
    # last byte of the originator counter inside the grouping header
    return _flip(fed, lay.gs_start + 10), _integrity(fed)


def f_payload_bit(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    m = decode(fed)
    return _flip(fed, m.content_offset() + len(m.content()) // 2), _integrity(fed)


def _integrity(fed: bytes) -> Check:
    """The check that catches tampering: the MAC, or the signature of a signed-only one."""
    return Check.MAC if fed[0] == 0xDD else Check.SIGNATURE


def f_mac_bit(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check] | None:
    if fed[0] != 0xDD:
        return None
    return _flip(fed, len(fed) - 3), Check.MAC


def f_signature_bit(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check] | None:
    m = decode(fed)
    if m.signature_form is not SignatureForm.PRESENT:
        return None
    bad = bytearray(m.signature)
    bad[5] ^= 0x01
    forged = dataclasses.replace(m, signature=bytes(bad), raw=None, layout=None)
    if fed[0] != 0xDD:
        return forged.encode(), Check.SIGNATURE
    keys = RemacKeys(_store(), dev.eui, dev.own.ka.public_key())
    return apply_mac(forged, keys, RTDS_PARTIES[R.ACCESS_CONTROL_BROKER]).encode(), Check.SIGNATURE


def f_signature_bit_unremacced(
    msg: GbcsMessage, fed: bytes, dev: Device
) -> tuple[bytes, Check] | None:
    m = decode(fed)
    if m.signature_form is not SignatureForm.PRESENT or m.layout is None or fed[0] != 0xDD:
        return None
    sig_at = len(fed) - 12 - 64 + 5
    return _flip(fed, sig_at), Check.MAC  # the MAC covers the signature


def f_wrong_role(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    who = _wrong_role(msg, dev)
    m = _rebuild(decode(fed), originator=who)
    signer = who if _store().private_key(who, KeyUsage.DS) else msg.originator
    return _protect(m, dev, signer), Check.ROLE


def f_unknown_code(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    m = decode(fed)
    assert m.layout is not None
    at = m.layout.content_length_start - len(m.header.other.encode())  # the message code
    patched = fed[:at] + b"\x7f\xfe" + fed[at + 2 :]
    return _protect(decode(patched, lenient_payload=True), dev), Check.UNKNOWN_CODE


def f_wrong_recipient(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    m = _rebuild(decode(fed), recipient=bytes.fromhex("00DB1234567890FF"))
    return m.encode(), Check.RECIPIENT


def f_truncated_body(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    return fed[: len(fed) - 20], Check.MALFORMED


def f_truncated_header(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check]:
    return fed[:12], Check.MALFORMED


def f_ka_key_as_ds(msg: GbcsMessage, fed: bytes, dev: Device) -> tuple[bytes, Check] | None:
    m = decode(fed)
    if m.signature_form is not SignatureForm.PRESENT:
        return None
    ka = _store().private_key(m.originator, KeyUsage.KA)
    if ka is None:
        return None
    forged = sign(m, ka)
    if fed[0] != 0xDD:
        return forged.encode(), Check.SIGNATURE
    keys = RemacKeys(_store(), dev.eui, dev.own.ka.public_key())
    return apply_mac(forged, keys, RTDS_PARTIES[R.ACCESS_CONTROL_BROKER]).encode(), Check.SIGNATURE


FAULTS: dict[str, Fault] = {
    "header-bit": f_header_bit,
    "payload-bit": f_payload_bit,
    "mac-bit": f_mac_bit,
    "signature-bit": f_signature_bit,
    "signature-bit-under-mac": f_signature_bit_unremacced,
    "wrong-role": f_wrong_role,
    "unknown-code": f_unknown_code,
    "wrong-recipient": f_wrong_recipient,
    "truncated-body": f_truncated_body,
    "truncated-header": f_truncated_header,
    "ka-key-as-ds": f_ka_key_as_ds,
}


def _assert_rejected(
    dev: Device, before: str, log_before: int, out: list[Any], check: Check
) -> None:
    rule = POLICY.rule(check)
    assert dev.last_rejection is not None, "accepted a faulted command"
    assert dev.last_rejection.check is check, dev.last_rejection
    assert not [o for o in out if o.kind is OutboundKind.RESPONSE]
    assert _functional(dev) == before
    entries = dev.security_log.entries()[log_before:]
    if rule.log_code is None:
        assert entries == ()
    else:
        assert [e.code for e in entries] == [rule.log_code]
    alerts = [o for o in out if o.kind is OutboundKind.ALERT]
    if (
        rule.alert
        and check is not Check.RECIPIENT
        and (check is not Check.UNKNOWN_CODE or dev.speaks_dlms)
    ):
        assert [a.alert_code for a in alerts] == [rule.alert_code]
    else:
        assert alerts == []


def _feed_refused(dev: Device, frame: bytes, check: Check, label: str) -> None:
    before = _functional(dev)
    n = len(dev.security_log)
    out = dev.receive(frame, NOW)
    try:
        _assert_rejected(dev, before, n, out, check)
    except AssertionError as e:
        raise AssertionError(f"{label}: {e}") from None


def test_matrix_covers_every_device_type() -> None:
    kinds = {c.device_type for c, _ in _supported()}
    assert kinds == {"ESME", "GSME", "GPF", "CHF"}
    assert len(_supported()) >= 100


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_rejected_everywhere(fault: str) -> None:
    applied = 0
    for case, fed in _supported():
        msg = decode(fed)
        dev = _device(case, msg.recipient)
        made = FAULTS[fault](msg, fed, dev)
        if made is None:
            continue
        frame, check = made
        _feed_refused(dev, frame, check, f"{case.id}: {fault}")
        applied += 1
    assert applied > 0


def test_replays_and_lower_counters_rejected() -> None:
    applied = 0
    for case, fed in _supported():
        msg = decode(fed)
        uc = lookup(msg.message_code)
        assert uc is not None
        if not (uc.critical or uc.replay_protection):
            continue
        dev = _device(case, msg.recipient)
        first = dev.receive(fed, NOW)
        assert any(o.kind is OutboundKind.RESPONSE for o in first)
        # A credential replacement may have replaced the very key that MACs or signs the
        # replay; it is then refused one check earlier, which is as good.
        expect = Check.REPLAY
        if 0x0100 <= msg.message_code <= 0x0109 or msg.message_code in (0x0125, 0x0126):
            rej = dev.receive(fed, NOW) and dev.last_rejection
            assert rej, f"{case.id}: replay accepted"
            expect = rej.check
            assert expect in (Check.REPLAY, Check.MAC, Check.SIGNATURE), rej
        for frame in (fed, _protect(_rebuild(msg, counter=msg.counter - 1), dev)):
            _feed_refused(dev, frame, expect, f"{case.id}: replay")
        applied += 1
    assert applied >= 20


def test_other_information_tampering_is_a_mac_failure() -> None:
    case, fed = _supported()[0]
    msg = decode(fed)
    dev = _device(case, msg.recipient)
    forged = _rebuild(msg, other=OtherInformation(msg.message_code, bytes(8), 1))
    assert msg.mac is not None
    frame = forged.encode()[:-12] + msg.mac  # old MAC on new bytes
    before = _functional(dev)
    out = dev.receive(frame, NOW)
    _assert_rejected(dev, before, 0, out, Check.MAC)
