"""Whole RTDS messages rebuilt from typed values — not copied bytes — including the MAC.

* The RTDS ECS37 command, from originator, recipient, counter and the two schedule
  entries, MAC'd with the ACB KA private key.
* The RTDS ECS17b single-success response with its encrypted register part, from the
  register values and the ESME KA private key (public in shared/interop/keys).

Each key store holds only the keys the real party would have, so the test proves which
key material produces the bytes.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gbcs.axdr import Data, encode_data
from gbcs.codec import build, decode
from gbcs.cosem_time import DlmsDateTime, DlmsTime
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    Obis,
    ProtectionParameters,
    SetSpec,
    invoke_id_for_counter,
    protected_get_result,
)
from gbcs.envelope import Cra, GroupingHeader, OtherInformation
from gbcs.security import (
    Verdict,
    apply_mac,
    check_mac,
    decrypt_parts,
    part_key_for,
    seal_part,
)
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import interop
from tests.test_dlms import _md_entry

pytestmark = pytest.mark.interop

ACB = bytes.fromhex("90B3D51F30000002")
NETWORK_OPERATOR = bytes.fromhex("90B3D51F30020000")
SUPPLIER = bytes.fromhex("90B3D51F30010000")
ESME = bytes.fromhex("00DB1234567890A0")
ECS37 = "RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND"
ECS17B = "RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE"


def _store(private: tuple[str, bytes], public: tuple[str, bytes]) -> KeyStore:
    """A store with one KA private key and one KA public key (from its certificate)."""
    d = interop.keys_dir()
    store = KeyStore()
    key = serialization.load_pem_private_key((d / private[0]).read_bytes(), None)
    store.add(private[1], KeyUsage.KA, private_key=key)  # type: ignore[arg-type]
    cert = x509.load_pem_x509_certificate((d / public[0]).read_bytes())
    store.add(public[1], KeyUsage.KA, certificate=cert)
    return store


def test_ecs37_command_from_typed_values() -> None:
    counter = 0x4B3
    payload = AccessRequest(
        invoke_id=invoke_id_for_counter(counter),
        specs=(SetSpec(10, Obis.parse("0-0:12.0.0.255"), 2),),
        data=(
            Data.array(
                _md_entry(0, 1, DlmsTime(17, 0, 0, 0)),
                _md_entry(1, 2, DlmsTime(22, 0, 0, 0)),
            ),
        ),
    )
    header = GroupingHeader(Cra.COMMAND, counter, NETWORK_OPERATOR, ESME, OtherInformation(0x004A))
    acb_side = _store(("90b3d51f30000002-ka.key", ACB), ("00db1234567890a0-ka.pem", ESME))
    msg = apply_mac(build(header, payload), acb_side, acb=ACB)
    expected = bytes.fromhex(interop.by_id(ECS37)["hex"])
    assert msg.encode() == expected
    assert msg.mac == expected[-12:]
    # The device verifies it with its own KA private key and the ACB's KA public key.
    device_side = _store(("00db1234567890a0-ka.key", ESME), ("90b3d51f30000002-ka.pem", ACB))
    assert check_mac(decode(expected), device_side, acb=ACB).verdict is Verdict.VALID


def test_ecs17b_response_with_encrypted_register_from_typed_values() -> None:
    counter = 0x3E8
    header = GroupingHeader(
        Cra.RESPONSE,
        counter,
        ESME,
        SUPPLIER,
        OtherInformation(0x0027),
        date_time=DlmsDateTime.from_datetime(datetime(2015, 1, 1)),
    )
    registers = Data.structure(
        Data.structure(
            Data.double_long_unsigned(10),
            Data.structure(Data.integer(0), Data.enum(30)),  # scaler 0, unit Wh
            Data.double_long_unsigned(10),
            Data.structure(Data.integer(0), Data.enum(32)),  # scaler 0, unit varh
        )
    )
    esme = _store(("00db1234567890a0-ka.key", ESME), ("90b3d51f30010000-ka.pem", SUPPLIER))
    blob = seal_part(part_key_for(header, esme), ESME, encode_data(registers))
    payload = AccessResponse(
        invoke_id=invoke_id_for_counter(counter),
        data=(protected_get_result(ProtectionParameters.gbcs(counter, ESME, SUPPLIER), blob),),
        results=(ActionResult(0),),
    )
    msg = apply_mac(build(header, payload), esme)
    expected = bytes.fromhex(interop.by_id(ECS17B)["hex"])
    assert msg.encode() == expected
    # The supplier reads it back with its own keys: MAC valid, registers decrypt.
    supplier = _store(("90b3d51f30010000-ka.key", SUPPLIER), ("00db1234567890a0-ka.pem", ESME))
    received = decode(expected)
    assert check_mac(received, supplier).verdict is Verdict.VALID
    (part,) = decrypt_parts(received, supplier)
    assert part.plaintext == encode_data(registers)


def test_wrong_acb_key_gives_different_mac() -> None:
    header = GroupingHeader(Cra.COMMAND, 0x4B3, NETWORK_OPERATOR, ESME, OtherInformation(0x004A))
    payload = decode(bytes.fromhex(interop.by_id(ECS37)["hex"])).payload
    supplier_as_acb = _store(("90b3d51f30010000-ka.key", ACB), ("00db1234567890a0-ka.pem", ESME))
    msg = apply_mac(build(header, payload), supplier_as_acb, acb=ACB)
    assert msg.encode()[:-12] == bytes.fromhex(interop.by_id(ECS37)["hex"])[:-12]
    assert msg.mac != bytes.fromhex(interop.by_id(ECS37)["hex"])[-12:]
