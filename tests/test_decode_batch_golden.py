"""``decode --batch`` writes, byte for byte, what the reference path writes, one message
at a time and in chunks (as the CLI runs it).

The reference is computed here from the plain building blocks, without any of the
batch path's shortcuts: the full decode, the payload's own encrypted-parts walk,
``check_mac``/``check_signature``/``decrypt_parts`` with every cache emptied first, the
key notes read straight from the store, ``Inspection.header()`` and one ``json.dumps``
of the record. The corpus is the codec benchmark's (commands and device answers: DLMS,
GBZ, ASN.1, signed, MAC'd, with encrypted parts), each message also with a flipped MAC,
signature, content and truncated, under three key stores; and DCC's public vectors with
their (expired) test keys when the interop material is there.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from emulator.cli.decode_cmd import BatchSpec, batch_record, batch_records
from emulator.cli.inputs import iter_lines
from gbcs import security
from gbcs.codec import decode
from gbcs.crypto.kdf import clear_shared_secret_cache
from gbcs.errors import GbcsDecodeError
from gbcs.inspect import Inspection, NoKeys, PartReport, inspect_message, inspect_messages
from gbcs.security import KeyProvider, check_mac, check_signature, decrypt_parts, mac_parties
from keys.store import KeyStore

ROOT = Path(__file__).resolve().parent.parent
ODD_IDS = ('a "quoted" id', "back\\slash", "tab\there", "é ünïcode ☃", "\x01ctl", "")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_codec_bench", ROOT / "benchmarks" / "codec.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def corpus() -> tuple[list[bytes], KeyStore, bytes]:
    bench = _bench()
    frames, store = bench.build_corpus()
    return frames, store, bench.ACB


def _reference_notes(msg: Any, keys: KeyProvider, acb: bytes, has_parts: bool) -> list[str]:
    entry = getattr(keys, "entry", None)
    if not callable(entry):
        return []
    wanted: list[tuple[bytes, str]] = []
    if msg.signature:
        wanted.append((msg.originator, "ds"))
    if msg.mac is not None or has_parts:
        wanted += [(eui, "ka") for eui in mac_parties(msg, acb)]
    notes = []
    now = datetime.now(UTC)
    for eui, usage in dict.fromkeys(wanted):
        e = entry(eui, usage)
        if e is not None and e.expired(now):
            date = e.not_after.date().isoformat() if e.not_after else "?"
            notes.append(f"{eui.hex().upper()} {usage.upper()} certificate expired on {date}")
    return notes


def reference_record(
    ident: str, item: str | bytes, keys: KeyProvider | None, acb: bytes, lenient: bool
) -> str:
    """The batch line as the first ``decode --batch`` wrote it, from the building blocks."""
    security.clear_pair_cache()
    clear_shared_secret_cache()
    rec: dict[str, Any] = {"id": ident}
    if isinstance(item, str):
        rec["error"] = item
        return json.dumps(rec) + "\n"
    try:
        msg = decode(item, lenient_payload=lenient)
    except GbcsDecodeError as e:
        rec.update(error=str(e), error_path=e.path, error_offset=e.offset)
        return json.dumps(rec) + "\n"
    kp: KeyProvider = keys if keys is not None else NoKeys()
    parts = msg.payload.encrypted_parts()  # the payload's own walk, no shortcut
    decrypted = decrypt_parts(msg, kp, parts) if parts else ()
    r = Inspection(
        msg, check_mac(msg, kp, acb), check_signature(msg, kp), tuple(map(PartReport, decrypted))
    )
    rec.update(r.header())
    rec["mac"] = r.mac.verdict.value
    rec["signature"] = r.signature.verdict.value
    rec["encrypted_parts"] = len(parts)
    rec["decrypted_parts"] = sum(1 for d in decrypted if d.plaintext is not None)
    notes = _reference_notes(msg, kp, acb, bool(parts))
    if notes:
        rec["key_notes"] = notes
    return json.dumps(rec) + "\n"


def _variants(frame: bytes) -> Iterator[bytes]:
    yield frame
    if frame[0] == 0xDD:
        yield frame[:-1] + bytes([frame[-1] ^ 0x01])  # MAC flipped
    msg = decode(frame)
    if msg.signature:
        assert msg.layout is not None
        at = msg.layout.content_end + 5
        yield frame[:at] + bytes([frame[at] ^ 0x80]) + frame[at + 1 :]  # signature flipped
    assert msg.layout is not None
    mid = (msg.layout.content_start + msg.layout.content_end) // 2
    yield frame[:mid] + bytes([frame[mid] ^ 0x5A]) + frame[mid + 1 :]  # content flipped
    yield frame[: len(frame) * 2 // 3]  # truncated: a decode error


def _check(lines: list[str], keys: KeyProvider | None, acb: bytes, lenient: bool) -> int:
    """Every line, one at a time and in chunks of several sizes (the CLI's path), is
    what the reference writes; returns the number of records."""
    spec = BatchSpec((), acb, lenient)
    items = list(iter_lines(iter(lines), "golden"))
    expected = [reference_record(ident, item, keys, acb, lenient) for ident, item in items]
    for (ident, item), want in zip(items, expected, strict=True):
        assert batch_record(ident, item, keys, spec) == want, f"line {ident}"
    for size in (1, 7, 128, len(items)):
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        got = "".join(batch_records(c, keys, spec) for c in chunks)
        assert got == "".join(expected), f"chunks of {size}"
    return len(items)


def test_batch_lines_match_the_reference_on_the_benchmark_corpus(
    corpus: tuple[list[bytes], KeyStore, bytes],
) -> None:
    frames, store, acb = corpus
    msgs = [v for f in frames for v in _variants(f)]
    lines = [f"{i}\t{m.hex().upper()}" for i, m in enumerate(msgs)]
    lines += [f"{ident}\t{frames[i].hex()}" for i, ident in enumerate(ODD_IDS)]
    lines += ["bad\tXYZ", "odd\tABC", "   ", "# comment", frames[0].hex()]  # read errors
    half = KeyStore()  # the organisations' keys only: devices' answers have no key
    for e in store:
        if e.role is not None:
            half.add_entry(e)
    seen = {json.loads(reference_record("x", m, store, acb, False)).get("mac") for m in msgs}
    assert {"valid", "invalid", "absent"} <= seen  # the corpus exercises every verdict
    for keys in (None, store, half):
        for lenient in (False, True):
            assert _check(lines, keys, acb, lenient) == len(lines) - 2


def test_parts_are_counted_and_decrypted_as_the_reference_does(
    corpus: tuple[list[bytes], KeyStore, bytes],
) -> None:
    frames, store, acb = corpus
    with_parts = [f for f in frames if decode(f).payload.encrypted_parts()]
    assert with_parts, "the benchmark corpus has messages with encrypted parts"
    spec = BatchSpec((), acb, False)
    for f in with_parts:
        line = json.loads(batch_record("p", f, store, spec))
        assert line["encrypted_parts"] == line["decrypted_parts"] > 0
        want = reference_record("p", f, store, acb, False)
        assert batch_record("p", f, store, spec) == want
        assert batch_records([("p", f)], store, spec) == want


@pytest.mark.interop
def test_batch_lines_match_the_reference_on_the_public_vectors() -> None:
    from tests.interop import require_interop

    d = require_interop()
    vectors = json.loads((d / "vectors.json").read_text())
    store = KeyStore(d / "keys")
    lines = [f"{v.get('id', i)}\t{v['hex']}" for i, v in enumerate(vectors)]
    acb = security.DEFAULT_ACB
    for keys in (None, store):
        assert _check(lines, keys, acb, False) == len(lines)
    notes = [
        json.loads(batch_record("n", decode_hex(v["hex"]), store, BatchSpec((), acb, False)))
        for v in vectors[:50]
    ]
    assert any("key_notes" in n for n in notes)  # the public certificates have expired


def decode_hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def test_inspect_messages_is_inspect_message_of_each(
    corpus: tuple[list[bytes], KeyStore, bytes],
) -> None:
    frames, store, acb = corpus
    msgs = [v for f in frames for v in _variants(f)]
    now = datetime(2040, 1, 1, tzinfo=UTC)  # past the test certificates: notes appear
    for keys in (None, store):
        got = inspect_messages(msgs, keys, acb=acb, now=now)
        assert len(got) == len(msgs)
        errors = 0
        for m, r in zip(msgs, got, strict=True):
            try:
                want = inspect_message(m, keys, acb=acb, now=now)
            except GbcsDecodeError as e:
                assert isinstance(r, GbcsDecodeError) and str(r) == str(e)
                errors += 1
                continue
            assert r == want  # decoded parts, verdicts and key notes alike
        assert 0 < errors < len(msgs)
    results = inspect_messages(msgs, store, acb=acb, now=now)
    checked = [r for r in results if isinstance(r, Inspection)]
    assert any(r.key_notes for r in checked)
    assert any(p.decoded is not None for r in checked for p in r.parts)
