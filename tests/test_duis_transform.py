"""DUIS request -> GBCS (emulator.duis.transform): the RTDS pairs, the header rules, the
refusals, and no run-time reads of the shared material."""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis import model, routing, tables, transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from emulator.duis.transform import Refusal, Transformed
from gbcs.codec import decode
from gbcs.envelope import Envelope, SignatureForm
from gbcs.security import DEFAULT_ACB, Verdict, check_mac
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import duiskit, interop

SOURCE = Path(transform.__file__)
USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Templates of routed SRVs that are not transformed, and why (see transform.NOT_YET);
# each route group's tests (tests/test_duis_routes_*.py) add theirs as RTDS_EXCEPTIONS.
_EXCEPTIONS = {
    "CS08_11.2_SUCCESS_REQUEST_DUIS.XML": "'PPMID' is not emulated",
}


def _from_groups(name: str, base: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for path in sorted(Path(__file__).parent.glob("test_duis_routes_*.py")):
        module = importlib.import_module(f"tests.{path.stem}")
        out.update(getattr(module, name, {}))
    return out


EXCEPTIONS: dict[str, str] = _from_groups("RTDS_EXCEPTIONS", _EXCEPTIONS)
# DCC inputs of a template's RTDS GBCS, where the DCC writes a value no request carries:
# the DCC's own counter (GBCS it originates) and the time the DCC built it (a ZCL Issuer
# Event ID is the DCC's UTC time). Each group's tests name theirs, with why.
RTDS_DCC_COUNTER: dict[str, int] = _from_groups("RTDS_DCC_COUNTER", {})
# Templates transformed by the rules into GBCS that differs from their RTDS partner (or,
# unpaired, from the use case their name gives), each with why: RTDS 4.9.1 templates
# beside RTDS 4.5.0 GBCS carry different values, or RTDS does what no rule says.
RTDS_DIFFERENT: dict[str, str] = _from_groups("RTDS_DIFFERENT", {})
RTDS_NOW: dict[str, datetime] = _from_groups("RTDS_NOW", {})
# What the DCC knows of the target and the user besides the request (its inventory's ESME
# variant, its registry's user role), where a template's GBCS depends on it.
RTDS_FACTS: dict[str, dict[str, str]] = _from_groups("RTDS_FACTS", {})


# --- the shared material, read at test time only ------------------------------------


def _pairs() -> list[dict[str, Any]]:
    d = duiskit.duis_dir()
    if d is None:
        return []
    rows = [json.loads(line) for line in (d / "pairs.jsonl").read_text().splitlines() if line]
    routed = set(transform.ROUTES)
    return [r for r in rows if r["srv"] in routed]


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["template"] for r in rows]


PAIRS = _pairs()
PAIRED = [r for r in PAIRS if r["gbcs_vector"]]
UNPAIRED = [r for r in PAIRS if not r["gbcs_vector"]]


def _template(row: dict[str, Any]) -> Request:
    data = (duiskit.require_duis() / "templates" / row["template"]).read_bytes()
    message = model.parse(data)
    assert isinstance(message, Request)
    return message


def _device_type(row: dict[str, Any]) -> str:
    """The target's type: the RTDS vector's, else the template name's (as RTDS names
    them: ECS* an ESME, GCS* a GSME unless the name says GPF, CS08 a PPMID)."""
    if row["gbcs_vector"]:
        return str(interop.by_id(row["gbcs_vector"])["device_type"]).split()[0]
    name = row["template"]
    if name.startswith("CS08"):
        return "PPMID"
    if name.startswith("ECS"):
        return "ESME"
    if name.startswith(("CS02", "CS06")):
        return "ESME"  # these RTDS templates target the RTDS ESME (00-DB-12-34-56-78-90-A0)
    return "GPF" if "_GPF_" in name else "GSME"


@functools.cache
def _interop_keys() -> KeyStore:
    store = KeyStore()
    store.load_directory(interop.keys_dir())
    return store


def _rtds_keys() -> KeyStore:
    interop.require_interop()
    return _interop_keys()


# --- the RTDS pairs -------------------------------------------------------------------


