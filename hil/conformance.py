"""DCC's reference suite (RTDS) against a device on a port: ``gbcs-emu hil conformance``.

The in-process harness (:mod:`emulator.conformance.harness`) feeds every RTDS command to
a fresh emulated device carrying the RTDS EUIs and keys, at the RTDS time. A device on a
port has its own EUI, trusts the bench's organisations, runs on its own clock and keeps
its state, so each RTDS command is *re-addressed* before it is sent:

1. **Through the catalogue.** :func:`~emulator.headend.catalogue.frames.explain_frame`
   turns the command into ``{use_case, args, header, form}``. The header gets the
   device's EUI as recipient, the bench party holding the RTDS originator's role as
   originator (:data:`~emulator.conformance.harness.RTDS_PARTIES` names the roles) and a
   fresh counter from a durable :class:`~emulator.headend.identity.CounterStore`; the
   payload's strings that are exactly an RTDS device or party EUI are mapped the same
   way. :func:`~emulator.headend.catalogue.frames.build_frame` then signs it with the
   bench party's DS key where the form carries a signature and MACs it with the bench
   ACB's KA key.
2. **Time re-based on the device's clock.** RTDS commands were made for a device whose
   clock read 2015-01-01T00:00:00Z (:data:`RTDS_TIME`). Every full date-time in the
   header and the arguments (validity windows such as ECS70's and GCS28's, future-dated
   execution times, log read ranges, a change-of-tenancy date) is shifted by *device
   now - RTDS time*; every plain date (a calendar's begin and end) by the whole days of
   that shift. Wildcard dates (``*-07-29``), times of day and durations are left alone:
   they mean the same on any day. The device's clock is read with the control API's
   ``get_status`` (after every reset); without ``--control`` the host's UTC clock
   stands in for it (say so with a clock-synchronised bench). The shift is computed
   when the command is built, so whatever a case's preparation did lies before it.
3. **Credentials kept the bench's.** A credential replacement (CS02b/CS02g) installs
   the bench's own certificate for the cell it names, and its certification path is the
   bench CA: the device goes on trusting the bench, whatever ran before. Sequence numbers
   that must rise (the authorising party's) take the fresh counter. A command for an
   unknown remote party (the ``_URP`` cases) carries that party's KA certificate, which
   the device encrypts its response for: it carries the bench party's instead, so the
   bench can decrypt the response.

Each response is verified with the meter's certificates from ``--keys`` (device
signature for signed responses, else the MAC) and compared with the RTDS response on
shape (:mod:`emulator.conformance.shape`), as the harness compares them, array lengths
left out. The header fields that change by construction are compared through the
re-addressing: the response must echo *our* counter, come from the device's EUI and be
addressed to our party (each is then shown as RTDS's value), and a DLMS invoke id must
track our counter as RTDS's tracks RTDS's.

**Order.** A device on a port keeps its state, so cases run in :data:`ORDER`'s groups,
destructive ones last: reads, then configuration updates, then HAN joins and device
logs, supply changes, firmware, clock, and credential replacement last; within a group
in RTDS id order.

**Preparation.** With ``--control`` the device is reset (``factory_reset``) before every
case, with the harness's :data:`~emulator.conformance.harness.HISTORY` of running behind
it (``history_seconds``: the profile samples, daily snapshots and logs a device that has
been running holds), with its clock at :data:`MIDDAY` (run on to it when the reset
left it elsewhere), so the results do not depend on the hour of the run.
The device is then given the harness's
:data:`~emulator.conformance.harness.PREPARATION` (earlier
RTDS commands, re-addressed the same way; a command the preparation repeats is resent
byte for byte, as a replay). Where the harness lets the device run on after its
preparation (:data:`~emulator.conformance.harness.RUN_AFTER_PREPARATION`: GCS15c's
billing periods, GCS18's logging interval), the run asks the premises to do the same
(the control API's ``run_on``); the case's command keeps the time shift its preparation
had, as RTDS's did. Without ``--control``, nothing is reset and nothing runs on: each case
meets the state the cases before it left, and the report says so per case (``reset:
false``, and a ``(not run on ...)`` step).

**The bench's PPMID.** PCS01 and PCS02 are sent by the site's PPMID, and CS07 reads a
device log holding it. The bench plays that PPMID (:mod:`hil.han_partner`): before those
cases it joins its own PPMID to the device with a CS03C from its supplier carrying the
PPMID's KA certificate, then sends the PPMID's commands MAC'd with the PPMID's KA key.

**Not applicable** (never passes): ``_ERROR`` cases (DCC's fault-path tests need the
emulator's fault injection), commands from a role the bench holds no party for, and
commands that cannot be re-addressed (the reason is given).

**A GSME** is reached through its CHF as on a premises: with ``hil serve --device site``
its commands wait at the CHF for its next wake-up, so give ``--timeout`` above the
served GSME's ``wake_interval_seconds`` (1800 s by default: serve it with a short one,
e.g. ``[gsme] wake_interval_seconds = 1`` and ``--timeout 15``; ``gas_profile = 60``
gives it the harness's gas flow, and ``top_up_value = 1250000`` makes a top-up worth what
RTDS CS01b's UTRN is, since UTRN values are not modelled). A replayed preparation command
is answered by nothing but a security-log entry: with ``--control`` the run waits for that
entry (at most ``--timeout``) before it builds the case on the device's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from devices.faults import Fault
from devices.pipeline import HAN_ORIGINATED
from emulator.conformance.cases import ConformanceCase
from emulator.conformance.harness import (
    CONFORMANCE_TIME,
    HISTORY,
    PPMID_JOINED,
    PREPARATION,
    RTDS_PARTIES,
    RTDS_PPMID,
    RTDS_TOP_UP_VALUE,
    RUN_AFTER_PREPARATION,
    fault_plan_for,
)
from emulator.conformance.shape import Difference, diff_shapes, plaintexts_of, shape_of, summarise
from emulator.control_client import ControlClient, ControlFailed, ControlTimeout
from emulator.headend.catalogue.frames import FrameArgsError, build_frame, explain_frame
from emulator.headend.identity import CounterError, CounterStore
from emulator.transport.base import Bus, BusError, BusMessage, Channel
from gbcs.codec import GbcsMessage, decode
from gbcs.dlms import AccessRequest, AccessResponse, invoke_id_for_counter
from gbcs.envelope import Cra, SignatureForm
from gbcs.errors import GbcsError
from gbcs.security import Verdict, check_mac, check_signature
from gbcs.usecases import lookup
from keys.certs import eui_hex
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

from .han_partner import HanPartner, join_command

__all__ = [
    "APPLICABLE_STATUSES",
    "CONFORMANT",
    "DIFFERS",
    "NOT_APPLICABLE",
    "NO_RESPONSE",
    "ORDER",
    "RTDS_TIME",
    "SERVED_SITE_TOML",
    "Bench",
    "HilCaseResult",
    "HilConformance",
    "HilReport",
    "HilSetupError",
    "Readdressed",
    "case_group",
    "filter_cases",
    "order_cases",
    "readdress",
    "rebase_text",
]

R = RemotePartyRole
RTDS_TIME = CONFORMANCE_TIME
"""The device time RTDS commands were made for (2015-01-01T00:00:00Z)."""

DAY = timedelta(days=1)
MIDDAY = (timedelta(hours=12), timedelta(hours=13))
"""With ``--control``, where in its (UTC) day every case finds the device's clock: as far
from its midnight as a day allows. A reset device outside it has its premises run on
(under a day; cheap, as the premises jumps there) to 12:00 and is reset again. The
served premises then stays that much ahead of the host's clock (``lead_seconds`` in
``get_status``): a run moves it on by a day at most, and once more per hour it lasts.

