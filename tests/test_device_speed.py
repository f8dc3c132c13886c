"""The device core's fast paths keep behaviour exact (issue 13, ECS42 throughput).

* Rollback snapshots (:meth:`devices.device.Device.snapshot_state`) hold in-memory copies
  instead of serialised state: a command that fails half-way still leaves the device
  exactly as before, and a snapshot never aliases live state.
* The clock's UTC fast path, the CNSA signer without the private scalar, and the signed
  response assembled without re-encoding its header give the same results as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from devices.clock import ClockStatus, DeviceClock
from devices.credentials import PendingUpdate
from devices.device import CommandContext, Device, Execution
from devices.esme import ControlState, Esme
from devices.firmware_state import HeldImage
from devices.han_joins import HanDeviceType, JoinEntry
from devices.outbound import OutboundKind
from devices.supply import Outage
from devices.trust import AnchorCell
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.crypto import ecdsa
from gbcs.dlms import ActionSpec, GetSpec, Obis
from gbcs.envelope import SignatureForm, encode_general_signing
from gbcs.errors import GbcsSecurityError
from gbcs.security import Verdict, check_signature
from keys.roles import KeyUsage
from tests.devkit import EUIS, R, bench, dlms_command, responses

SUPPLY = ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1)
CLOCK_TIME = GetSpec(8, Obis.parse("0-0:1.0.0.255"), 2)
# What a refused command may still change (docs/devices.md): its counter, the security
# log and the own counter its alert or failure response consumes.
KEPT = ("counters", "own_counter", "security_log")


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in KEPT}


def _mutate_everything(d: Esme, now: datetime) -> None:
    """Change every part of an ESME's state that a handler could reach."""
    d.control_state = ControlState.DISCONNECTED
    d.on_supply_switched()
    d.load.advance(now + timedelta(hours=2))
    d.md.record_period(now, 4000, 10)
    d.md.reset_register("1-0:1.6.0.255", now)
    d.power.lose(now)
    d.power_log.add(0x8F57, now, "cut")
    d.alcs_log.add(0x1, now, "alcs")
    d.ch_supply_cuts.append(Outage(now, now + timedelta(seconds=30)))
    d.event_log.add(0x1234, now, "changed")
    d.clock.set(now, now + timedelta(hours=1))
    supplier = d.anchors.cell(R.SUPPLIER)
    other = d.anchors.cell(R.NETWORK_OPERATOR)
    assert supplier is not None and other is not None
    supplier.ka = other.ka  # cells' fields may be reassigned in place
    d.anchors.replace(AnchorCell(R.RECOVERY, bytes(8)))
    d.credentials.certificates[KeyUsage.DS] = b"\x30\x00"
    d.credentials.pending_updates.append(
        PendingUpdate(0x0019, b"\x02", b"\x01" * 8, now + timedelta(days=1))
    )
    d.firmware.held = HeldImage(b"\x11" * 32, b"\x00\x00\x00\x02")
    d.joins.add(JoinEntry(EUIS["GSME"], HanDeviceType.GSME))
    d.model.require(1, "0-0:94.44.119.2").attributes[2] = Data.long_unsigned(600)
    d._last_advance = now + timedelta(days=3)


def test_a_handler_that_changes_everything_then_raises_changes_nothing() -> None:
    b = bench()
    d = b.device("ESME")
    assert isinstance(d, Esme)
    before = d.to_dict()

    def change_then_raise(ctx: CommandContext) -> Execution:
        _mutate_everything(d, ctx.now)
        assert _comparable(d.to_dict()) != _comparable(before)  # it did change
        raise RuntimeError("half-way")

    d.handlers[0x0050] = change_then_raise
    sent = dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),))
    out = d.receive(sent, b.now)
    assert d.last_rejection is not None and "half-way" in d.last_rejection.reason
    assert responses(out)  # the GBCS failure response, never silence
    assert _comparable(d.to_dict()) == _comparable(before)
    assert d.control_state == ControlState.CONNECTED


