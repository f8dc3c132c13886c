"""RTDS command/response cases for the conformance harness.

The DCC RTDS 4.5.0 vectors (``vectors.json``, see ``tests/interop.py``) hold pairs of
messages whose ids share a prefix: ``<prefix>_COMMAND`` and ``<prefix>_RESPONSE``, e.g.
``RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND``. :func:`load_cases` turns every
pair whose two halves are complete messages (``form == "full"``) for one of the four
emulated device types into a :class:`ConformanceCase`.

Problems with the file (missing, unreadable, not JSON, a pair with unusable fields) raise
:class:`ConformanceDataError`; nothing else escapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gbcs.usecases import lookup

DEVICE_TYPES: tuple[str, ...] = ("ESME", "GSME", "GPF", "CHF")
"""The device types the harness emulates (exact ``device_type`` values in the vectors)."""

_COMMAND = "_COMMAND"
_RESPONSE = "_RESPONSE"


class ConformanceDataError(Exception):
    """The vectors cannot give conformance cases (file missing or corrupt, bad request)."""


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    """One RTDS command and the response RTDS expects to it.

    ``id`` is the shared prefix of the two vector ids; ``rtds_case`` is the RTDS case
    name (possibly a variant such as ``"ECS70Commission"``) and ``use_case`` the
    registry's name for the message code (``"ECS70"``; the RTDS case name when the code
    is not registered). ``variant`` is what follows the case name in the last path
    element (``"6.18.1_SUCCESS"``); ``error_variant`` is true when that element
    contains ``"_ERROR"``.
    """

    id: str
    rtds_case: str
    use_case: str
    device_type: str
    variant: str
    error_variant: bool
    command: bytes
    response: bytes
    message_code: int


def _read(vectors_path: Path) -> list[Any]:
    try:
        text = Path(vectors_path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConformanceDataError(f"cannot read {vectors_path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConformanceDataError(f"{vectors_path} is not UTF-8 text: {e.reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConformanceDataError(
            f"{vectors_path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    if not isinstance(data, list):
        raise ConformanceDataError(f"{vectors_path}: expected a JSON list of vectors")
    return data


def _hex(vec: Mapping[str, Any], vid: str) -> bytes:
    h = vec.get("hex")
    if not isinstance(h, str):
        raise ConformanceDataError(f"vector {vid}: no 'hex' string")
    try:
        return bytes.fromhex(h)
    except ValueError:
        raise ConformanceDataError(f"vector {vid}: 'hex' is not hexadecimal") from None


def _message_code(vec: Mapping[str, Any], vid: str) -> int:
    code = vec.get("message_code")
    if isinstance(code, str):
        try:
            value = int(code, 16)
        except ValueError:
            value = -1
        if 0 <= value <= 0xFFFF:
            return value
    raise ConformanceDataError(f"vector {vid}: bad message_code {code!r}")


def _case(prefix: str, cmd: Mapping[str, Any], rsp: Mapping[str, Any]) -> ConformanceCase:
    rtds_case = cmd.get("rtds_case")
    if not isinstance(rtds_case, str) or not rtds_case:
        raise ConformanceDataError(f"vector {prefix}{_COMMAND}: no 'rtds_case'")
    code = _message_code(cmd, prefix + _COMMAND)
    name = prefix.rsplit("/", 1)[-1]
    variant = name[len(rtds_case) + 1 :] if name.startswith(rtds_case + "_") else name
    uc = lookup(code)
    return ConformanceCase(
        id=prefix,
        rtds_case=rtds_case,
        use_case=uc.name if uc is not None else rtds_case,
        device_type=cmd["device_type"],
        variant=variant,
        error_variant="_ERROR" in name,
        command=_hex(cmd, prefix + _COMMAND),
        response=_hex(rsp, prefix + _RESPONSE),
        message_code=code,
    )


def load_cases(vectors_path: Path, device: str | None = None) -> tuple[ConformanceCase, ...]:
    """Every RTDS command/response pair of the emulated device types, sorted by id.

    Both halves must be present, complete (``form == "full"``) and of the same device
    type, one of :data:`DEVICE_TYPES`; ``device`` keeps only that type.
    """
    if device is not None and device not in DEVICE_TYPES:
        raise ConformanceDataError(
            f"unknown device type {device!r} (expected one of {', '.join(DEVICE_TYPES)})"
        )
    wanted = DEVICE_TYPES if device is None else (device,)
    by_id: dict[str, Mapping[str, Any]] = {}
    for vec in _read(vectors_path):
        if isinstance(vec, dict) and isinstance(vec.get("id"), str):
            by_id[vec["id"]] = vec
    out = []
    for vid, cmd in by_id.items():
        if not vid.endswith(_COMMAND):
            continue
        prefix = vid[: -len(_COMMAND)]
        rsp = by_id.get(prefix + _RESPONSE)
        if rsp is None or cmd.get("form") != "full" or rsp.get("form") != "full":
            continue
        dtype = cmd.get("device_type")
        if dtype not in wanted or rsp.get("device_type") != dtype:
            continue
        out.append(_case(prefix, cmd, rsp))
    out.sort(key=lambda c: c.id)
    return tuple(out)
