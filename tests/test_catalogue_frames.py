"""``usecase explain`` then ``usecase build`` reproduces RTDS commands (issue 10).

* pre-commands and unsigned commands: byte-identical (the ACB MAC too, with the public
  test keys);
* signed commands: identical up to the signature (and so the MAC over it); ours verifies.
  The RTDS originators' DS private keys are not public, so each is stood in for by a
  key made here, whose public half verifies.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.headend.catalogue.frames import FrameArgsError, build_frame, explain_frame
from gbcs.codec import decode
from gbcs.envelope import SignatureForm
from gbcs.security import Verdict, check_mac, check_signature
from keys.roles import KeyUsage
from keys.store import KeyStore, build_entry
from tests.interop import require_interop, vectors
from tests.statekit import ROOT


def _commands() -> list[dict[str, Any]]:
    return [v for v in vectors() if v["direction"] == "command" and v["form"] != "malformed"]


@functools.cache
def _keys() -> KeyStore:
    store = KeyStore(require_interop() / "keys")
    for v in _commands():
        originator = bytes.fromhex(v["expected"]["originator"])
        if v["signed"] and store.private_key(originator, KeyUsage.DS) is None:
            key = ec.generate_private_key(ec.SECP256R1())
            store.add_entry(build_entry(originator, KeyUsage.DS, private_key=key))
    return store


def _named(v: dict[str, Any]) -> dict[str, Any] | None:
    """The explanation with the named arguments instead of the structural ones, when the
    command has its use case's described shape."""
    from emulator.cli.usecase_cmd import _with_named

    obj = _with_named(explain_frame(bytes.fromhex(v["hex"]), v["id"]))
    if "named" not in obj:
        return None
    return json.loads(json.dumps({k: x for k, x in obj.items() if k != "args"}))


def _outcome(v: dict[str, Any], named: bool = False) -> str:
    data = bytes.fromhex(v["hex"])
    if named:
        obj = _named(v)
        assert obj is not None
    else:
        obj = json.loads(json.dumps(explain_frame(data, v["id"])))  # through JSON text
    acb = bytes.fromhex(v.get("acb") or "90B3D51F30000002")
    if v["form"] == "pre-command":
        return "identical" if build_frame(obj) == data else "different"
    rebuilt = build_frame(obj, _keys(), acb=acb)
    if rebuilt == data:
        return "identical"
    ours, theirs = decode(rebuilt), decode(data)
    if v["expected"].get("mac") not in (None, "valid", "absent (general-signing only)"):
        # the vector's own MAC does not verify with the public keys (PCS01/02 are MAC'd
        # by a PPMID): equal up to the MAC, which is ours and verifies
        same = dataclasses.replace(ours, mac=theirs.mac, raw=None)
        ok = same.encode() == data and check_mac(ours, _keys(), acb).verdict is Verdict.VALID
        return "up to the MAC (no public key for the vector's)" if ok else "different"
    if theirs.signature_form is not SignatureForm.PRESENT:
        return "different"
    same = dataclasses.replace(ours, signature=theirs.signature, mac=theirs.mac, raw=None)
    if same.encode() != data:
        return "different"
    if check_signature(ours, _keys()).verdict is not Verdict.VALID:
        return "signature does not verify"
    if ours.mac is not None and check_mac(ours, _keys(), acb).verdict is not Verdict.VALID:
        return "MAC does not verify"
    return "up to the signature"


@pytest.mark.interop
def test_every_rtds_command_is_reproduced_from_its_explanation() -> None:
    outcomes: dict[str, list[str]] = {}
    for v in _commands():
        try:
            result = _outcome(v)
        except (FrameArgsError, ValueError) as e:
            result = f"error: {e}"
        outcomes.setdefault(result, []).append(v["id"])
    counts = {k: len(ids) for k, ids in outcomes.items()}
    print(f"\nRTDS commands: {counts}")
    good = ("identical", "up to the signature", "up to the MAC (no public key for the vector's)")
    bad = {k: ids[:3] for k, ids in outcomes.items() if k not in good}
    assert not bad, bad
    assert counts.get("identical", 0) >= 230 and counts.get("up to the signature", 0) >= 70


@pytest.mark.interop
def test_rtds_commands_rebuild_from_their_named_arguments_alone() -> None:
    """Explain to named arguments, build from those (no structural args): the same
    frame (up to the signature), for every RTDS command of a described use case."""
    outcomes: dict[str, list[str]] = {}
    named = 0
    for v in _commands():
        if _named(v) is None:
            continue
        named += 1
        try:
            result = _outcome(v, named=True)
        except (FrameArgsError, ValueError) as e:
            result = f"error: {e}"
        outcomes.setdefault(result, []).append(v["id"])
    counts = {k: len(ids) for k, ids in outcomes.items()}
    print(f"\nRTDS commands built from named arguments: {named}: {counts}")
    good = ("identical", "up to the signature", "up to the MAC (no public key for the vector's)")
    bad = {k: ids[:3] for k, ids in outcomes.items() if k not in good}
    assert not bad, bad
    assert named == len([v for v in _commands()])  # every one


@pytest.mark.interop
def test_cli_explain_then_build_in_batch(tmp_path: Any) -> None:
    sample = [v for v in _commands() if v["form"] == "pre-command"][:20]
    log = tmp_path / "log.txt"
    log.write_text("".join(f"{v['id']}\t{v['hex']}\n" for v in sample))
    env = {"PATH": "/usr/bin:/bin"}
    explained = subprocess.run(
        [sys.executable, "-m", "emulator", "usecase", "explain", "--batch", "--file", str(log)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    (tmp_path / "args.jsonl").write_text(explained.stdout)
    built = subprocess.run(
        [sys.executable, "-m", "emulator", "usecase", "build", "--batch", "--file",
         str(tmp_path / "args.jsonl")],
        capture_output=True, text=True, cwd=ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    lines = dict(line.split("\t") for line in built.stdout.splitlines())
    assert lines == {v["id"]: v["hex"].upper() for v in sample}


def test_explain_refuses_what_is_not_a_command() -> None:
    from emulator.headend.catalogue.frames import explain_frame as explain

    response = bytes.fromhex((ROOT / "examples/messages/02-ecs42-response-device-signed.hex")
                             .read_text().strip())  # fmt: skip
    with pytest.raises(FrameArgsError, match="a response, not a command"):
        explain(response)


def test_build_from_named_arguments_and_explain_them_back(tmp_path: Any) -> None:
    header = {"originator": "90B3D51F30010000", "recipient": "00DB1234567890A0", "counter": 7}
    objs = [
        {"id": "a", "use_case": "ECS38", "named": {"limit": 900}, "header": header},
        {"id": "b", "use_case": "ECS38", "named": {"limit": 70000}, "header": header},
        {"id": "c", "use_case": "ECS38", "named": [1], "header": header},
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(o) + "\n" for o in objs))
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "usecase", "build", "--batch", "--file", str(f)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    lines = dict(line.split("\t", 1) for line in out.stdout.splitlines())
    assert lines["b"].startswith("error: named: ECS38 limit: 70000 is out of range")
    assert lines["c"] == "error: named: expected an object"
    explained = explain_frame(bytes.fromhex(lines["a"]))
    assert explained["use_case"] == "ECS38" and explained["header"]["counter"] == 7
    assert explained["args"]["items"][0]["value"] == 900
    from emulator.cli.usecase_cmd import _with_named

    assert _with_named(explained)["named"] == {"limit": 900}
