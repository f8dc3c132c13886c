"""The DUIS route framework (emulator.duis.routing): how plans become GBCS headers, the
XML readers' errors, and the registry's rules."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from lxml import etree

from emulator.duis import routing, tables, transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from gbcs.codec import decode
from gbcs.security import DEFAULT_ACB, Verdict, check_mac
from keys.roles import KeyUsage
from keys.store import KeyStore

USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _keys() -> KeyStore:
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(ESME.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    return store


def _request(variant: str = "4.1.1", counter: int = 4242) -> Request:
    rid = RequestId.parse(f"{USER}:{ESME}:{counter}")
    body = Body("X", f'<sr:X xmlns:sr="{SR_NS}"/>'.encode())
    return Request(RequestHeader(rid, 1, ".".join(variant.split(".")[:2]), variant), body)


def _build(plan: routing.Plan, keys: KeyStore, dcc_counter: int | None) -> object:
    request = _request()
    srv = tables.srv("4.1.1")
    assert srv is not None
    return transform._build(
        request, srv, "ESME", plan, keys, DEFAULT_ACB, NOW, dcc_counter, bytes(8)
    )


def test_a_dcc_originated_plan_uses_the_dccs_eui_and_counter() -> None:
    keys = _keys()
    plan = routing.Plan("ECS17b", originator=routing.ACB)
    refused = _build(plan, keys, None)
    assert isinstance(refused, transform.Refusal)
    assert "with its own counter: give the DCC's counter" in refused.reason
    made = _build(plan, keys, 900)
    assert isinstance(made, transform.Transformed) and made.originated_by == routing.ACB
    msg = decode(made.gbcs)
    assert (msg.originator, msg.counter) == (DEFAULT_ACB, 900)
    assert msg.header.other.srp_id is None
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID
    assert "originated by the DCC (acb)" in made.summary()


def test_the_user_as_supplementary_remote_party() -> None:
    keys = _keys()
    made = _build(routing.Plan("ECS17b", originator=routing.ACB, supplementary=True), keys, 900)
    assert isinstance(made, transform.Transformed), made
    other = decode(made.gbcs).header.other
    assert (other.srp_id, other.srp_counter) == (bytes.fromhex("90B3D51F30010000"), 4242)
    user_plan = routing.Plan("ECS17b", supplementary=True)
    refused = _build(user_plan, keys, None)
    assert isinstance(refused, transform.Refusal)
    assert "needs a DCC originator" in refused.reason


def test_catalogue_argument_errors_become_refusals() -> None:
    refused = _build(routing.Plan("ECS17b", {"no_such_argument": 1}), _keys(), None)
    assert isinstance(refused, transform.Refusal) and "no_such_argument" in refused.reason
    refused = _build(routing.Plan("NOPE99"), _keys(), None)
    assert isinstance(refused, transform.Refusal) and "unknown use case" in refused.reason


def _el(xml: str) -> etree._Element:
    return etree.fromstring(f'<sr:B xmlns:sr="{SR_NS}">{xml}</sr:B>'.encode())


def test_readers_name_the_element_on_bad_input() -> None:
    el = _el("<sr:N>12</sr:N><sr:T>2026-01-01T10:00:00</sr:T><sr:F>true</sr:F><sr:Bad>x</sr:Bad>")
    assert routing.required(el, "N", routing.integer) == 12
    assert routing.optional(el, "Missing", routing.integer) is None
    assert routing.required(el, "T", routing.date_time) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert routing.required(el, "F", routing.boolean) is True
    cases = [
        (lambda: routing.required(el, "Missing"), "B: no Missing"),
        (lambda: routing.required(el, "Bad", routing.integer), "B/Bad: not an integer: 'x'"),
        (lambda: routing.required(el, "Bad", routing.boolean), "B/Bad: not a boolean: 'x'"),
        (lambda: routing.required(el, "Bad", routing.date_time), "B/Bad: "),
        (lambda: routing.text(_el("<sr:K><sr:L/></sr:K>"), "K"), "K: expected text, found"),
    ]
    for call, words in cases:
        with pytest.raises(routing.NotTransformed, match="^" + words.replace("(", r"\(")):
            call()


def test_a_group_adding_planners_cannot_replace_anothers(monkeypatch: pytest.MonkeyPatch) -> None:
    """MORE_PLANNERS adds device types to another group's route, never replaces one."""
    module = types.ModuleType("emulator.duis.routes_fake")
    module.ROUTES = ()  # type: ignore[attr-defined]
    module.MORE_PLANNERS = {"4.1.1": {"CHF": routing.fixed("ECS17b")}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(routing, "_MODULES", (*routing._MODULES, module.__name__))
    assert "CHF" in routing.all_routes()["4.1.1"].planners
    module.MORE_PLANNERS = {"4.1.1": {"ESME": routing.fixed("ECS17b")}}  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="already has planners for"):
        routing.all_routes()
    module.MORE_PLANNERS = {"99.9": {"ESME": routing.fixed("ECS17b")}}  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="which has no route"):
        routing.all_routes()
    module.MORE_PLANNERS = {}  # type: ignore[attr-defined]
    module.ROUTES = (routing.plain("4.1.1", "X", {"ESME": "ECS17b"}),)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match=r"SRV 4.1.1 is routed twice"):
        routing.all_routes()
