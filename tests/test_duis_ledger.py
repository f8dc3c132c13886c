"""The DUIS service's request ledger: a RequestID is never acted on twice, counters rise
per user, a signed pre-command needs its pre-command, and all of it survives kill -9."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis.ledger import Admit, RequestLedger
from emulator.duis.model import RequestId
from emulator.runtime.statedir import StateDamaged

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
OTHER = "90-B3-D5-1F-30-02-00-00"
ESME = "00-DB-12-34-56-78-90-A0"


def _rid(counter: int, user: str = SUPPLIER, target: str = ESME) -> RequestId:
    return RequestId.parse(f"{user}:{target}:{counter}")


def test_a_request_id_is_admitted_once_and_counters_rise_per_user(tmp_path: Path) -> None:
    with RequestLedger(tmp_path / "duis.db") as ledger:
        assert ledger.admit(_rid(1000), 1, "4.1.1", NOW).ok
        again = ledger.admit(_rid(1000), 1, "4.1.1", NOW)
        assert again.verdict is Admit.REPEATED and "received before" in again.reason
        stale = ledger.admit(_rid(999, target="00-DB-12-34-56-78-90-A1"), 1, "4.1.1", NOW)
        assert stale.verdict is Admit.STALE and "not above 1000" in stale.reason
        assert ledger.admit(_rid(5, user=OTHER), 1, "4.1.1", NOW).ok  # its own sequence
        assert ledger.admit(_rid(1001), 8, "8.2", NOW).ok
        assert ledger.last_counter(bytes.fromhex(SUPPLIER.replace("-", ""))) == 1001
    assert stat.S_IMODE((tmp_path / "duis.db").stat().st_mode) == 0o600


def test_a_signed_pre_command_follows_its_pre_command_once(tmp_path: Path) -> None:
    with RequestLedger(tmp_path / "duis.db") as ledger:
        early = ledger.admit(_rid(2000), 5, "7.2", NOW)
        assert early.verdict is Admit.NO_PRE_COMMAND
        assert ledger.admit(_rid(2000), 4, "7.2", NOW).ok
        waiting = ledger.admit(_rid(2000), 5, "7.2", NOW)
        assert waiting.verdict is Admit.NO_PRE_COMMAND  # not returned yet
        ledger.record_pre_command(_rid(2000), b"\xdf\x09")
        signed = ledger.admit(_rid(2000), 5, "7.2", NOW)
        assert signed.ok and signed.pre_command == b"\xdf\x09"
        twice = ledger.admit(_rid(2000), 7, "7.2", NOW)
        assert twice.verdict is Admit.REPEATED and "signed pre-command was taken" in twice.reason
        assert ledger.admit(_rid(2000), 4, "7.2", NOW).verdict is Admit.REPEATED
        with pytest.raises(ValueError, match="not a request waiting for its pre-command"):
            ledger.record_pre_command(_rid(2000), b"\xdf")


def test_what_was_admitted_is_remembered_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "duis.db"
    with RequestLedger(path) as ledger:
        assert ledger.admit(_rid(3000), 4, "7.2", NOW).ok
        ledger.record_pre_command(_rid(3000), b"\xdf\x01")
    with RequestLedger(path) as ledger:
        assert ledger.admit(_rid(3000), 4, "7.2", NOW).verdict is Admit.REPEATED
        assert ledger.admit(_rid(2999), 1, "4.1.1", NOW).verdict is Admit.STALE
        assert ledger.admit(_rid(3000), 5, "7.2", NOW).pre_command == b"\xdf\x01"


def test_a_damaged_ledger_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "duis.db"
    path.write_bytes(b"not a database at all" * 10)
    before = path.read_bytes()
    with pytest.raises(StateDamaged, match="not an SQLite database; it was not changed"):
        RequestLedger(path)
    assert path.read_bytes() == before


_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from emulator.duis.ledger import RequestLedger
    from emulator.duis.model import RequestId

    ledger = RequestLedger(Path(sys.argv[1]))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    counter = 10_000
    while True:
        counter += 1
        rid = RequestId.parse(f"90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:{counter}")
        assert ledger.admit(rid, 1, "4.1.1", now).ok
        print(counter, flush=True)  # acknowledged: the caller may rely on it now
    """
)


def test_no_acknowledged_request_is_forgotten_after_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "duis.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    acknowledged += [int(line) for line in child.stdout.read().split()]  # printed before
    assert len(acknowledged) >= 200
    with RequestLedger(path) as ledger:
        for counter in acknowledged:
            assert ledger.admit(_rid(counter), 1, "4.1.1", NOW).verdict is Admit.REPEATED
        last = ledger.last_counter(bytes.fromhex(SUPPLIER.replace("-", "")))
        assert last is not None and last >= acknowledged[-1]
        assert ledger.admit(_rid(last), 1, "4.1.1", NOW).verdict is Admit.REPEATED


def test_the_dccs_own_counter_rises_across_restarts_whatever_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "duis.db"
    with RequestLedger(path) as ledger:
        first = ledger.next_dcc_counter(NOW)
        assert first == int(NOW.timestamp() * 1000)
        assert ledger.next_dcc_counter(NOW) == first + 1  # the same millisecond
    earlier = NOW.replace(year=2020)  # the clock went back
    with RequestLedger(path) as ledger:
        assert ledger.next_dcc_counter(earlier) == first + 2
