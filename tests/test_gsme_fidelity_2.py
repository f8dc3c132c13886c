"""GSME fidelity of issue 12, part 2: commands from a joined PPMID (PCS01/PCS02), the
device log CS07 reads, and the non-disablement calendar GCS05 publishes (GCS21b)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devices.device import Device
from devices.factory import own_keys_from
from devices.han_joins import HanDeviceType, JoinMethod
from devices.pipeline import HAN_ORIGINATED
from devices.policy import Check
from devices.zcl_model import PREPAYMENT
from emulator.conformance import harness
from emulator.conformance.cases import ConformanceCase, load_cases
from gbcs.asn1 import Asn1Payload
from gbcs.codec import GbcsMessage, build, decode
from gbcs.der import decode_der_node, der_integer, der_null, der_octet_string, der_sequence
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.security import Verdict, apply_mac, check_mac
from gbcs.zcl import ConsumerTopUp, ConsumerTopUpResponse, SelectAvailableEmergencyCredit
from gbcs.zcl.calendar import PublishDayProfile
from keys.pki import create_authorities, issue_device_keys
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests.devkit import ACB, EUIS, T0, Bench, bench, responses
from tests.interop import require_interop

GSME = EUIS["GSME"]
PPMID = bytes.fromhex("00DB1234567890A4")
OTHER_PPMID = bytes.fromhex("00DB1234567890A5")
TOP_UP_CODE = b"73941656880950804485"


class _PpmidKeys:
    """The PPMID's side of the HAN MAC: its KA private key, the store's public keys."""

    def __init__(self, eui: bytes, ka: ec.EllipticCurvePrivateKey, store: KeyStore) -> None:
        self.eui, self.ka, self.store = eui, ka, store

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None:
        return self.store.public_key(eui, usage)

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None:
        return self.ka if eui == self.eui and KeyUsage.parse(usage) is KeyUsage.KA else None


def _ppmid(eui: bytes = PPMID) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """A PPMID's KA certificate (DER) and private key, from a CA of its own."""
    issued = issue_device_keys(create_authorities(now=T0), eui, now=T0)
    ka = next(k for k in issued if k.usage is KeyUsage.KA)
    return ka.certificate.public_bytes(serialization.Encoding.DER), ka.private_key


def _join_payload(method: int, eui: bytes, dtype: int, cert: bytes | None = None) -> Asn1Payload:
    kids = [der_integer(method), der_octet_string(eui), der_integer(dtype)]
    if cert is not None:
        kids.append(decode_der_node(cert))
    return Asn1Payload.from_nodes(der_sequence(*kids))


def _join_code(out: list[Any]) -> int:
    (rsp,) = responses(out)
    return int.from_bytes(rsp.payload.nodes[0].value, "big")


def _han_command(
    b: Bench,
    ka: ec.EllipticCurvePrivateKey,
    code: int,
    body: Any,
    *,
    counter: int = 10000,
    originator: bytes = PPMID,
    mac_party: bytes | None = None,
) -> bytes:
    """A PPMID command to the GSME, MAC'd PPMID KA ↔ GSME KA (or ``mac_party`` ↔ GSME)."""
    header = GroupingHeader(Cra.COMMAND, counter, originator, GSME, OtherInformation(code))
    payload = GbzPayload((GbzComponent.command(PREPAYMENT, body, 0),))
    msg = build(header, payload, envelope=Envelope.GENERAL_SIGNING)
    if mac_party is None:
        return apply_mac(msg, _PpmidKeys(originator, ka, b.store), originator).encode()
    return apply_mac(msg, b.store, mac_party).encode()


def _top_up(b: Bench, ka: ec.EllipticCurvePrivateKey, **kw: Any) -> bytes:
    return _han_command(b, ka, 0x009B, ConsumerTopUp(2, TOP_UP_CODE), **kw)