def test_a_failed_supply_command_restores_the_load_switch_and_the_load_model() -> None:
    """ECS42's own path (no special handler): the switch and the load model it touched
    are restored when the response cannot be built."""
    b = bench()
    d = b.device("ESME")
    assert isinstance(d, Esme)
    before = d.to_dict()
    d.receive(dlms_command(b, "ESME", 0x0021, (CLOCK_TIME,)), b.now)

    def fail(*_: Any, **__: Any) -> Any:
        raise ValueError("cannot build the response")

    d._respond = fail  # type: ignore[method-assign]
    sent = dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),))
    d.receive(sent, b.now)
    assert d.last_rejection is not None
    assert d.control_state == ControlState.CONNECTED
    after = d.to_dict()
    assert after["esme"] == before["esme"]
    assert after["cosem"] == before["cosem"]


@pytest.mark.parametrize("kind", ["ESME", "GSME", "CHF", "GPF"])
def test_a_snapshot_restores_exactly_and_never_aliases_live_state(kind: str) -> None:
    b = bench()
    d = b.device(kind)
    saved = d.to_dict()
    snap = d.snapshot_state()
    d.event_log.add(0x4321, b.now, "after the snapshot")
    d.security_log.add(0x4322, b.now, "after the snapshot")
    d.anchors.replace(AnchorCell(R.RECOVERY, bytes(8)))
    d.counters[b"\x01" * 8] = 5
    if isinstance(d, Esme):
        _mutate_everything(d, b.now)
    d.load_state(snap)
    assert d.to_dict() == saved
    # Changing the restored device must not reach into the snapshot: restore it again.
    d.event_log.add(0x4323, b.now, "after the restore")
    if isinstance(d, Esme):
        _mutate_everything(d, b.now)
    d.load_state(snap)
    assert d.to_dict() == saved


def test_a_snapshot_is_not_serialised_but_to_dict_still_is() -> None:
    """The rollback form holds copies; the saved form stays plain data, and the flag that
    switches between them is off again after a snapshot."""
    b = bench()
    d: Device = b.device("ESME")
    snap = d.snapshot_state()
    assert not isinstance(snap["event_log"], dict)
    assert isinstance(d.to_dict()["event_log"], dict)
    assert isinstance(d.to_dict()["esme"]["md"], dict)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 3, 29, 0, 30),
    ],
)
@pytest.mark.parametrize("offset", [0.0, 90.5, -3600.0])
def test_the_clock_reads_the_same_on_its_fast_path(now: datetime, offset: float) -> None:
    c = DeviceClock(offset)
    utc = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    got = c.read(now)
    assert got == utc + timedelta(seconds=offset)
    assert got is not None and got.tzinfo is UTC
    assert DeviceClock(offset, ClockStatus.INVALID).read(now) is None


def test_the_cnsa_signer_still_checks_its_key_and_variant() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sig = ecdsa.sign(key, b"data", "cnsa")
    assert len(sig) == 64 and ecdsa.verify(key.public_key(), b"data", sig)
    with pytest.raises(GbcsSecurityError, match="P-256"):
        ecdsa.sign(ec.generate_private_key(ec.SECP384R1()), b"data")
    with pytest.raises(GbcsSecurityError, match="unknown signature variant"):
        ecdsa.sign(key, b"data", "nope")
    with pytest.raises(GbcsSecurityError, match="k_source"):
        ecdsa.sign(key, b"data", ecdsa.SignatureVariant.CNSA, k_source=ecdsa.FixedK(5))


def test_a_signed_response_is_the_general_signing_form_of_its_parts() -> None:
    b = bench()
    d = b.device("ESME")
    sent = dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),))
    (out,) = [o for o in d.receive(sent, b.now) if o.kind is OutboundKind.RESPONSE]
    rsp = decode(out.frame)
    assert rsp.signature_form is SignatureForm.PRESENT and rsp.mac is None
    rebuilt = encode_general_signing(
        rsp.header, rsp.payload.encode(), SignatureForm.PRESENT, rsp.signature
    )
    assert rebuilt == out.frame
    assert check_signature(rsp, b.store).verdict is Verdict.VALID