RTDS's read windows end at its "now" and reach back some days and a little more
(GCS16b's 49 hours); which daily snapshots and day boundaries they hold then does not
depend on the hour the run is made. Without ``--control`` the device runs on the host's
hours: in the first hour after its midnight GCS16b's window holds a third daily
snapshot, and RTDS's holds two."""


def time_of_day(t: datetime) -> timedelta:
    """How far ``t`` is into its UTC day."""
    return t - t.replace(hour=0, minute=0, second=0, microsecond=0)


CONFORMANT = "conformant"
DIFFERS = "differs"
NO_RESPONSE = "no response"
NOT_APPLICABLE = "not applicable"
APPLICABLE_STATUSES = (CONFORMANT, DIFFERS, NO_RESPONSE)

_CREDENTIALS = ("CS02b", "CS02c", "CS02d", "CS02g")
ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reads", ()),  # every use case the registry marks as a read, and the CS02a/e/f reports
    ("updates", ()),  # every other use case not named below
    ("joins and device logs", ("CS03", "CS04", "CCS01", "CCS02", "CCS03", "GCS59")),
    ("supply", ("ECS42", "ECS43", "ECS44", "GCS32", "GCS39", "ECS47")),
    ("firmware", ("CS06",)),
    ("clock", ("ECS70", "GCS28")),
    ("credentials", _CREDENTIALS),
)
"""The groups cases run in, in this order; a use case belongs to the first group whose
names prefix its name (reads and updates by the registry's read/update column)."""


SERVED_SITE_TOML = (
    f"[gsme]\nwake_interval_seconds = 1\ngas_profile = 60\ntop_up_value = {RTDS_TOP_UP_VALUE}\n"
)
"""A site config for an emulated site served to this run (``hil serve --config``): a GSME
that wakes every second (answers within ``--timeout 15``), with the harness's gas flow
(l/h) and top-up value (what RTDS CS01b's UTRN is worth: UTRN values are not modelled)."""


class HilSetupError(Exception):
    """The run cannot start (no control reply, no bench party, unusable counters)."""


