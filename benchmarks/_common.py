"""Helpers shared by the benchmark scripts: baselines, percentiles, memory, error exits.

Every figure a benchmark prints sits beside a baseline measured in the same run, so a
busy machine slows both and the ratio stays meaningful.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

#: The repository root (benchmarks run as scripts, so it goes on ``sys.path``).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class BenchmarkError(Exception):
    """The benchmark cannot give an honest figure; the message says why."""


def fail(message: str) -> NoReturn:
    """Stop the benchmark with one line on stderr and exit status 1."""
    raise BenchmarkError(message)


def run_main(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``: any failure is one line on stderr and exit status 1."""
    try:
        main()
    except BenchmarkError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # no traceback reaches the user; the type says where to look
        print(f"error: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


def interop_dir() -> Path | None:
    """``GBCS_INTEROP_DIR`` (default ``../shared/interop``) when it holds the vectors."""
    env = os.environ.get("GBCS_INTEROP_DIR")
    d = Path(env) if env else ROOT.parent / "shared" / "interop"
    return d if (d / "vectors.json").is_file() else None


def rss_kib() -> int:
    """This process's resident set size now, in KiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak: the best we have


def children_cpu_s() -> float:
    """User plus system CPU seconds of every child process reaped so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p`` percentile (0..100) by nearest rank; ``values`` need not be sorted."""
    if not values:
        raise ValueError("percentile of no values")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


@dataclass(frozen=True, slots=True)
class EcdsaBaseline:
    """P-256 sign and verify rates, and where they come from."""

    source: str  # "openssl speed" or "cryptography"
    sign_per_s: float
    verify_per_s: float

    @property
    def critical_floor_per_s(self) -> float:
        """Critical commands/s if one verify plus one sign were all a command cost."""
        return 1.0 / (1.0 / self.sign_per_s + 1.0 / self.verify_per_s)


_OPENSSL_ROW = re.compile(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)")


def openssl_ecdsa(seconds: int = 2) -> EcdsaBaseline | None:
    """``openssl speed -seconds S ecdsap256``; None (with the reason on stderr) without it."""
    try:
        out = subprocess.run(
            ["openssl", "speed", "-seconds", str(seconds), "ecdsap256"],
            capture_output=True,
            text=True,
            timeout=30 + 4 * seconds,
            check=False,
        ).stdout
    except FileNotFoundError:
        print("openssl is not installed: the ECDSA floor comes from cryptography", file=sys.stderr)
        return None
    except (OSError, subprocess.TimeoutExpired) as e:
        print(
            f"openssl speed failed ({e}): the ECDSA floor comes from cryptography", file=sys.stderr
        )
        return None
    m = _OPENSSL_ROW.search(out)
    if m is None:
        msg = "openssl speed printed no nistp256 row: the ECDSA floor comes from cryptography"
        print(msg, file=sys.stderr)
        return None
    return EcdsaBaseline("openssl speed", float(m.group(1)), float(m.group(2)))


def cryptography_ecdsa(seconds: float = 1.0) -> EcdsaBaseline:
    """P-256 sign and verify rates of the ``cryptography`` package (SHA-256, 200 bytes)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    data = b"x" * 200
    algo = ec.ECDSA(hashes.SHA256())
    sig = key.sign(data, algo)

    def rate(fn: Callable[[], object]) -> float:
        n = 0
        t0 = time.perf_counter()
        while (dt := time.perf_counter() - t0) < seconds / 2:
            fn()
            n += 1
        return n / dt

    return EcdsaBaseline(
        "cryptography",
        rate(lambda: key.sign(data, algo)),
        rate(lambda: pub.verify(sig, data, algo)),
    )


def emit_json(result: dict[str, Any]) -> None:
    """Print ``result`` as one JSON object on one line of stdout."""
    print(json.dumps(result, sort_keys=False))
