"""Which device types accept which message codes: the table against the devices.

The expected table is built here from the sources themselves, not from the registry:
``shared/reference/use-cases.json``'s target column (read through the interop
directory's sibling ``reference/``) plus ``gbcs/usecase_overrides.toml`` read as TOML.
Each (code, device type) pair is then sent to a real emulated device as a protected
frame: a listed command must get past the "message code known for my type" check; any
other pair must be refused by exactly that check, with its security-log entry.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from typing import Any

import pytest

from devices.device import Device
from devices.pipeline import HAN_ORIGINATED, allowed_roles
from devices.policy import Check
from gbcs.payload import OpaquePayload
from gbcs.usecases import (
    OverridesError,
    all_use_cases,
    lookup,
    parse_overrides,
)
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole
from tests.devkit import bench
from tests.interop import interop_candidate

EMULATED = ("ESME", "GSME", "GPF", "CHF")
ALL_FOUR = {"ESME", "GSME", "GPF", "CHF"}
ZIGBEE = {"GSME", "GPF", "PPMID", "HCALCS"}
WORDS = ("ESME", "GSME", "GPF", "CHF", "PPMID", "HCALCS")
# A DLMS access-request tag with nothing after it: decodes only as "undecoded", so an
# accepted frame stops at the content check and never changes the device.
BROKEN_CONTENT = OpaquePayload(b"\xd9")


def _use_cases_json() -> list[dict[str, Any]]:
    path = interop_candidate().parent / "reference" / "use-cases.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared reference material, beside GBCS_INTEROP_DIR)")
    return json.loads(path.read_text())


def _text_targets(text: str | None) -> set[str]:
    if not text:
        return set()
    if text.strip() == "All":
        return set(ALL_FOUR)
    if "ZigBee Device" in text:
        return set(ZIGBEE)
    return {w for w in WORDS if w in text}


def _direction(row: dict[str, Any], override: dict[str, Any] | None) -> str:
    if override is not None and "direction" in override:
        return str(override["direction"])
    mt, env = row["message_type"] or "", row["rtds_envelopes"] or ""
    if "ZSE" in mt:
        return "han"
    if "SME.A" in mt or (not mt and env.startswith("a:")):
        return "alert"
    return "command"


def _overrides_toml() -> dict[int, dict[str, Any]]:
    text = resources.files("gbcs").joinpath("usecase_overrides.toml").read_text("utf-8")
    return {r["code"]: r for r in tomllib.loads(text)["row"]}


def _expected() -> dict[int, tuple[str, set[str]]]:
    """code -> (direction, device types) from use-cases.json plus the overrides file."""
    ov = _overrides_toml()
    out: dict[int, tuple[str, set[str]]] = {}
    for row in _use_cases_json():
        code = int(row["code"], 16)
        o = ov.get(code)
        out[code] = (
            _direction(row, o),
            _text_targets(row["target"]) | set(o["targets"] if o else ()),
        )
    return out


def _originator(device: Device, code: int) -> bytes:
    """A party the device trusts and the use case allows (the Supplier when it can)."""
    uc = lookup(code)
    assert uc is not None
    allowed = allowed_roles(uc, device.device_type)
    held = [r for r in RemotePartyRole if device.anchors.eui(r) is not None]
    usable = [r for r in held if allowed is None or int(r) in allowed]
    pick = (
        RemotePartyRole.SUPPLIER
        if RemotePartyRole.SUPPLIER in usable
        else min(usable or held, key=int)
    )
    return DEFAULT_ORGANISATION_EUIS[pick]


def test_every_blank_row_of_use_cases_json_is_filled_with_a_source() -> None:
    ov = _overrides_toml()
    blank = [int(r["code"], 16) for r in _use_cases_json() if not _text_targets(r["target"])]
    assert len(blank) >= 78
    missing = [f"0x{c:04X}" for c in blank if c not in ov]
    assert not missing, f"codes without targets in use-cases.json or the overrides: {missing}"
    for code, row in ov.items():
        assert row["source"].strip() and row["basis"].strip(), f"0x{code:04X} has no source"


def test_issue_12_codes_reach_the_gsme() -> None:
    expected = _expected()
    for code in (0x012A, 0x0008, 0x000F, 0x0012):
        assert "GSME" in expected[code][1], f"0x{code:04X}"


@pytest.mark.parametrize("kind", EMULATED)
def test_devices_accept_exactly_the_listed_codes(kind: str) -> None:
    expected = _expected()
    b = bench()
    device = b.device(kind)
    wrong: list[str] = []
    for uc in all_use_cases():
        direction, targets = expected[uc.code]
        listed = direction == "command" and kind in targets
        frame = b.command(kind, uc.code, BROKEN_CONTENT, originator=_originator(device, uc.code))
        device.receive(frame, b.now)
        rej = device.last_rejection
        refused_as_unknown = rej is not None and rej.check is Check.UNKNOWN_CODE
        if listed:
            if rej is None or rej.check in (Check.UNKNOWN_CODE, Check.MALFORMED, Check.RECIPIENT):
                wrong.append(f"0x{uc.code:04X} {uc.name}: refused ({rej and rej.check.value})")
            elif uc.code in HAN_ORIGINATED:
                # Only a joined PPMID sends these (test_gsme_fidelity_2): a remote party is
                # refused at the originator check, after the code was recognised.
                if rej.check is not Check.ROLE or "joined" not in rej.reason:
                    wrong.append(f"0x{uc.code:04X} {uc.name}: {rej.check.value}: {rej.reason}")
            elif rej.check is not Check.CONTENT:
                # Authenticated as the table's roles allow: only the content may fail.
                wrong.append(f"0x{uc.code:04X} {uc.name}: {rej.check.value}: {rej.reason}")
        else:
            if not refused_as_unknown:
                wrong.append(f"0x{uc.code:04X} {uc.name}: not refused as unknown")
            else:
                last = list(device.security_log)[-1]
                if last.code != 0x8F85 or f"0x{uc.code:04X}" not in last.detail:
                    wrong.append(f"0x{uc.code:04X} {uc.name}: no 0x8F85 security-log entry")
    assert not wrong, f"{kind}: " + "; ".join(wrong)


def test_unregistered_code_is_refused_by_every_device() -> None:
    b = bench()
    for kind in EMULATED:
        device = b.device(kind)
        device.receive(b.command(kind, 0x7FFF, BROKEN_CONTENT), b.now)
        assert device.last_rejection is not None
        assert device.last_rejection.check is Check.UNKNOWN_CODE


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            {
                "row": [
                    {"code": 8, "name": "CS02a", "targets": ["XYZ"], "basis": "b", "source": "s"}
                ]
            },
            "'targets'",
        ),
        (
            {
                "row": [
                    {"code": 8, "name": "CS02a", "targets": ["ESME"], "basis": "b", "source": ""}
                ]
            },
            "'source'",
        ),
        (
            {
                "row": [
                    {
                        "code": 8,
                        "name": "x",
                        "targets": ["ESME"],
                        "basis": "b",
                        "source": "s",
                        "colour": 1,
                    }
                ]
            },
            "unknown key",
        ),
        (
            {
                "row": [{"code": 8, "name": "x", "targets": ["ESME"], "basis": "b", "source": "s"}]
                * 2
            },
            "listed twice",
        ),
        ({"rows": []}, "[[row]]"),
    ],
)
def test_bad_overrides_name_the_row_and_key(doc: dict[str, Any], fragment: str) -> None:
    with pytest.raises(OverridesError) as e:
        parse_overrides(doc, "o.toml")
    assert "o.toml" in str(e.value) and fragment in str(e.value)
