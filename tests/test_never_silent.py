"""Never silence (issue 12, item 3): an authenticated command always gets a response.

When a device cannot execute a command or cannot encode its answer (an injected result
code the response cannot carry, such as 1003; a handler that raises), it answers with the
failure response GBCS defines for the payload kind: every DLMS item other-reason (250),
every GBZ component ZCL FAILURE (0x01), an ASN.1 use case its failure outcome. The
response echoes the command's counter and message code, is protected as the use case
requires (signed when critical, MAC'd otherwise) and the failure is in the security log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from devices.asn1_handlers import FAILURE_OUTCOMES
from devices.device import CommandContext, Device, Execution
from devices.pipeline import replay_protected
from devices.policy import Check
from gbcs.asn1 import Asn1Payload, der_bit_string, der_null, der_sequence
from gbcs.axdr import Data
from gbcs.codec import GbcsMessage, decode
from gbcs.dlms import AccessResponse, ActionSpec, GetSpec, Obis
from gbcs.envelope import Envelope
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.payload import Payload
from gbcs.security import Verdict, check_mac, check_signature
from gbcs.usecases import lookup
from gbcs.zcl import ChangeSupply, DefaultResponse, ReadAttributes, ReadAttributesResponse
from tests.devkit import ACB, SUPPLIER, Bench, bench, dlms_command, responses

OTHER_REASON = 250
ZCL_FAILURE = 0x01
UNCARRIABLE = 1003  # no DLMS, ZCL or ASN.1 outcome of these use cases has this value
CLOCK = Obis.parse("0-0:1.0.0.255")
METERING = 0x0702


@dataclass(frozen=True)
class Case:
    """One command of one device type, faulted with a code its response cannot carry."""

    id: str
    kind: str
    code: int
    build: Callable[[Bench, str, int], bytes]
    faults: dict[str, Any]
    expect: Callable[[Payload], None]
    originator: bytes = SUPPLIER


def _by(kind: str) -> bytes:
    """The Comms Hub's commands come from the ACB (CCS01, CS02e), a meter's from the supplier."""
    return ACB if kind == "CHF" else SUPPLIER


def _dlms_get(b: Bench, kind: str, code: int) -> bytes:
    return dlms_command(
        b, kind, code, (GetSpec(8, CLOCK, 2), GetSpec(8, CLOCK, 4)), originator=_by(kind)
    )


def _dlms_action(b: Bench, kind: str, code: int) -> bytes:
    # ECS04a-shaped: one ACTION on the clock (preset), a critical use case
    return dlms_command(b, kind, code, (ActionSpec(8, CLOCK, 5),), (Data.null(),))


def _gbz_read(b: Bench, kind: str, code: int) -> bytes:
    comp = GbzComponent.command(
        METERING, ReadAttributes((0x0000, 0x0300)), 7, server_to_client=False
    )
    return b.command(kind, code, GbzPayload((comp,)))


def _gbz_change_supply(b: Bench, kind: str, code: int) -> bytes:
    comp = GbzComponent.command(METERING, ChangeSupply(0, 1, 0, 0, 0, 1), 9)
    return b.command(kind, code, GbzPayload((comp,)))


def _asn1_null(b: Bench, kind: str, code: int) -> bytes:
    return b.command(kind, code, Asn1Payload.from_nodes(der_null()))


def _asn1_key_usage(b: Bench, kind: str, code: int) -> bytes:
    # CS02e: SEQUENCE { keyUsage BIT STRING (digitalSignature) }
    payload = Asn1Payload.from_nodes(der_sequence(der_bit_string(b"\x80", 7)))
    return b.command(kind, code, payload, originator=_by(kind))


def _all_dlms(n: int) -> Callable[[Payload], None]:
    def check(p: Payload) -> None:
        assert isinstance(p, AccessResponse)
        assert [r.result for r in p.results] == [OTHER_REASON] * n
        assert all(d == Data.null() for d in p.data)

    return check


def _gbz_records(p: Payload) -> None:
    assert isinstance(p, GbzPayload)
    (comp,) = p.components
    assert comp.cluster == METERING and comp.zcl.sequence == 7
    assert isinstance(comp.body, ReadAttributesResponse)
    assert [(r.attribute_id, r.status) for r in comp.body.records] == [
        (0x0000, ZCL_FAILURE),
        (0x0300, ZCL_FAILURE),
    ]


def _gbz_default(p: Payload) -> None:
    assert isinstance(p, GbzPayload)
    (comp,) = p.components
    assert comp.cluster == METERING and comp.zcl.sequence == 9
    assert isinstance(comp.body, DefaultResponse)
    assert (comp.body.command_id, comp.body.status) == (ChangeSupply.COMMAND_ID, ZCL_FAILURE)


def _asn1_outcome(code: int) -> Callable[[Payload], None]:
    def check(p: Payload) -> None:
        assert isinstance(p, Asn1Payload)
        assert _first_integer(p) == FAILURE_OUTCOMES[code]

    return check


def _first_integer(p: Asn1Payload) -> int | None:
    todo = list(p.nodes)
    while todo:
        n = todo.pop(0)
        if n.constructed:
            todo[:0] = list(n.value)
        elif n.tag_class == 0 and n.tag_number in (2, 10):
            return int.from_bytes(n.value, "big", signed=True)
    return None


def _dlms_faults(*members: tuple[int, Obis, int]) -> dict[str, Any]:
    return {"dlms_faults": {(c, o.to_bytes(), m): UNCARRIABLE for c, o, m in members}}


def _code_fault(code: int) -> dict[str, Any]:
    return {"code_faults": {code: UNCARRIABLE}}


CASES = [
    Case(
        "ESME-dlms-read",
        "ESME",
        0x0021,
        _dlms_get,
        _dlms_faults((8, CLOCK, 2)),
        _all_dlms(2),
    ),
    Case(
        "ESME-dlms-critical",
        "ESME",
        0x001C,
        _dlms_action,
        _dlms_faults((8, CLOCK, 5)),
        _all_dlms(1),
    ),
    Case("CHF-dlms-read", "CHF", 0x0001, _dlms_get, _dlms_faults((8, CLOCK, 4)), _all_dlms(2)),
    Case("GSME-gbz-read", "GSME", 0x0096, _gbz_read, _code_fault(0x0096), _gbz_records),
    Case(
        "GSME-gbz-critical",
        "GSME",
        0x0081,
        _gbz_change_supply,
        _code_fault(0x0081),
        _gbz_default,
    ),
    Case("GPF-gbz-read", "GPF", 0x0096, _gbz_read, _code_fault(0x0096), _gbz_records),
    Case("ESME-asn1", "ESME", 0x0013, _asn1_null, _code_fault(0x0013), _asn1_outcome(0x0013)),
    Case("GSME-asn1", "GSME", 0x0013, _asn1_null, _code_fault(0x0013), _asn1_outcome(0x0013)),
    Case(
        "GPF-asn1-critical",
        "GPF",
        0x000C,
        _asn1_key_usage,
        _code_fault(0x000C),
        _asn1_outcome(0x000C),
    ),
    Case(
        "CHF-asn1-critical",
        "CHF",
        0x000C,
        _asn1_key_usage,
        _code_fault(0x000C),
        _asn1_outcome(0x000C),
    ),
]


def _assert_answered(b: Bench, d: Device, sent: bytes, out: list[Any]) -> GbcsMessage:
    """One response: counter and code echoed, addressed back, protected as required."""
    cmd = decode(sent)
    (rsp,) = responses(out)
    assert rsp.counter == cmd.counter
    assert rsp.message_code == cmd.message_code
    assert (rsp.originator, rsp.recipient) == (d.eui, cmd.originator)
    if cmd.envelope is Envelope.GENERAL_CIPHERING and rsp.mac is not None:
        assert check_mac(rsp, b.store, ACB).verdict is Verdict.VALID
    if d.last_rejection is not None and d.last_rejection.use_case is not None:
        critical = bool(d.last_rejection.use_case.critical)
    else:
        critical = False
    if critical:
        assert check_signature(rsp, b.store).verdict is Verdict.VALID
    else:
        assert rsp.mac is not None
    return rsp


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_fault_the_response_cannot_carry_gets_the_gbcs_failure_response(case: Case) -> None:
    b = bench()
    d = b.device(case.kind, **case.faults)
    sent = case.build(b, case.kind, case.code)
    out = d.receive(sent, b.now)
    rsp = _assert_answered(b, d, sent, out)
    case.expect(rsp.payload)
    # logged: the security log names the failure and the code that could not be carried
    assert d.last_rejection is not None and d.last_rejection.check is Check.CONTENT
    entries = [e for e in d.security_log if e.code == 0x8F1E]
    assert entries and "cannot execute" in entries[-1].detail
    uc = lookup(case.code)
    assert uc is not None
    if replay_protected(uc):
        # the counter is consumed: the same command again is a replay, not a second answer
        again = d.receive(sent, b.now)
        assert responses(again) == []
        assert d.last_rejection is not None and d.last_rejection.check is Check.REPLAY


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_handler_exception_gets_the_failure_response(case: Case) -> None:
    b = bench()
    d = b.device(case.kind)
    d.advance(b.now)
    before = d.to_dict()

    def boom(ctx: CommandContext) -> Execution:
        raise RuntimeError("handler bug")

    d.handlers[case.code] = boom
    sent = case.build(b, case.kind, case.code)
    rsp = _assert_answered(b, d, sent, d.receive(sent, b.now))
    case.expect(rsp.payload)
    assert any("RuntimeError" in e.detail for e in d.security_log)
    after = d.to_dict()
    for key in ("cosem", "zcl", "joins", "credentials", "firmware", "event_log"):
        assert _without_logs(after.get(key)) == _without_logs(before.get(key)), key


def _without_logs(state: Any) -> Any:
    """A GBZ device's security log lives in its ZCL Events cluster (``event_logs``)."""
    if isinstance(state, dict) and isinstance(state.get("state"), dict):
        inner = {k: v for k, v in state["state"].items() if k != "event_logs"}
        return {**state, "state": inner}
    return state


