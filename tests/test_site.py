"""A whole premises: GSME tunnel and GPF mirror, firmware and outages, display rules."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from devices.chf import Chf
from devices.esme import Esme
from devices.gpf import Gpf
from devices.gsme import Gsme
from devices.options import OptionsError
from devices.outbound import Outbound, OutboundKind
from devices.site import Site
from gbcs.asn1 import Asn1Payload
from gbcs.codec import decode
from gbcs.firmware import ActivateFirmwareCommand
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.security import Verdict, check_signature, decode_plaintext, decrypt_parts
from gbcs.tunnel import TunnelMessage, decode_tunnel
from gbcs.zcl import ReadAttributes
from tests.devkit import EUIS, NETWORK_OPERATOR, SUPPLIER, T0, Bench, bench

GCS13A = 0x0074


def _site(b: Bench, **esme_options: object) -> Site:
    chf = b.device("CHF")
    esme = b.device("ESME", options=dict(esme_options))
    gsme = b.device("GSME", options={"gas_profile": 1000})
    gpf = b.device("GPF")
    assert isinstance(chf, Chf) and isinstance(esme, Esme)
    assert isinstance(gsme, Gsme) and isinstance(gpf, Gpf)
    return Site(chf, esme, gsme, gpf)


def _read_consumption(b: Bench, kind: str, originator: bytes = SUPPLIER) -> bytes:
    body = ReadAttributes((0x0000,))
    comp = GbzComponent.command(0x0702, body, 0, server_to_client=False)
    return b.command(kind, GCS13A, GbzPayload((comp,)), originator=originator)


def _responses(out: list[Outbound]) -> list[object]:
    return [decode(o.frame) for o in out if o.kind is OutboundKind.RESPONSE]


def test_gpf_answers_at_once_gsme_after_its_next_wake() -> None:
    b = bench()
    site = _site(b)
    t = T0 + timedelta(minutes=10)
    (gpf_rsp,) = _responses(site.receive(_read_consumption(b, "GPF"), t))
    assert gpf_rsp.originator == EUIS["GPF"]
    assert site.receive(_read_consumption(b, "GSME"), t) == []  # queued, GSME asleep
    assert len(site.chf.gsme_queues[EUIS["GSME"]]) == 1
    out = site.advance(T0 + timedelta(minutes=29))
    assert _responses(out) == []
    out = site.advance(T0 + timedelta(minutes=30))  # first wake
    (rsp,) = _responses(out)
    assert rsp.originator == EUIS["GSME"]  # keeps the GSME's identity through the CH
    assert rsp.recipient == SUPPLIER
    assert not site.chf.gsme_queues[EUIS["GSME"]]
    # the GPF mirror now holds the GSME's consumption (30 minutes at 1000 l/h)
    assert site.gpf is not None and site.gsme is not None
    assert site.gpf.model.get_int(0x0702, 0) == site.gsme.model.get_int(0x0702, 0) == 500


def test_network_operator_reads_via_gpf_but_not_from_the_gsme() -> None:
    b = bench()
    site = _site(b)
    t = T0 + timedelta(minutes=1)
    assert _responses(site.receive(_read_consumption(b, "GPF", NETWORK_OPERATOR), t))
    site.receive(_read_consumption(b, "GSME", NETWORK_OPERATOR), t)
    out = site.advance(T0 + timedelta(minutes=30))
    assert _responses(out) == []
    assert site.gsme is not None
    rej = site.gsme.last_rejection
    assert rej is not None and rej.check.value == "role"


def test_tunnel_get_returns_one_message_and_the_remaining_count() -> None:
    b = bench()
    site = _site(b)
    for _ in range(3):
        site.chf.queue_for_gsme(EUIS["GSME"], b"\xdf" + bytes(20), T0)
    (reply,) = site.chf.tunnel(EUIS["GSME"], TunnelMessage.get().encode(), T0)
    msg = decode_tunnel(reply.frame)
    assert (msg.remaining, msg.message[:1]) == (2, b"\xdf")


def test_unretrieved_gsme_commands_expire_with_0x819d() -> None:
    b = bench()
    chf = b.device("CHF", options={"gsme_queue_expiry_seconds": 3600})
    assert isinstance(chf, Chf)
    chf.queue_for_gsme(EUIS["GSME"], b"\xdf" + bytes(20), T0)
    (reply,) = chf.tunnel(EUIS["GSME"], b"\x01", T0 + timedelta(hours=2))
    assert decode_tunnel(reply.frame).message == b""
    assert 0x819D in chf.event_log.codes()


def _activate(b: Bench, site: Site, at: object) -> list[Outbound]:
    assert site.esme is not None
    held = site.esme.firmware.hold_image(b"new image", bytes.fromhex("02000000"))
    counter = b.builder.next_counter(SUPPLIER)
    cmd = ActivateFirmwareCommand(held.image_hash, counter)
    frame = b.builder.command(
        SUPPLIER, EUIS["ESME"], 0x0012, Asn1Payload.from_typed(cmd), counter=counter
    )
    return site.receive(frame, at)  # type: ignore[arg-type]


@pytest.mark.parametrize(("profile", "ad1"), [("compliant", 0), ("legacy", 1)])
def test_firmware_activation_power_cut_and_outage_alert(profile: str, ad1: int) -> None:
    b = bench()
    site = _site(b, firmware_profile=profile)
    t = T0 + timedelta(hours=1)
    out = _activate(b, site, t)
    (rsp,) = _responses(out)
    assert check_signature(rsp, b.store).verdict is Verdict.VALID  # CS06 is critical
    assert site.esme is not None and site.esme.firmware.running_version == bytes.fromhex("02000000")
    assert 0x8F43 in site.esme.security_log.codes()
    (cut,) = site.comms_hub_outages()
    expected = 30 if profile == "compliant" else 240
    assert cut.duration == timedelta(seconds=expected)
    out = site.advance(t + timedelta(minutes=10))
    outages = [o for o in out if o.kind is OutboundKind.POWER_OUTAGE]
    assert len(outages) == ad1
    if outages:
        assert json.loads(outages[0].frame)["outage_start"] == t.isoformat()


def test_mains_failure_gives_ecs80_and_ad1() -> None:
    b = bench()
    site = _site(b)
    t = T0 + timedelta(hours=1)
    site.lose_mains(t)
    # nothing reaches the premises while the Comms Hub is down
    assert site.receive(_read_consumption(b, "GPF"), t + timedelta(minutes=1)) == []
    out = site.restore_mains(t + timedelta(minutes=5))
    kinds = sorted(o.kind.value for o in out)
    assert kinds == ["alert", "power-outage"]
    ecs80 = next(o for o in out if o.kind is OutboundKind.ALERT)
    assert (ecs80.code, ecs80.alert_code) == (0x0067, 0x8F36)


def test_gsme_display_rules() -> None:
    b = bench()
    gsme = b.device("GSME")
    assert isinstance(gsme, Gsme)
    gsme.model.set_int(0x0702, 0, 123_456_789)  # litres = thousandths of m³
    assert gsme.display == "23456.789"  # 8 least significant digits, XXXXX.XXX
    gsme.model.set_tou_register(1, 12_345_678)
    gsme.model.set_block_counter(1, 500)
    m = gsme.display_matrices()
    assert m["tou"][0] == "12345.678"
    assert m["block"][0] == "00000.500"
    # reads over GBCS return the full register, not the display value
    comp = GbzComponent.command(0x0702, ReadAttributes((0x0000,)), 0, server_to_client=False)
    out = gsme.receive(b.command("GSME", GCS13A, GbzPayload((comp,))), T0)
    (rsp,) = _responses(out)
    (part,) = decrypt_parts(rsp, b.store)  # consumption travels encrypted
    body = decode_plaintext(part)
    (record,) = body.records
    assert record.value.value == 123_456_789


def test_large_gas_meter_mid_validation() -> None:
    b = bench()
    with pytest.raises(OptionsError, match="6,250 h"):  # create_device checks the options
        b.device(
            "GSME",
            options={"display": {"large_gas_meter": True, "qmax_m3h": 16, "int_digits": 5}},
        )
    lgm = b.device(
        "GSME", options={"display": {"large_gas_meter": True, "qmax_m3h": 16, "int_digits": 6}}
    )
    assert isinstance(lgm, Gsme)
    lgm.model.set_int(0x0702, 0, 123_456_789)
    assert lgm.display == "123456.789"


def test_site_state_round_trip() -> None:
    b = bench()
    site = _site(b, firmware_profile="legacy")
    _activate(b, site, T0 + timedelta(hours=1))
    site.receive(_read_consumption(b, "GSME"), T0 + timedelta(hours=1))
    saved = json.loads(json.dumps(site.to_dict()))
    again = _site(b, firmware_profile="legacy")
    again.load_state(saved)
    assert again.to_dict() == saved
    out = again.advance(T0 + timedelta(hours=2))
    assert any(o.kind is OutboundKind.POWER_OUTAGE for o in out)
    assert any(o.kind is OutboundKind.RESPONSE for o in out)
