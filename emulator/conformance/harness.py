"""The conformance run: every RTDS command to a fresh emulated device, compared on shape.

For each RTDS command/response pair of an ESME, GSME, GPF or CHF:

1. A fresh device of that type is built with the RTDS EUI (the command's recipient),
   trusting the public test organisations, with its own key pairs: the public RTDS key
   where one exists (the test ESME's KA key), a new one otherwise. Its certificates come
   from a throw-away CA made for the run.
2. When the command's MAC was made for a device key we do not hold, the ACB MAC is
   re-applied for the emulated device's KA key (the ACB's KA private key is public);
   the originator's signature and the counters stay as they are.
3. ``_ERROR`` cases are DCC's fault-path tests: the same command answered with failure
   codes. The emulator reproduces them through its fault-injection settings, armed with
   the codes the RTDS case names; the report marks them ``fault-injected``.
4. The device's response is decoded, its MAC or signature checked with the emulated
   device's keys, and compared with the RTDS response on shape (:mod:`.shape`).
   Array lengths are not compared: a fresh device's logs hold other entries than the
   RTDS device's.

Run at a fixed time (2015-01-01 00:00:00 UTC, the RTDS time stamp) so clock-bounded
commands (ECS70, GCS28) fall inside their validity windows.

Devices are not factory-fresh: each has been running for :data:`HISTORY` (500 W load on
the ESME, 60 l/h of gas on the GSME), so profile samples and daily snapshots exist.
Where an RTDS read reports configuration or history only an earlier command creates,
the harness first feeds that earlier RTDS command (:data:`PREPARATION`, as a DCC test
sequence would), and reports the case as prepared. Commands a HAN device sends (PCS01,
PCS02 from the PPMID) are fed to a GSME that has first joined that device by a Method C
join carrying its KA certificate from the key directory (:func:`_partner_join`), and are
re-MAC'd PPMID KA ↔ emulated GSME KA from the device side.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devices.device import Device
from devices.factory import create_device, own_keys_from
from devices.faults import FAULT_OUTCOMES, Fault, FaultError, check_fault
from devices.han_joins import HanDeviceType, JoinMethod
from devices.outbound import OutboundKind
from devices.pipeline import HAN_ORIGINATED
from devices.trust import OwnKeys
from gbcs.asn1 import Asn1Payload
from gbcs.codec import GbcsMessage, build, decode
from gbcs.der import decode_der_node, der_integer, der_octet_string, der_sequence
from gbcs.dlms import AccessResponse
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation
from gbcs.errors import GbcsDecodeError, GbcsEncodeError, GbcsSecurityError
from gbcs.gbz import GbzPayload
from gbcs.security import Verdict, apply_mac, check_mac, check_signature, sign
from gbcs.usecases import DeviceType
from keys.certs import eui_hex
from keys.pki import create_authorities, issue_device_keys
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

from .cases import ConformanceCase, load_cases
from .shape import Difference, compare, summarise

__all__ = [
    "CONFORMANCE_TIME",
    "RTDS_PARTIES",
    "CaseResult",
    "ConformanceReport",
    "RemacKeys",
    "fault_plan_for",
    "preparation_commands",
    "run_cases",
    "run_conformance",
    "save_report",
]

R = RemotePartyRole
CONFORMANCE_TIME = datetime(2015, 1, 1, tzinfo=UTC)

HISTORY = timedelta(days=3)
"""How long every emulated device has been running when the RTDS command arrives."""

PREPARATION: dict[str, tuple[str, ...]] = {
    # reads of configuration that the RTDS device had been sent before
    "GCS21f_4.11.1_SUCCESS": ("GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS",),
    "GCS21b_4.13_SUCCESS": ("GCS05_2.1_IMMEDIATE_SUCCESS",),
    "GCS21d_6.2.3_SUCCESS": ("GCS25_6.8_SUCCESS",),
    "GCS21k_6.2.3_SUCCESS": ("GCS25a_6.8_SUCCESS",),
    "GCS18_4.10_SUCCESS": ("GCS31_14.1_SUCCESS",),
    # logs that only events fill: a clock set (event log), a refused replay (security log)
    "CS10a_6.13_SUCCESS": ("GCS28_6.11_SUCCESS",),
    "CS10b_6.13_SUCCESS": ("GCS28_6.11_SUCCESS", "GCS28_6.11_SUCCESS"),
    "GCS15e_4.4.5_SUCCESS": ("CS01b_2.2_SUCCESS",),
    # the billing data log of billing-period ends: a GCS25 calendar (monthly from 1 Feb
    # 2015) that the GSME then runs through (RUN_AFTER_PREPARATION)
    "GCS15c_4.4.3_SUCCESS": ("GCS25_6.8_SUCCESS",),
    # the debt log of payment-based debt: GCS04 sets Debt 3 with recovery per payment,
    # and a top-up (CS01b) then collects it
    "GCS15d_4.4.4_SUCCESS": ("GCS04_2.3_SUCCESS", "CS01b_2.2_SUCCESS"),
    # the device log CS07 reads: the GSME's GPF (Method B) and a PPMID (Method C)
    "CS07_8.9_SUCCESS": ("CS03B_8.7.2_SUCCESS", "CS03CCritical_8.7.1_SUCCESS"),
    # the billing data log of payment-mode and tariff changes (GCS15b reads cause mask
    # 0x6008); fed in counter order, as replay protection requires
    "GCS15b_4.4.2_SUCCESS": ("GCS03_1.6_IMMEDIATE_SUCCESS", "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS"),
}
"""RTDS commands fed before a case, keyed by case (see the module docstring)."""

RTDS_PPMID = bytes.fromhex("00DB1234567890A4")
"""The RTDS site's PPMID: the originator of PCS01/PCS02, which the RTDS GSME answers."""