def test_a_response_that_cannot_be_encoded_rolls_back_the_command() -> None:
    """A handler changes state, then returns what cannot be encoded: the change is undone
    and the failure response goes out."""
    b = bench()
    d = b.device("ESME")
    before = d.to_dict()["cosem"]

    class Unencodable:
        def encode(self) -> bytes:
            raise ValueError("cannot encode")

    def change_then_fail(ctx: CommandContext) -> Execution:
        d.model.load_dict({})  # type: ignore[attr-defined]
        d.event_log.add(0x1234, None, "changed")
        return Execution(Unencodable())  # type: ignore[arg-type]

    d.handlers[0x0021] = change_then_fail
    sent = _dlms_get(b, "ESME", 0x0021)
    rsp = _assert_answered(b, d, sent, d.receive(sent, b.now))
    _all_dlms(2)(rsp.payload)
    assert d.to_dict()["cosem"] == before
    assert all(e.code != 0x1234 for e in d.event_log)


def test_after_a_failure_the_device_answers_normally() -> None:
    b = bench()
    d = b.device("ESME", dlms_faults={(8, CLOCK.to_bytes(), 2): UNCARRIABLE})
    d.receive(_dlms_get(b, "ESME", 0x0021), b.now)
    d.config.dlms_faults.clear()
    (rsp,) = responses(d.receive(_dlms_get(b, "ESME", 0x0021), b.now))
    assert isinstance(rsp.payload, AccessResponse)
    assert [r.result for r in rsp.payload.results] == [0, 0]
    assert d.last_rejection is None


def test_a_fault_the_response_can_carry_is_answered_as_injected() -> None:
    """The fallback only replaces what cannot be carried: a valid code goes out as is."""
    b = bench()
    d = b.device("ESME", dlms_faults={(8, CLOCK.to_bytes(), 2): 3})
    (rsp,) = responses(d.receive(_dlms_get(b, "ESME", 0x0021), b.now))
    assert isinstance(rsp.payload, AccessResponse)
    assert [r.result for r in rsp.payload.results] == [3, 0]
    assert d.last_rejection is None
    g = b.device("GSME", code_faults={0x0096: 0x86})
    (rsp,) = responses(g.receive(_gbz_read(b, "GSME", 0x0096), b.now))
    body = rsp.payload.components[0].body
    assert [r.status for r in body.records] == [0x86, 0x86]
