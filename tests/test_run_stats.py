"""``run``/``stats`` figures: each command counted once across workers, tables readable
at 80 columns."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from emulator.cli.run_cmd import STAT_ROWS, stats_table
from tests.statekit import Fleet, schedule_read


def test_each_command_is_counted_once_by_the_worker_that_owns_its_site(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path / "state", sites=4)
    workers = [fleet.emulator(w, 2) for w in range(2)]
    try:
        for i in range(4):
            msg = fleet.message(i, schedule_read(fleet.builder, fleet.esme(i)))
            for w in workers:  # every worker sees every command on the shared topic
                w.handle(msg)
        counts = [w.metrics.counters.get("commands", 0) for w in workers]
        assert counts == [2, 2]
        assert sum(w.metrics.counters.get("out.response", 0) for w in workers) == 4
    finally:
        for w in workers:
            w.close()


def test_stats_table_is_labelled_and_readable_at_80_columns(tmp_path: Path) -> None:
    snap = {"counters": {"commands": 123456, "out.alert": 7, "rejected.replay": 3},
            "gauges": {"sites_hydrated": 99, "outbox": 0, "broker_connected": 1}}  # fmt: skip
    for w in range(2):
        (tmp_path / f"stats-{w}.json").write_text(json.dumps(snap))
    buf = io.StringIO()
    info = {"broker": "mqtt://broker.example.net:1883", "clock": "x60", "sites": 100000}
    Console(file=buf, width=80).print(stats_table(tmp_path, info, {"commands": 12.5}))
    text = buf.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    for _, label in STAT_ROWS:
        assert label in text
    assert "246912" in text and "400000" in text and "12.5" in text
