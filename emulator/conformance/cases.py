"""RTDS command/response cases for the conformance harness.

The DCC RTDS 4.5.0 vectors (``vectors.json``, see ``tests/interop.py``) hold pairs of
messages whose ids share a prefix: ``<prefix>_COMMAND`` and ``<prefix>_RESPONSE``, e.g.
``RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND``. :func:`load_cases` turns every
pair whose two halves are complete messages (``form == "full"``) for one of the four
emulated device types into a :class:`ConformanceCase`.

Problems with the file (missing, unreadable, not JSON, a pair with unusable fields) raise
:class:`ConformanceDataError`; nothing else escapes.

:func:`load_rtds_tree` reads the RTDS as DCC distributes it instead: a folder per use
case (``6.18.1_ECS37``) holding one hex file per message, named by test case and
direction (``ECS37_6.18.1_SUCCESS_COMMAND_GBCS.HEX``, ``..._RESPONSE_GBCS.HEX``,
``..._PRECOMMAND_GBCS.HEX``, ``..._ALERT_GBCS.HEX``). A ``_COMMAND`` and a ``_RESPONSE``
file with the same test-case name in the same folder make a case; the device type comes
from the command's recipient, one of the RTDS test devices (:data:`RTDS_DEVICES`). Case
ids are ``<tree folder name>/<use-case folder>/<test case>``, the ids ``vectors.json``
uses when the tree's folder is named ``RTDS-4.5.0``. A file that cannot be read is
reported by name in :attr:`RtdsTree.problems`, and the rest of the tree is still read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gbcs.envelope import decode_envelope
from gbcs.errors import GbcsDecodeError
from gbcs.usecases import lookup

DEVICE_TYPES: tuple[str, ...] = ("ESME", "GSME", "GPF", "CHF")
"""The device types the harness emulates (exact ``device_type`` values in the vectors)."""

_COMMAND = "_COMMAND"
_RESPONSE = "_RESPONSE"

RTDS_DEVICES: dict[bytes, str] = {
    bytes.fromhex("00DB1234567890A0"): "ESME",
    bytes.fromhex("00DB1234567890A1"): "GSME",
    bytes.fromhex("00DB1234567890A2"): "CHF",
    bytes.fromhex("00DB1234567890A3"): "GPF",
    bytes.fromhex("00DB1234567890A4"): "PPMID",
    bytes.fromhex("00DB1234567890A5"): "HCALCS",
}
"""The RTDS test devices by EUI: a tree's command goes to the device its recipient names.

``00DB1234567890A6``, the second ESME some load-controller cases use, is left out as
``vectors.json`` leaves it out of the ESME cases: its commands need keys RTDS does not
publish.
"""

_HEX_SUFFIX = "_GBCS.HEX"
_MAX_HEX_FILE = 1 << 20  # far above any GBCS message in hex; refuses stray big files
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")


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


@dataclass(frozen=True, slots=True)
class RtdsTree:
    """The cases read from an RTDS folder tree, and the files that could not be read."""

    cases: tuple[ConformanceCase, ...]
    #: ``"<path>: <why>"`` for every ``*_GBCS.HEX`` file that could not be used.
    problems: tuple[str, ...]
    #: How many ``*_GBCS.HEX`` files were found.
    files: int


def read_hex_file(path: Path) -> bytes:
    """The bytes of a hex text file: any case, any whitespace or line breaks.

    Raises :class:`ConformanceDataError` naming the file and what is wrong.
    """
    try:
        size = path.stat().st_size
        if size > _MAX_HEX_FILE:
            raise ConformanceDataError(f"{path}: {size} bytes, too large for a GBCS message")
        raw = path.read_bytes()
    except OSError as e:
        raise ConformanceDataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConformanceDataError(f"{path}: not hex text (binary content)") from None
    digits = "".join(text.split())
    bad = _NOT_HEX.search(digits)
    if bad is not None:
        raise ConformanceDataError(
            f"{path}: not hexadecimal: {bad.group()!r} at digit {bad.start() + 1}"
            " (allowed: 0-9, A-F, a-f and whitespace)"
        )
    if not digits:
        raise ConformanceDataError(f"{path}: empty file")
    if len(digits) % 2:
        raise ConformanceDataError(f"{path}: odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits)


def _tree_case(
    root_name: str, rel_dir: str, name: str, command: bytes, response: bytes, cmd_path: Path
) -> ConformanceCase | None:
    """The case of one command/response pair; None when it is not for a device we know."""
    try:
        header = decode_envelope(command).header
    except GbcsDecodeError as e:
        raise ConformanceDataError(f"{cmd_path}: not a GBCS message: {e}") from None
    device_type = RTDS_DEVICES.get(header.recipient)
    if device_type is None:
        return None
    rtds_case = name.split("_", 1)[0]
    uc = lookup(header.message_code)
    return ConformanceCase(
        id="/".join(p for p in (root_name, rel_dir, name) if p),
        rtds_case=rtds_case,
        use_case=uc.name if uc is not None else rtds_case,
        device_type=device_type,
        variant=name[len(rtds_case) + 1 :] if "_" in name else name,
        error_variant="_ERROR" in name,
        command=command,
        response=response,
        message_code=header.message_code,
    )


def load_rtds_tree(root: Path, device: str | None = None) -> RtdsTree:
    """Every command/response pair of an RTDS folder tree (see the module docstring).

    ``device`` keeps only that type (one of :data:`DEVICE_TYPES`). Raises
    :class:`ConformanceDataError` only when ``root`` is not a readable directory or
    ``device`` is unknown; unreadable files are listed in :attr:`RtdsTree.problems`.
    """
    if device is not None and device not in DEVICE_TYPES:
        raise ConformanceDataError(
            f"unknown device type {device!r} (expected one of {', '.join(DEVICE_TYPES)})"
        )
    root = Path(root)
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise ConformanceDataError(f"RTDS tree {root} {what}")
    try:
        paths = sorted(
            p for p in root.rglob("*") if p.name.upper().endswith(_HEX_SUFFIX) and p.is_file()
        )
    except OSError as e:
        raise ConformanceDataError(f"cannot list {root}: {e.strerror or e}") from None
    wanted = DEVICE_TYPES if device is None else (device,)
    problems: list[str] = []
    # (folder, test case) -> {"COMMAND": (path, bytes), "RESPONSE": ...}
    pairs: dict[tuple[str, str], dict[str, tuple[Path, bytes]]] = {}
    for path in paths:
        stem = path.name[: -len(_HEX_SUFFIX)]
        for direction in (_COMMAND, _RESPONSE):
            if stem.upper().endswith(direction):  # not _PRECOMMAND: that ends "ECOMMAND"
                break
        else:
            continue  # pre-commands and alerts are not conformance pairs
        try:
            data = read_hex_file(path)
        except ConformanceDataError as e:
            problems.append(str(e))
            continue
        rel_dir = path.parent.relative_to(root).as_posix()
        key = (rel_dir if rel_dir != "." else "", stem[: -len(direction)])
        pairs.setdefault(key, {})[direction] = (path, data)
    root_name = root.resolve().name
    out = []
    for (rel_dir, name), halves in pairs.items():
        if _COMMAND not in halves or _RESPONSE not in halves:
            continue
        cmd_path, command = halves[_COMMAND]
        try:
            case = _tree_case(root_name, rel_dir, name, command, halves[_RESPONSE][1], cmd_path)
        except ConformanceDataError as e:
            problems.append(str(e))
            continue
        if case is not None and case.device_type in wanted:
            out.append(case)
    out.sort(key=lambda c: c.id)
    return RtdsTree(tuple(out), tuple(problems), len(paths))