@pytest.mark.parametrize("row", PAIRED, ids=_ids(PAIRED))
def test_paired_template_becomes_the_rtds_gbcs(row: dict[str, Any]) -> None:
    result = transform.transform(
        _template(row),
        target_type=_device_type(row),
        keys=_rtds_keys(),
        now=RTDS_NOW.get(row["template"], NOW),
        dcc_counter=RTDS_DCC_COUNTER.get(row["template"]),
        **RTDS_FACTS.get(row["template"], {}),
    )
    if row["template"] in EXCEPTIONS:
        assert isinstance(result, Refusal)
        assert EXCEPTIONS[row["template"]] in result.reason
        return
    assert isinstance(result, Transformed), result
    vectors = row["gbcs_vectors"]
    command = bytes.fromhex(interop.by_id(vectors["command"])["hex"])
    if row["template"] in RTDS_DIFFERENT:  # listed with why; an entry must stay true
        rtds = vectors["precommand"] if result.pre_command else vectors["command"]
        assert result.gbcs != bytes.fromhex(interop.by_id(rtds)["hex"]), "stale entry"
        assert result.message_code == int(row["gbcs_vector_check"]["message_code"], 16)
        return
    expected = interop.by_id(vectors["command"])["expected"]
    ours, theirs = interop.content_slice(result.gbcs), interop.content_slice(command)
    # header, message code and payload, found without the codec under test
    assert (ours.message_code, ours.cra, ours.counter) == (
        theirs.message_code,
        theirs.cra,
        theirs.counter,
    )
    assert result.gbcs[ours.start : ours.end] == command[theirs.start : theirs.end]
    assert ours.message_code == int(row["gbcs_vector_check"]["message_code"], 16)
    assert result.use_case == row["gbcs_use_case"]
    msg = decode(result.gbcs)
    assert msg.originator.hex().upper() == expected["originator"]
    assert msg.recipient.hex().upper() == expected["recipient"]
    counter = RTDS_DCC_COUNTER.get(row["template"], row["request_id"]["counter"])
    assert msg.counter == counter == int(expected["originator_counter"])
    if row["critical"]:
        # the pre-command: General-Signing, no signature field, byte for byte RTDS's
        assert result.pre_command
        assert msg.envelope is Envelope.GENERAL_SIGNING
        assert msg.signature_form is SignatureForm.ABSENT
        assert result.gbcs == bytes.fromhex(interop.by_id(vectors["precommand"])["hex"])
    else:
        # the same ACB and device keys as RTDS: the MAC, hence the whole frame, is RTDS's
        assert not result.pre_command
        assert check_mac(msg, _rtds_keys(), DEFAULT_ACB).verdict is Verdict.VALID
        assert result.gbcs == command


@pytest.mark.parametrize("row", UNPAIRED, ids=_ids(UNPAIRED))
def test_unpaired_template_follows_the_rules(row: dict[str, Any]) -> None:
    request = _template(row)
    result = transform.transform(
        request,
        target_type=_device_type(row),
        keys=_rtds_keys(),
        now=RTDS_NOW.get(row["template"], NOW),
        dcc_counter=RTDS_DCC_COUNTER.get(row["template"]),
        **RTDS_FACTS.get(row["template"], {}),
    )
    if row["template"] in EXCEPTIONS:
        assert isinstance(result, Refusal)
        assert EXCEPTIONS[row["template"]] in result.reason
        return
    assert isinstance(result, Transformed), result
    if row["template"] in RTDS_DIFFERENT:
        assert result.use_case != row["gbcs_use_case"], "stale entry"
        return
    rid = request.header.request_id
    msg = decode(result.gbcs)
    if result.originated_by == routing.USER:
        assert (msg.originator, msg.recipient, msg.counter) == (
            rid.originator_eui,
            rid.target_eui,
            rid.counter,
        )
    else:  # the DCC's own originator EUI and counter
        assert msg.recipient == rid.target_eui and msg.originator != rid.originator_eui
        assert msg.counter == RTDS_DCC_COUNTER[row["template"]]
    assert result.use_case == row["gbcs_use_case"]
    if result.pre_command:  # critical: the bare General-Signing APDU, to be signed
        assert row["critical"] and msg.envelope is Envelope.GENERAL_SIGNING
        assert msg.signature_form is SignatureForm.ABSENT
    else:
        assert check_mac(msg, _rtds_keys(), DEFAULT_ACB).verdict is Verdict.VALID
    when = request.body.element().findtext(f"{{{SR_NS}}}ExecutionDateTime")
    srv = tables.srv(row["srv"])
    assert srv is not None
    if when is not None and srv.future_dated == "DSP":  # the DCC holds it until then
        assert result.send_at == datetime.fromisoformat(when.replace("Z", "+00:00"))
    else:
        assert result.send_at is None