def case_group(case: ConformanceCase) -> int:
    """The index in :data:`ORDER` of the group ``case`` runs in."""
    name = case.use_case
    for i, (_, prefixes) in enumerate(ORDER):
        if prefixes and any(name.startswith(p) for p in prefixes):
            return i
    uc = lookup(case.message_code)
    reads = uc is not None and (uc.read_or_update or "").lower().startswith("read")
    return 0 if reads or name in ("CS02a", "CS02e", "CS02f") else 1


def order_cases(cases: Iterable[ConformanceCase]) -> list[ConformanceCase]:
    """``cases`` in run order: by :data:`ORDER` group, then by id."""
    return sorted(cases, key=lambda c: (case_group(c), c.id))


def filter_cases(cases: Iterable[ConformanceCase], exprs: Sequence[str]) -> list[ConformanceCase]:
    """Cases whose id contains one of ``exprs`` (case-insensitive); all without any."""
    wanted = [e.lower() for e in exprs if e]
    if not wanted:
        return list(cases)
    return [c for c in cases if any(e in c.id.lower() for e in wanted)]


# ------------------------------------------------------------------ time re-basing

_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NO_END_YEAR = 2100
"""Date-times from this year on are "no end" markers, the same on any day: ZCL's latest
UTCTime 2136-02-07T06:28:14Z (0xFFFFFFFE) in GCS15e, its invalid value a second later."""


def rebase_text(text: str, delta: timedelta) -> str:
    """``text`` shifted by ``delta`` when it is a full date-time, by ``delta``'s whole
    days when it is a plain date; anything else (wildcards, times of day, far-future
    "no end" markers from the year 2100 on) unchanged.

    The written form is kept: seconds, the fraction's digits and the zone suffix.
    """
    m = _DATE_TIME.match(text)
    if m is not None:
        y, mo, d, h, mi, s, frac, zone = m.groups()
        try:
            t = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
        except ValueError:
            return text
        if t.year >= _NO_END_YEAR:
            return text
        t += timedelta(seconds=round(delta.total_seconds()))
        out = t.strftime("%Y-%m-%dT%H:%M") + (t.strftime(":%S") if s is not None else "")
        return out + (frac or "") + (zone or "")
    m = _DATE.match(text)
    if m is not None:
        try:
            day = datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return text
        if day.year >= _NO_END_YEAR:
            return text
        return (day + timedelta(days=delta.days)).strftime("%Y-%m-%d")
    return text


def _rewrite(value: Any, delta: timedelta, euis: Mapping[str, str]) -> Any:
    """Every string of a JSON-able tree re-based (:func:`rebase_text`) and EUI-mapped."""
    if isinstance(value, str):
        mapped = euis.get(value.upper())
        return mapped if mapped is not None else rebase_text(value, delta)
    if isinstance(value, list):
        return [_rewrite(v, delta, euis) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, delta, euis) for k, v in value.items()}
    return value


# ------------------------------------------------------------------ re-addressing


@dataclass(slots=True)
class Bench:
    """Who the bench is: its key store (parties' private keys, the ACB's KA key, the
    meter's certificates), its party EUI per role, and its durable counters."""

    keys: KeyStore
    parties: Mapping[RemotePartyRole, bytes]
    counters: CounterStore
    han: HanPartner | None = None
    """The HAN device (PPMID) the bench plays; its KA key must be in ``keys``."""

    @property
    def acb(self) -> bytes:
        return self.parties[R.ACCESS_CONTROL_BROKER]


@dataclass(frozen=True, slots=True)
class Readdressed:
    """A re-addressed command: the frame, who sends it, with which counter."""

    frame: bytes
    party: bytes
    role: RemotePartyRole | None  # None: the bench's HAN partner sent it
    counter: int
    message: GbcsMessage


class ReaddressError(ValueError):
    """An RTDS command that cannot be re-addressed for the bench (names why)."""


_RTDS_ROLE = {eui: role for role, eui in RTDS_PARTIES.items()}


def _cert_hex(keys: KeyStore, role: RemotePartyRole, usage: str, party: bytes) -> str | None:
    cert = keys.certificate(party, KeyUsage.parse(usage))
    return None if cert is None else cert.public_bytes(Encoding.DER).hex().upper()