PPMID_JOINED: frozenset[str] = frozenset({"CS07_8.9_SUCCESS"})
"""Cases run on a GSME that holds :data:`RTDS_PPMID` in its device log (besides the
cases of codes a HAN device sends, :data:`devices.pipeline.HAN_ORIGINATED`, whose
originator is always joined first). The join is a Method C join (CS03C) from the RTDS
supplier carrying the PPMID's KA certificate from the key directory, fed before
:data:`PREPARATION`; the RTDS has no CS03C for that PPMID."""

RUN_AFTER_PREPARATION: dict[str, timedelta] = {
    # the network data log GCS31 starts (360 s interval) holds samples only once the
    # GSME has run past its first interval
    "GCS18_4.10_SUCCESS": timedelta(hours=1),
    # past the calendar's first two boundaries (1 Feb and 1 Mar 2015)
    "GCS15c_4.4.3_SUCCESS": timedelta(days=74),
}
"""How long a prepared device keeps running before the case's command arrives (the
command is then fed at that later time), keyed by case."""

RTDS_TOP_UP_VALUE = 1_250_000
"""The Top Up Value of RTDS CS01b's Consumer Top Up Response (what its UTRN is worth)."""

RTDS_PARTIES: dict[RemotePartyRole, bytes] = {
    R.RECOVERY: bytes.fromhex("90B3D51F30000001"),
    R.SUPPLIER: bytes.fromhex("90B3D51F30010000"),
    R.NETWORK_OPERATOR: bytes.fromhex("90B3D51F30020000"),
    R.ACCESS_CONTROL_BROKER: bytes.fromhex("90B3D51F30000002"),
    R.TRANSITIONAL_COS: bytes.fromhex("90B3D51F30000004"),
    R.WAN_PROVIDER: bytes.fromhex("90B3D51F30000007"),
    R.LOAD_CONTROLLER: bytes.fromhex("90B3D51F30010008"),
}
"""The DCC test organisations RTDS uses, one per trust-anchor role."""

DIFF_LIMIT = 1000
"""Differences kept per case (far above any RTDS case's)."""

