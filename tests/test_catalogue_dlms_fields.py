"""The DLMS arguments are real (issue 10): changing one typed argument changes the built
command exactly in the field that argument names, and nowhere else."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from emulator.headend.catalogue.dlms_args import (
    DlmsArgsError,
    build_dlms,
    explain_dlms,
    iter_leaves,
)
from gbcs.codec import decode
from gbcs.dlms import AccessRequest
from tests.interop import vectors

_STEP = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index in _STEP.findall(path):
        out.append(int(index) if index else name)
    return out


def _set(args: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    new = copy.deepcopy(args)
    node: Any = new
    steps = _steps(path)
    for s in steps[:-1]:
        node = node[s]
    last = steps[-1]
    if isinstance(node[last], dict) and "value" in node[last] and "type" in node[last]:
        node[last]["value"] = value  # the tagged form
    else:
        node[last] = value
    return new


def _changed(value: Any) -> Any | None:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if value < 100 else value - 1
    return None


def _check_one_field_at_a_time(payload: AccessRequest, code: int, counter: int) -> int:
    """Every integer/boolean leaf changed alone: returns how many were checked."""
    args = explain_dlms(payload, code, counter)
    before = {leaf.path: leaf.value for leaf in iter_leaves(args, code, counter)}
    checked = 0
    for path, value in before.items():
        new_value = _changed(value)
        if new_value is None:
            continue
        try:
            rebuilt = build_dlms(_set(args, path, new_value), code, counter)
        except DlmsArgsError:
            continue  # out of the position's range: the builder refuses, as it should
        assert rebuilt.encode() != payload.encode(), path
        after = {
            leaf.path: leaf.value
            for leaf in iter_leaves(explain_dlms(rebuilt, code, counter), code, counter)
        }
        assert after.keys() == before.keys(), path
        diff = {p for p in before if before[p] != after[p]}
        assert diff == {path}, (path, diff)
        checked += 1
    return checked


def test_a_built_command_changes_only_in_the_changed_field(tmp_path: Path) -> None:
    from tests.statekit import Fleet, schedule_set

    fleet = Fleet.create(tmp_path / "state")
    msg = decode(schedule_set(fleet.builder, fleet.esme(0), 17, 30))  # ECS37's schedule
    assert isinstance(msg.payload, AccessRequest)
    assert _check_one_field_at_a_time(msg.payload, msg.message_code, msg.counter) >= 8


@pytest.mark.interop
def test_rtds_dlms_commands_change_only_in_the_changed_field() -> None:
    checked = commands = 0
    for v in vectors():
        if v["direction"] != "command" or v["form"] == "malformed":
            continue
        msg = decode(bytes.fromhex(v["hex"]))
        if not isinstance(msg.payload, AccessRequest):
            continue
        commands += 1
        checked += _check_one_field_at_a_time(msg.payload, msg.message_code, msg.counter)
    print(f"\n{checked} integer/boolean arguments of {commands} RTDS DLMS commands")
    assert commands >= 150 and checked >= 500
