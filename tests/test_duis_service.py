"""The DUIS service's decisions (emulator.duis.service), sans-IO, against a real emulated
ESME: signed requests in, acknowledgements and pre-commands out, the GBCS through the
device, signed responses for the callback; and each rejection with its code, nothing
sent to a device."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("lxml", reason="the DUIS service needs lxml (the duis extra)")

from emulator.duis import model, xmlsig
from emulator.duis.bodies import SR_NS
from emulator.duis.model import Response
from emulator.duis.service import Reply
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac, check_signature
from tests import devkit
from tests.duisbench import (
    CALLBACK,
    DISABLE,
    ESME,
    FIRMWARE,
    GPF,
    NETWORK,
    READ,
    USER,
    Dcc,
    make_dcc,
    response,
    signed_pre_command,
    supplier_ds_key,
)
from tests.duisbench import request as _request


@pytest.fixture
def dcc(tmp_path: Path) -> Dcc:
    return make_dcc(tmp_path)


def _response(reply_xml: bytes, dcc: Dcc) -> Response:
    return response(reply_xml, dcc)


def test_a_read_is_acknowledged_sent_and_answered_on_the_callback(dcc: Dcc) -> None:
    reply = dcc.post("serviceS", _request("4.1.1", READ))
    assert (reply.code, reply.http_status) == ("I99", 200)
    assert _response(reply.xml, dcc).header.response_code == "I99"
    frame = dcc.through_the_device(reply)
    callback = dcc.service.device_response(frame, devkit.T0)
    assert callback is not None and callback.url == CALLBACK
    message = _response(callback.xml, dcc)
    assert str(message.header.request_id) == f"{USER}:{ESME}:1000"
    assert str(message.header.response_id) == f"{ESME}:{USER}:1000"
    gbcs = decode(message.gbcs or b"")
    assert gbcs.message_code == 0x0027  # ECS17b's response
    assert check_mac(gbcs, dcc.bench.store, devkit.ACB).verdict is Verdict.VALID
    assert dcc.service.device_response(frame, devkit.T0) is None  # answered once


def test_the_critical_flow_cv4_then_cv5_reaches_the_device(dcc: Dcc) -> None:
    reply = dcc.post("serviceT", _request("7.2", DISABLE, cv=4, counter=2000))
    assert reply.code == "I0" and not reply.sends
    pre = _response(reply.xml, dcc).gbcs
    assert pre is not None and pre[0] == 0xDF
    payload = signed_pre_command(pre, supplier_ds_key())
    cv5 = _request("7.2", "SignedPreCommand", payload, cv=5, counter=2000)
    reply = dcc.post("serviceS", cv5)
    assert reply.code == "I99", reply.reason
    frame = dcc.through_the_device(reply)
    rsp = decode(frame)
    assert check_signature(rsp, dcc.bench.store).verdict is Verdict.VALID  # device-signed
    assert dcc.service.device_response(frame, devkit.T0) is not None
    again = dcc.post("serviceS", cv5)
    assert again.code == dcc.service.codes.repeated_request and not again.sends


def test_the_firmware_read_and_mp105(dcc: Dcc) -> None:
    dcc.inventory.firmware_activation_lost(bytes.fromhex(ESME.replace("-", "")))
    refused = dcc.post("serviceS", _request("4.1.1", READ, counter=3000))
    assert refused.code == "E51" and "MP105" in refused.reason and not refused.sends
    accepted = dcc.post("serviceS", _request("11.2", FIRMWARE, counter=3001))
    assert accepted.code == "I99"
    frame = dcc.through_the_device(accepted)
    callback = dcc.service.device_response(frame, devkit.T0)
    assert callback is not None and decode(_response(callback.xml, dcc).gbcs or b"").message_code
    dcc.inventory.clear_status(bytes.fromhex(ESME.replace("-", "")))
    assert dcc.post("serviceS", _request("4.1.1", READ, counter=3002)).code == "I99"
    dcc.inventory.set_status(bytes.fromhex(ESME.replace("-", "")), "Decommissioned")
    gone = dcc.post("serviceS", _request("11.2", FIRMWARE, counter=3003))
    assert gone.code == "E5" and "takes no service request" in gone.reason and not gone.sends


def test_each_rejection_has_its_code_and_sends_nothing(dcc: Dcc) -> None:
    codes = dcc.service.codes
    assert dcc.post("serviceS", _request("4.1.1", READ, counter=10)).code == "I99"
    tampered = dcc.sign(_request("4.1.1", READ, counter=11)).replace(b":11<", b":12<")
    cases: list[tuple[Reply, str]] = [
        (dcc.service.receive("serviceS", tampered, devkit.T0), codes.bad_signature),
        (dcc.post("serviceT", _request("7.2", DISABLE, cv=4, counter=5, user=NETWORK), NETWORK),
         codes.ineligible_role),
        (dcc.post("serviceS", _request("4.1.1", READ, counter=10)), codes.repeated_request),
        (dcc.post("serviceS", _request("4.1.1", READ, counter=9)), codes.stale_counter),
        (dcc.post("serviceS", _request("9.9.9", READ, counter=20, reference="9.9")),
         codes.invalid_request),
        (dcc.post("serviceS", _request("7.2", DISABLE, cv=1, counter=21)), codes.command_variant),
        (dcc.post("serviceS", _request("7.2", DISABLE, cv=4, counter=22)), codes.wrong_endpoint),
        (dcc.post("serviceS", _request("4.1.1", READ, "<sr:X/>", counter=23)),
         codes.invalid_request),
        (dcc.post("serviceS", _request("4.1.1", READ, counter=24,
                                       target="00-DB-12-34-56-78-90-B0")), codes.unknown_device),
        (dcc.post("serviceT", _request("7.2", DISABLE, cv=4, counter=25, target=GPF)),
         codes.device_type),
    ]  # fmt: skip
    assert "XML signature" in cases[0][0].reason  # E1 for the signature, not the user
    for reply, code in cases:
        assert reply.code == code, (reply.code, reply.reason)
        assert not reply.sends and reply.reason
        assert _response(reply.xml, dcc).header.response_code == code
    # the refused ones did not use up their RequestIDs: counter 21 is still free
    assert dcc.post("serviceS", _request("4.1.1", READ, counter=21)).code == "I99"


def test_an_unknown_user_and_a_body_that_is_not_duis(dcc: Dcc) -> None:
    stranger = "90-B3-D5-1F-30-09-00-00"
    xml = model.to_xml(_request("4.1.1", READ, user=stranger))
    reply = dcc.service.receive("serviceS", xml, devkit.T0)
    assert reply.code == "E1" and "not a user of this service" in reply.reason
    bad = dcc.service.receive("serviceS", b"<not-duis/>", devkit.T0)
    assert bad.http_status == 400 and b"not a DUIS request" in bad.xml
    with pytest.raises(ValueError, match="no DUIS service"):
        dcc.service.receive("serviceX", xml, devkit.T0)


def test_read_inventory_answers_from_the_inventory(dcc: Dcc) -> None:
    inner = f"<sr:DeviceID>{ESME}</sr:DeviceID>"
    target = "90-B3-D5-1F-30-00-00-02"
    request = _request("8.2", "ReadInventory", inner, cv=8, counter=4000, target=target)
    reply = dcc.post("serviceD", request)
    assert reply.code == "I0", reply.reason
    assert reply.xml.count(b"<sr:Device>") == 4 and not reply.sends
    assert dcc.post("serviceS", request).code == dcc.service.codes.wrong_endpoint


def test_a_future_dated_read_is_sent_at_its_time(dcc: Dcc) -> None:
    later = devkit.T0 + timedelta(hours=2)
    when = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    inner = f"<sr:ExecutionDateTime>{when}</sr:ExecutionDateTime>"
    reply = dcc.post("serviceS", _request("4.1.1", READ, inner, counter=5000))
    assert reply.code == "I99" and reply.sends[0].send_at == later


def test_the_replies_validate_against_the_duis_schema(dcc: Dcc) -> None:
    from tests import duiskit

    duiskit.require_duis()
    schema = xmlsig.load_schema(duiskit.xsd_path())
    replies = [
        dcc.post("serviceS", _request("4.1.1", READ, counter=6000)),
        dcc.post("serviceT", _request("7.2", DISABLE, cv=4, counter=6001)),
        dcc.post("serviceS", _request("4.1.1", READ, counter=6000)),
        dcc.post(
            "serviceD",
            _request(
                "8.2",
                "ReadInventory",
                f"<sr:DeviceID>{ESME}</sr:DeviceID>",
                cv=8,
                counter=6002,
                target="90-B3-D5-1F-30-00-00-02",
            ),
        ),
    ]
    frame = dcc.through_the_device(replies[0])
    callback = dcc.service.device_response(frame, devkit.T0)
    assert callback is not None
    for xml in [r.xml for r in replies] + [callback.xml]:
        result = xmlsig.validate(xml, schema)
        assert result.ok, result.errors


def test_a_device_alert_goes_to_the_user_it_is_addressed_to(dcc: Dcc) -> None:
    esme = dcc.bench.devices["ESME"]
    start = devkit.T0 + timedelta(hours=2)
    esme.lose_mains(start)
    out = esme.restore_mains(start + timedelta(minutes=5))
    (alert,) = devkit.alerts(out)  # 0x8F36 to the network operator
    (callback,) = dcc.service.device_frame(alert.frame, start)
    assert callback.user == NETWORK.replace("-", "") and callback.url == CALLBACK
    message = _response(callback.xml, dcc)
    assert isinstance(message.body, model.DeviceAlertMessage)
    assert message.body.alert_code == "8F36" and message.gbcs == alert.frame


def test_the_comms_hubs_ad1_becomes_the_dcc_alert_for_network_operators(dcc: Dcc) -> None:
    record = (
        b'{"alert": "AD1", "chf": "00DB1234567890A2", "outage_start": '
        b'"2026-01-01T10:00:00+00:00", "sent": "2026-01-01T10:03:01+00:00"}'
    )
    callbacks = dcc.service.device_frame(record, devkit.T0)
    assert [c.user for c in callbacks] == [NETWORK.replace("-", "")]  # ED, not the supplier
    message = _response(callbacks[0].xml, dcc)
    assert isinstance(message.body, model.DCCAlertMessage)
    assert message.body.dcc_alert_code == "AD1"
    event = message.body.event.element()
    assert event.findtext(f"{{{SR_NS}}}CommsHubDeviceID") == "00-DB-12-34-56-78-90-A2"
    assert event.findtext(f"{{{SR_NS}}}StartDateTime") == "2026-01-01T10:00:00.000Z"
    assert dcc.service.device_frame(b'{"alert": "AD1", "chf": "nope"}', devkit.T0) == []
    assert dcc.service.device_frame(b"\x00garbage", devkit.T0) == []
    from tests import duiskit

    duiskit.require_duis()
    result = xmlsig.validate(callbacks[0].xml, xmlsig.load_schema(duiskit.xsd_path()))
    assert result.ok, result.errors


def test_mangled_requests_get_a_reply_never_an_exception(dcc: Dcc) -> None:
    """Bytes cut, flipped, repeated or swapped in signed requests (seeded, 400 cases):
    each gets a signed DUIS refusal or HTTP 400, never an exception, and none that was
    refused sent anything to a device."""
    import random

    rng = random.Random(16)
    originals = [
        dcc.sign(_request("4.1.1", READ, counter=9000)),
        dcc.sign(_request("7.2", DISABLE, cv=4, counter=9001)),
        dcc.sign(_request("11.2", FIRMWARE, counter=9002)),
    ]
    accepted = 0
    for i in range(400):
        data = bytearray(rng.choice(originals))
        how = i % 4
        at = rng.randrange(len(data))
        if how == 0:
            del data[at:]
        elif how == 1:
            data[at] ^= 1 << rng.randrange(8)
        elif how == 2:
            data[at:at] = data[at : at + rng.randrange(1, 64)]
        else:
            data[at] = rng.choice(b"<>&\"'\x00\xff:-0")
        reply = dcc.service.receive(rng.choice(["serviceS", "serviceT"]), bytes(data), devkit.T0)
        if reply.http_status == 400:
            assert not reply.sends and b"\n" not in reply.xml
            continue
        assert reply.code, reply
        if reply.code in ("I0", "I99"):
            accepted += 1
        else:
            assert not reply.sends
            assert _response(reply.xml, dcc).header.response_code == reply.code
    assert accepted < 400 // 4  # almost every mangled request is refused