CONFORMANT = "conformant"
DIFFERS = "differs"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one RTDS pair."""

    case: ConformanceCase
    status: str  # conformant / differs / unsupported
    detail: str
    differences: tuple[Difference, ...] = ()
    fed: bytes = b""
    response: bytes | None = None
    fault_injected: bool = False
    protection: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "use_case": self.case.use_case,
            "rtds_case": self.case.rtds_case,
            "device": self.case.device_type,
            "status": self.status,
            "detail": self.detail,
            "fault_injected": self.fault_injected,
            "protection": self.protection,
            "differences": [str(d) for d in self.differences],
        }


@dataclass(slots=True)
class ConformanceReport:
    """All case results, with per-device and per-use-case summaries."""

    results: list[CaseResult] = field(default_factory=list)
    #: The emulated devices' key pairs, by EUI (their certificates go into ``--save``).
    own_keys: dict[bytes, OwnKeys] = field(default_factory=dict, repr=False)

    def by_device(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for r in self.results:
            out[r.case.device_type][r.status] += 1
        return dict(out)

    def rate(self, device: str) -> float:
        """Share of that device's pairs that are conformant (0..1)."""
        c = self.by_device().get(device, Counter())
        total = sum(c.values())
        return c[CONFORMANT] / total if total else 0.0

    def by_use_case(self) -> dict[tuple[str, str], list[CaseResult]]:
        out: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
        for r in self.results:
            out[(r.case.device_type, r.case.rtds_case)].append(r)
        return dict(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {
                d: {**dict(c), "total": sum(c.values()), "rate": round(self.rate(d), 4)}
                for d, c in sorted(self.by_device().items())
            },
            "cases": [r.to_json() for r in self.results],
        }


class _Keys:
    """Our device's public keys first, then the interop store (for verification)."""

    def __init__(self, device: Device, store: KeyStore) -> None:
        self.device = device
        self.store = store

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None:
        return self.device.keys.public_key(eui, usage) or self.store.public_key(eui, usage)

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None:
        if eui == self.device.eui:
            return self.device.keys.private_key(eui, usage)
        return self.store.private_key(eui, usage)


class RemacKeys:
    """ACB private KA key plus the emulated device's KA public key."""

    def __init__(self, store: KeyStore, device_eui: bytes, device_ka: ec.EllipticCurvePublicKey):
        self.store = store
        self.device_eui = device_eui
        self.device_ka = device_ka

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None:
        if eui == self.device_eui:
            return self.device_ka if KeyUsage.parse(usage) is KeyUsage.KA else None
        return self.store.public_key(eui, usage)

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None:
        return None if eui == self.device_eui else self.store.private_key(eui, usage)


def _faults_for(case: ConformanceCase, rtds: GbcsMessage, cmd: GbcsMessage) -> dict[str, Any]:
    """Fault-injection settings reproducing an ``_ERROR`` case's failure codes, by
    position: the DLMS items, GBZ components or Read Attributes records the RTDS response
    fails (each with its code; the rest execute normally), or the ASN.1 outcome code.
    A code the device could not carry falls back to the older address/whole-message
    forms, which do not check it."""
    if not case.error_variant:
        return {}
    code = case.message_code
    plan: list[Fault] = []
    if isinstance(rtds.payload, AccessResponse) and hasattr(cmd.payload, "specs"):
        for i, res in enumerate(rtds.payload.results):
            if res.result:
                plan.append(Fault(code, res.result, item=i, times=0))
    elif isinstance(rtds.payload, Asn1Payload):
        outcome = _outcome_code(rtds.payload.nodes, code)
        if outcome:
            plan.append(Fault(code, outcome, times=0))
    elif isinstance(rtds.payload, GbzPayload) and isinstance(cmd.payload, GbzPayload):
        answers = rtds.payload.components
        positional = len(answers) == len(cmd.payload.components)
        for i, comp in enumerate(answers):
            status = getattr(comp.body, "status", None)
            records = getattr(comp.body, "records", None) if positional else None
            if isinstance(status, int) and status:
                plan.append(Fault(code, status, item=i if positional else None, times=0))
            elif isinstance(records, tuple):
                plan.extend(
                    Fault(code, r.status, item=i, record=j, times=0)
                    for j, r in enumerate(records)
                    if isinstance(getattr(r, "status", None), int) and r.status
                )
            if plan and not positional:
                break
    try:
        device_type = DeviceType(case.device_type.upper())
        return {"fault_plan": [check_fault(f, device_type) for f in plan]} if plan else {}
    except (FaultError, ValueError):
        return _legacy_faults(case, rtds, cmd)