def _bench_credentials(args: dict[str, Any], bench: Bench, counter: int) -> None:
    """CS02b/g: install the bench's own certificates, path and a rising sequence number."""
    control = args.get("authorising_remote_party_control")
    if isinstance(control, dict) and control.get("authorising_remote_party_seq_number"):
        control["authorising_remote_party_seq_number"] = counter
    issuers: list[str] = []
    for rep in args.get("replacements") or ():
        cell = rep.get("target_trust_anchor_cell") or {}
        try:
            role = R.parse(str(cell.get("remote_party_role", "")).replace("_", "-"))
        except ValueError:
            continue
        party = bench.parties.get(role)
        usage = "ds" if cell.get("key_usage") == "digital_signature" else "ka"
        cert = None if party is None else _cert_hex(bench.keys, role, usage, party)
        if party is None or cert is None:
            raise ReaddressError(
                f"the bench holds no {usage.upper()} certificate for the "
                f"{role.cli_name} role (its new trust anchor)"
            )
        rep["certificate"] = cert
        entry = bench.keys.entry(party, KeyUsage.parse(usage))
        ca = None if entry is None else bench.keys.issuer_of(entry)
        if ca is not None:
            issuers.append(ca.public_bytes(Encoding.DER).hex().upper())
    if issuers and args.get("certification_path_certificates"):
        args["certification_path_certificates"] = issuers[:1]


def _bench_srp_certificate(header: dict[str, Any], bench: Bench) -> None:
    """A command for an unknown remote party (URP) carries that party's KA certificate,
    which the device encrypts its response for: when the supplementary remote party is
    now a bench party, carry the bench's certificate of it (its KA key decrypts)."""
    other = header.get("other_information")
    if not isinstance(other, dict) or not other.get("certificate") or not other.get("srp_id"):
        return
    srp = bytes.fromhex(str(other["srp_id"]))
    for role, party in bench.parties.items():
        if party == srp:
            cert = _cert_hex(bench.keys, role, "ka", party)
            if cert is None:
                raise ReaddressError(
                    f"the bench holds no KA certificate of its {role.cli_name} party "
                    f"{eui_hex(party).upper()} (the unknown remote party's certificate)"
                )
            other["certificate"] = cert
            return


def _needs_partner(case: ConformanceCase) -> bool:
    """Whether ``case`` runs on a device that has joined the site's PPMID first."""
    name = case.id.rsplit("/", 1)[-1]
    try:
        code = decode(case.command).message_code
    except GbcsError:
        return False
    return name in PPMID_JOINED or code in HAN_ORIGINATED


def _han_originated(obj: Mapping[str, Any], origin: bytes) -> bool:
    """Whether a command is one a HAN device sends (PCS01, PCS02 from the PPMID)."""
    code = obj.get("message_code")
    try:
        value = int(code, 16) if isinstance(code, str) else int(code or -1)
    except ValueError:
        return False
    return value in HAN_ORIGINATED and origin not in _RTDS_ROLE


def readdress(
    command: bytes,
    bench: Bench,
    target: bytes,
    *,
    device_now: datetime,
    euis: Mapping[bytes, bytes] | None = None,
) -> Readdressed:
    """An RTDS command made for ``target`` at ``device_now`` by the bench (see the module
    docstring). ``euis`` maps further RTDS EUIs (other devices of the site) to the
    bench's. Raises :class:`ReaddressError` naming what is missing."""
    try:
        obj = explain_frame(command)
    except (GbcsError, FrameArgsError, ValueError) as e:
        raise ReaddressError(f"the RTDS command does not explain: {e}") from None
    header = obj["header"]
    rtds_origin = bytes.fromhex(header["originator"])
    role = _RTDS_ROLE.get(rtds_origin)
    han = _han_originated(obj, rtds_origin)
    if han:
        if bench.han is None:
            raise ReaddressError("sent by a HAN device and the bench plays none")
        party = bench.han.eui
    elif role is None:
        raise ReaddressError(f"originator {eui_hex(rtds_origin)} is not an RTDS test party")
    else:
        found = bench.parties.get(role)
        if found is None:
            raise ReaddressError(f"the bench holds no {role.cli_name} party (give its keys)")
        party = found
    rtds_target = bytes.fromhex(header["recipient"])
    mapping = {eui_hex(k).upper(): eui_hex(v).upper() for k, v in (euis or {}).items()}
    if bench.han is not None:
        mapping[eui_hex(RTDS_PPMID).upper()] = eui_hex(bench.han.eui).upper()
    mapping[eui_hex(rtds_target).upper()] = eui_hex(target).upper()
    for eui, r in _RTDS_ROLE.items():
        if r in bench.parties:
            mapping[eui_hex(eui).upper()] = eui_hex(bench.parties[r]).upper()
    delta = device_now - RTDS_TIME
    try:
        counter = bench.counters.next(party)
    except CounterError as e:
        raise HilSetupError(str(e)) from None
    obj["header"] = _rewrite(header, delta, mapping)
    obj["header"].update(
        originator=eui_hex(party).upper(), recipient=eui_hex(target).upper(), counter=counter
    )
    _bench_srp_certificate(obj["header"], bench)
    obj["args"] = _rewrite(obj["args"], delta, mapping)
    if obj.get("use_case") in ("CS02b", "CS02g") or str(obj.get("use_case", "")).startswith(
        "CS02b"
    ):
        _bench_credentials(obj["args"], bench, counter)
    try:
        # a HAN device's command is MAC'd with its own KA key, not the ACB's
        frame = build_frame(obj, bench.keys, acb=party if han else bench.acb)
        return Readdressed(frame, party, None if han else role, counter, decode(frame))
    except (GbcsError, FrameArgsError, ValueError) as e:
        raise ReaddressError(f"cannot rebuild it for the bench: {e}") from None


