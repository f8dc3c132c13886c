"""``benchmarks/devices.py --breakdown``: where a command's time goes, without side effects.

The stage timers wrap functions ``receive()`` calls; they must all be removed again
(module functions restored, no instance attributes left on the device), every command
they time must still be accepted, and the stages must be the ones that ran: an ECDSA
verify and sign for the critical ECS42, none for the MAC'd reads. No timed assertions.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from tests.devkit import load_devices_benchmark


def test_the_breakdown_times_the_stages_that_ran_and_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench, _ = load_devices_benchmark(monkeypatch)
    originals = {
        (mod, attr): getattr(importlib.import_module(mod), attr)
        for mod, attr in bench._MODULE_STAGES.values()
    }
    with bench.built_workloads() as workloads:
        tables = {}
        for w in workloads:
            tables[w.key] = bench.breakdown(w, 8)
            for attr in bench._METHOD_STAGES.values():
                assert attr not in w.device.__dict__  # the instance wrappers are gone
    for (mod, attr), fn in originals.items():
        assert getattr(importlib.import_module(mod), attr) is fn
    for key, table in tables.items():
        assert set(table) == {
            *bench._MODULE_STAGES,
            *bench._METHOD_STAGES,
            "rest of receive()",
            "total",
        }
        assert all(v >= 0 for v in table.values()), (key, table)
        top = sum(v for k, v in table.items() if not k.startswith(" ") and k != "total")
        assert top == pytest.approx(table["total"], rel=1e-6)
        assert table["decode (envelope + payload)"] > 0 and table["execute"] > 0
        assert table["MAC check"] > 0  # every command's MAC is checked
    ecs42 = tables["ecs42"]
    assert ecs42["  of which ECDSA verify"] > 0 and ecs42["  of which ECDSA sign"] > 0
    assert ecs42["  of which ECDSA verify"] <= ecs42["signature check"]
    assert ecs42["  of which ECDSA sign"] <= ecs42["build + protect response"]
    assert ecs42["rollback snapshot"] > 0
    for key in ("ecs17b", "gcs13a"):
        assert tables[key]["  of which ECDSA verify"] == 0
        assert tables[key]["  of which ECDSA sign"] == 0


def test_the_breakdown_refuses_to_time_a_rejected_command(monkeypatch: pytest.MonkeyPatch) -> None:
    bench, _ = load_devices_benchmark(monkeypatch)
    common = sys.modules["_common"]
    with bench.built_workloads() as workloads:
        ecs42 = next(w for w in workloads if w.key == "ecs42")
        frame = ecs42.frames(1)[0]
        replays = bench.Workload("ecs42", ecs42.device, lambda n: [frame] * n, ecs42.now)
        with pytest.raises(common.BenchmarkError, match="not answered"):
            bench.breakdown(replays, 3)
        assert "execute" not in ecs42.device.__dict__  # removed on the way out too