def _joined_gsme(b: Bench) -> tuple[Device, ec.EllipticCurvePrivateKey, bytes]:
    cert, ka = _ppmid()
    gsme = b.device("GSME", options={"top_up_value": 1_250_000})
    join = b.command("GSME", 0x00AF, _join_payload(JoinMethod.METHOD_C, PPMID, 5, cert))
    assert _join_code(gsme.receive(join, T0)) == 0
    return gsme, ka, cert


def _credit(gsme: Device) -> int:
    return gsme.model.get_int(PREPAYMENT, 0x0001)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ PCS01/PCS02


def test_han_originated_codes_are_the_ppmid_to_gsme_message_types() -> None:
    # use-cases.json message type SME.C.PPMID-GSME: PCS01 0x009B, PCS02 0x0090
    assert {
        0x009B: frozenset({HanDeviceType.PPMID}),
        0x0090: frozenset({HanDeviceType.PPMID}),
    } == HAN_ORIGINATED


def test_joined_ppmid_tops_up_the_gsme_and_gets_a_response_macd_for_it() -> None:
    b = bench()
    gsme, ka, _ = _joined_gsme(b)
    out = gsme.receive(_top_up(b, ka), T0)
    (rsp,) = responses(out)
    assert (rsp.originator, rsp.recipient, rsp.counter) == (GSME, PPMID, 10000)
    assert rsp.message_code == 0x009B
    (comp,) = rsp.payload.components
    assert comp.body == ConsumerTopUpResponse(0, 1_250_000, 2, 1_250_000)
    assert _credit(gsme) == 1_250_000
    # the response's MAC is keyed GSME KA ↔ PPMID KA: the PPMID can check it
    assert check_mac(rsp, _PpmidKeys(PPMID, ka, b.store)).verdict is Verdict.VALID


def test_joined_ppmid_activates_emergency_credit() -> None:
    b = bench()
    gsme, ka, _ = _joined_gsme(b)
    out = gsme.receive(_han_command(b, ka, 0x0090, SelectAvailableEmergencyCredit(0, 2)), T0)
    (rsp,) = responses(out)
    assert rsp.recipient == PPMID and rsp.message_code == 0x0090
    (comp,) = rsp.payload.components
    assert comp.body.status == 0  # Default Response: success


def _refused(gsme: Device, frame: bytes, check: Check, words: str) -> None:
    before = _credit(gsme)
    out = gsme.receive(frame, T0)
    assert responses(out) == []
    assert gsme.last_rejection is not None
    assert gsme.last_rejection.check is check, gsme.last_rejection
    assert words in gsme.last_rejection.reason
    assert _credit(gsme) == before


def test_ppmid_not_joined_is_an_unknown_originator() -> None:
    b = bench()
    gsme = b.device("GSME", options={"top_up_value": 1_250_000})
    _, ka = _ppmid()
    _refused(gsme, _top_up(b, ka), Check.ROLE, "00DB1234567890A4 is no PPMID joined")


def test_another_ppmid_than_the_joined_one_is_refused() -> None:
    b = bench()
    gsme, _, _ = _joined_gsme(b)
    _, other_ka = _ppmid(OTHER_PPMID)
    frame = _top_up(b, other_ka, originator=OTHER_PPMID)
    _refused(gsme, frame, Check.ROLE, "is no PPMID joined")


def test_a_remote_party_may_not_send_a_ppmid_command() -> None:
    b = bench()
    gsme, _, _ = _joined_gsme(b)
    frame = b.command(
        "GSME",
        0x009B,
        GbzPayload((GbzComponent.command(PREPAYMENT, ConsumerTopUp(2, TOP_UP_CODE), 0),)),
    )
    _refused(gsme, frame, Check.ROLE, "is no PPMID joined")


def test_ppmid_command_with_a_wrong_key_fails_the_mac() -> None:
    b = bench()
    gsme, _, _ = _joined_gsme(b)
    _, impostor = _ppmid()  # same EUI, a key the join did not deliver
    _refused(gsme, _top_up(b, impostor), Check.MAC, "MAC")
    # MAC'd the remote-party way (ACB KA ↔ GSME KA) is no PPMID MAC either
    _refused(gsme, _top_up(b, impostor, mac_party=ACB), Check.MAC, "MAC")