# ------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class HilCaseResult:
    """One RTDS case against the device: its status, why, and how long it took."""

    case: ConformanceCase
    status: str
    detail: str
    seconds: float
    group: str
    differences: tuple[Difference, ...] = ()
    prepared: tuple[str, ...] = ()
    reset: bool = False
    fault_injected: bool = False
    protection: str = ""
    sent: bytes = b""
    response: bytes | None = None

    @property
    def applicable(self) -> bool:
        return self.status != NOT_APPLICABLE

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "use_case": self.case.use_case,
            "rtds_case": self.case.rtds_case,
            "device": self.case.device_type,
            "group": self.group,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "reset": self.reset,
            "prepared": list(self.prepared),
            "fault_injected": self.fault_injected,
            "protection": self.protection,
            "differences": [str(d) for d in self.differences],
            "sent": self.sent.hex().upper(),
            "response": None if self.response is None else self.response.hex().upper(),
        }


@dataclass(slots=True)
class HilReport:
    """Every case result, summaries per device type and per use case."""

    device_type: str
    device_eui: bytes
    control: bool
    results: list[HilCaseResult] = field(default_factory=list)
    clock: str = ""  # where the device's time came from
    seconds: float = 0.0

    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    @property
    def conformant(self) -> int:
        return sum(r.status == CONFORMANT for r in self.results)

    @property
    def applicable(self) -> int:
        return sum(r.applicable for r in self.results)

    @property
    def fault_injected_conformant(self) -> int:
        """Conformant ``_ERROR`` cases (their faults, where the case has any, armed
        through the control API), counted apart as the harness counts them."""
        return sum(r.status == CONFORMANT and r.fault_injected for r in self.results)

    @property
    def not_applicable(self) -> int:
        return len(self.results) - self.applicable

    @property
    def passed(self) -> bool:
        """Every applicable case conformant."""
        return all(r.status == CONFORMANT for r in self.results if r.applicable)

    def by_use_case(self) -> dict[str, list[HilCaseResult]]:
        out: dict[str, list[HilCaseResult]] = defaultdict(list)
        for r in self.results:
            out[r.case.rtds_case].append(r)
        return dict(out)

    def not_prepared(self) -> list[str]:
        """What the run could not prepare (empty with the control API)."""
        if self.control:
            return []
        out = [
            f"no factory reset between cases ({len(self.results)} case(s) ran on the state "
            "the cases before them left; serve the device with --control to reset it)"
        ]
        prep = [r.case.id for r in self.results if r.prepared]
        if prep:
            out.append(f"{len(prep)} case(s) got their RTDS preparation without a reset first")
        for r in self.results:
            for p in r.prepared:
                if p.startswith("(not "):
                    out.append(f"{r.case.id}: {p.strip('()')}")
        return out

    def to_json(self) -> dict[str, Any]:
        c = self.counts()
        return {
            "device": self.device_type,
            "eui": eui_hex(self.device_eui).upper(),
            "control": self.control,
            "clock": self.clock,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "summary": {
                "total": len(self.results),
                "conformant": self.conformant,
                "applicable": self.applicable,
                "not_applicable": self.not_applicable,
                "differs": c[DIFFERS],
                "no_response": c[NO_RESPONSE],
                "fault_injected_conformant": self.fault_injected_conformant,
            },
            "not_prepared": self.not_prepared(),
            "order": [name for name, _ in ORDER],
            "cases": [r.to_json() for r in self.results],
        }

    def junit_xml(self) -> str:
        """JUnit XML: one testcase per RTDS case; not applicable ones are skipped."""
        from xml.sax.saxutils import escape, quoteattr

        c = self.counts()
        failures = c[DIFFERS] + c[NO_RESPONSE]
        name = f"rtds-{self.device_type.lower()}"
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<testsuite name={quoteattr(name)} tests="{len(self.results)}" '
            f'failures="{failures}" errors="0" skipped="{self.not_applicable}" '
            f'time="{self.seconds:.3f}">',
        ]
        for r in self.results:
            head = (
                f"<testcase classname={quoteattr(name + '.' + r.case.rtds_case)} "
                f'name={quoteattr(r.case.id)} time="{r.seconds:.3f}"'
            )
            if r.status == CONFORMANT:
                lines.append(head + " />")
                continue
            lines.append(head + ">")
            if r.status == NOT_APPLICABLE:
                lines.append(f"<skipped message={quoteattr(r.detail)} />")
            else:
                lines.append(
                    f"<failure message={quoteattr(r.status + ': ' + r.detail)}>"
                    f"{escape(r.detail)}</failure>"
                )
            lines.append("</testcase>")
        lines.append("</testsuite>")
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the wire


