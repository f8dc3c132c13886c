"""The device contract under authenticated garbage (issue 9 §6; ``tests/authfuzz.py``).

Mutants of valid commands, re-signed and re-MAC'd, reach the handlers: nothing may
escape ``receive()``, a refused command changes only its stored counter, the security
log and the own counter, and enough mutants are accepted *and* change state that the
campaign is known to exercise the handlers, not just the decoder.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace

import pytest

from devices.esme import ControlState, Esme
from devices.policy import Check
from emulator.headend.usecases import CATALOG, BuildContext
from gbcs.codec import decode
from tests import authfuzz
from tests.devkit import EUIS, SUPPLIER, T0, bench, responses
from tests.interop import interop_dir

CASES = 20_000


@functools.cache
def _seeds() -> tuple[authfuzz.Seed, ...]:
    return tuple(authfuzz.all_seeds(interop=interop_dir() is not None))


@functools.cache
def _campaign() -> authfuzz.CampaignReport:
    return authfuzz.run_campaign(_seeds(), CASES, seed=20260109)


def test_seeds_cover_every_device_type() -> None:
    seeds = _seeds()
    kinds = {s.target.device.device_type.value for s in seeds}
    assert kinds == {"ESME", "GSME", "GPF", "CHF"}
    families = {s.plan.family for s in seeds}
    assert {"dlms", "gbz", "der"} <= families or interop_dir() is None
    assert {"dlms", "gbz"} <= families


def test_no_exception_escapes_receive() -> None:
    rep = _campaign()
    assert rep.cases == CASES
    assert not rep.escapes, rep.text()


def test_refused_commands_change_only_counter_and_security_log() -> None:
    rep = _campaign()
    assert rep.rejected_changed == 0, rep.text()
    assert rep.counter_not_stored == 0, rep.text()


def test_mutants_reach_the_handlers() -> None:
    rep = _campaign()
    # Every mutant is authenticated: the only refusals are content/execution ones.
    assert set(rep.rejected) == {Check.CONTENT.value}, rep.text()
    assert rep.accepted_changed_share > 0.10, rep.text()
    assert rep.rejected[Check.CONTENT.value] > CASES // 10, rep.text()
    assert rep.accepted > CASES // 4, rep.text()
    print(rep.text())  # the figures, with -s


def _ecs70(b: object, **args: object) -> tuple[bytes, int]:
    e = CATALOG["ECS70"]
    counter = b.builder.next_counter(SUPPLIER)  # type: ignore[attr-defined]
    payload = e.payload(args, BuildContext(counter, SUPPLIER, EUIS["ESME"], e.role_for(), T0))
    frame = b.builder.command(SUPPLIER, EUIS["ESME"], e.message_code, payload, counter=counter)  # type: ignore[attr-defined]
    return frame, counter


def _with_payload_bytes(frame: bytes, old: bytes, new: bytes, b: object) -> bytes:
    """``frame`` with one payload byte run replaced, re-signed and re-MAC'd."""
    from gbcs.payload import OpaquePayload
    from gbcs.security import apply_mac, sign
    from keys.roles import KeyUsage

    msg = decode(frame)
    content = msg.content()
    assert old in content
    m = replace(msg, payload=OpaquePayload(content.replace(old, new, 1)), raw=None, layout=None)
    key = b.store.private_key(msg.originator, KeyUsage.DS)  # type: ignore[attr-defined]
    return apply_mac(sign(m, key), b.store, b.builder.acb).encode()  # type: ignore[attr-defined]


def test_ecs70_with_a_short_date_time_is_answered_not_raised() -> None:
    """The escape issue 9 reports: a preset date-time of 11 bytes, authenticated."""
    b = bench()
    d = b.device("ESME")
    frame, counter = _ecs70(b)
    msg = decode(frame)
    preset = msg.payload.data[1].value[0]  # type: ignore[attr-defined]
    raw = bytes([0x09, 12]) + preset.value
    bad = _with_payload_bytes(frame, raw, bytes([0x09, 11]) + preset.value[:11], b)
    before = authfuzz.functional_state(d)
    out = d.receive(bad, T0)
    assert d.last_rejection is None
    (resp,) = responses(out)
    assert resp.counter == counter
    assert authfuzz.functional_state(d) == before  # nothing was set
    assert d.counters[SUPPLIER] == counter


def test_a_handler_that_raises_half_way_is_rolled_back() -> None:
    """Any exception becomes the content rejection; state is restored; counter kept."""
    b = bench()
    d = b.device("ESME")
    assert isinstance(d, Esme)
    frame, counter = _ecs70(b)
    code = decode(frame).message_code

    def broken(ctx: object) -> object:
        d.control_state = ControlState.DISCONNECTED
        d.log_event(0x8145, T0, "half-way")
        raise KeyError("a bug in a handler")

    d.handlers[code] = broken
    before = authfuzz.functional_state(d)
    logged = len(d.security_log)
    out = d.receive(frame, T0)
    rej = d.last_rejection
    assert rej is not None and rej.check is Check.CONTENT
    assert "KeyError" in rej.reason
    # never silence (issue 12): every item fails with other-reason, counter echoed
    (resp,) = responses(out)
    assert resp.counter == counter
    assert {r.result for r in resp.payload.results} == {250}
    assert authfuzz.functional_state(d) == before
    assert d.control_state == ControlState.CONNECTED
    assert d.counters[SUPPLIER] == counter  # consumed (domain-rules §3.4)
    entries = d.security_log.entries()[logged:]
    assert [e.code for e in entries] == [0x8F1E]
    assert "KeyError" in entries[0].detail
    # the same frame again is a replay now
    d.receive(frame, T0)
    assert d.last_rejection is not None and d.last_rejection.check is Check.REPLAY


def test_authenticated_but_undecodable_content_consumes_the_counter() -> None:
    b = bench()
    d = b.device("ESME")
    frame, counter = _ecs70(b)
    content = decode(frame).content()
    bad = _with_payload_bytes(frame, content, content[:7], b)  # cut inside the specs
    before = authfuzz.functional_state(d)
    d.receive(bad, T0)
    assert d.last_rejection is not None and d.last_rejection.check is Check.CONTENT
    assert d.counters[SUPPLIER] == counter
    assert authfuzz.functional_state(d) == before


def test_long_form_command_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert authfuzz.main(["--cases", "200", "--seed", "3", "--no-interop", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["cases"] == 200
    assert rep["escapes"] == 0
    assert rep["rejected_with_state_change"] == 0
    assert set(rep) >= {"accepted_and_changed_share", "rejected_at", "seconds"}
