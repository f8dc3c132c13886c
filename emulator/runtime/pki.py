"""The runtime's key material: organisations' PKI in the state directory, device keys
derived from the fleet seed (see :mod:`.config`), and the devices' own certificates
issued by that PKI's device CA (:class:`DeviceCertificates`)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devices.credentials import CertificateIssuer
from devices.trust import OwnKeys
from gbcs.crypto.ecdsa import SignatureVariant, sign
from keys.certs import (
    DEVICE_POLICY_OID,
    certificate_policies,
    device_subject_alt_name,
    eui_hex,
    key_identifier,
    key_usage_extension,
)
from keys.pki import FOREVER, CertificateAuthorities, init_pki, load_authorities
from keys.roles import KeyUsage
from keys.store import KeyStore, build_entry

from .config import FleetConfig, derive_own_keys
from .statedir import open_info

__all__ = ["DeviceCertificates", "add_device_public_keys", "ensure_pki", "resolve_seed"]

log = logging.getLogger("gbcs.emulator")

# AlgorithmIdentifier ecdsa-with-SHA256 (RFC 5758 §3.2: parameters absent)
_ECDSA_SHA256 = bytes.fromhex("300A06082A8648CE3D040302")


def ensure_pki(state_dir: Path) -> Path:
    """``state_dir/pki``: a test PKI with every organisation role, made on first use."""
    pki = state_dir / "pki"
    if not (pki / "ca-root.pem").is_file():
        pki.mkdir(parents=True, exist_ok=True)
        init_pki(pki)
    return pki


def resolve_seed(config: FleetConfig, state_dir: Path) -> bytes:
    """The fleet seed: the config's, else the state directory's own (random, made on
    first use and kept in its ``state.json``). Sets ``config.seed``."""
    if config.seed is None:
        config.seed = open_info(state_dir).seed_bytes
    return config.seed


def add_device_public_keys(
    store: KeyStore, config: FleetConfig, sites: range, state_dir: Path | None = None
) -> None:
    """Make the devices of ``sites`` verifiable by a head-end using ``store`` (the seed
    comes from ``state_dir`` unless the config sets one)."""
    if config.seed is None and state_dir is not None:
        resolve_seed(config, state_dir)
    for i in sites:
        cfg = config.site_config(i)
        for kind in cfg.devices:
            own = derive_own_keys(config.seed, cfg.eui(kind))
            store.add_entry(build_entry(own.eui, KeyUsage.KA, public_key=own.ka.public_key()))
            store.add_entry(build_entry(own.eui, KeyUsage.DS, public_key=own.ds.public_key()))


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


class DeviceCertificates:
    """The served devices' own certificates, issued by the state directory's device CA
    (``pki/ca-device.pem`` and ``.key``: the CA a bench loading that PKI trusts).

    Lazy: a device built with :meth:`issuer` gets a certificate the first time CS02e asks
    for one (then holds it in its saved credentials), so a fleet of any size costs nothing
    until then. Deterministic: a certificate depends only on the device CA, the EUI, the
    usage and the public key (serial number from their SHA-256, valid from the device
    CA's notBefore until 9999-12-31, RFC 6979 ECDSA signature), so it is the same bytes
    whenever, in whichever worker and however often it is issued. The CA is read on
    first need; without a readable one, devices hold no certificate (CS02e answers
    ``no_certificate_held``) and a warning is logged once.
    """

    def __init__(self, pki_dir: Path) -> None:
        self.pki_dir = pki_dir
        self._ca: CertificateAuthorities | None = None
        self._failed = False

    def _authorities(self) -> CertificateAuthorities | None:
        if self._ca is None and not self._failed:
            try:
                self._ca = load_authorities(self.pki_dir)
            except (OSError, ValueError) as e:
                self._failed = True
                log.warning("no device certificates: cannot read the device CA in %s: %s",
                            self.pki_dir, e)  # fmt: skip
        return self._ca

    def issuer(self, own: OwnKeys) -> CertificateIssuer:
        """The issuer for a device built with the key pairs ``own``."""

        def issue(usage: KeyUsage) -> bytes | None:
            key = own.ka if usage is KeyUsage.KA else own.ds
            return self.certificate(own.eui, usage, key.public_key())

        return issue

    def certificate(
        self, eui: bytes, usage: KeyUsage, public_key: ec.EllipticCurvePublicKey
    ) -> bytes | None:
        """The device certificate (DER) of ``public_key`` for ``eui`` and ``usage``, or
        None without a device CA."""
        ca = self._authorities()
        if ca is None:
            return None
        dca = ca.device
        point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        digest = hashlib.sha256(
            b"gbcs-emu device certificate\x00" + eui + usage.value.encode() + point
        ).digest()
        serial = (int.from_bytes(digest[:16], "big") >> 2) | (1 << 126)
        ca_key = dca.certificate.public_key()
        assert isinstance(ca_key, ec.EllipticCurvePublicKey)
        draft = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(dca.certificate.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(dca.certificate.not_valid_before_utc)
            .not_valid_after(FOREVER)
            .add_extension(key_usage_extension(usage), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(key_identifier(public_key)), critical=False)
            .add_extension(device_subject_alt_name(eui), critical=True)
            .add_extension(certificate_policies(DEVICE_POLICY_OID), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier(key_identifier(ca_key), None, None), critical=False
            )
            .sign(dca.private_key, hashes.SHA256())
        )
        # The draft's ECDSA signature is random: sign its TBS again with RFC 6979's k.
        tbs = draft.tbs_certificate_bytes
        rs = sign(dca.private_key, tbs, SignatureVariant.DETERMINISTIC)
        sig = encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))
        der = _der(0x30, tbs + _ECDSA_SHA256 + _der(0x03, b"\x00" + sig))
        log.debug("issued the %s certificate of %s", usage.value.upper(), eui_hex(eui))
        return der
