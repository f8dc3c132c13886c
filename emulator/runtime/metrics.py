"""Counters and latency histograms, shown by ``gbcs-emu stats`` and served as Prometheus
text (``--metrics-port``)."""

from __future__ import annotations

import bisect
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Histogram", "Metrics"]

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(slots=True)
class Histogram:
    """Cumulative-bucket latency histogram in seconds (Prometheus style)."""

    buckets: tuple[float, ...] = _BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total += seconds
        self.n += 1

    def quantile(self, q: float) -> float | None:
        """Upper bucket bound holding quantile ``q`` (None without observations)."""
        if self.n == 0:
            return None
        target = q * self.n
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= target:
                return self.buckets[i] if i < len(self.buckets) else float("inf")
        return float("inf")


@dataclass(slots=True)
class Metrics:
    """Everything the runtime counts."""

    counters: Counter[str] = field(default_factory=Counter)
    gauges: dict[str, float] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)
    started: float = field(default_factory=time.time)

    def inc(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def to_dict(self) -> dict[str, Any]:
        p50, p99 = self.latency.quantile(0.5), self.latency.quantile(0.99)
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "counters": dict(sorted(self.counters.items())),
            "gauges": dict(sorted(self.gauges.items())),
            "latency": {
                "n": self.latency.n,
                "p50_s": p50,
                "p99_s": p99,
                "sum_s": self.latency.total,
                "buckets": list(self.latency.counts),
            },
        }

    def merge(self, snapshot: dict[str, Any]) -> None:
        """Add a worker's :meth:`to_dict` snapshot (counters, gauges, histogram)."""
        for k, v in snapshot.get("counters", {}).items():
            self.counters[k] += int(v)
        for k, v in snapshot.get("gauges", {}).items():
            self.gauges[k] = self.gauges.get(k, 0) + float(v)
        lat = snapshot.get("latency", {})
        buckets = lat.get("buckets")
        if isinstance(buckets, list) and len(buckets) == len(self.latency.counts):
            self.latency.counts = [
                a + int(b) for a, b in zip(self.latency.counts, buckets, strict=True)
            ]
            self.latency.n += int(lat.get("n", 0))
            self.latency.total += float(lat.get("sum_s", 0.0))

    def write(self, path: Path) -> None:
        """Atomically write the snapshot ``gbcs-emu stats`` reads."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)

    def prometheus(self) -> str:
        """The Prometheus text exposition format."""
        lines = []
        for name, v in sorted(self.counters.items()):
            metric = "gbcs_" + name.replace(".", "_").replace("-", "_") + "_total"
            lines += [f"# TYPE {metric} counter", f"{metric} {v}"]
        for name, g in sorted(self.gauges.items()):
            metric = "gbcs_" + name.replace(".", "_").replace("-", "_")
            lines += [f"# TYPE {metric} gauge", f"{metric} {g}"]
        h = self.latency
        lines.append("# TYPE gbcs_command_latency_seconds histogram")
        acc = 0
        for b, c in zip(h.buckets, h.counts, strict=False):
            acc += c
            lines.append(f'gbcs_command_latency_seconds_bucket{{le="{b}"}} {acc}')
        lines.append(f'gbcs_command_latency_seconds_bucket{{le="+Inf"}} {h.n}')
        lines.append(f"gbcs_command_latency_seconds_sum {h.total}")
        lines.append(f"gbcs_command_latency_seconds_count {h.n}")
        return "\n".join(lines) + "\n"
