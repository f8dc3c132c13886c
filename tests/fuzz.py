"""Mutation fuzzing of the decoder: random and mutated real messages.

The contract under test: decoding any byte string either succeeds or raises
``GbcsDecodeError`` — never another exception, never an internal-error fallback, and a
successful decode re-encodes to exactly the input. The default test suite runs a short
campaign (``tests/test_fuzz.py``); ``python -m tests.fuzz --cases N`` runs a long one.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from gbcs.codec import decode
from gbcs.errors import GbcsDecodeError


@dataclass
class FuzzStats:
    """Counts of a campaign; ``failures`` holds (input hex, problem) pairs."""

    cases: int = 0
    decoded: int = 0
    rejected: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _mutate(rng: random.Random, data: bytes, corpus: Sequence[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        op = rng.randrange(9)
        if not b:
            b.append(rng.randrange(256))
            continue
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.randrange(256)
        elif op == 2:
            b[i] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF))
        elif op == 3:
            del b[i:]
        elif op == 4:
            del b[i : i + rng.randrange(1, 16)]
        elif op == 5:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        elif op == 6:
            j = rng.randrange(len(b))
            b[i:i] = b[j : j + rng.randrange(1, 32)]
        elif op == 7:
            other = rng.choice(corpus)
            k = rng.randrange(len(other))
            b = b[:i] + bytearray(other[k:])
        else:
            b[i : i + 2] = rng.randrange(65536).to_bytes(2, "big")
    return bytes(b)


def cases(corpus: Sequence[bytes], n: int, seed: int) -> Iterator[bytes]:
    """``n`` inputs: mostly mutated corpus messages, some purely random bytes."""
    rng = random.Random(seed)
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        elif r < 0.10:
            prefix = rng.choice((b"\xdd\x00\x00\x00\x00\x00\x00", b"\xdf\x09", b"\xdd\x09"))
            yield prefix + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        else:
            yield _mutate(rng, rng.choice(corpus), corpus)


def check(data: bytes, stats: FuzzStats) -> None:
    """Decode one input and record whether the contract held."""
    stats.cases += 1
    try:
        msg = decode(data)
    except GbcsDecodeError as e:
        stats.rejected += 1
        if e.path.startswith("<internal>"):
            stats.failures.append((data.hex(), str(e)))
        return
    except Exception as e:  # that is exactly what we are hunting
        stats.failures.append((data.hex(), f"{type(e).__name__}: {e}"))
        return
    stats.decoded += 1
    try:
        again = msg.encode()
    except Exception as e:
        stats.failures.append((data.hex(), f"re-encode raised {type(e).__name__}: {e}"))
        return
    if again != data:
        stats.failures.append((data.hex(), "re-encode differs from input"))


def run(corpus: Sequence[bytes], n: int, seed: int, max_failures: int = 20) -> FuzzStats:
    """Run a campaign; stops early once ``max_failures`` distinct failures are found."""
    stats = FuzzStats()
    for data in cases(corpus, n, seed):
        check(data, stats)
        if len(stats.failures) >= max_failures:
            break
    return stats


def load_corpus(vectors_json: str) -> list[bytes]:
    """Every vector's bytes (the malformed negatives included)."""
    with open(vectors_json) as f:
        return [bytes.fromhex(v["hex"]) for v in json.load(f)]


def main(argv: Sequence[str] | None = None) -> int:
    from tests.interop import interop_dir

    p = argparse.ArgumentParser(description="Long decoder fuzz campaign.")
    p.add_argument("--cases", type=int, default=5_000_000)
    p.add_argument("--seed", type=int, default=int(time.time()))
    args = p.parse_args(argv)
    d = interop_dir()
    if d is None:
        print("interop vectors not found (set GBCS_INTEROP_DIR)", file=sys.stderr)
        return 2
    corpus = load_corpus(str(d / "vectors.json"))
    t0 = time.perf_counter()
    stats = run(corpus, args.cases, args.seed, max_failures=100)
    dt = time.perf_counter() - t0
    print(
        f"seed {args.seed}: {stats.cases} cases in {dt:.1f}s ({stats.cases / dt:,.0f}/s), "
        f"{stats.decoded} decoded, {stats.rejected} rejected, {len(stats.failures)} failures"
    )
    for hx, why in stats.failures[:20]:
        print(f"FAIL {why}\n  {hx}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