def fault_plan_for(case: ConformanceCase) -> list[Fault] | None:
    """The positional faults that reproduce an ``_ERROR`` case's failure codes (see
    :func:`_faults_for`): empty when there is nothing to arm (no error variant, or one
    whose command itself fails on any device, e.g. GCS31's rejected sampling request);
    None when its codes can only be set as device configuration (the older address /
    whole-message forms), which a bench cannot arm through the control API."""
    try:
        faults = _faults_for(case, decode(case.response), decode(case.command))
    except GbcsDecodeError:
        return None
    if not faults:
        return []
    plan = faults.get("fault_plan")
    return None if plan is None else list(plan)


def _legacy_faults(case: ConformanceCase, rtds: GbcsMessage, cmd: GbcsMessage) -> dict[str, Any]:
    """The address (DLMS) / whole-message (GBZ, ASN.1) forms, for codes :func:`_faults_for`
    cannot arm by position."""
    if isinstance(rtds.payload, AccessResponse) and hasattr(cmd.payload, "specs"):
        faults: dict[tuple[int, bytes, int], int] = {}
        for spec, res in zip(cmd.payload.specs, rtds.payload.results, strict=False):
            if res.result:
                member = getattr(spec, "method", None)
                if member is None:
                    member = spec.attribute
                faults[(spec.class_id, spec.obis.to_bytes(), member)] = res.result
        return {"dlms_faults": faults}
    if isinstance(rtds.payload, Asn1Payload):
        code = _first_integer(rtds.payload.nodes)
        return {"code_faults": {case.message_code: code}} if code else {}
    if isinstance(rtds.payload, GbzPayload):
        for comp in rtds.payload.components:
            status = getattr(comp.body, "status", None)
            if isinstance(status, int) and status:
                return {"code_faults": {case.message_code: status}}
    return {}


def _outcome_code(nodes: Any, message_code: int) -> int | None:
    """The failure outcome of an ASN.1 response: the first INTEGER of the DER tree that
    is a failure value of that use case's outcome enumeration (a CS02b response holds
    other INTEGERs first, e.g. sequence numbers); else the first INTEGER at all."""
    outcomes = FAULT_OUTCOMES.get(message_code)
    if outcomes is not None:
        valid = {int(m) for m in outcomes} - {0}
        found = _first_integer(nodes, valid)
        if found is not None:
            return found
    return _first_integer(nodes)


def _first_integer(nodes: Any, among: set[int] | None = None) -> int | None:
    """The first INTEGER in a DER tree (of the values in ``among``, when given)."""
    for node in nodes:
        if not node.constructed and node.tag_number == 2 and node.tag_class == 0:
            value = int.from_bytes(node.value, "big", signed=True)
            if among is None or value in among:
                return value
        elif node.constructed:
            found = _first_integer(node.value, among)
            if found is not None:
                return found
    return None


def _protection(msg: GbcsMessage, keys: Any, acb: bytes) -> str:
    sig = check_signature(msg, keys)
    if sig.verdict is Verdict.VALID:
        return "signature valid"
    mac = check_mac(msg, keys, acb)
    if mac.verdict is Verdict.VALID:
        return "MAC valid"
    return f"signature {sig.verdict.value}, MAC {mac.verdict.value}"


class _PartnerMacKeys:
    """The emulated device's KA private key plus the key store's public keys: the MAC
    of a command a joined HAN device sent (partner KA ↔ device KA), from the device side."""

    def __init__(self, store: KeyStore, own: OwnKeys) -> None:
        self.store = store
        self.own = own

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None:
        return self.store.public_key(eui, usage)

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None:
        if eui == self.own.eui and KeyUsage.parse(usage) is KeyUsage.KA:
            return self.own.ka
        return None


def _fed(command: bytes, store: KeyStore, device: Device, own: OwnKeys, acb: bytes) -> bytes:
    """The command as fed: re-MAC'd for the emulated device's KA key when needed."""
    cmd = decode(command)
    if cmd.envelope is not Envelope.GENERAL_CIPHERING:
        return command
    if store.private_key(cmd.recipient, KeyUsage.KA) is not None:
        return command
    if cmd.message_code in HAN_ORIGINATED:
        return apply_mac(cmd, _PartnerMacKeys(store, own), cmd.originator).encode()
    return apply_mac(cmd, RemacKeys(store, device.eui, own.ka.public_key()), acb).encode()