class _Wire:
    """One bus to the device: commands out; responses matched by (device, party,
    counter); control replies handed to a :class:`ControlClient`; alerts counted."""

    def __init__(self, bus: Bus, site: str, *, control_timeout: float) -> None:
        self.bus = bus
        self.site = site
        self.control = ControlClient(bus, timeout=control_timeout, pump=False)
        self.pending: dict[tuple[bytes, bytes, int], asyncio.Future[bytes]] = {}
        self.stats: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.start()
        for channel in (Channel.OUT, Channel.ALERT, Channel.CONTROL_REPLY):
            await self.bus.subscribe(f"gbcs/{self.site}/+/{channel.value}")
        self._task = asyncio.create_task(self._read(), name="hil-conformance-wire")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.bus.close()

    async def _read(self) -> None:
        async for m in self.bus.messages():
            if m.channel is Channel.CONTROL_REPLY:
                self.control.feed(m)
                continue
            try:
                msg = decode(m.frame)
            except GbcsError:
                self.stats["undecodable"] += 1
                continue
            if msg.cra is not Cra.RESPONSE:
                self.stats["alerts" if msg.cra is Cra.ALERT else "ignored"] += 1
                continue
            fut = self.pending.get((msg.originator, msg.recipient, msg.counter))
            if fut is None or fut.done():
                self.stats["unmatched"] += 1
                continue
            fut.set_result(m.frame)

    async def send(self, target: bytes, sent: Readdressed, timeout: float | None) -> bytes | None:
        """Write ``sent``; its response frame, or None after ``timeout`` (None: no wait)."""
        key = (target, sent.party, sent.counter)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[key] = fut
        try:
            await self.bus.publish(BusMessage(self.site, eui_hex(target), Channel.IN, sent.frame))
            if timeout is None:
                return None
            try:
                return await asyncio.wait_for(fut, timeout)
            except TimeoutError:
                return None
        finally:
            self.pending.pop(key, None)


# ------------------------------------------------------------------ the run


def _protection(msg: GbcsMessage, keys: KeyStore, acb: bytes) -> tuple[bool, str]:
    """(verified, how): the device signature of a signed response, else its MAC."""
    if msg.signature_form is SignatureForm.PRESENT:
        sig = check_signature(msg, keys)
        return sig.verdict is Verdict.VALID, f"signature {sig.verdict.value}"
    mac = check_mac(msg, keys, acb)
    return mac.verdict is Verdict.VALID, f"MAC {mac.verdict.value}"


def _invoke_id(msg: GbcsMessage) -> int | None:
    p = msg.payload
    return p.invoke_id if isinstance(p, AccessRequest | AccessResponse) else None


def compare_readdressed(
    ours: GbcsMessage,
    rtds: GbcsMessage,
    sent: Readdressed,
    target: bytes,
    *,
    our_keys: KeyStore,
    rtds_keys: KeyStore | None,
) -> list[Difference]:
    """Shape differences of our response from RTDS's, the re-addressed fields mapped
    back to RTDS's values when they are what the re-addressing makes them."""
    pa = plaintexts_of(ours, our_keys)
    pb = plaintexts_of(rtds, rtds_keys)
    if pa.keys() != pb.keys():
        both = pa.keys() & pb.keys()
        pa = {i: pa[i] for i in both}
        pb = {i: pb[i] for i in both}
    a = shape_of(ours, pa)
    b = shape_of(rtds, pb)
    ha, hb = a["header"], b["header"]
    if ha["counter"] == sent.counter:
        ha["counter"] = hb["counter"]
    if ha["originator"] == eui_hex(target).upper():
        ha["originator"] = hb["originator"]
    if ha["recipient"] == eui_hex(sent.party).upper():
        ha["recipient"] = hb["recipient"]
    da, db = a["payload"].get("dlms"), b["payload"].get("dlms")
    if isinstance(da, dict) and isinstance(db, dict) and "invoke_id" in da:
        ours_tracks = _invoke_id(ours) in (
            invoke_id_for_counter(sent.counter),
            _invoke_id(sent.message),
        )
        if ours_tracks and "invoke_id" in db:
            da["invoke_id"] = db["invoke_id"]
    return diff_shapes(a, b, array_lengths=False)


