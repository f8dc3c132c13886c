"""Every result code the RTDS uses can be produced, and the response encodes and verifies.

The codes are re-derived from the RTDS responses in ``vectors.json`` when the interop
data is present (DLMS Data-Access-Result / Action-Result of every access-response, the
ZCL status of every Default Response and read record of every GBZ response), joined with
a small hard list of GBCS/DLMS/ZCL-defined codes for when it is absent. Each device type
that answers such responses is armed with the code through ``dlms_faults`` /
``code_faults``; its response must decode, carry the code, echo the command's counter
and verify (MAC'd here: the commands are non-critical reads).

ASN.1 outcome codes are the GBCS enumerations of each response type; those of the use
cases whose command can be built here without certificates are produced the same way.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

import pytest

from devices.credentials import (
    CellId,
    CellKeyUsage,
    IssueResponse,
    ProvideCertificateResponse,
    StatusCode,
)
from devices.han_joins import ReadJoinResponse, UnjoinResponse
from gbcs.asn1 import (
    Asn1Payload,
    DerNode,
    der_bit_string,
    der_integer,
    der_null,
    der_octet_string,
    der_sequence,
)
from gbcs.axdr import Data
from gbcs.codec import GbcsMessage, decode
from gbcs.dlms import (
    AccessResponse,
    ActionResultCode,
    ActionSpec,
    DataAccessResult,
    GetSpec,
    Obis,
    SetSpec,
)
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.security import Verdict, check_mac
from gbcs.zcl import ChangeSupply, DefaultResponse, ReadAttributes, ReadAttributesResponse
from keys.roles import RemotePartyRole as R
from tests.devkit import ACB, SUPPLIER, Bench, bench, dlms_command, responses
from tests.interop import interop_dir

CLOCK = Obis.parse("0-0:1.0.0.255")
METERING = 0x0702

# GBCS-defined codes, used with or without the vectors. DLMS: the Data-Access-Result and
# Action-Result enumerations (GBCS uses success, hardware-fault, temporary-failure,
# read-write-denied, object-undefined, type-unmatched, other-reason…).
HARD_DLMS_GET = frozenset(int(c) for c in DataAccessResult)
HARD_DLMS_ACTION = frozenset(int(c) for c in ActionResultCode)
# ZCL statuses (ZCL r6 Table 2-12) that GBCS responses use: success, failure, not
# authorised, malformed … not found, hardware failure (RTDS GCS36 error), unsupported
# cluster.
HARD_ZCL = frozenset({0x00, 0x01, 0x7E, *range(0x80, 0x8E), 0x94, 0xC0, 0xC1, 0xC3})


@functools.cache
def _rtds_responses() -> tuple[GbcsMessage, ...]:
    d = interop_dir()
    if d is None:
        return ()
    out = []
    for v in json.loads((d / "vectors.json").read_text()):
        if v.get("direction") == "response" and v.get("form") == "full":
            out.append(decode(bytes.fromhex(v["hex"])))
    return tuple(out)


def rtds_dlms_codes() -> dict[str, frozenset[int]]:
    """``{"Get"|"Set"|"Action": codes}`` of every RTDS access-response."""
    out: dict[str, set[int]] = {"Get": set(), "Set": set(), "Action": set()}
    for m in _rtds_responses():
        if isinstance(m.payload, AccessResponse):
            for r in m.payload.results:
                out[r.KIND].add(r.result)
    return {k: frozenset(v) for k, v in out.items()}


def rtds_zcl_statuses() -> frozenset[int]:
    """Every ZCL status of a Default Response or a read record in an RTDS response."""
    out: set[int] = set()
    for m in _rtds_responses():
        if not isinstance(m.payload, GbzPayload):
            continue
        for c in m.payload.components:
            if isinstance(c.body, DefaultResponse):
                out.add(c.body.status)
            elif isinstance(c.body, ReadAttributesResponse):
                out.update(r.status for r in c.body.records)
    return frozenset(out)


def _codes(hard: Iterable[int], derived: Iterable[int]) -> list[int]:
    return sorted(set(hard) | set(derived))


DLMS = rtds_dlms_codes()
GET_CODES = _codes(HARD_DLMS_GET, DLMS["Get"] | DLMS["Set"])
ACTION_CODES = _codes(HARD_DLMS_ACTION, DLMS["Action"])
ZCL_CODES = _codes(HARD_ZCL, rtds_zcl_statuses())


def test_the_rtds_codes_are_gbcs_defined_codes() -> None:
    """What the vectors use is within the hard lists (else a list is out of date)."""
    if not _rtds_responses():
        pytest.skip("interop vectors absent (GBCS_INTEROP_DIR): hard lists only")
    assert DLMS["Get"] | DLMS["Set"] <= HARD_DLMS_GET
    assert DLMS["Action"] <= HARD_DLMS_ACTION
    assert rtds_zcl_statuses() <= HARD_ZCL
    assert {1, 250} <= DLMS["Get"] and 0x8B in rtds_zcl_statuses()


def _verified(b: Bench, sent: bytes, out: list[Any]) -> GbcsMessage:
    (rsp,) = responses(out)
    again = decode(rsp.encode())  # encodes and decodes to the same message
    assert again == rsp
    assert rsp.counter == decode(sent).counter
    assert check_mac(rsp, b.store, ACB).verdict is Verdict.VALID
    return rsp


def _by(kind: str) -> bytes:
    return ACB if kind == "CHF" else SUPPLIER


@pytest.mark.parametrize("kind", ["ESME", "CHF"])
@pytest.mark.parametrize("code", [c for c in GET_CODES if c])
def test_dlms_get_and_set_results(kind: str, code: int) -> None:
    b = bench()
    d = b.device(kind, dlms_faults={(8, CLOCK.to_bytes(), 2): code})
    specs = (GetSpec(8, CLOCK, 2), SetSpec(8, CLOCK, 2), GetSpec(8, CLOCK, 4))
    data = (Data.null(), Data.octet_string(bytes(12)), Data.null())
    sent = dlms_command(
        b, kind, 0x0021 if kind == "ESME" else 0x0001, specs, data, originator=_by(kind)
    )
    rsp = _verified(b, sent, d.receive(sent, b.now))
    assert isinstance(rsp.payload, AccessResponse)
    kinds = [(r.KIND, r.result) for r in rsp.payload.results]
    assert kinds[:2] == [("Get", code), ("Set", code)]
    assert kinds[2] == ("Get", 0)  # the item not faulted is answered normally
    assert d.last_rejection is None


@pytest.mark.parametrize("kind", ["ESME", "CHF"])
@pytest.mark.parametrize("code", [c for c in ACTION_CODES if c])
def test_dlms_action_results(kind: str, code: int) -> None:
    b = bench()
    d = b.device(kind, dlms_faults={(8, CLOCK.to_bytes(), 4): code})
    sent = dlms_command(
        b,
        kind,
        0x0021 if kind == "ESME" else 0x0001,
        (ActionSpec(8, CLOCK, 4),),
        (Data.null(),),
        originator=_by(kind),
    )
    rsp = _verified(b, sent, d.receive(sent, b.now))
    assert isinstance(rsp.payload, AccessResponse)
    assert [(r.KIND, r.result) for r in rsp.payload.results] == [("Action", code)]


def _gbz(b: Bench, kind: str, body: Any, seq: int) -> bytes:
    s2c = False if isinstance(body, ReadAttributes) else None
    comp = GbzComponent.command(METERING, body, seq, server_to_client=s2c)
    return b.command(kind, 0x0096, GbzPayload((comp,)))


@pytest.mark.parametrize("kind", ["GSME", "GPF"])
@pytest.mark.parametrize("code", [c for c in ZCL_CODES if c])
def test_zcl_statuses(kind: str, code: int) -> None:
    b = bench()
    d = b.device(kind, code_faults={0x0096: code})
    sent = _gbz(b, kind, ReadAttributes((0x0000,)), 3)
    rsp = _verified(b, sent, d.receive(sent, b.now))
    body = rsp.payload.components[0].body
    assert isinstance(body, ReadAttributesResponse)
    assert [(r.attribute_id, r.status) for r in body.records] == [(0, code)]
    sent = _gbz(b, kind, ChangeSupply(0, 1, 0, 0, 0, 1), 4)
    rsp = _verified(b, sent, d.receive(sent, b.now))
    (comp,) = rsp.payload.components
    assert isinstance(comp.body, DefaultResponse) and comp.zcl.sequence == 4
    assert (comp.body.command_id, comp.body.status) == (ChangeSupply.COMMAND_ID, code)


def _integers(nodes: Iterable[DerNode]) -> list[int]:
    out: list[int] = []
    for n in nodes:
        if n.constructed:
            out += _integers(n.value)
        elif n.tag_class == 0 and n.tag_number in (2, 10):
            out.append(int.from_bytes(n.value, "big", signed=True))
    return out


_KEY_USAGE = der_sequence(der_bit_string(b"\x80", 7))
_DETAILS = der_sequence(
    CellId.of(R.ACCESS_CONTROL_BROKER, CellKeyUsage.KEY_AGREEMENT).to_der(),
    der_sequence(der_integer(0)),
)
# (device type, message code, command DER, the GBCS enumeration of its outcome)
ASN1 = [
    ("ESME", 0x0008, _DETAILS, StatusCode),
    ("ESME", 0x000A, _KEY_USAGE, IssueResponse),
    ("CHF", 0x000C, _KEY_USAGE, ProvideCertificateResponse),
    ("GSME", 0x0010, der_octet_string(bytes(8)), UnjoinResponse),
    ("ESME", 0x0013, der_null(), ReadJoinResponse),
    ("GSME", 0x0013, der_null(), ReadJoinResponse),
]


@pytest.mark.parametrize(
    ("kind", "code", "outcome"),
    [(k, c, int(o)) for k, c, _, e in ASN1 for o in e if int(o)],
    ids=lambda v: hex(v) if isinstance(v, int) else str(v),
)
def test_asn1_outcome_codes(kind: str, code: int, outcome: int) -> None:
    der = next(d for k, c, d, _ in ASN1 if (k, c) == (kind, code))
    b = bench()
    d = b.device(kind, code_faults={code: outcome})
    sent = b.command(kind, code, Asn1Payload.from_nodes(der), originator=_by(kind))
    (rsp,) = responses(d.receive(sent, b.now))
    assert d.last_rejection is None, d.last_rejection
    assert decode(rsp.encode()) == rsp and rsp.counter == decode(sent).counter
    assert outcome in _integers(rsp.payload.nodes)