def _partner_join(
    store: KeyStore,
    device: Device,
    own: OwnKeys,
    acb: bytes,
    partner: bytes,
    partner_type: HanDeviceType,
) -> bytes | None:
    """A CS03C joining ``partner`` with its KA certificate from ``store`` (None without one).

    Signed by the RTDS supplier and MAC'd for the emulated device, with counter 1: it is
    fed first, before any RTDS command of that supplier.
    """
    cert = store.certificate(partner, KeyUsage.KA)
    supplier = RTDS_PARTIES[R.SUPPLIER]
    key = store.private_key(supplier, KeyUsage.DS)
    if cert is None or key is None:
        return None
    payload = Asn1Payload.from_nodes(
        der_sequence(
            der_integer(JoinMethod.METHOD_C),
            der_octet_string(partner),
            der_integer(partner_type),
            decode_der_node(cert.public_bytes(serialization.Encoding.DER)),
        )
    )
    header = GroupingHeader(Cra.COMMAND, 1, supplier, device.eui, OtherInformation(0x00AF))
    msg = sign(build(header, payload, envelope=Envelope.GENERAL_SIGNING), key)
    return apply_mac(msg, RemacKeys(store, device.eui, own.ka.public_key()), acb).encode()


def _partners_for(case: ConformanceCase, cmd: GbcsMessage) -> list[tuple[bytes, HanDeviceType]]:
    """The HAN devices joined to the device before ``case`` (see :data:`PPMID_JOINED`)."""
    kinds = HAN_ORIGINATED.get(cmd.message_code)
    if kinds:
        return [(cmd.originator, min(kinds))]
    if case.id.rsplit("/", 1)[-1] in PPMID_JOINED:
        return [(RTDS_PPMID, HanDeviceType.PPMID)]
    return []


def run_case(
    case: ConformanceCase,
    store: KeyStore,
    own: OwnKeys,
    *,
    now: datetime = CONFORMANCE_TIME,
    prepared: Mapping[str, bytes] | None = None,
) -> CaseResult:
    """Feed one RTDS command to a fresh device and compare its response."""
    try:
        cmd = decode(case.command)
        rtds = decode(case.response)
    except GbcsDecodeError as e:
        return CaseResult(case, UNSUPPORTED, f"RTDS pair does not decode: {e}")
    options: dict[str, Any] = {}
    if case.device_type.upper() == "GSME":
        # UTRN values are not modelled: a top-up is worth what RTDS CS01b's response says
        options = {"gas_profile": 60, "top_up_value": RTDS_TOP_UP_VALUE}
    try:
        device = create_device(
            case.device_type,
            cmd.recipient,
            store,
            own=own,
            parties=RTDS_PARTIES,
            now=now - HISTORY,
            options=options,
            **_faults_for(case, rtds, cmd),
        )
    except (ValueError, GbcsSecurityError, ImportError) as e:
        return CaseResult(case, UNSUPPORTED, f"cannot build a {case.device_type}: {e}")
    device.advance(now)
    acb = RTDS_PARTIES[R.ACCESS_CONTROL_BROKER]
    for partner, partner_type in _partners_for(case, cmd):
        join = _partner_join(store, device, own, acb, partner, partner_type)
        if join is not None:
            device.receive(join, now)
    for name in PREPARATION.get(case.id.rsplit("/", 1)[-1], ()):
        prep = (prepared or {}).get(name)
        if prep is not None:
            device.receive(_fed(prep, store, device, own, acb), now)
    run = RUN_AFTER_PREPARATION.get(case.id.rsplit("/", 1)[-1])
    if run is not None:
        now += run
        device.advance(now)
    fed = _fed(case.command, store, device, own, acb)
    out = device.receive(fed, now)
    responses = [o for o in out if o.kind is OutboundKind.RESPONSE]
    if not responses:
        why = device.last_rejection
        detail = f"no response ({why.check.value}: {why.reason})" if why else "no response"
        return CaseResult(case, UNSUPPORTED, detail, fed=fed)
    frame = responses[0].frame
    ours = decode(frame)
    keys = _Keys(device, store)
    protection = _protection(ours, keys, acb)
    # every difference, not the first 20: a known-differences entry pins them all
    diffs = compare(
        ours, rtds, our_keys=keys, their_keys=store, array_lengths=False, limit=DIFF_LIMIT
    )
    faulted = case.error_variant
    if diffs:
        return CaseResult(
            case, DIFFERS, summarise(diffs), tuple(diffs), fed, frame, faulted, protection
        )
    if not protection.endswith("valid"):
        return CaseResult(case, DIFFERS, protection, (), fed, frame, faulted, protection)
    return CaseResult(case, CONFORMANT, "", (), fed, frame, faulted, protection)


