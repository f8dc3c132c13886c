"""Link fault injection: what a bad serial line does to the bytes written to it.

:class:`LinkFaults` is applied to each chunk about to cross the line (the serial link
calls :meth:`LinkFaults.apply` with one encoded frame, or with one chunk as read) and
returns the chunks that actually cross, each with an extra delay in seconds:

* ``drop_frame``: probability that the whole chunk is lost (``[]``);
* ``drop_byte``: per-byte probability that a byte is lost;
* ``corrupt``: per-byte probability that a (surviving) byte is replaced by a different
  value (XOR with a random non-zero byte);
* ``duplicate``: probability that the chunk crosses twice (two equal chunks, the second
  right after the first);
* ``delay``: probability that the chunk is held back by a uniform random
  ``delay_seconds`` (lo, hi) before it goes.

Each returned delay is the extra wait before that chunk is written, counted from when
the chunk before it went (the copy of a duplicate has 0: it follows its original). A
serial line is FIFO: a transport should hold what comes later behind a delayed chunk
(sleep, then write, in order) rather than schedule chunks independently, which would
reorder bytes and cut frames apart.

Byte faults are Bernoulli processes over the byte stream, drawn as geometric gaps that
carry over from one chunk to the next, so the cost is per fault, not per byte. Each kind
of fault has its own random stream derived from ``seed``: with a seed, the output and
the :class:`FaultStats` counters are exactly reproducible, and enabling one kind does
not move the faults of another (byte faults apply to the chunks that were not dropped).

The command-line form (:meth:`LinkFaults.parse`) is a comma-separated list, e.g.
``corrupt=0.01,drop_byte=0.01,duplicate=0.001,delay=0.01``; probabilities may be written
as percentages (``corrupt=1%``), ``delay_seconds=0.01..0.1`` (or ``0.05`` for a fixed
delay) and ``seed=42`` are accepted too. ``str(faults)`` gives that form back.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FAULT_KINDS", "FaultStats", "LinkFaults"]

FAULT_KINDS: tuple[str, ...] = ("corrupt", "drop_byte", "drop_frame", "duplicate", "delay")
_KEYS = (*FAULT_KINDS, "delay_seconds", "seed")


@dataclass
class FaultStats:
    """What the injector did: chunks and bytes seen, and each fault's count."""

    chunks: int = 0
    bytes: int = 0
    corrupted: int = 0
    dropped_bytes: int = 0
    dropped_frames: int = 0
    duplicated: int = 0
    delayed: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a JSON-able dict."""
        return asdict(self)


def _probability(name: str, value: Any) -> float:
    text = value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"{name}={text!r} is not a probability (e.g. 0.01 or 1%)") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a probability, got {value!r}")
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name}={text} is not a probability between 0 and 1")
    return float(value)


def _seconds(value: Any) -> tuple[float, float]:
    if isinstance(value, str):
        text = value.strip()
        sep = ".." if ".." in text else ":" if ":" in text else None
        parts = text.split(sep) if sep else [text, text]
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"delay_seconds={text!r} is not a duration or a range lo..hi (e.g. 0.01..0.1)"
            ) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        lo = hi = float(value)
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"delay_seconds must be (lo, hi) in seconds, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
        raise ValueError(f"delay_seconds needs 0 <= lo <= hi, got {lo}..{hi}")
    return lo, hi


class _ByteProcess:
    """Positions of a per-byte Bernoulli(p) event across a stream of chunks."""

    __slots__ = ("_gap", "_log_q", "p", "rng")

    def __init__(self, p: float, rng: random.Random) -> None:
        self.p = p
        self.rng = rng
        self._log_q = math.log1p(-p) if 0.0 < p < 1.0 else 0.0
        self._gap = self._draw()

    def _draw(self) -> int:
        """Bytes untouched before the next event (-1: never)."""
        if self.p <= 0.0:
            return -1
        if self.p >= 1.0:
            return 0
        u = 1.0 - self.rng.random()  # (0, 1]
        return int(math.log(u) / self._log_q)

    def events(self, n: int) -> list[int]:
        """Offsets hit in the next ``n`` bytes, ascending."""
        gap = self._gap
        if gap < 0:
            return []
        hits = []
        pos = 0
        while pos + gap < n:
            hits.append(pos + gap)
            pos += gap + 1
            gap = self._draw()
        self._gap = gap - (n - pos)
        return hits


class LinkFaults:
    """Seeded fault injector for one direction of a serial link (module docstring)."""

    def __init__(
        self,
        corrupt: float = 0.0,
        drop_byte: float = 0.0,
        drop_frame: float = 0.0,
        duplicate: float = 0.0,
        delay: float = 0.0,
        delay_seconds: tuple[float, float] = (0.01, 0.1),
        seed: int | None = None,
    ) -> None:
        self.corrupt = _probability("corrupt", corrupt)
        self.drop_byte = _probability("drop_byte", drop_byte)
        self.drop_frame = _probability("drop_frame", drop_frame)
        self.duplicate = _probability("duplicate", duplicate)
        self.delay = _probability("delay", delay)
        self.delay_seconds = _seconds(delay_seconds)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        self.stats = FaultStats()
        root = random.Random(seed)
        # One stream per kind, so one kind's draws never shift another's.
        rngs = {kind: random.Random(root.getrandbits(64)) for kind in FAULT_KINDS}
        self._values = rngs["corrupt"]
        self._corrupt = _ByteProcess(self.corrupt, random.Random(root.getrandbits(64)))
        self._drop = _ByteProcess(self.drop_byte, rngs["drop_byte"])
        self._frame_rng = rngs["drop_frame"]
        self._dup_rng = rngs["duplicate"]
        self._delay_rng = rngs["delay"]

    @property
    def enabled(self) -> bool:
        """True when any fault has a non-zero probability."""
        return any(getattr(self, kind) > 0.0 for kind in FAULT_KINDS)

    def apply(self, data: bytes) -> list[tuple[float, bytes]]:
        """The chunks that cross the line for ``data``, each as (extra delay s, bytes)."""
        if not data:
            return []
        st = self.stats
        st.chunks += 1
        st.bytes += len(data)
        if self.drop_frame > 0.0 and self._frame_rng.random() < self.drop_frame:
            st.dropped_frames += 1
            return []
        out = bytearray(data)
        drops = self._drop.events(len(out))
        if drops:
            for i in reversed(drops):
                del out[i]
            st.dropped_bytes += len(drops)
        hits = self._corrupt.events(len(out))
        for i in hits:
            out[i] ^= self._values.randrange(1, 256)
        st.corrupted += len(hits)
        if not out:
            return []
        wait = 0.0
        if self.delay > 0.0 and self._delay_rng.random() < self.delay:
            wait = self._delay_rng.uniform(*self.delay_seconds)
            st.delayed += 1
        chunk = bytes(out)
        if self.duplicate > 0.0 and self._dup_rng.random() < self.duplicate:
            st.duplicated += 1
            return [(wait, chunk), (0.0, chunk)]
        return [(wait, chunk)]

    @classmethod
    def parse(cls, text: str, *, seed: int | None = None) -> LinkFaults:
        """Build from the CLI form ``corrupt=0.01,drop_byte=0.01,…`` (``ValueError`` on bad
        keys or values). ``seed`` applies unless the text sets one; ``""`` or ``none``
        means no faults."""
        text = text.strip()
        options: dict[str, Any] = {}
        if text.lower() not in ("", "none", "off"):
            for item in text.split(","):
                item = item.strip()
                if not item:
                    continue
                key, sep, value = item.partition("=")
                key = key.strip().lower().replace("-", "_")
                if not sep or not value.strip():
                    raise ValueError(f"link faults: {item!r} is not key=value (e.g. corrupt=0.01)")
                if key not in _KEYS:
                    raise ValueError(
                        f"link faults: unknown key {key!r}; known keys: {', '.join(_KEYS)}"
                    )
                if key in options:
                    raise ValueError(f"link faults: {key} given twice")
                if key == "seed":
                    try:
                        options[key] = int(value.strip())
                    except ValueError:
                        raise ValueError(
                            f"link faults: seed={value.strip()!r} is not an integer"
                        ) from None
                else:
                    options[key] = value
        options.setdefault("seed", seed)
        try:
            return cls(**options)
        except ValueError as e:
            raise ValueError(f"link faults: {e}") from None

    def __str__(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in FAULT_KINDS if getattr(self, k) > 0.0]
        if self.delay > 0.0:
            lo, hi = self.delay_seconds
            parts.append(f"delay_seconds={lo!r}..{hi!r}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts) or "none"

    def __repr__(self) -> str:
        return f"LinkFaults.parse({str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        """Settings and counters, JSON-able."""
        return {
            **{kind: getattr(self, kind) for kind in FAULT_KINDS},
            "delay_seconds": list(self.delay_seconds),
            "seed": self.seed,
            "stats": self.stats.to_dict(),
        }
