"""CS02a (Provide Security Credentials Details) in each protection form GBCS allows.

``use-cases.json`` gives 0x0008 the command envelopes ``c:GC, c:GS+sig`` and gbcs-wire
§3.3 lists the "…Signature" variants of CS02a/b/f as "DF only, signed by the remote
party, no MAC": a CS02a arrives MAC'd by the ACB (General-Ciphering) or signed by its
originator without a MAC (General-Signing with a signature). A General-Signing CS02a with
a null signature has neither, and is refused at the MAC check with the Trusted Source
Authentication Failure alert (0x8F3D); one with a bad signature at the signature check.
"""

from __future__ import annotations

import pytest

from devices.credentials import CellId, CellKeyUsage
from devices.policy import Check
from gbcs.asn1 import Asn1Payload, der_integer, der_sequence
from gbcs.codec import build, decode
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
from gbcs.payload import Payload
from gbcs.security import Verdict, check_mac, check_signature, sign
from keys.roles import KeyUsage
from keys.roles import RemotePartyRole as R
from tests.devkit import ACB, EUIS, SUPPLIER, Bench, alerts, bench, responses

CS02A = 0x0008
CS02C = 0x000A
TRUSTED_SOURCE_AUTHENTICATION_FAILURE = 0x8F3D

# (device type, originator): a meter's CS02a comes from its supplier; a Comms Hub holds
# no supplier cell (SEC DP087), so its CS02a comes from the ACB.
SENDERS = [("ESME", SUPPLIER), ("GSME", SUPPLIER), ("GPF", SUPPLIER), ("CHF", ACB)]


def _details_request() -> Payload:
    """Ask for the Root (0) and ACB (4) cells, authorised by the ACB's KA cell."""
    return Asn1Payload.from_nodes(
        der_sequence(
            CellId.of(R.ACCESS_CONTROL_BROKER, CellKeyUsage.KEY_AGREEMENT).to_der(),
            der_sequence(der_integer(0), der_integer(4)),
        )
    )


def _signed_only(
    b: Bench, kind: str, originator: bytes, *, code: int = CS02A, signed: bool = True
) -> bytes:
    """A General-Signing command (no MAC), signed by ``originator`` unless ``signed`` is
    false (null signature)."""
    counter = b.builder.next_counter(originator)
    header = GroupingHeader(Cra.COMMAND, counter, originator, EUIS[kind], OtherInformation(code))
    payload = _details_request()
    msg = build(
        header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=SignatureForm.NULL
    )
    if signed:
        key = b.store.private_key(originator, KeyUsage.DS)
        assert key is not None
        msg = sign(msg, key)
    return msg.encode()


@pytest.mark.parametrize(("kind", "originator"), SENDERS, ids=[k for k, _ in SENDERS])
def test_a_signed_only_cs02a_is_answered(kind: str, originator: bytes) -> None:
    b = bench()
    d = b.device(kind)
    frame = _signed_only(b, kind, originator)
    out = d.receive(frame, b.now)
    assert d.last_rejection is None, d.last_rejection
    (rsp,) = responses(out)
    cmd = decode(frame)
    assert (rsp.counter, rsp.message_code, rsp.recipient) == (cmd.counter, CS02A, originator)
    assert isinstance(rsp.payload, Asn1Payload)
    (details,) = rsp.payload.nodes
    assert len(details.children) == 2  # one entry per requested role, Root and ACB
    if originator == ACB:
        # the ACB's CS02a is answered MAC'd (RTDS 6.24.1 CS02aMAC), whatever its form
        assert check_mac(rsp, b.store, ACB).verdict is Verdict.VALID
    else:
        assert rsp.envelope is Envelope.GENERAL_SIGNING
        assert check_signature(rsp, b.store).verdict is Verdict.VALID
    # counted like any critical command: the same frame again is a replay
    assert responses(d.receive(frame, b.now)) == []
    assert d.last_rejection is not None and d.last_rejection.check is Check.REPLAY


@pytest.mark.parametrize(("kind", "originator"), SENDERS, ids=[k for k, _ in SENDERS])
def test_the_macd_cs02a_is_still_answered(kind: str, originator: bytes) -> None:
    b = bench()
    d = b.device(kind)
    out = d.receive(b.command(kind, CS02A, _details_request(), originator=originator), b.now)
    assert d.last_rejection is None, d.last_rejection
    assert len(responses(out)) == 1


@pytest.mark.parametrize(("kind", "originator"), SENDERS, ids=[k for k, _ in SENDERS])
def test_a_cs02a_with_neither_mac_nor_signature_is_refused(kind: str, originator: bytes) -> None:
    b = bench()
    d = b.device(kind)
    out = d.receive(_signed_only(b, kind, originator, signed=False), b.now)
    assert responses(out) == []
    assert d.last_rejection is not None and d.last_rejection.check is Check.MAC
    assert [a.alert_code for a in alerts(out)] == [TRUSTED_SOURCE_AUTHENTICATION_FAILURE]
    assert d.security_log.entries()[-1].code == TRUSTED_SOURCE_AUTHENTICATION_FAILURE


def test_a_signed_only_cs02a_with_a_bad_signature_is_refused() -> None:
    b = bench()
    d = b.device("ESME")
    frame = bytearray(_signed_only(b, "ESME", SUPPLIER))
    frame[-1] ^= 0x01  # inside the signature's s
    out = d.receive(bytes(frame), b.now)
    assert responses(out) == []
    assert d.last_rejection is not None and d.last_rejection.check is Check.SIGNATURE
    assert [a.alert_code for a in alerts(out)] == [TRUSTED_SOURCE_AUTHENTICATION_FAILURE]


def test_a_signed_only_cs02a_from_an_untrusted_signer_is_refused() -> None:
    """The header names the supplier; the ACB's DS key signed it."""
    b = bench()
    d = b.device("ESME")
    frame = decode(_signed_only(b, "ESME", SUPPLIER))
    other = b.store.private_key(ACB, KeyUsage.DS)
    assert other is not None
    forged = sign(frame, other).encode()  # the supplier's header, the ACB's signature
    out = d.receive(forged, b.now)
    assert responses(out) == []
    assert d.last_rejection is not None and d.last_rejection.check is Check.SIGNATURE


def test_other_critical_codes_still_need_the_mac() -> None:
    """Signed-only is CS02a's (and the listed codes') form, not every critical command's."""
    b = bench()
    d = b.device("ESME")
    out = d.receive(_signed_only(b, "ESME", SUPPLIER, code=CS02C), b.now)
    assert responses(out) == []
    assert d.last_rejection is not None and d.last_rejection.check is Check.MAC
