"""The bench as a HAN device: the PPMID a ``hil conformance`` run joins to a GSME.

Some RTDS cases need a HAN device joined to the device under test: PCS01 and PCS02 are
*sent* by the site's PPMID (RTDS ``00DB1234567890A4``), and CS07 reads a device log that
holds it. A bench holds no PPMID, so it plays one. :class:`HanPartner` is that PPMID's
identity: an EUI, a KA key pair made for the run, and its KA certificate. The run joins it
to the device the way a supplier does, with a Method C join (CS03C) signed by the bench's
supplier and carrying that certificate (:func:`join_command`). The device then takes the
partner's commands, MAC'd with the partner's KA key and its own (the bench's key store
holds the partner's private key, see :func:`add_to`), and answers them to the partner.

The certificate is issued by the device CA of the bench's key directories when one is
there with its private key (an emulated device's state directory holds one), else by a
throwaway CA made for the run. A meter that checks the join certificate's chain against
its own trust refuses the latter join; its PPMID cases are then answered as such a meter
answers them (the run reports them as they come, never as passes it did not see).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from keys.certs import eui_hex
from keys.pki import CertificateAuthorities, create_authorities, issue_device_keys, load_authorities
from keys.roles import KeyUsage
from keys.store import KeyStore, build_entry

__all__ = ["BENCH_PPMID", "HanPartner", "join_command"]

BENCH_PPMID = bytes.fromhex("00DB1234567890A4")
"""The EUI the bench's PPMID takes: the RTDS site's, so RTDS commands need no remapping."""


@dataclass(frozen=True, slots=True)
class HanPartner:
    """A HAN device the bench plays: its EUI, KA private key and KA certificate (DER)."""

    eui: bytes
    ka: ec.EllipticCurvePrivateKey
    certificate: bytes
    issuer: str  # where the certificate came from, for the report

    @classmethod
    def make(
        cls,
        eui: bytes = BENCH_PPMID,
        *,
        key_dirs: Iterable[Path] = (),
        now: datetime | None = None,
    ) -> HanPartner:
        """A new KA key pair for ``eui`` with a certificate from the first device CA of
        ``key_dirs`` that has its private key, else from a throwaway CA."""
        authorities: CertificateAuthorities | None = None
        issuer = "a CA made for this run"
        for d in key_dirs:
            try:
                authorities = load_authorities(d)
            except (OSError, ValueError):
                continue
            issuer = f"the device CA of {d}"
            break
        if authorities is None:
            authorities = create_authorities()
        issued = issue_device_keys(authorities, eui, now=now or datetime.now(UTC))
        ka = next(k for k in issued if k.usage is KeyUsage.KA)
        return cls(eui, ka.private_key, ka.certificate.public_bytes(Encoding.DER), issuer)

    def add_to(self, keys: KeyStore) -> None:
        """Put the partner's KA key pair in ``keys``: its commands are MAC'd with it and
        the device's answers to it verified with it."""
        from cryptography import x509

        cert = x509.load_der_x509_certificate(self.certificate)
        keys.add_entry(build_entry(self.eui, KeyUsage.KA, certificate=cert, private_key=self.ka))


def join_command(
    partner: HanPartner, device_type: str, supplier: bytes, target: bytes, counter: int
) -> dict[str, Any]:
    """The catalogue form of a CS03C joining ``partner`` (a ``device_type`` such as
    ``ppmid``) to ``target``: for :func:`~emulator.headend.catalogue.frames.build_frame`."""
    return {
        "use_case": "CS03C",
        "args": {
            "join_method_and_role": "method_c",
            "entity_id": eui_hex(partner.eui).upper(),
            "device_type": device_type,
            "certificate": partner.certificate.hex().upper(),
        },
        "header": {
            "originator": eui_hex(supplier).upper(),
            "recipient": eui_hex(target).upper(),
            "counter": counter,
            "date_time": None,
        },
        "form": {"envelope": "general-ciphering", "signature": "present"},
    }