@dataclass(slots=True)
class HilConformance:
    """The run against one device on a bus (see the module docstring).

    ``timeout`` is how long a response may take (a GSME's: its wake interval and more);
    ``control`` resets the device before each case and reads its clock through the
    control API; ``rtds_keys`` decrypt RTDS's responses for the comparison.
    """

    wire_bus: Bus
    bench: Bench
    device_type: str
    device_eui: bytes
    site: str = "site-0"
    control: bool = False
    timeout: float = 10.0
    control_timeout: float = 10.0
    rtds_keys: KeyStore | None = None
    euis: Mapping[bytes, bytes] = field(default_factory=dict)
    _clock_at: tuple[datetime, float] | None = None

    def device_now(self) -> datetime:
        """The device's time now: the last clock read plus the time since."""
        if self._clock_at is None:
            return datetime.now(UTC)
        t, mono = self._clock_at
        return t + timedelta(seconds=time.monotonic() - mono)

    async def _control(self, wire: _Wire, op: str, **fields: Any) -> dict[str, Any]:
        return await wire.control.control(self.site, self.device_eui, op, **fields)

    async def _read_clock(self, wire: _Wire) -> None:
        status = await self._control(wire, "get_status")
        text = (status.get("clock") or {}).get("time")
        if not isinstance(text, str):
            self._clock_at = None
            return
        t = datetime.fromisoformat(text)
        self._clock_at = (t if t.tzinfo else t.replace(tzinfo=UTC), time.monotonic())

    async def run(
        self,
        cases: Iterable[ConformanceCase],
        prepared: Mapping[str, bytes],
        progress: Callable[[HilCaseResult], None] | None = None,
    ) -> HilReport:
        """Every case in :func:`order_cases` order; raises :class:`HilSetupError` when
        the device cannot be reached for setup (no control reply)."""
        report = HilReport(self.device_type, self.device_eui, self.control)
        wire = _Wire(self.wire_bus, self.site, control_timeout=self.control_timeout)
        started = time.monotonic()
        await wire.start()
        try:
            if self.control:
                try:
                    await self._read_clock(wire)
                except (ControlTimeout, ControlFailed, BusError) as e:
                    raise HilSetupError(
                        f"--control: the device {eui_hex(self.device_eui).upper()} does not "
                        f"answer the control API ({e}); serve it with `hil serve --control` "
                        "or leave --control out"
                    ) from None
                report.clock = (
                    "device (control API get_status), reset to between 12:00 and 13:00 UTC "
                    "for each case"
                )
            else:
                report.clock = "host UTC clock (no --control: the device's clock is not read)"
            for case in order_cases(cases):
                result = await self._case(wire, case, prepared)
                report.results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            await wire.close()
        report.seconds = time.monotonic() - started
        return report

    async def _reset_at_midday(self, wire: _Wire) -> int:
        """Reset the device (with the harness's history) with its clock in
        :data:`MIDDAY`; returns the seconds its premises was run on to get there (0 when
        the reset already landed there)."""
        history = int(HISTORY.total_seconds())
        await self._control(wire, "factory_reset", history_seconds=history)
        await self._read_clock(wire)
        into_day = time_of_day(self.device_now())
        if MIDDAY[0] <= into_day < MIDDAY[1]:
            return 0
        ran = math.ceil(((MIDDAY[0] - into_day) % DAY).total_seconds())
        await self._control(wire, "run_on", seconds=ran)
        await self._control(wire, "factory_reset", history_seconds=history)
        await self._read_clock(wire)
        return ran

    async def _security_entries(self, wire: _Wire) -> int | None:
        """How many entries the device's security log holds (None without control)."""
        if not self.control:
            return None
        try:
            log = await self._control(wire, "read_log", log="security")
        except (ControlTimeout, ControlFailed, BusError):
            return None
        entries = log.get("entries")
        return len(entries) if isinstance(entries, list) else None

    async def _until_logged(self, wire: _Wire, before: int | None) -> None:
        """Wait (at most ``timeout``) until the security log has grown past ``before``.

        A replay is answered by nothing but a security-log entry; a GSME runs it at its
        next wake-up. The case after it is built on the device's clock, so it waits for
        the replay to have happened (its read ranges then cover it, as RTDS's did).
        """
        if before is None:
            return
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            now = await self._security_entries(wire)
            if now is None or now > before:
                return
            await asyncio.sleep(0.1)

    async def _join_partner(self, wire: _Wire) -> tuple[str, str]:
        """Join the bench's PPMID to the device (CS03C, Method C): (what was done, '')
        or ('', why not)."""
        han = self.bench.han
        supplier = self.bench.parties.get(R.SUPPLIER)
        if han is None or supplier is None:
            return "", "needs a PPMID joined by the supplier: the bench plays none"
        try:
            counter = self.bench.counters.next(supplier)
        except CounterError as e:
            raise HilSetupError(str(e)) from None
        obj = join_command(han, "ppmid", supplier, self.device_eui, counter)
        try:
            frame = build_frame(obj, self.bench.keys, acb=self.bench.acb)
        except (GbcsError, FrameArgsError, ValueError) as e:
            return "", f"the bench PPMID's join cannot be built: {e}"
        join = Readdressed(frame, supplier, R.SUPPLIER, counter, decode(frame))
        if await wire.send(self.device_eui, join, self.timeout) is None:
            return "", f"the bench PPMID's join (CS03C) got no response within {self.timeout:g} s"
        return f"CS03C join of the bench PPMID {eui_hex(han.eui).upper()}", ""

    def _na(self, case: ConformanceCase, why: str, t0: float) -> HilCaseResult:
        return HilCaseResult(
            case, NOT_APPLICABLE, why, time.monotonic() - t0, ORDER[case_group(case)][0]
        )

    async def _case(
        self, wire: _Wire, case: ConformanceCase, prepared: Mapping[str, bytes]
    ) -> HilCaseResult:
        t0 = time.monotonic()
        group = ORDER[case_group(case)][0]
        faults: list[Fault] = []
        if case.error_variant:
            if not self.control:
                return self._na(
                    case, "an _ERROR case: its failure codes need fault injection (--control)", t0
                )
            plan = fault_plan_for(case)
            if plan is None:
                return self._na(
                    case, "an _ERROR case whose failure codes the control API cannot arm", t0
                )
            faults = plan
        try:
            rtds = decode(case.response)
        except GbcsError as e:
            return self._na(case, f"the RTDS response does not decode: {e}", t0)
        reset = False
        done: list[str] = []
        if self.control:
            try:
                ran = await self._reset_at_midday(wire)
            except (ControlTimeout, ControlFailed, BusError) as e:
                return self._na(case, f"the device could not be reset: {e}", t0)
            reset = True
            if ran:
                done.append(f"run_on {ran} s to midday, then reset again")
        name_of_case = case.id.rsplit("/", 1)[-1]
        names = PREPARATION.get(name_of_case, ())
        if _needs_partner(case):
            joined, why = await self._join_partner(wire)
            if not joined:
                return self._na(case, why, t0)
            done.append(joined)
        sent_before: dict[str, Readdressed] = {}
        for name in names:
            command = prepared.get(name)
            if command is None:
                continue
            again = sent_before.get(name)
            try:
                prep = again or readdress(
                    command,
                    self.bench,
                    self.device_eui,
                    device_now=self.device_now(),
                    euis=self.euis,
                )
            except ReaddressError as e:
                return self._na(case, f"its preparation {name} cannot be re-addressed: {e}", t0)
            sent_before[name] = prep
            if again is None:
                await wire.send(self.device_eui, prep, self.timeout)
            else:  # a repeat is a deliberate replay: the device answers nothing
                logged = await self._security_entries(wire)
                await wire.send(self.device_eui, prep, None)
                await self._until_logged(wire, logged)
            done.append(name)
        run = RUN_AFTER_PREPARATION.get(name_of_case)
        ran_on = timedelta(0)
        if run is not None and self.control:
            seconds = int(run.total_seconds())
            try:
                await self._control(wire, "run_on", seconds=seconds)
                await self._read_clock(wire)
            except (ControlTimeout, ControlFailed, BusError) as e:
                return self._na(case, f"the device could not run on {seconds} s: {e}", t0)
            done.append(f"run_on {seconds} s")
            # RTDS made the case's command for the device its preparation met, before
            # the run-on: its times keep that shift (the device then reads them late)
            ran_on = run
        elif run is not None:
            done.append(f"(not run on {int(run.total_seconds())} s: needs --control)")
        for f in faults:  # armed last: nothing before the case may consume them
            request = {k: v for k, v in f.to_dict().items() if k != "times"}
            try:
                await self._control(wire, "inject_fault", **request, times=1)
            except (ControlTimeout, ControlFailed, BusError) as e:
                return self._na(case, f"its fault could not be armed: {e}", t0)
            done.append("inject_fault " + " ".join(f"{k}={v}" for k, v in request.items()))
        try:
            sent = readdress(
                case.command,
                self.bench,
                self.device_eui,
                device_now=self.device_now() - ran_on,
                euis=self.euis,
            )
        except ReaddressError as e:
            return self._na(case, f"cannot be re-addressed: {e}", t0)
        frame = await wire.send(self.device_eui, sent, self.timeout)
        seconds = time.monotonic() - t0
        common = {
            "prepared": tuple(done),
            "reset": reset,
            "sent": sent.frame,
            "fault_injected": case.error_variant,
        }
        if frame is None:
            return HilCaseResult(
                case,
                NO_RESPONSE,
                f"no response echoing counter {sent.counter} within {self.timeout:g} s",
                seconds,
                group,
                **common,  # type: ignore[arg-type]
            )
        ours = decode(frame)
        ok, protection = _protection(ours, self.bench.keys, self.bench.acb)
        diffs = compare_readdressed(
            ours, rtds, sent, self.device_eui, our_keys=self.bench.keys, rtds_keys=self.rtds_keys
        )
        if diffs:
            status, detail = DIFFERS, summarise(diffs)
        elif not ok:
            status, detail = DIFFERS, f"response not verified: {protection}"
        else:
            status, detail = CONFORMANT, ""
        return HilCaseResult(
            case,
            status,
            detail,
            seconds,
            group,
            tuple(diffs),
            protection=protection,
            response=frame,
            **common,  # type: ignore[arg-type]
        )
