"""Regenerate examples/: a test PKI and example messages built from typed values.

The messages are signed deterministically (RFC 6979), so re-running this script over the
same keys reproduces the same bytes. Run with the project installed:
``.venv/bin/python tools/make_examples.py [--new-keys]``.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import datetime
from pathlib import Path

from gbcs.axdr import Data, encode_data
from gbcs.codec import build
from gbcs.cosem_time import DlmsDateTime
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    ActionSpec,
    Obis,
    ProtectionParameters,
    invoke_id_for_counter,
    protected_get_result,
)
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
from gbcs.security import apply_mac, part_key_for, seal_part, sign
from keys.certs import as_eui
from keys.pki import DEFAULT_ORGANISATION_EUIS, init_pki
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ESME = bytes.fromhex("00DB1234567890E1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--new-keys", action="store_true", help="replace examples/keys with a new PKI")
    args = p.parse_args()
    keys_dir = EXAMPLES / "keys"
    if args.new_keys and keys_dir.exists():
        shutil.rmtree(keys_dir)
    if not keys_dir.exists():
        init_pki(keys_dir, device_euis=[ESME])
    store = KeyStore(keys_dir)
    supplier = as_eui(DEFAULT_ORGANISATION_EUIS[RemotePartyRole.SUPPLIER])
    acb = as_eui(DEFAULT_ORGANISATION_EUIS[RemotePartyRole.ACCESS_CONTROL_BROKER])
    out = EXAMPLES / "messages"
    out.mkdir(parents=True, exist_ok=True)

    # 1. ECS42 (critical): the supplier closes the load switch; signed, then MAC'd by the ACB.
    counter = 0x0000_0190_0000_0001
    cmd = build(
        GroupingHeader(Cra.COMMAND, counter, supplier, ESME, OtherInformation(0x004F)),
        AccessRequest(
            invoke_id_for_counter(counter),
            (ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1),),
            (Data.long_unsigned(51),),
        ),
    )
    signer = store.private_key(supplier, KeyUsage.DS)
    assert signer is not None
    cmd = apply_mac(sign(cmd, signer, SignatureVariant.DETERMINISTIC), store, acb=acb)
    (out / "01-ecs42-command-signed.hex").write_text(cmd.encode().hex().upper() + "\n")

    # 2. ECS42 response: device-signed, general-signing form.
    rsp = build(
        GroupingHeader(Cra.RESPONSE, counter, ESME, supplier, OtherInformation(0x004F)),
        AccessResponse(invoke_id_for_counter(counter), (Data.null(),), (ActionResult(0),)),
        envelope=Envelope.GENERAL_SIGNING,
        signature_form=SignatureForm.PRESENT,
    )
    device_ds = store.private_key(ESME, KeyUsage.DS)
    assert device_ds is not None
    rsp = sign(rsp, device_ds, SignatureVariant.DETERMINISTIC)
    (out / "02-ecs42-response-device-signed.hex").write_text(rsp.encode().hex().upper() + "\n")

    # 3. ECS17b response with the import register encrypted for the supplier.
    counter = 0x0000_0190_0000_0002
    header = GroupingHeader(
        Cra.RESPONSE,
        counter,
        ESME,
        supplier,
        OtherInformation(0x0027),
        DlmsDateTime.from_datetime(datetime(2026, 11, 23, 12, 30)),
    )
    registers = Data.structure(
        Data.structure(
            Data.double_long_unsigned(1_234_567),
            Data.structure(Data.integer(0), Data.enum(30)),
            Data.double_long_unsigned(89_012),
            Data.structure(Data.integer(0), Data.enum(32)),
        )
    )
    blob = seal_part(part_key_for(header, store), ESME, encode_data(registers))
    ecs17b = build(
        header,
        AccessResponse(
            invoke_id_for_counter(counter),
            (protected_get_result(ProtectionParameters.gbcs(counter, ESME, supplier), blob),),
            (ActionResult(0),),
        ),
    )
    ecs17b = apply_mac(ecs17b, store)
    (out / "03-ecs17b-response-encrypted.hex").write_text(ecs17b.encode().hex().upper() + "\n")
    (EXAMPLES / "acb-eui.txt").write_text(acb.hex().upper() + "\n")
    print(f"wrote {len(list(out.glob('*.hex')))} messages to {out}")


if __name__ == "__main__":
    main()