def preparation_commands(cases: Iterable[ConformanceCase]) -> dict[str, bytes]:
    """The commands :data:`PREPARATION` may name, by test-case name (last id element).

    Give it every case of the data set, not only those of the device type under test.
    """
    return {c.id.rsplit("/", 1)[-1]: c.command for c in cases}


def run_cases(
    cases: Iterable[ConformanceCase],
    keys_dir: Path,
    *,
    prepared: Mapping[str, bytes] | None = None,
    save: Path | None = None,
    progress: Callable[[CaseResult], None] | None = None,
) -> ConformanceReport:
    """Run the given cases, whatever their source (``vectors.json`` or an RTDS tree).

    ``prepared`` are the commands :data:`PREPARATION` feeds first
    (:func:`preparation_commands` of the whole data set); ``save`` writes what was fed,
    the responses and the emulated devices' certificates there (``OSError`` when it
    cannot be written).
    """
    store = KeyStore(keys_dir)
    commands = dict(prepared or {})
    report = ConformanceReport()
    own_by_eui = report.own_keys
    for case in cases:
        eui = bytes.fromhex(_recipient_hex(case))
        own = own_by_eui.get(eui)
        if own is None:
            own = own_by_eui[eui] = own_keys_from(store, eui)
        try:
            result = run_case(case, store, own, prepared=commands)
        except (GbcsDecodeError, GbcsEncodeError, GbcsSecurityError, ValueError) as e:
            result = CaseResult(case, UNSUPPORTED, f"emulator error: {e}")
        report.results.append(result)
        if progress is not None:
            progress(result)
    if save is not None:
        save_report(save, report)
    return report


def run_conformance(
    vectors_path: Path,
    keys_dir: Path,
    *,
    device: str | None = None,
    save: Path | None = None,
    progress: Callable[[CaseResult], None] | None = None,
) -> ConformanceReport:
    """Run every RTDS pair (optionally of one device type); see the module docstring."""
    return run_cases(
        load_cases(vectors_path, device),
        keys_dir,
        prepared=preparation_commands(load_cases(vectors_path)),
        save=save,
        progress=progress,
    )


def _recipient_hex(case: ConformanceCase) -> str:
    try:
        return decode(case.command).recipient.hex()
    except GbcsDecodeError:
        return "0000000000000000"


def save_report(directory: Path, report: ConformanceReport) -> None:
    """Commands fed, responses produced (hex, one file per case) and device certificates.

    Raises ``OSError`` when ``directory`` cannot be written.
    """
    owns = report.own_keys.values()
    directory.mkdir(parents=True, exist_ok=True)
    cmd_dir = directory / "commands"
    rsp_dir = directory / "responses"
    key_dir = directory / "keys"
    for d in (cmd_dir, rsp_dir, key_dir):
        d.mkdir(exist_ok=True)
    for r in report.results:
        name = r.case.id.replace("/", "__") + ".hex"
        if r.fed:
            (cmd_dir / name).write_text(r.fed.hex().upper() + "\n")
        if r.response is not None:
            (rsp_dir / name).write_text(r.response.hex().upper() + "\n")
    ca = create_authorities()
    pem = serialization.Encoding.PEM
    (key_dir / "ca-device.pem").write_bytes(ca.device.certificate.public_bytes(pem))
    (key_dir / "ca-root.pem").write_bytes(ca.root.certificate.public_bytes(pem))
    for own in owns:
        issued = issue_device_keys(
            ca, own.eui, private_keys={KeyUsage.KA: own.ka, KeyUsage.DS: own.ds}
        )
        for k in issued:
            path = key_dir / f"{eui_hex(own.eui)}-{k.usage.value}.pem"
            path.write_bytes(k.certificate.public_bytes(pem))
