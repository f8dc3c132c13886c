"""The bundled examples (the README's main job) verify with the bundled example keys."""

from __future__ import annotations

from pathlib import Path

from gbcs.envelope import as_eui
from gbcs.inspect import Inspection, inspect_message
from gbcs.security import Verdict
from keys.store import KeyStore

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _inspect(name: str) -> Inspection:
    store = KeyStore(EXAMPLES / "keys")
    acb = as_eui((EXAMPLES / "acb-eui.txt").read_text().strip())
    data = bytes.fromhex((EXAMPLES / "messages" / name).read_text())
    return inspect_message(data, store, acb=acb)


def test_signed_command_verifies() -> None:
    r = _inspect("01-ecs42-command-signed.hex")
    assert r.mac.verdict is Verdict.VALID
    assert r.signature.verdict is Verdict.VALID
    assert r.use_case.name == "ECS42"


def test_device_signed_response_verifies() -> None:
    r = _inspect("02-ecs42-response-device-signed.hex")
    assert r.mac.verdict is Verdict.ABSENT
    assert r.signature.verdict is Verdict.VALID


def test_encrypted_register_decrypts() -> None:
    r = _inspect("03-ecs17b-response-encrypted.hex")
    assert r.mac.verdict is Verdict.VALID
    (part,) = r.parts
    register = part.decoded.items[0]
    assert register.items[0].value == 1_234_567
    assert register.items[2].value == 89_012


def test_example_keys_load_without_warnings() -> None:
    store = KeyStore(EXAMPLES / "keys")
    assert not store.warnings
