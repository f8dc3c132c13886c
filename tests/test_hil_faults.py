"""Link fault injection (hil.faults): exact, seeded statistics and the CLI form."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.faults import FAULT_KINDS, LinkFaults

PAYLOADS = [random.Random(5).randbytes(n) for n in (1, 7, 100, 250, 1000) * 40]


def run(faults: LinkFaults, payloads: list[bytes] = PAYLOADS) -> list[list[tuple[float, bytes]]]:
    return [faults.apply(p) for p in payloads]


def test_no_faults_is_the_identity() -> None:
    f = LinkFaults()
    assert not f.enabled
    assert run(f) == [[(0.0, p)] for p in PAYLOADS]
    assert f.apply(b"") == []
    s = f.stats
    assert (s.chunks, s.bytes) == (len(PAYLOADS), sum(map(len, PAYLOADS)))
    assert s.corrupted == s.dropped_bytes == s.dropped_frames == s.duplicated == s.delayed == 0


def test_same_seed_same_faults() -> None:
    spec = dict(corrupt=0.02, drop_byte=0.02, drop_frame=0.05, duplicate=0.05, delay=0.1)
    a, b, c = LinkFaults(**spec, seed=1), LinkFaults(**spec, seed=1), LinkFaults(**spec, seed=2)
    assert run(a) == run(b)
    assert a.stats == b.stats
    assert run(c) != run(LinkFaults(**spec, seed=1))


def test_corruption_count_is_exact() -> None:
    f = LinkFaults(corrupt=0.01, seed=3)
    changed = 0
    for p, out in zip(PAYLOADS, run(f), strict=True):
        ((delay, chunk),) = out
        assert delay == 0.0 and len(chunk) == len(p)
        changed += sum(x != y for x, y in zip(p, chunk, strict=True))
    assert f.stats.corrupted == changed
    n = f.stats.bytes
    assert abs(changed - 0.01 * n) < 4 * math.sqrt(0.01 * n)  # near the rate (seeded)


def test_dropped_byte_count_is_exact() -> None:
    f = LinkFaults(drop_byte=0.01, seed=4)
    kept = 0
    for p, out in zip(PAYLOADS, run(f), strict=True):
        for _, chunk in out:
            kept += len(chunk)
            it = iter(p)
            assert all(b in it for b in chunk)  # a subsequence of what was sent
    assert f.stats.dropped_bytes == f.stats.bytes - kept
    n = f.stats.bytes
    assert abs(f.stats.dropped_bytes - 0.01 * n) < 4 * math.sqrt(0.01 * n)


def test_frame_faults_are_exact() -> None:
    f = LinkFaults(drop_frame=0.1, duplicate=0.1, delay=0.2, delay_seconds=(0.5, 0.75), seed=5)
    outs = run(f)
    assert f.stats.dropped_frames == sum(1 for o in outs if o == [])
    assert f.stats.duplicated == sum(1 for o in outs if len(o) == 2)
    assert f.stats.delayed == sum(1 for o in outs if o and o[0][0] > 0)
    for p, o in zip(PAYLOADS, outs, strict=True):
        for delay, chunk in o:
            assert chunk == p
            assert delay == 0.0 or 0.5 <= delay <= 0.75
        if len(o) == 2:
            assert o[1] == (0.0, o[0][1])  # the copy follows its original
    for kind, rate in (("dropped_frames", 0.1), ("duplicated", 0.09), ("delayed", 0.18)):
        assert 0 < getattr(f.stats, kind) < 3 * rate * len(PAYLOADS), kind


def test_everything_dropped_or_corrupted_at_probability_one() -> None:
    assert LinkFaults(drop_byte=1.0).apply(b"abc") == []
    assert LinkFaults(drop_frame=1.0).apply(b"abc") == []
    ((_, out),) = LinkFaults(corrupt=1.0, seed=1).apply(b"\x00" * 100)
    assert all(out)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=3000), st.lists(st.integers(1, 500), min_size=1))
def test_byte_faults_do_not_depend_on_chunking(data: bytes, cuts: list[int]) -> None:
    """The byte processes run over the stream: the same bytes, cut differently, get the
    same faults."""
    whole = LinkFaults(corrupt=0.05, drop_byte=0.05, seed=9)
    expected = b"".join(c for _, c in whole.apply(data))
    pieces = LinkFaults(corrupt=0.05, drop_byte=0.05, seed=9)
    got = b""
    pos = k = 0
    while pos < len(data):
        n = cuts[k % len(cuts)]
        got += b"".join(c for _, c in pieces.apply(data[pos : pos + n]))
        pos += n
        k += 1
    assert got == expected
    assert (pieces.stats.corrupted, pieces.stats.dropped_bytes) == (
        whole.stats.corrupted,
        whole.stats.dropped_bytes,
    )


def test_kinds_draw_from_their_own_streams() -> None:
    """Turning on delays or duplicates does not move the corrupted bytes."""
    plain = LinkFaults(corrupt=0.02, seed=8)
    busy = LinkFaults(corrupt=0.02, delay=0.5, duplicate=0.5, seed=8)
    for a, b in zip(run(plain), run(busy), strict=True):
        assert a[0][1] == b[0][1]
    assert plain.stats.corrupted == busy.stats.corrupted


def test_parse_cli_form() -> None:
    f = LinkFaults.parse("corrupt=0.01,drop_byte=0.01,duplicate=0.001,delay=0.01")
    assert (f.corrupt, f.drop_byte, f.drop_frame, f.duplicate, f.delay) == (
        0.01,
        0.01,
        0.0,
        0.001,
        0.01,
    )
    g = LinkFaults.parse(" Corrupt = 1% , drop-frame=0.5, delay=1, delay_seconds=0.2..0.3, seed=7,")
    assert (g.corrupt, g.drop_frame, g.delay_seconds, g.seed) == (0.01, 0.5, (0.2, 0.3), 7)
    assert LinkFaults.parse("delay=1,delay_seconds=0.05").delay_seconds == (0.05, 0.05)
    assert LinkFaults.parse("delay_seconds=0.01:0.02").delay_seconds == (0.01, 0.02)
    assert LinkFaults.parse("corrupt=0.1", seed=3).seed == 3
    assert LinkFaults.parse("corrupt=0.1,seed=4", seed=3).seed == 4
    for empty in ("", "none", " off "):
        assert not LinkFaults.parse(empty).enabled
    # str() gives the CLI form back.
    for spec in ("corrupt=0.01,drop_byte=0.02,duplicate=0.001", "delay=0.5,seed=3", "none"):
        h = LinkFaults.parse(spec)
        again = LinkFaults.parse(str(h))
        assert again.to_dict() == h.to_dict()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("corupt=0.1", "unknown key 'corupt'; known keys: corrupt, drop_byte"),
        ("corrupt", "'corrupt' is not key=value"),
        ("corrupt=", "'corrupt=' is not key=value"),
        ("corrupt=abc", "corrupt='abc' is not a probability"),
        ("corrupt=1.5", "corrupt=1.5 is not a probability between 0 and 1"),
        ("drop_byte=-0.1", "drop_byte=-0.1 is not a probability"),
        ("delay=nan", "delay=nan is not a probability"),
        ("corrupt=0.1,corrupt=0.2", "corrupt given twice"),
        ("delay_seconds=0.3..0.1", "delay_seconds needs 0 <= lo <= hi"),
        ("delay_seconds=soon", "delay_seconds='soon' is not a duration"),
        ("seed=x", "seed='x' is not an integer"),
    ],
)
def test_parse_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="link faults: ") as e:
        LinkFaults.parse(text)
    assert message in str(e.value)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="corrupt"):
        LinkFaults(corrupt=2)
    with pytest.raises(ValueError, match="delay_seconds"):
        LinkFaults(delay_seconds=(1.0, 0.5))
    with pytest.raises(ValueError, match="delay_seconds"):
        LinkFaults(delay_seconds=(0.0, math.inf))
    with pytest.raises(ValueError, match="seed"):
        LinkFaults(seed="7")  # type: ignore[arg-type]


def test_to_dict_is_json() -> None:
    f = LinkFaults(corrupt=0.5, duplicate=0.5, seed=1)
    f.apply(b"x" * 100)
    d = json.loads(json.dumps(f.to_dict()))
    assert set(FAULT_KINDS) <= set(d)
    assert d["seed"] == 1 and d["delay_seconds"] == [0.01, 0.1]
    stats = d["stats"]
    assert stats["chunks"] == 1 and stats["bytes"] == 100
    assert stats["corrupted"] == f.stats.corrupted > 0
    assert set(stats) >= {"corrupted", "dropped_bytes", "dropped_frames", "duplicated", "delayed"}