def test_every_routed_pair_is_covered_or_listed() -> None:
    if not PAIRS:
        duiskit.require_duis()
    seen = {r["template"] for r in PAIRS}
    assert set(EXCEPTIONS) <= seen
    assert set(RTDS_DIFFERENT) <= seen and not set(RTDS_DIFFERENT) & set(EXCEPTIONS)
    # 39 templates of 29 SRV variants equal their RTDS GBCS (6 of them critical)
    transformed = [r for r in PAIRED if r["template"] not in EXCEPTIONS]
    assert len(transformed) >= 39
    assert len({r["srv"] for r in transformed}) >= 29


# --- without the shared data: fresh keys, requests built in code ----------------------


def _body(name: str, inner: str = "") -> Body:
    return Body(name, f'<sr:{name} xmlns:sr="{SR_NS}">{inner}</sr:{name}>'.encode())


def _request(
    variant: str,
    body: Body,
    *,
    cv: int = 1,
    target: str = ESME,
    counter: int = 4242,
    reference: str | None = None,
) -> Request:
    ref = reference if reference is not None else ".".join(variant.split(".")[:2])
    rid = RequestId.parse(f"{USER}:{target}:{counter}")
    return Request(RequestHeader(rid, cv, ref, variant), body)


def _fresh_keys(device: str = ESME) -> KeyStore:
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(device.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    return store


READ = _body("ReadInstantaneousImportRegisters")
FIRMWARE = _body("ReadFirmwareVersion")
DISABLE = _body("DisableSupply")


@pytest.mark.parametrize(
    ("variant", "body", "device", "use_case", "code"),
    [
        ("4.1.1", READ, "ESME", "ECS17b", 0x0027),
        ("4.1.1", READ, "gsme", "GCS13a", 0x0074),
        ("4.1.1", READ, "GPF", "GCS13a", 0x0074),
        ("11.2", FIRMWARE, "ESME", "ECS52", 0x0059),
        ("11.2", FIRMWARE, "GSME", "GCS38", 0x0084),
        ("11.2", FIRMWARE, "GPF", "GCS38", 0x0084),
    ],
)
def test_non_critical_request_is_a_command_macd_with_the_keys_given(
    variant: str, body: Body, device: str, use_case: str, code: int
) -> None:
    keys = _fresh_keys()
    result = transform.transform(_request(variant, body), target_type=device, keys=keys, now=NOW)
    assert isinstance(result, Transformed), result
    assert (result.use_case, result.message_code, result.pre_command) == (use_case, code, False)
    assert result.device_type == device.upper()
    msg = decode(result.gbcs)
    assert msg.message_code == code
    assert (msg.originator.hex(), msg.recipient.hex(), msg.counter) == (
        "90b3d51f30010000",
        "00db1234567890a0",
        4242,
    )
    assert msg.envelope is Envelope.GENERAL_CIPHERING
    assert msg.signature_form is SignatureForm.NULL
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID
    assert check_mac(msg, _fresh_keys(), DEFAULT_ACB).verdict is Verdict.INVALID
    assert use_case in result.summary() and "command (ACB MAC)" in result.summary()


def test_critical_request_is_the_unsigned_pre_command_and_needs_no_keys() -> None:
    result = transform.transform(
        _request("7.2", DISABLE, cv=4, counter=77), target_type="ESME", keys=KeyStore(), now=NOW
    )
    assert isinstance(result, Transformed), result
    assert result.pre_command and result.use_case == "ECS43"
    assert result.gbcs[0] == 0xDF  # the bare General-Signing APDU the user signs
    msg = decode(result.gbcs)
    assert (msg.message_code, msg.counter) == (0x0050, 77)
    assert msg.signature_form is SignatureForm.ABSENT
    assert "pre-command" in result.summary()


def test_the_counter_follows_the_request_id() -> None:
    keys = _fresh_keys()
    a, b = (
        transform.transform(_request("4.1.1", READ, counter=c), target_type="ESME", keys=keys)
        for c in (1000, 1001)
    )
    assert isinstance(a, Transformed) and isinstance(b, Transformed)
    assert (decode(a.gbcs).counter, decode(b.gbcs).counter) == (1000, 1001)
    assert a.gbcs != b.gbcs


@pytest.mark.parametrize(
    ("request_", "device", "code", "words"),
    [
        (_request("7.2", DISABLE, cv=1), "ESME", "E12", "critical: command variant 1 must be 4"),
        (_request("4.1.1", READ, cv=4), "ESME", "E12", "non-critical: command variant 4"),
        (_request("4.1.1", READ, cv=8), "ESME", "E12", "command variant 8"),
        (_request("7.2", DISABLE, cv=5), "ESME", None, "needs a SignedPreCommand body"),
        (_request("4.1.1", READ), None, None, "device type is needed"),
        (_request("4.1.1", READ), "PPMID", None, "'PPMID' is not emulated"),
        (_request("4.1.1", READ), "TOASTER", None, "'TOASTER' is not emulated"),
        (_request("7.2", DISABLE, cv=4), "GPF", "E11", "does not apply to a GPF"),
        (_request("7.2", _body("DisableSupply",
                               "<sr:ExecutionDateTime>2026-01-01T00:00:00Z</sr:ExecutionDateTime>"),
                  cv=4), "GSME", None, "SRV 7.2 cannot be future-dated"),
        (_request("11.2", FIRMWARE), "CHF", None, "originated by the DCC"),
        (_request("4.1.1", READ), "CHF", "E11", "does not apply to a CHF"),
        (_request("6.2.2", _body("ReadDeviceConfigurationRandomisation",
                               "<sr:ExecutionDateTime>2026-01-01T00:00:00Z</sr:ExecutionDateTime>")),
         "ESME", None, "SRV 6.2.2 cannot be future-dated"),
        (_request("4.2", _body("ReadInstantaneousExportRegisters", "x")), "ESME", None,
         "ReadInstantaneousExportRegisters: expected no text"),
        (_request("4.2", _body("ReadInstantaneousExportRegisters", "<sr:Extra/>")), "ESME", None,
         "ReadInstantaneousExportRegisters: unexpected Extra"),
        (_request("4.2", _body("ReadInstantaneousExportRegisters",
                               "<sr:ExecutionDateTime>tomorrow</sr:ExecutionDateTime>")),
         "ESME", None, "ReadInstantaneousExportRegisters/ExecutionDateTime: "),
        (_request("4.2", READ), "ESME", None, "needs a ReadInstantaneousExportRegisters body"),
        (_request("11.2", READ), "ESME", None, "needs a ReadFirmwareVersion body"),
        (_request("12.2", _body("DevicePrenotification"), cv=8), "ESME", "E13", "non-device"),
        (_request("9.9.9", READ), "ESME", None, "unknown ServiceReferenceVariant"),
        (_request("11.2", FIRMWARE, reference="4.1"), "ESME", None, "does not match"),
    ],
)  # fmt: skip
def test_refusals_name_what_is_missing(
    request_: Request, device: str | None, code: str | None, words: str
) -> None:
    result = transform.transform(request_, target_type=device, keys=_fresh_keys(), now=NOW)
    assert isinstance(result, Refusal), result
    assert not result.ok
    assert result.response_code == code
    assert words in result.reason
    assert result.line() == (f"{code} {result.reason}" if code else result.reason)
    assert "\n" not in result.line()


def test_a_command_without_the_mac_keys_is_refused_naming_them() -> None:
    result = transform.transform(_request("4.1.1", READ), target_type="ESME", keys=KeyStore())
    assert isinstance(result, Refusal)
    assert "cannot MAC" in result.reason and result.response_code is None


def test_another_acb_macs_with_its_own_key() -> None:
    acb = bytes.fromhex("90B3D51F30000099")
    keys = _fresh_keys()
    keys.add(acb, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    result = transform.transform(_request("11.2", FIRMWARE), target_type="ESME", keys=keys, acb=acb)
    assert isinstance(result, Transformed), result
    msg = decode(result.gbcs)
    assert check_mac(msg, keys, acb).verdict is Verdict.VALID
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.INVALID


def test_routes_follow_the_srv_table_and_the_gbcs_registry() -> None:
    # every route is a device SRV of the table, for device types it targets, and not
    # also listed as not transformed; what each builds is checked where it is built
    assert transform.ROUTES
    for variant, route in transform.ROUTES.items():
        srv = tables.srv(variant)
        assert srv is not None and not srv.non_device and route.variant == variant
        assert route.planners
        for device in route.planners:
            assert device in srv.device_types and device in transform.EMULATED_DEVICE_TYPES
            assert (variant, device) not in transform.NOT_YET


def test_a_dsp_future_dated_request_is_held_until_its_execution_time() -> None:
    later = "<sr:ExecutionDateTime>2026-03-01T10:30:00Z</sr:ExecutionDateTime>"
    body = _body("ReadInstantaneousExportRegisters", later)
    held = transform.transform(
        _request("4.2", body), target_type="ESME", keys=_fresh_keys(), now=NOW
    )
    assert isinstance(held, Transformed), held
    assert held.send_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert "held until 2026-03-01T10:30:00+00:00" in held.summary()
    now = transform.transform(
        _request("4.2", _body("ReadInstantaneousExportRegisters")),
        target_type="ESME",
        keys=_fresh_keys(),
        now=NOW,
    )
    assert isinstance(now, Transformed) and now.send_at is None
    # the GBCS is the same: the DSP holds it, the device never sees the time
    assert decode(held.gbcs).payload == decode(now.gbcs).payload
    past = transform.transform(
        _request("4.2", body),
        target_type="ESME",
        keys=_fresh_keys(),
        now=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert isinstance(past, Transformed)  # a time already past: sent at once
    assert past.send_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


# --- nothing read from shared/ at run time ------------------------------------------


def test_transform_imports_nothing_that_reads_files() -> None:
    tree = ast.parse(SOURCE.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    allowed = {"__future__", "collections", "dataclasses", "datetime", "emulator", "gbcs", "keys"}
    assert roots <= allowed
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"open", "Path", "os", "tests"}
    assert "shared" not in SOURCE.read_text().replace("shared/", "")


def test_transform_opens_no_file_under_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = str(duiskit.duis_candidate().parent.resolve())
    real_open = builtins.open
    opened: list[str] = []

    def watch(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watch)
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: watch(self).read())
    monkeypatch.setattr(Path, "read_bytes", lambda self: watch(self, "rb").read())
    for variant, route in transform.ROUTES.items():
        srv = tables.srv(variant)
        assert srv is not None
        if route.parse is not routing.empty_body:
            continue  # a body with fields: built in its own tests
        for device in route.planners:
            result = transform.transform(
                _request(variant, _body(route.body), cv=4 if srv.critical else 1),
                target_type=device,
                keys=_fresh_keys(),
                now=NOW,
                dcc_counter=1,  # for what the DCC originates
                esme_variant="A",  # and what it knows of the meter and user
                user_role="IS",
                cin="1234",
            )
            assert isinstance(result, Transformed), result
    assert not [f for f in opened if str(Path(f).resolve()).startswith(shared)]


def test_results_are_frozen() -> None:
    result = transform.transform(_request("11.2", FIRMWARE), target_type="ESME", keys=_fresh_keys())
    assert isinstance(result, Transformed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.gbcs = b""  # type: ignore[misc]