def test_unjoined_ppmid_is_refused_again() -> None:
    b = bench()
    gsme, ka, _ = _joined_gsme(b)
    unjoin = b.command("GSME", 0x000F, Asn1Payload.from_nodes(der_octet_string(PPMID)))
    assert _join_code(gsme.receive(unjoin, T0)) == 0
    _refused(gsme, _top_up(b, ka), Check.ROLE, "is no PPMID joined")


def test_join_survives_a_state_round_trip() -> None:
    b = bench()
    gsme, ka, _ = _joined_gsme(b)
    state = gsme.to_dict()
    again = b.device("GSME", options={"top_up_value": 1_250_000})
    again.load_state(state)
    (rsp,) = responses(again.receive(_top_up(b, ka), T0))
    assert rsp.recipient == PPMID


# ----------------------------------------------------------------------------- CS07


def test_cs07_lists_every_joined_device_in_join_order() -> None:
    b = bench()
    gsme, _, _ = _joined_gsme(b)
    gpf = bytes.fromhex("00DB12345678909C")
    join_b = b.command("GSME", 0x000E, _join_payload(JoinMethod.METHOD_B, gpf, 3))
    assert _join_code(gsme.receive(join_b, T0)) == 0
    (rsp,) = responses(
        gsme.receive(b.command("GSME", 0x0013, Asn1Payload.from_nodes(der_null())), T0)
    )
    code, entries = rsp.payload.nodes[0].children
    assert int.from_bytes(code.value, "big") == 0
    listed = [
        (e.children[0].value, int.from_bytes(e.children[1].value, "big")) for e in entries.children
    ]
    assert listed == [(PPMID, HanDeviceType.PPMID), (gpf, HanDeviceType.GPF)]


# ------------------------------------------------------------------- conformance run


def _cases() -> tuple[dict[str, ConformanceCase], KeyStore]:
    d = require_interop()
    cases = {c.id.rsplit("/", 1)[-1]: c for c in load_cases(d / "vectors.json")}
    return cases, KeyStore(d / "keys")


def _run(name: str) -> harness.CaseResult:
    cases, store = _cases()
    case = cases[name]
    own = own_keys_from(store, decode(case.command).recipient)
    prepared = harness.preparation_commands(cases.values())
    return harness.run_case(case, store, own, prepared=prepared)


@pytest.mark.parametrize("name", ["PCS01_NA_SUCCESS", "PCS02_NA_SUCCESS", "CS07_8.9_SUCCESS"])
def test_rtds_cases_are_conformant(name: str) -> None:
    result = _run(name)
    assert result.status == "conformant", result.detail
    assert result.protection == "MAC valid"


def test_rtds_ppmid_top_up_is_answered_to_the_ppmid() -> None:
    result = _run("PCS01_NA_SUCCESS")
    assert result.response is not None
    rsp = decode(result.response)
    assert rsp.recipient == harness.RTDS_PPMID
    (comp,) = rsp.payload.components
    assert isinstance(comp.body, ConsumerTopUpResponse) and comp.body.result_type == 0


def _day_profiles(msg: GbcsMessage) -> list[tuple[int, tuple[Any, ...]]]:
    return [
        (c.body.day_id, tuple(c.body.entries))
        for c in msg.payload.components
        if isinstance(c.body, PublishDayProfile)
    ]


def test_gcs21b_reads_back_the_day_profiles_gcs05_published() -> None:
    """GCS05 publishes a 3-day non-disablement calendar; GCS21b reads exactly those.

    (The RTDS GCS21b response shows a 4-day calendar with another issuer calendar ID
    that no RTDS command publishes: that difference is in the data, not the GSME.)
    """
    cases, _ = _cases()
    published = _day_profiles(decode(cases["GCS05_2.1_IMMEDIATE_SUCCESS"].command))
    assert [d for d, _ in published] == [1, 2, 3]
    result = _run("GCS21b_4.13_SUCCESS")
    assert result.response is not None
    assert _day_profiles(decode(result.response)) == published
